"""What the round-trip writer costs: ruamel.yaml's import next to PyYAML's, and a store rewrite both ways.

    python benchmarks/yaml_io.py [--repeat 15]

Imports are timed in fresh interpreters (-X importtime, cumulative), interleaved so machine noise hits both;
ruamel.yaml is timed with PyYAML already loaded, as the write path finds it. The rewrite times writing every
committed claim and line in a scratch copy: PyYAML's dump (what the store wrote before) against `write_yaml`'s
load-merge-dump. Prints medians and ratios. `claimtrack status` imports neither writer; only writes pay.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _import_ms(module: str, preload: str = "") -> float:
    code = f"import {preload}" if preload else "pass"
    err = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"{code}\nimport {module}"], capture_output=True, text=True
    ).stderr
    line = next(line for line in reversed(err.splitlines()) if line.rstrip().endswith(f"| {module}"))
    return int(line.split("|")[1]) / 1000


def _rewrite_s(write) -> float:
    with tempfile.TemporaryDirectory() as scratch:
        claims = Path(scratch) / "claims"
        shutil.copytree(ROOT / "claims", claims)
        files = sorted(claims.glob("*.yaml")) + sorted((claims / "lines").glob("*.yaml"))
        import yaml

        data = [(path, yaml.safe_load(path.read_text())) for path in files]
        start = time.perf_counter()
        for path, item in data:
            write(path, item)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    from claimtrack.fileio import _round_trip, atomic_write, dump_yaml, write_yaml

    _round_trip()  # the one-off set-up is part of the import figure, not of each write
    pyyaml, ruamel, old, new = [], [], [], []
    for _ in range(args.repeat):
        pyyaml.append(_import_ms("yaml"))
        ruamel.append(_import_ms("ruamel.yaml", preload="yaml"))
        old.append(_rewrite_s(lambda path, item: atomic_write(path, dump_yaml(item))))
        new.append(_rewrite_s(write_yaml))
    y, r = statistics.median(pyyaml), statistics.median(ruamel)
    o, n = statistics.median(old), statistics.median(new)
    print(f"import yaml                      median {y:6.1f} ms  ({args.repeat} runs)")
    print(f"import ruamel.yaml (after yaml)  median {r:6.1f} ms  ratio {r / y:.2f}")
    print(f"rewrite the store, PyYAML dump   median {o * 1000:6.1f} ms")
    print(f"rewrite the store, write_yaml    median {n * 1000:6.1f} ms  ratio {n / o:.2f}")


if __name__ == "__main__":
    main()
