"""Start-up stays light: each command imports the heavy stacks only on the path that uses them.

Every case runs the real CLI (`python -m claimtrack`) in a child process and reads back which modules were loaded
when it exited, so an import anywhere on the way (the CLI's own, a command's, a run's steps and workers) counts.
Speed is measured in benchmarks/startup.py, not here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

IT = "it-output-format-not-task"
HEAVY = frozenset(
    {
        "chromadb",
        "langchain",
        "langchain_core",
        "langchain_openai",
        "openai",
        "lm_eval",
        "datasets",
        "torch",
        "transformers",
        "sentence_transformers",
        "tokenizers",
        "numpy",
        "starlette",
        "uvicorn",
        "jinja2",
        "submitit",
        "arxiv",
        "httpx",
        "lxml",
    }
)
# Runs the CLI as `python -m claimtrack` does and writes the names of the modules loaded at exit to a file.
PROBE = """
import atexit, json, runpy, sys

def loaded(path=sys.argv[1]):
    with open(path, "w") as out:
        json.dump(sorted({name.split(".")[0] for name in sys.modules}), out)

atexit.register(loaded)
sys.argv = ["claimtrack", *sys.argv[2:]]
runpy.run_module("claimtrack", run_name="__main__", alter_sys=True)
"""
UNREACHABLE = {
    "CLAIMTRACK_ARXIV_URL": "http://127.0.0.1:9/api/query",
    "CLAIMTRACK_S2_URL": "http://127.0.0.1:9/graph/v1",
    "CLAIMTRACK_OPENALEX_URL": "http://127.0.0.1:9",
    "CLAIMTRACK_HTTP_RETRIES": "0",
}
JUDGE = {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "OPENAI_API_KEY": "sk-test"}  # never called: nothing to judge
CLIENTS = {"openai", "langchain", "langchain_core", "langchain_openai", "httpx"}

CASES = [
    # (arguments after -w WS, extra environment, exit code, heavy modules that path needs)
    pytest.param(["--help"], {}, 0, set(), id="help"),
    pytest.param(["status"], {}, 0, set(), id="status"),
    pytest.param(["show", IT], {}, 0, set(), id="show"),
    pytest.param(["review"], {}, 0, set(), id="review"),
    pytest.param(["validate"], {}, 0, set(), id="validate"),
    pytest.param(["report", "status"], {}, 0, set(), id="report-status"),
    # a run with nothing stored to rank: no Chroma, no encoder; its replication is skipped (no model cached)
    pytest.param(["run", IT, "--no-judge", "--offline"], {}, 0, set(), id="run-offline-no-judge"),
    # judging on, with the full texts' parsers and token counts, but no candidate reaches the judge
    pytest.param(["run", IT, "--offline"], JUDGE, 0, CLIENTS | {"lxml", "tokenizers"}, id="run-offline-judged"),
    # every source unreachable: the network clients, and nothing to rank
    pytest.param(["run", IT, "--no-judge"], UNREACHABLE, 3, {"httpx", "arxiv", "lxml"}, id="run-sources-down"),
    pytest.param(["run", "no-such-claim", "--no-judge"], {}, 2, set(), id="run-bad-input"),
]


@pytest.mark.parametrize(("args", "env", "code", "needed"), CASES)
def test_a_command_loads_only_the_heavy_modules_its_path_uses(
    repo_workspace: Path, tmp_path: Path, args: list[str], env: dict[str, str], code: int, needed: set[str]
) -> None:
    out = tmp_path / "modules.json"
    environment = {
        **os.environ,
        "HF_HOME": str(tmp_path / "hf"),  # no model cached, whatever this machine holds: a probe is skipped
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        **env,
    }
    argv = [sys.executable, "-c", PROBE, str(out), "-w", str(repo_workspace), *args]
    done = subprocess.run(argv, capture_output=True, text=True, env=environment, timeout=300)
    assert done.returncode == code, done.stderr
    loaded = set(json.loads(out.read_text(encoding="utf-8")))
    assert not (HEAVY & loaded) - needed, f"claimtrack {' '.join(args)} loaded {sorted((HEAVY & loaded) - needed)}"
    if args[:2] == ["run", IT]:  # the run went through every step, replication included
        assert "replication skipped" in done.stdout, done.stdout
