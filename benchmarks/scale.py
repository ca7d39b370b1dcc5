"""Discovery at corpus scale: import a synthetic arXiv snapshot of N papers, then discover over it.

    nice python benchmarks/scale.py shared/data/beir-scifact [--sizes 5000 30000 100000] [--claim ID] [--work DIR]

For each N it writes a snapshot in arXiv's metadata-snapshot format (JSON lines) built from SciFact's abstracts,
imports it into a fresh workspace holding the committed claim store, re-imports it, and runs
`discover CLAIM --offline` twice, each as its own `python -m claimtrack` process. It prints, side by side, the
wall time of each command, import speed, how many papers the first discover embedded, and each command's peak
memory (the child's maximum RSS), with the machine's load average when each size began.

Synthetic papers past SciFact's 5,183 mix the sentences of two abstracts (and the words of two titles), so every
paper's text is distinct and the vocabulary stays that of real abstracts. Dates spread over 2019-2025, so about
a third of the corpus is dated after the default claim (2023-05) and eligible for it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CATEGORIES = ("cs.CL", "cs.LG", "cs.AI", "stat.ML", "cs.CV")
NAMES = ("Lee", "Chen", "Garcia", "Okafor", "Novak", "Singh", "Tanaka", "Müller", "Rossi", "Haddad")
START, DAYS = dt.date(2019, 1, 1), 7 * 365


def scifact(folder: Path) -> list[tuple[str, str]]:
    with (folder / "corpus.jsonl").open(encoding="utf-8") as handle:
        docs = [json.loads(line) for line in handle if line.strip()]
    return [(d.get("title") or "", d.get("text") or "") for d in docs]


def synthetic_records(docs: list[tuple[str, str]], n: int, seed: int = 11):
    """n arXiv snapshot records, deterministic for a seed; ids are unique and in arXiv's YYMM.NNNNN form."""
    rng = random.Random(seed)
    per_month: dict[str, int] = {}
    for i in range(n):
        title, text = docs[i % len(docs)]
        if i >= len(docs):
            other_title, other_text = docs[rng.randrange(len(docs))]
            sentences = [s for s in (text + " " + other_text).split(". ") if s]
            rng.shuffle(sentences)
            text = ". ".join(sentences[: max(3, len(sentences) // 2)])
            words = title.split()[: max(3, len(title.split()) // 2)] + other_title.split()[:4]
            title = " ".join(words)
        day = START + dt.timedelta(days=rng.randrange(DAYS))
        month = day.strftime("%y%m")
        per_month[month] = per_month.get(month, 0) + 1
        arxiv_id = f"{month}.{per_month[month]:05d}"
        created = dt.datetime.combine(day, dt.time(12)).strftime("%a, %d %b %Y %H:%M:%S GMT")
        authors = rng.sample(NAMES, 2)
        yield {
            "id": arxiv_id,
            "submitter": authors[0],
            "authors": " and ".join(f"A. {a}" for a in authors),
            "title": title or f"Untitled {i}",
            "comments": None,
            "journal-ref": None,
            "doi": f"10.5555/synthetic.{i}" if i % 4 == 0 else None,
            "report-no": None,
            "categories": " ".join(rng.sample(CATEGORIES, rng.randint(1, 2))),
            "license": None,
            "abstract": text,
            "versions": [{"version": "v1", "created": created}],
            "update_date": day.isoformat(),
            "authors_parsed": [[a, "A.", ""] for a in authors],
        }


def write_snapshot(docs: list[tuple[str, str]], n: int, path: Path) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for record in synthetic_records(docs, n):
            handle.write(json.dumps(record) + "\n")
    return path


def timed(args: list[str]) -> tuple[float, float, str]:
    """Run `python -m claimtrack ARGS`; (wall seconds, peak RSS in MB of that process, stdout)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-m", "claimtrack", *args], stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own resource usage, peak RSS included
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        text, problems = out.read().decode(), err.read().decode()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"`claimtrack {' '.join(args)}` failed with exit code {code}:\n{problems}")
    return seconds, usage.ru_maxrss / 1024, text


def measure(docs: list[tuple[str, str]], n: int, claim: str, work: Path) -> dict[str, object]:
    ws = work / f"ws-{n}"
    shutil.rmtree(ws, ignore_errors=True)
    shutil.copytree(ROOT / "claims", ws / "claims")
    snapshot = write_snapshot(docs, n, work / f"snapshot-{n}.jsonl")
    load = os.getloadavg()[0]
    import_s, import_mb, out = timed(["-w", str(ws), "papers", "import", str(snapshot), "--json"])
    summary = json.loads(out)
    again_s, again_mb, out = timed(["-w", str(ws), "papers", "import", str(snapshot), "--json"])
    again = json.loads(out)
    first_s, first_mb, out = timed(["-w", str(ws), "discover", claim, "--offline", "--json"])
    first = json.loads(out)
    repeat_s, repeat_mb, out = timed(["-w", str(ws), "discover", claim, "--offline", "--json"])
    repeat = json.loads(out)
    return {
        "papers": n,
        "load": round(load, 1),
        "import_s": round(import_s, 2),
        "import_per_s": round(summary["new"] / import_s),
        "reimport_s": round(again_s, 2),
        "reimport_unchanged": again["unchanged"],
        "discover_first_s": round(first_s, 2),
        "embedded_first": first["embedded"],
        "discover_repeat_s": round(repeat_s, 2),
        "embedded_repeat": repeat["embedded"],
        "candidates": len(repeat["candidates"]),
        "peak_mb": {
            "import": round(import_mb),
            "reimport": round(again_mb),
            "discover_first": round(first_mb),
            "discover_repeat": round(repeat_mb),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scifact", type=Path, help="BEIR SciFact folder (corpus.jsonl)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 30000, 100000])
    parser.add_argument("--claim", default="it-output-format-not-task")
    parser.add_argument("--work", type=Path, default=None, help="where snapshots and workspaces go (default: temp)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    docs = scifact(args.scifact)
    work = args.work or Path(tempfile.mkdtemp(prefix="claimtrack-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    results = []
    for n in args.sizes:
        results.append(measure(docs, n, args.claim, work))
        print(json.dumps(results[-1]), file=sys.stderr)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    header = [
        "papers",
        "load",
        "import s",
        "papers/s",
        "re-import s",
        "discover 1st s",
        "embedded",
        "discover again s",
        "peak MB (import / 1st / again)",
    ]
    rows = [
        [
            f"{r['papers']:,}",
            r["load"],
            r["import_s"],
            f"{r['import_per_s']:,}",
            r["reimport_s"],
            r["discover_first_s"],
            r["embedded_first"],
            r["discover_repeat_s"],
            f"{r['peak_mb']['import']} / {r['peak_mb']['discover_first']} / {r['peak_mb']['discover_repeat']}",
        ]
        for r in results
    ]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")


if __name__ == "__main__":
    main()
