"""Start-up cost of `claimtrack status` next to importing the heavy stack, measured side by side.

    python benchmarks/startup.py [--repeat 5] [--workspace DIR]

Runs are interleaved so that machine noise hits both commands alike; prints medians and their ratio.
The target: `status` under a fifth of `import chromadb, langchain_openai, lm_eval`.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _time(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workspace", type=Path, default=ROOT)
    args = parser.parse_args()
    status = [sys.executable, "-m", "claimtrack", "-w", str(args.workspace), "status"]
    heavy = [sys.executable, "-c", "import chromadb, langchain_openai, lm_eval"]
    _time(status), _time(heavy)  # warm the page cache for both
    s_times, h_times = [], []
    for _ in range(args.repeat):
        s_times.append(_time(status))
        h_times.append(_time(heavy))
    s, h = statistics.median(s_times), statistics.median(h_times)
    print(f"claimtrack status                          median {s:.3f} s  ({args.repeat} runs)")
    print(f"import chromadb, langchain_openai, lm_eval median {h:.3f} s")
    print(f"ratio status / heavy import: {s / h:.3f}  (target < 0.2)")


if __name__ == "__main__":
    main()
