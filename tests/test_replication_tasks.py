"""Every probe's task YAML loads, resolves to absolute data paths, and runs through lm-eval on a tiny model."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from claimtrack.replication.models import ModelRef
from claimtrack.replication.runner import Settings, run_model, stage_two_rows
from claimtrack.replication.specs import PROBES
from claimtrack.replication.tasks import content_hash, probe_tasks, resolve
from claimtrack.workspace import Workspace
from tests.conftest import ROOT

WS = Workspace.at(ROOT)


@pytest.mark.parametrize("probe", PROBES)
def test_task_yaml_resolves_to_absolute_existing_data(probe: str, tmp_path: Path) -> None:
    tasks = probe_tasks(WS, probe)
    assert tasks
    for task in tasks:
        assert "include" not in task.config and task.config["task"].startswith("claimtrack_")
        if task.config["dataset_kwargs"]["data_files"]["test"].startswith("generated/"):
            (tmp_path / "generated").mkdir(exist_ok=True)
            (tmp_path / "generated" / "answers.jsonl").write_text("{}\n")
        target, used = resolve(task, tmp_path)
        text = target.read_text()
        assert str(used[0]) in text and used[0].is_absolute() and used[0].is_file()


@pytest.mark.parametrize("probe", PROBES)
def test_generator_is_deterministic_and_matches_the_committed_data(probe: str) -> None:
    folder = ROOT / "evals" / "tasks" / probe
    spec = importlib.util.spec_from_file_location(f"gen_{probe.replace('-', '_')}", folder / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    made = module.pairs() if hasattr(module, "pairs") else (module.items(),)
    files = sorted((folder / "data").glob("*.jsonl"))
    committed = {p.stem: [json.loads(line) for line in p.read_text().splitlines()] for p in files}
    generated = list(made)
    assert sum(len(rows) for rows in generated) >= 200  # a few hundred items per probe
    for rows in generated:
        assert rows in committed.values()
        ids = [r["id"] for r in rows]
        assert len(set(ids)) == len(ids)
        assert all(0 <= r["answer"] < len(r["choices"]) for r in rows)


def test_content_hash_changes_with_the_data(tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "ws"
    (root / "claims").mkdir(parents=True)
    shutil.copytree(ROOT / "evals", root / "evals")
    ws = Workspace.at(root)
    before = content_hash(ws, "calibration")
    assert before == content_hash(WS, "calibration")
    data = root / "evals" / "tasks" / "calibration" / "data" / "items.jsonl"
    data.write_text(data.read_text().replace("Paris", "Lyon"))
    assert content_hash(ws, "calibration") != before


def test_cot_stage_two_cuts_and_filler() -> None:
    sample = {
        "doc": {"id": "q1", "question": "Q?", "choices": ["1", "2"], "answer": 0},
        "filtered_resps": [" 1. a b\n2. c\n"],
    }
    rows = {r["condition"]: r["reasoning"] for r in stage_two_rows([sample])}
    assert rows == {
        "cut-0": "",
        "cut-25": "1.",
        "cut-50": "1. a b",
        "cut-75": "1. a b\n2.",
        "cut-100": "1. a b\n2. c",
        "filler": "... ... ...",  # as long as "1. a b\n2. c" (11 characters)
    }
    empty = {"doc": sample["doc"], "filtered_resps": ["  "]}
    assert {r["reasoning"] for r in stage_two_rows([empty])} == {""}
    assert {r["reasoning_words"] for r in stage_two_rows([empty])} == {0}


@pytest.mark.parametrize("probe", PROBES)
def test_probe_runs_on_the_tiny_model(probe: str, tiny_models: tuple[Path, Path], tmp_path: Path) -> None:
    base = tiny_models[0]
    ref = ModelRef(name="tiny", pretrained=str(base), local=True)
    run = Settings(limit=3, device="cpu", batch_size="4", seed=1, trust_remote_code=False, max_gen_toks=8)
    result = run_model(WS, probe, ref, run, tmp_path)
    assert result.tables and all(len(rows) == 3 for rows in result.tables.values())
    for rows in result.tables.values():
        for outcome in rows.values():
            assert sum(outcome.probs) == pytest.approx(1.0)
    assert result.meta["lm_eval_version"] == "0.4.13"
    assert result.meta["model_num_parameters"] < 10_000
    for numbers in result.results.values():
        assert any(k.endswith("_stderr,none") for k in numbers)
