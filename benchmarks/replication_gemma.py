"""Benchmark: the offline Gemma 3 270M in claimtrack's replication path, timed side by side in one run.

    python benchmarks/replication_gemma.py STATE_DIR [--probe calibration] [--limit 20] [--batch-size 8]

Measures (1) the one-time conversion of the packaged GGUF into an HF folder (GGUF load + dequantise +
save), (2) reloading the converted folder, and their ratio, then (3) seconds per item for one probe on
CPU. Pass a fresh STATE_DIR to time the conversion; an existing one reuses its converted copy.
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

from claimtrack.replication.models import GEMMA_ID, ModelRef, ensure_gemma
from claimtrack.replication.runner import Settings, run_model
from claimtrack.workspace import PROJECT_ROOT, Workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("state_dir", type=Path)
    parser.add_argument("--probe", default="calibration")
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--batch-size", default="8")
    args = parser.parse_args()

    started = time.perf_counter()
    folder, info = ensure_gemma(args.state_dir)
    first_call_s = time.perf_counter() - started

    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.perf_counter()
    AutoModelForCausalLM.from_pretrained(str(folder))
    AutoTokenizer.from_pretrained(str(folder))
    reload_s = time.perf_counter() - started

    run = Settings(
        limit=args.limit, device="cpu", batch_size=args.batch_size, seed=1234, trust_remote_code=False, max_gen_toks=64
    )
    ref = ModelRef(name=GEMMA_ID, pretrained=str(folder), local=True)
    with tempfile.TemporaryDirectory() as work:
        result = run_model(Workspace.at(PROJECT_ROOT), args.probe, ref, run, Path(work))
    report = {
        "conversion": info,
        "ensure_gemma_this_call_s": round(first_call_s, 2),
        "reload_s": round(reload_s, 2),
        "gguf_load_over_reload": round(info["gguf_load_s"] / reload_s, 1) if info.get("gguf_load_s") else None,
        "probe": args.probe,
        "items": result.items,
        "probe_s_incl_model_load": round(result.seconds, 2),
        "seconds_per_item": round(result.seconds / result.items, 3),
        "cores": os.cpu_count(),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
