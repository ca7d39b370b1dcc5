"""Prompts as plain text in the workspace's `agents/` folder. The file's sha256 prefix is its version,
so editing a prompt changes every cache key that depends on it.

A prompt file holds the system message, a line `=== USER ===`, then the user message template
($name placeholders, string.Template syntax, so JSON braces in the text need no escaping).

**Variants.** A judging prompt can be asked again in other wordings without another file: variant k lists the
five verdicts (their definition lines and the `a|b|c|d|e` choice of the reply's stance) in the k-th of ten
orders (the five rotations of the file's order, then of its reverse; variant 0 is the file as written). A model's
answer leans on the order it reads its options in, so each variant is a fresh look whose errors need not repeat
the last one's; how far they do is measured (qualification.py), never assumed.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from string import Template

from claimtrack.errors import InvalidInput
from claimtrack.workspace import Workspace

_SPLIT = "=== USER ==="
_VERDICTS = ("supports", "relaxes", "contradicts", "supersedes", "unrelated")
_DEFINITION = re.compile(r"^\s+(" + "|".join(_VERDICTS) + r"):")


@dataclass(frozen=True)
class Prompt:
    name: str
    system: str
    user_template: str
    version: str  # first 12 hex digits of the file's sha256

    def user(self, **values: str) -> str:
        return Template(self.user_template).substitute(values)

    @property
    def variants(self) -> int:
        """How many distinct wordings `variant` gives: ten when the system message defines the five verdicts
        one per line in a run of lines, else one (the prompt as written)."""
        return 10 if _definitions(self.system) is not None else 1

    def variant(self, k: int) -> Prompt:
        """The prompt with its verdicts in the k-th order (module docstring); variant 0 is this prompt. The
        version names the variant (`<version>.v<k>`), so each is cached and credited as itself."""
        if k == 0:
            return self
        if not 0 < k < self.variants:
            raise ValueError(f"prompt {self.name} has {self.variants} variants, not {k + 1}")
        lines = self.system.splitlines()
        start, written = _definitions(self.system) or (0, list(_VERDICTS))
        base = written if k < 5 else written[::-1]
        order = base[k % 5 :] + base[: k % 5]
        by_verdict = {_DEFINITION.match(line)[1]: line for line in lines[start : start + 5]}  # type: ignore[index]
        lines[start : start + 5] = [by_verdict[v] for v in order]
        system = "\n".join(lines).replace("|".join(written), "|".join(order))
        return replace(self, system=system, version=f"{self.version}.v{k}")


def _definitions(system: str) -> tuple[int, list[str]] | None:
    """Where the five verdict definition lines start, and their order as written; None when the system
    message has no such run of five lines (one per verdict)."""
    lines = system.splitlines()
    for start in range(len(lines) - 4):
        found = [_DEFINITION.match(line) for line in lines[start : start + 5]]
        if all(found):
            order = [m[1] for m in found if m]
            if sorted(order) == sorted(_VERDICTS):
                return start, order
    return None


def load_prompt(ws: Workspace, name: str) -> Prompt:
    """Read `agents/<name>.txt`; a missing or malformed file is the user's to fix (exit 2)."""
    path = ws.content_dir("agents") / f"{name}.txt"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(path, "-", f"cannot read prompt: {exc.strerror}") from exc
    if _SPLIT not in text:
        raise InvalidInput(path, "-", f"a prompt needs a line '{_SPLIT}' between the system and user parts")
    system, user = text.split(_SPLIT, 1)
    version = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    return Prompt(name=name, system=system.strip(), user_template=user.strip(), version=version)
