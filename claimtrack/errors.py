"""Typed errors. Library code raises these; only the CLI turns them into a message and an exit code."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class ClaimtrackError(Exception):
    """Base of every error claimtrack expects. `exit_code` 2 means the user's input was at fault."""

    exit_code = 2

    def message(self) -> str:
        return str(self)


@dataclass(frozen=True)
class Problem:
    """One defect in a stored file, printed as `file: field: message`."""

    file: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}"


class InvalidInput(ClaimtrackError):
    """A file the user supplied, or a field in it, is malformed: `file: field: message`."""

    def __init__(self, where: str | Path, field: str, message: str):
        self.problem = Problem(str(where), field, message)
        super().__init__(str(self.problem))


class ChangeRefused(InvalidInput):
    """A change that would break a claim's rules (see Claim.record_change); nothing is written."""

    def __init__(self, claim_id: str, field: str, message: str):
        super().__init__(f"claim {claim_id}", field, message)


class InvalidArgument(ClaimtrackError):
    """A command-line argument or option, or the environment variable standing for one, is malformed.

    Printed `--option: message`: unlike a file, an option holds no field to name as well.
    """

    def __init__(self, name: str | Path, message: str):
        self.name = str(name)
        super().__init__(f"{self.name}: {message}")


class StoreInvalid(ClaimtrackError):
    """The store holds files that do not validate; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        first = str(problems[0]) if problems else "store is invalid"
        more = f" (and {len(problems) - 1} more; run `claimtrack validate`)" if len(problems) > 1 else ""
        super().__init__(first + more)


class NotFound(ClaimtrackError):
    """An id that names nothing in the store; suggests the nearest ids."""

    def __init__(self, kind: str, ident: str, suggestions: list[str] | None = None):
        self.kind, self.ident, self.suggestions = kind, ident, suggestions or []
        hint = f" (did you mean {', '.join(self.suggestions)}?)" if self.suggestions else ""
        super().__init__(f"unknown {kind} id '{ident}'{hint}")


class WorkspaceNotFound(ClaimtrackError):
    """No workspace could be located from the flag, the environment or the folders above."""


class LedgerTooNew(ClaimtrackError):
    """The ledger records schema migrations this version does not know: a newer claimtrack wrote it."""

    def __init__(self, path: Path, unknown: list[str]):
        self.path, self.unknown = path, unknown
        super().__init__(
            f"{path}: made by a newer claimtrack (schema migration {', '.join(unknown)} is unknown to this version);"
            " upgrade claimtrack to use this ledger"
        )


class Busy(ClaimtrackError):
    """Another claimtrack process holds the lock this one needs."""

    exit_code = 75  # EX_TEMPFAIL: try again later


class SourceError(ClaimtrackError):
    """A remote source (arXiv, Semantic Scholar, OpenAlex, an LLM endpoint) failed; not the user's fault."""

    exit_code = 1

    def __init__(self, source: str, message: str):
        self.source, self.detail = source, message
        super().__init__(f"{source}: {message}")


class AlreadyDecided(ClaimtrackError):
    """A person's decision came after another one on the same thing (two reviewers at once): nothing changed."""

    exit_code = 1
