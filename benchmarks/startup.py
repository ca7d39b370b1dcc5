"""Start-up cost of claimtrack's commands, measured side by side.

    python benchmarks/startup.py [--repeat 5] [--workspace DIR] [--claim ID] [--against CHECKOUT]

Times `claimtrack status` against `python -c "import chromadb, langchain_openai, lm_eval"` (target: status under a
fifth of it), then each light command: --help, status, show, review, validate, report status, and runs that rank
nothing by vectors (nothing stored, offline; an endpoint set but nothing to judge; every source unreachable; an
unknown claim; every claim offline). With --against, each command also runs on another checkout's
package (a folder holding `claimtrack/`, such as `git worktree add /tmp/before main`), and the table gives both.
Runs are interleaved so that machine noise hits every column alike; medians are printed.

Each checkout works on its own copy of the workspace's claims in a temporary folder (a run writes its ledger and
claim files), with no Hugging Face model cached there, so a run's replication is skipped, never started.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _time(cmd: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> float:
    """Seconds the command took; its exit code is not checked (runs meant to fail are timed too)."""
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd, env=env)
    return time.perf_counter() - start


# A run's sources, all unreachable (a closed loopback port), and an endpoint that is never called (nothing to judge).
SOURCES_DOWN = {
    "CLAIMTRACK_ARXIV_URL": "http://127.0.0.1:9/api/query",
    "CLAIMTRACK_S2_URL": "http://127.0.0.1:9/graph/v1",
    "CLAIMTRACK_OPENALEX_URL": "http://127.0.0.1:9",
    "CLAIMTRACK_HTTP_RETRIES": "0",
}
ENDPOINT = {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "OPENAI_API_KEY": "unused"}


def _commands(claim: str) -> dict[str, tuple[list[str], dict[str, str]]]:
    """label -> (arguments after -w WS, environment added)."""
    return {
        "--help": (["--help"], {}),
        "status": (["status"], {}),
        f"show {claim}": (["show", claim], {}),
        "review": (["review"], {}),
        "validate": (["validate"], {}),
        "report status": (["report", "status"], {}),
        f"run {claim} --no-judge --offline": (["run", claim, "--no-judge", "--offline", "-q"], {}),
        f"run {claim} --offline (endpoint set)": (["run", claim, "--offline", "-q"], ENDPOINT),
        f"run {claim} --no-judge (sources down)": (["run", claim, "--no-judge", "-q"], SOURCES_DOWN),
        "run no-such-claim (bad input)": (["run", "no-such-claim", "-q"], {}),
        "run --all --no-judge --offline": (["run", "--all", "--no-judge", "--offline", "-q"], {}),
    }


def _checkout_env(package_root: Path, scratch: Path) -> dict[str, str]:
    """The environment a checkout's commands run in (from its scratch folder, so that the current folder does not
    put this checkout's package first): its package first, no model cache, no network hubs."""
    path = os.pathsep.join(filter(None, [str(package_root), os.environ.get("PYTHONPATH")]))
    return {
        **os.environ,
        "PYTHONPATH": path,
        "HF_HOME": str(scratch / "hf"),
        "HF_HUB_OFFLINE": "1",
        "XDG_CACHE_HOME": str(scratch / "cache"),
    }


def _ratio_to_heavy(workspace: Path, repeat: int) -> None:
    status = [sys.executable, "-m", "claimtrack", "-w", str(workspace), "status"]
    heavy = [sys.executable, "-c", "import chromadb, langchain_openai, lm_eval"]
    _time(status), _time(heavy)  # warm the page cache for both
    s_times, h_times = [], []
    for _ in range(repeat):
        s_times.append(_time(status))
        h_times.append(_time(heavy))
    s, h = statistics.median(s_times), statistics.median(h_times)
    print(f"claimtrack status                          median {s:.3f} s  ({repeat} runs)")
    print(f"import chromadb, langchain_openai, lm_eval median {h:.3f} s")
    print(f"ratio status / heavy import: {s / h:.3f}  (target < 0.2)\n")


def _side_by_side(workspace: Path, claim: str, repeat: int, against: Path | None) -> None:
    checkouts = {"this": ROOT} | ({"against": against} if against else {})
    with tempfile.TemporaryDirectory(prefix="claimtrack-startup-") as tmp:
        runs = {}
        for name, package_root in checkouts.items():
            scratch = Path(tmp) / name
            shutil.copytree(workspace / "claims", scratch / "ws" / "claims")
            env = _checkout_env(package_root, scratch)
            base = [sys.executable, "-m", "claimtrack", "-w", str(scratch / "ws")]
            runs[name] = {
                label: (base + args, env | extra, scratch) for label, (args, extra) in _commands(claim).items()
            }
        times: dict[tuple[str, str], list[float]] = {}
        for name in runs:  # warm the page cache; the first run also makes each workspace's ledger
            for cmd, env, cwd in runs[name].values():
                _time(cmd, env, cwd)
        for _ in range(repeat):
            for label in _commands(claim):
                for name in runs:
                    cmd, env, cwd = runs[name][label]
                    times.setdefault((name, label), []).append(_time(cmd, env, cwd))
    width = max(len(label) for label in _commands(claim)) + len("claimtrack ")
    header = f"{'command':{width}s} {'this (s)':>9s}" + (f" {'against (s)':>12s} {'ratio':>6s}" if against else "")
    print(header + f"   medians of {repeat}")
    for label in _commands(claim):
        this = statistics.median(times["this", label])
        line = f"{'claimtrack ' + label:{width}s} {this:9.2f}"
        if against:
            other = statistics.median(times["against", label])
            line += f" {other:12.2f} {this / other:6.2f}"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workspace", type=Path, default=ROOT)
    parser.add_argument("--claim", default="it-output-format-not-task", help="The claim `show` and `run` take.")
    parser.add_argument("--against", type=Path, help="Another checkout (a folder holding claimtrack/) to compare.")
    args = parser.parse_args()
    if args.against is not None and not (args.against / "claimtrack" / "__init__.py").is_file():
        parser.error(f"--against: {args.against} holds no claimtrack/ package")
    _ratio_to_heavy(args.workspace, args.repeat)
    _side_by_side(args.workspace, args.claim, args.repeat, args.against)


if __name__ == "__main__":
    main()
