"""What a slow judge costs `claimtrack judge qualify`, by how many requests are let in flight at once.

    python benchmarks/qualify_throughput.py [--latency 0.25] [--concurrency 1 4 8] [--limit N] [--json]

`claimtrack judge qualify --json` on the project's set (evals/judge/qualify.jsonl; `--limit` takes its first N
pairs), one child process per concurrency, each in a fresh workspace, against tests/loopback.py's OpenAI server
with a scripted judge that answers every pair truly after `latency` seconds of sleep. Prints, side by side, the
requests asked, the most the server had in flight at once, the wall time and its ratio to the serial one, and
whether the stored record equals the serial one (id and date aside).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from agent_helpers import answer_truly, paper_title, qualify_labels  # noqa: E402
from loopback import ChatReply, OpenAIServer  # noqa: E402

DATA = ROOT / "evals" / "judge" / "qualify.jsonl"


def one_qualify(llm: OpenAIServer, concurrency: int, limit: int | None) -> dict[str, Any]:
    """One `judge qualify --json` in a fresh workspace; wall time, requests and the record."""
    asked_before = len(llm.chat.requests)
    llm.chat.most_in_flight = 0
    with tempfile.TemporaryDirectory(prefix="qualify-bench-") as tmp:
        ws = Path(tmp) / "ws"
        (ws / "claims").mkdir(parents=True)
        env = {**os.environ, **llm.env(), "CLAIMTRACK_LLM_CONCURRENCY": str(concurrency), "PYTHONPATH": str(ROOT)}
        command = [sys.executable, "-m", "claimtrack", "-q", "--workspace", str(ws), "judge", "qualify"]
        command += ["--data", str(DATA), "--json", *(["--limit", str(limit)] if limit else [])]
        started = time.monotonic()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        wall = time.monotonic() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"judge qualify failed ({done.returncode}): {done.stderr.strip()}")
    record = {k: v for k, v in json.loads(done.stdout).items() if k not in ("id", "created_at")}
    return {
        "concurrency": concurrency,
        "requests": len(llm.chat.requests) - asked_before,
        "most_in_flight": llm.chat.most_in_flight,
        "wall_s": round(wall, 1),
        "record": record,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.25, help="seconds the scripted judge takes per answer")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--limit", type=int, default=None, help="the set's first N pairs only")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args()
    labelled = qualify_labels(DATA)

    def truthful(request: dict[str, Any]) -> ChatReply:
        return answer_truly(request, labelled[paper_title(request)])

    with OpenAIServer(responder=truthful) as llm:
        llm.chat.latency_s = args.latency
        rows = [one_qualify(llm, c, args.limit) for c in args.concurrency]
    first = rows[0]
    for row in rows:
        row["ratio"] = round(row["wall_s"] / first["wall_s"], 2)
        row["same_record"] = row["record"] == first["record"]
    for row in rows:
        del row["record"]
    if args.json:
        print(json.dumps({"latency_s": args.latency, "rows": rows}, indent=2))
        return
    print(f"judge latency {args.latency} s")
    print("| concurrency | requests | most in flight | wall s | vs first | same record |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        line = [r["concurrency"], r["requests"], r["most_in_flight"], r["wall_s"], r["ratio"], r["same_record"]]
        print("| " + " | ".join(str(x) for x in line) + " |")


if __name__ == "__main__":
    main()
