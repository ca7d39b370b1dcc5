"""Prompts as plain text in the workspace's `agents/` folder. The file's sha256 prefix is its version,
so editing a prompt changes every cache key that depends on it.

A prompt file holds the system message, a line `=== USER ===`, then the user message template
($name placeholders, string.Template syntax, so JSON braces in the text need no escaping).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from string import Template

from claimtrack.errors import InvalidInput
from claimtrack.workspace import Workspace

_SPLIT = "=== USER ==="


@dataclass(frozen=True)
class Prompt:
    name: str
    system: str
    user_template: str
    version: str  # first 12 hex digits of the file's sha256

    def user(self, **values: str) -> str:
        return Template(self.user_template).substitute(values)


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
