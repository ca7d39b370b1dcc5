"""Where a workspace lives: its claims, its content folders and its state folder."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from claimtrack.errors import InvalidArgument, InvalidInput, WorkspaceNotFound

STATE_DIRNAME = ".claimtrack"
# The project's own content (prompts, probes) beside the package, for workspaces that carry none.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Workspace:
    """A folder holding `claims/`; state (ledger, index, caches) lives in `state_dir`, ignored by git."""

    root: Path
    state_dir: Path

    @classmethod
    def at(cls, root: Path) -> Workspace:
        root = root.expanduser().resolve()
        override = os.environ.get("CLAIMTRACK_STATE_DIR")
        state = Path(override).expanduser().resolve() if override else root / STATE_DIRNAME
        return cls(root=root, state_dir=state)

    @property
    def claims_dir(self) -> Path:
        return self.root / "claims"

    @property
    def lines_dir(self) -> Path:
        return self.claims_dir / "lines"

    @property
    def ledger_path(self) -> Path:
        return self.state_dir / "ledger.sqlite"

    @property
    def lock_path(self) -> Path:
        return self.state_dir / "store.lock"

    def content_dir(self, name: str) -> Path:
        """`agents/` or `evals/`: the workspace's own copy if it has one, else the project's."""
        own = self.root / name
        return own if own.is_dir() else PROJECT_ROOT / name

    def ensure_state(self) -> Path:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        return self.state_dir


def find_workspace(flag: Path | None = None, start: Path | None = None) -> Workspace:
    """Resolve the workspace: `--workspace`, then CLAIMTRACK_HOME, then the nearest folder upward with claims/."""
    if flag is not None:
        return _checked(flag, "--workspace")
    home = os.environ.get("CLAIMTRACK_HOME")
    if home:
        return _checked(Path(home), "CLAIMTRACK_HOME")
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "claims").is_dir():
            return Workspace.at(folder)
    raise WorkspaceNotFound(
        f"no workspace: no claims/ folder in {here} or above; pass --workspace, set CLAIMTRACK_HOME, "
        "or create one with `claimtrack init DIR`"
    )


def _checked(path: Path, source: str) -> Workspace:
    if not (path / "claims").is_dir():
        raise InvalidArgument(source, f"{path} has no claims/ folder (create one with `claimtrack init`)")
    return Workspace.at(path)


def init_workspace(root: Path) -> Workspace:
    """Make an empty workspace with the project's prompts and probes, refusing to touch existing claims."""
    root = root.expanduser().resolve()
    if (root / "claims").exists():
        raise InvalidInput(root, "claims", "already a workspace; nothing changed")
    (root / "claims" / "lines").mkdir(parents=True)
    for name in ("agents", "evals"):
        source = PROJECT_ROOT / name
        if source.is_dir() and not (root / name).exists():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    gitignore = root / ".gitignore"
    if not gitignore.exists():
        gitignore.write_text(f"{STATE_DIRNAME}/\n", encoding="utf-8")
    return Workspace.at(root)
