"""Benchmark: what lm-eval's request cache costs a fresh run and saves a rerun, side by side in one process.

    python benchmarks/replication_cache.py [MODEL_FOLDER] [--probe calibration] [--limit 300] [--batch-size 8]

Runs one probe's lm-eval call on one model through claimtrack's runner, after one untimed warm-up: without the
cache (lm-eval as it ran before), with an empty cache (every answer is written as it is computed), on the
filled cache (what a requeued or resubmitted task finds), and without it once more, to see the drift. Without
MODEL_FOLDER it builds the tests' tiny GPT-2, whose own compute is least, so the cache's cost shows the most.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from claimtrack.replication import runner
from claimtrack.replication.models import parse_model
from claimtrack.replication.tasks import probe_tasks, resolve
from claimtrack.workspace import PROJECT_ROOT, Workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", type=Path)
    parser.add_argument("--probe", default="calibration")
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--batch-size", default="8")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.model is None:
            from tests.replication_helpers import build_tiny_model

            args.model = build_tiny_model(work / "tiny")
        ref = parse_model(str(args.model))
        ws = Workspace(root=PROJECT_ROOT, state_dir=work / "state")
        run = runner.Settings(args.limit, "cpu", args.batch_size, 1234, False, 64)
        tasks = probe_tasks(ws, args.probe)
        if any(t.stage for t in tasks):
            parser.error(f"{args.probe} runs in two stages; pick a one-stage probe")
        include = work / "tasks"
        for task in tasks:
            resolve(task, include)
        timings = {}
        runner.evaluate(ref, include, [t.name for t in tasks], run, run.limit)  # warm-up: first loads, not timed
        rounds = (("no cache", False), ("empty cache", True), ("filled cache", True), ("no cache again", False))
        for name, cached in rounds:
            count = runner.CacheCount()
            started = time.perf_counter()
            runner.evaluate(
                ref, include, [t.name for t in tasks], run, run.limit, (work / "cache", count) if cached else None
            )
            timings[name] = {
                "seconds": round(time.perf_counter() - started, 2),
                "requests": count.requests,
                "cache_hits": count.hits,
            }
    base = timings["no cache"]["seconds"]
    for t in timings.values():
        t["ratio_to_no_cache"] = round(t["seconds"] / base, 2)
    print(json.dumps({"probe": args.probe, "limit": args.limit, "model": str(args.model), **timings}, indent=2))


if __name__ == "__main__":
    main()
