"""Embedding throughput, side by side in one process: plain sentence-transformers vs claimtrack's encoder.

    python benchmarks/embedding_throughput.py /path/to/beir-scifact [--docs 500] [--rounds 2]

Each round runs every variant on the same abstracts (order alternating between rounds, so a noisy shared
machine hurts none of them systematically) and reports documents per second, the ratio to
sentence-transformers, and how close the vectors are to sentence-transformers' (mean/min cosine).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def import_seconds(statement: str) -> float:
    """Wall time of an import in a fresh interpreter (what a CLI start pays)."""
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("beir", type=Path)
    parser.add_argument("--docs", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    texts = []
    with (args.beir / "corpus.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            texts.append(f"{record.get('title', '')}. {record.get('text', '')}".strip(". "))
            if len(texts) == args.docs:
                break

    import numpy as np
    from sentence_transformers import SentenceTransformer

    from claimtrack.discovery.encoder import encoder, model_dir

    plain = SentenceTransformer(str(model_dir()), device="cpu")
    variants = {
        "sentence-transformers (fp32)": lambda: plain.encode(texts, batch_size=32, normalize_embeddings=True),
        "claimtrack fp32 (length-sorted)": lambda: encoder(False, 256).encode(texts, 32),
        "claimtrack int8 (default)": lambda: encoder(True, 256).encode(texts, 32),
    }
    for warm in (
        lambda: plain.encode(texts[:8]),
        lambda: encoder(False, 256).encode(texts[:8], 8),
        lambda: encoder(True, 256).encode(texts[:8], 8),
    ):
        warm()  # load the models before timing
    speeds: dict[str, list[float]] = {name: [] for name in variants}
    vectors: dict[str, np.ndarray] = {}
    names = list(variants)
    for round_no in range(args.rounds):
        for name in names if round_no % 2 == 0 else reversed(names):
            start = time.perf_counter()
            vectors[name] = np.asarray(variants[name](), dtype=np.float32)
            speeds[name].append(len(texts) / (time.perf_counter() - start))
    base_name = names[0]
    base = statistics.median(speeds[base_name])
    print(f"{len(texts)} SciFact abstracts, {args.rounds} rounds, median docs/s")
    print(f"{'variant':34} {'docs/s':>8} {'vs ST':>6} {'cos mean':>9} {'cos min':>8}")
    for name in names:
        cos = (vectors[name] * vectors[base_name]).sum(axis=1)
        speed = statistics.median(speeds[name])
        print(f"{name:34} {speed:8.1f} {speed / base:5.2f}x {cos.mean():9.4f} {cos.min():8.4f}")
    print(
        f"import sentence_transformers: {import_seconds('import sentence_transformers'):.1f} s; "
        f"import torch + transformers.AutoModel: "
        f"{import_seconds('import torch; from transformers import AutoModel'):.1f} s"
    )


if __name__ == "__main__":
    main()
