"""Discovery at corpus scale: import a synthetic arXiv snapshot of N papers, then discover over it.

    nice python benchmarks/scale.py shared/data/beir-scifact [--sizes 100000,1000000] [--claim ID] [--work DIR]

For each N it writes a snapshot in arXiv's metadata-snapshot format (JSON lines) built from SciFact's abstracts
(once: a snapshot already in --work is reused), loads it with bare SQLite (the floor an import is held to),
imports it into a fresh workspace holding the committed claim store, runs `discover CLAIM --offline` once and
then twice more, and `papers search QUERY` once and then twice more, each command its own `python -m claimtrack`
process. It prints, side by side, the wall time of each (repeats: the better of two), import against the floor,
how many papers the first discover embedded, and each command's peak memory (the child's maximum RSS), with the
machine's load average when each size began, and then each size's ratios to the first.

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


def sqlite_floor(snapshot: Path, folder: Path) -> float:
    """Seconds to load the snapshot's papers into a fresh ledger with nothing but SQLite: the same parsing and
    rows, 2,000 per transaction, FTS5's triggers dropped and its index built once at the end ('rebuild'). No
    merge checks, no sightings: the floor an import is held to."""
    from claimtrack.discovery.snapshot import parse_record, read_lines
    from claimtrack.ledger import Ledger
    from claimtrack.papers import _INSERT_COLUMNS, _columns

    shutil.rmtree(folder, ignore_errors=True)
    ledger = Ledger(folder / "ledger.sqlite")
    conn = ledger.conn
    for trigger in ("insert", "delete", "update"):
        conn.execute(f"DROP TRIGGER papers_fts_{trigger}")
    insert = f"INSERT INTO papers ({', '.join(_INSERT_COLUMNS)}) VALUES ({','.join('?' * len(_INSERT_COLUMNS))})"
    start = time.perf_counter()
    rows: list[tuple[object, ...]] = []
    for _, line in read_lines(snapshot):
        paper = parse_record(json.loads(line))
        rows.append((paper.id, *_columns(paper).values(), "2026-01-01T00:00:00+00:00"))
        if len(rows) == 2000:
            with ledger.transaction():
                conn.executemany(insert, rows)
            rows = []
    with ledger.transaction():
        conn.executemany(insert, rows)
        conn.execute("INSERT INTO papers_fts (papers_fts) VALUES ('rebuild')")
    seconds = time.perf_counter() - start
    ledger.close()
    shutil.rmtree(folder, ignore_errors=True)
    return seconds


def best_of_two(args: list[str]) -> tuple[float, float, str]:
    """A repeated command, run twice: the faster time, the larger peak memory, the last output."""
    (one, one_mb, _), (two, two_mb, out) = timed(args), timed(args)
    return min(one, two), max(one_mb, two_mb), out


def measure(docs: list[tuple[str, str]], n: int, claim: str, query: str, work: Path) -> dict[str, object]:
    ws = work / f"ws-{n}"
    shutil.rmtree(ws, ignore_errors=True)
    shutil.copytree(ROOT / "claims", ws / "claims")
    snapshot = work / f"snapshot-{n}.jsonl"
    if not snapshot.exists():  # deterministic for n: written once, reused by later runs
        write_snapshot(docs, n, snapshot.with_suffix(".tmp")).rename(snapshot)
    load = os.getloadavg()[0]
    floor_s = sqlite_floor(snapshot, work / f"floor-{n}")
    import_s, import_mb, out = timed(["-w", str(ws), "papers", "import", str(snapshot), "--json"])
    summary = json.loads(out)
    discover = ["-w", str(ws), "discover", claim, "--offline", "--json"]
    first_s, first_mb, out = timed(discover)
    first = json.loads(out)
    repeat_s, repeat_mb, out = best_of_two(discover)
    search = ["-w", str(ws), "papers", "search", query, "--json"]
    search_s, search_mb, _ = timed(search)
    search_again_s, search_again_mb, _ = best_of_two(search)
    return {
        "papers": n,
        "load": round(load, 1),
        "floor_s": round(floor_s, 1),
        "import_s": round(import_s, 1),
        "import_per_s": round(summary["new"] / import_s),
        "import_vs_floor": round(import_s / floor_s, 2),
        "discover_first_s": round(first_s, 2),
        "embedded_first": first["embedded"],
        "discover_repeat_s": round(repeat_s, 2),
        "search_first_s": round(search_s, 2),
        "search_repeat_s": round(search_again_s, 2),
        "peak_mb": {
            "import": round(import_mb),
            "discover_first": round(first_mb),
            "discover_repeat": round(repeat_mb),
            "search_first": round(search_mb),
            "search_repeat": round(search_again_mb),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scifact", type=Path, help="BEIR SciFact folder (corpus.jsonl)")
    parser.add_argument("--sizes", default="5000,30000,100000", help="corpus sizes, comma-separated")
    parser.add_argument("--claim", default="it-output-format-not-task")
    parser.add_argument("--query", default="does instruction tuning teach the output format rather than the task")
    parser.add_argument("--work", type=Path, default=None, help="where snapshots and workspaces go (default: temp)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    try:
        sizes = [int(size) for size in args.sizes.split(",")]
    except ValueError:
        parser.error(f"--sizes: '{args.sizes}' is not a comma-separated list of numbers")
    docs = scifact(args.scifact)
    work = args.work or Path(tempfile.mkdtemp(prefix="claimtrack-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    results = []
    for n in sizes:
        results.append(measure(docs, n, args.claim, args.query, work))
        print(json.dumps(results[-1]), file=sys.stderr)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(table(results))


COLUMNS = {  # header: how a result shows in it
    "papers": lambda r: f"{r['papers']:,}",
    "load": lambda r: r["load"],
    "SQLite floor s": lambda r: r["floor_s"],
    "import s": lambda r: r["import_s"],
    "import / floor": lambda r: r["import_vs_floor"],
    "discover 1st s": lambda r: r["discover_first_s"],
    "discover again s": lambda r: r["discover_repeat_s"],
    "search 1st s": lambda r: r["search_first_s"],
    "search again s": lambda r: r["search_repeat_s"],
    "peak MB (import / discover 1st / again / search 1st / again)": lambda r: " / ".join(
        str(v) for v in r["peak_mb"].values()
    ),
}
RATIOS = ("import_s", "discover_first_s", "discover_repeat_s", "search_first_s", "search_repeat_s")


def table(results: list[dict[str, object]]) -> str:
    """The results as a Markdown table, each size a row, then each size's ratio to the smallest."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(str(show(r)) for show in COLUMNS.values()) + " |" for r in results]
    base = results[0]
    for r in results[1:]:
        ratios = ", ".join(f"{key.removesuffix('_s')} {r[key] / base[key]:.2f}x" for key in RATIOS)
        lines.append(f"\n{r['papers']:,} / {base['papers']:,}: {ratios}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
