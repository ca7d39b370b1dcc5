"""What a slow judge costs a run, by how many LLM calls are let in flight at once.

    python benchmarks/run_throughput.py [--claims 23] [--k 6] [--latency 0 1 3] [--concurrency 1 4 8 16]
                                        [--slow-claims N] [--json]

Full `claimtrack run`s (real discovery and ranking, full texts and passages, the real openai client, real
SQLite and YAML) over the repository's claims, against the loopback servers of tests/loopback.py with
benchmarks/judge_tokens.py's scripted library (10 papers per claim, 30% of pairs related, a LaTeXML full text
for each) and its scripted model, which answers after `latency` seconds of sleep: a hosted model's latency,
or a local one's. Each (latency, concurrency) is one run on a fresh copy of the claims; the extra wall time
over the instant judge at the same concurrency, divided by calls x latency, is the serial share: 1 when the
run waits for every call in turn, 1/concurrency when the calls overlap perfectly. `--slow-claims` runs the
latencies of 3 s and more over fewer claims (they take long serially), with their own instant baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]

from judge_tokens import Script, scripted_library  # noqa: E402
from loopback import Literature, OpenAIServer  # noqa: E402

from claimtrack.agent.run import RunOptions, execute  # noqa: E402
from claimtrack.config import Settings  # noqa: E402


def one_run(claims: int, k: int, latency: float, concurrency: int) -> dict[str, Any]:
    """One run over fresh copies of the first `claims` claims; wall time and calls."""
    with scripted_library(claims, papers=10) as (ws, entries, pages, s2, openalex):
        script = Script(related=0.3)
        with (
            Literature(entries, s2=s2, openalex=openalex, html=pages) as server,
            OpenAIServer(responder=script) as llm,
        ):
            llm.chat.latency_s = latency
            env = {
                **server.env(),
                **llm.env(),
                "CLAIMTRACK_HTTP_RETRIES": "0",
                "CLAIMTRACK_LLM_CONCURRENCY": str(concurrency),
            }
            with mock.patch.dict(os.environ, env):
                started = time.monotonic()
                options = RunOptions(all=True, replicate=False, k=k, trust_judge=True)  # a scripted judge, unmeasured
                summary = execute(ws, options, settings=Settings())
                wall = time.monotonic() - started
            most = llm.chat.most_in_flight
    totals = summary.as_dict()["totals"]
    calls = totals["llm_calls"] + totals["llm_failed_calls"]
    return {
        "claims": claims,
        "latency": latency,
        "concurrency": concurrency,
        "wall_s": round(wall, 1),
        "calls": calls,
        "most_in_flight": most,
        "pairs": totals["pairs_judged"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=23)
    parser.add_argument("--k", type=int, default=6)
    parser.add_argument("--latency", type=float, nargs="+", default=[0.0, 1.0, 3.0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--slow-claims", type=int, default=None, help="claims for latencies of 3 s and more")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    one_run(1, args.k, 0.0, 1)  # imports and model loads, once, before anything is timed
    groups = {args.claims: [lat for lat in args.latency if not (args.slow_claims and lat >= 3)]}
    if args.slow_claims:
        groups.setdefault(args.slow_claims, []).extend(lat for lat in args.latency if lat >= 3)
    rows = []
    for claims, latencies in groups.items():
        for concurrency in args.concurrency:
            base: dict[str, Any] = {}
            for latency in sorted({0.0, *latencies}):
                row = one_run(claims, args.k, latency, concurrency)
                if latency == 0:
                    base = row
                else:
                    extra = row["wall_s"] - base["wall_s"]
                    row["extra_s"] = round(extra, 1)
                    row["serial_share"] = round(extra / (row["calls"] * latency), 3)
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"k={args.k}; wall time of a full run, and what the judge's latency added")
    print("| claims | judge latency | concurrency | calls | most in flight | wall s | extra s | serial share |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        extra = f"{r['extra_s']:.1f}" if "extra_s" in r else "-"
        share = f"{r['serial_share']:.2f}" if "serial_share" in r else "-"
        print(
            f"| {r['claims']} | {r['latency']:g} s | {r['concurrency']} | {r['calls']} | {r['most_in_flight']}"
            f" | {r['wall_s']:.1f} | {extra} | {share} |"
        )


if __name__ == "__main__":
    main()
