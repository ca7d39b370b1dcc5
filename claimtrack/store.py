"""The claim store: one YAML file per claim and per line, loaded into models, written atomically under a lock.

A claim file is written in two ways only: `Store.create_claim` for a new claim and `Store.update_claim` for
every change to a stored one (its rules live on the Claim model: `add_evidence`, `record_change`).
"""

from __future__ import annotations

import contextlib
import difflib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from claimtrack.errors import Busy, InvalidInput, NotFound, Problem, StoreInvalid
from claimtrack.fileio import file_lock, load_yaml, write_yaml
from claimtrack.models import Claim, Line
from claimtrack.workspace import Workspace

M = TypeVar("M", bound=BaseModel)
Stored = TypeVar("Stored", Claim, Line)


@dataclass
class Library:
    """Everything in the store, in file-name order, with the problems found while reading it."""

    claims: dict[str, Claim] = field(default_factory=dict)
    lines: dict[str, Line] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def lines_of(self, claim_id: str) -> list[str]:
        return [line.id for line in self.lines.values() if claim_id in line.claims]

    def claim(self, claim_id: str) -> Claim:
        try:
            return self.claims[claim_id]
        except KeyError:
            raise NotFound("claim", claim_id, _nearest(claim_id, self.claims)) from None

    def line(self, line_id: str) -> Line:
        try:
            return self.lines[line_id]
        except KeyError:
            raise NotFound("line", line_id, _nearest(line_id, self.lines)) from None


def _nearest(ident: str, known: dict[str, object]) -> list[str]:
    close = difflib.get_close_matches(ident, list(known), n=3, cutoff=0.5)
    return close or [k for k in known if ident in k][:3]


def problems_of(error: ValidationError, file: str) -> list[Problem]:
    """pydantic's errors as `file: field: message` problems."""
    problems = []
    for item in error.errors():
        loc = ".".join(str(part) for part in item["loc"]) or "-"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        problems.append(Problem(file, loc, message))
    return problems


def parse_file(path: Path, model: type[M], display: str) -> tuple[M | None, list[Problem]]:
    """Read one YAML file into `model`, returning problems instead of raising."""
    try:
        data = load_yaml(path)
    except InvalidInput as exc:
        return None, [Problem(display, exc.problem.field, exc.problem.message)]
    if not isinstance(data, dict):
        return None, [Problem(display, "-", "expected a mapping of fields")]
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, problems_of(exc, display)


class Store:
    """Reads and writes a workspace's claims/ and claims/lines/."""

    def __init__(self, workspace: Workspace):
        self.ws = workspace

    def display(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.ws.root))
        except ValueError:
            return str(path)

    def claim_path(self, claim_id: str) -> Path:
        return self.ws.claims_dir / f"{claim_id}.yaml"

    def line_path(self, line_id: str) -> Path:
        return self.ws.lines_dir / f"{line_id}.yaml"

    def read(self) -> Library:
        """Load every file; problems are collected, not raised (see `load` for the strict form)."""
        library = Library()
        for path in sorted(self.ws.claims_dir.glob("*.yaml")):
            self._read_one(path, Claim, library.claims, library.problems)
        if self.ws.lines_dir.is_dir():
            for path in sorted(self.ws.lines_dir.glob("*.yaml")):
                self._read_one(path, Line, library.lines, library.problems)
        return library

    def _read_one(self, path: Path, model: type[Stored], into: dict[str, Stored], problems: list[Problem]) -> None:
        display = self.display(path)
        item, found = parse_file(path, model, display)
        problems.extend(found)
        if item is None:
            return
        if item.id != path.stem:
            problems.append(Problem(display, "id", f"'{item.id}' does not match the file name '{path.stem}'"))
            return
        into[item.id] = item

    def load(self) -> Library:
        """Load the store, refusing to go on if any file is broken: nothing is written over a bad store."""
        library = self.read()
        if library.problems:
            raise StoreInvalid(library.problems)
        return library

    @contextlib.contextmanager
    def locked(self, wait: float = 30.0) -> Iterator[None]:
        """Serialise writers across processes, so two edits cannot lose each other.

        Re-entrant within a process: a caller holding it (an import writing many claims) can call
        update_claim and create_claim, which take it too.
        """
        with _REGISTRY:
            held = _HELD.setdefault(self.ws.lock_path.resolve(), _Held())
        if not held.lock.acquire(timeout=wait):
            raise Busy(f"another thread of this process holds {self.ws.lock_path}; waited {wait:.0f}s")
        try:
            with contextlib.ExitStack() as stack:
                if held.depth == 0:
                    stack.enter_context(
                        file_lock(self.ws.lock_path, wait=wait, holder="another claimtrack process writing this store")
                    )
                held.depth += 1
                try:
                    yield
                finally:
                    held.depth -= 1
        finally:
            held.lock.release()

    def create_claim(self, claim: Claim) -> Claim:
        """Write a new claim under the lock; an id the store already holds is refused, never overwritten."""
        with self.locked():
            library = self.load()
            if claim.id in library.claims:
                raise InvalidInput(self.display(self.claim_path(claim.id)), "id", f"claim '{claim.id}' already exists")
            return self._write_claim(claim)

    def update_claim(self, claim_id: str, change: Callable[[Claim], Claim | None]) -> Claim:
        """The one way a stored claim changes: under the lock, re-read the store (refusing a broken one), apply
        `change` to a copy of the claim (edit it in place, or return a replacement), then validate and write it
        atomically. Returns the claim as written."""
        with self.locked():
            library = self.load()
            current = library.claim(claim_id)
            candidate = current.model_copy(deep=True)
            returned = change(candidate)
            updated = candidate if returned is None else returned
            if updated.id != claim_id:
                raise InvalidInput(
                    self.display(self.claim_path(claim_id)), "id", f"a change cannot rename the claim to '{updated.id}'"
                )
            return self._write_claim(updated)

    def _write_claim(self, claim: Claim) -> Claim:
        """Validate and write one claim atomically, its comments and key order kept; only create_claim and
        update_claim call it, under the lock."""
        checked = Claim.model_validate(claim.model_dump(by_alias=True))
        write_yaml(self.claim_path(checked.id), _plain(checked))
        return checked

    def write_line(self, line: Line) -> None:
        checked = Line.model_validate(line.model_dump(by_alias=True))
        write_yaml(self.line_path(checked.id), _plain(checked))


@dataclass
class _Held:
    """This process's hold on one store lock: a thread lock, and how deeply the holding thread has entered."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    depth: int = 0


_REGISTRY = threading.Lock()
_HELD: dict[Path, _Held] = {}


def _plain(model: BaseModel) -> dict:
    """JSON-compatible dict without empty optional fields, so files stay short and diffs small."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)
