"""The probes' lm-eval task files: reading them (with `include:`), hashing them, and resolving them.

lm-eval resolves `data_files` against the working directory, so the committed YAML (relative paths,
shared bases) is flattened into a run folder with absolute paths before lm-eval sees it. Stage data
produced at run time (paths under `generated/`) is pointed at the run folder.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claimtrack.errors import InvalidInput
from claimtrack.fileio import atomic_write, dump_yaml, load_yaml
from claimtrack.workspace import Workspace

GENERATED = "generated/"


@dataclass(frozen=True)
class TaskFile:
    """One lm-eval task of a probe, with its includes merged."""

    name: str
    path: Path
    config: dict[str, Any]

    @property
    def condition(self) -> str | None:
        return (self.config.get("metadata") or {}).get("condition")

    @property
    def stage(self) -> str | None:
        return (self.config.get("metadata") or {}).get("stage")


def tasks_root(ws: Workspace) -> Path:
    return ws.content_dir("evals") / "tasks"


def probe_dir(ws: Workspace, probe: str) -> Path:
    return tasks_root(ws) / probe


def load_config(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A task YAML with its `include:` chain merged (the including file wins, key by key)."""
    path = path.resolve()
    if path in seen:
        raise InvalidInput(path, "include", "includes itself")
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise InvalidInput(path, "-", "expected a mapping")
    include = data.pop("include", None)
    if include is None:
        return data
    merged: dict[str, Any] = {}
    for name in include if isinstance(include, list) else [include]:
        base = path.parent / name
        if not base.is_file():
            raise InvalidInput(path, "include", f"no file {name}")
        merged.update(load_config(base, (*seen, path)))
    merged.update(data)
    return merged


def probe_tasks(ws: Workspace, probe: str) -> list[TaskFile]:
    """The probe's tasks (files starting with `_` are shared bases, not tasks)."""
    folder = probe_dir(ws, probe)
    tasks = []
    for path in sorted(folder.glob("*.yaml")):
        if path.name.startswith("_"):
            continue
        config = load_config(path)
        if "task" not in config:
            raise InvalidInput(path, "task", "missing (name shared bases with a leading _)")
        tasks.append(TaskFile(name=config["task"], path=path, config=config))
    if not tasks:
        raise InvalidInput(folder, "-", "no task YAML in the probe folder")
    return tasks


def probe_conditions(ws: Workspace, probe: str) -> list[str]:
    """The condition names a spec may use: each task's `metadata.condition`, or the two-stage probe's cuts."""
    from claimtrack.replication.runner import STAGE_TWO_CONDITIONS

    tasks = probe_tasks(ws, probe)
    if any(t.stage for t in tasks):
        return list(STAGE_TWO_CONDITIONS)
    return [t.condition for t in tasks if t.condition]


def content_hash(ws: Workspace, probe: str) -> str:
    """sha256 over every file the probe reads (task YAML, bases, data, generator): the cache's view of it."""
    folder = probe_dir(ws, probe)
    digest = hashlib.sha256()
    files = sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    files += sorted(tasks_root(ws).glob("_*.yaml"))
    for path in files:
        digest.update(str(path.relative_to(tasks_root(ws))).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def data_hash(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def resolve(task: TaskFile, out_dir: Path, *, overrides: dict[str, Any] | None = None) -> tuple[Path, list[Path]]:
    """Write the task as one flat YAML with absolute data paths into `out_dir`; returns it and its data files."""
    config = dict(task.config)
    kwargs = dict(config.get("dataset_kwargs") or {})
    files = kwargs.get("data_files")
    if not isinstance(files, dict):
        raise InvalidInput(task.path, "dataset_kwargs.data_files", "expected a mapping of split to file")
    resolved: dict[str, Any] = {}
    used: list[Path] = []
    for split, value in files.items():
        names = value if isinstance(value, list) else [value]
        absolute = []
        for name in names:
            base = out_dir if str(name).startswith(GENERATED) else task.path.parent
            path = (base / name).resolve()
            if not path.is_file():
                raise InvalidInput(task.path, f"dataset_kwargs.data_files.{split}", f"no data file {path}")
            absolute.append(str(path))
            used.append(path)
        resolved[split] = absolute if isinstance(value, list) else absolute[0]
    kwargs["data_files"] = resolved
    config["dataset_kwargs"] = kwargs
    for key, value in (overrides or {}).items():
        config[key] = value
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{task.name}.yaml"
    atomic_write(target, dump_yaml(config))
    return target, used
