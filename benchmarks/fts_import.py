"""What the FTS5 index costs when papers are stored, measured side by side in one process.

    nice python benchmarks/fts_import.py shared/data/beir-scifact [--papers 30000] [--rounds 2]

Stores the same synthetic papers (benchmarks/scale.py's, 2,000 per transaction) into fresh ledgers four ways:
  no index      the FTS5 triggers dropped: what storing costs without lexical search
  row by row    triggers on, one INSERT statement per paper (executemany)
  per batch     triggers on, one INSERT ... SELECT per batch from a temporary table (what store_papers does)
  rebuild       triggers dropped, the index rebuilt once at the end ('rebuild' command)
and prints papers/s for each (median of the rounds, variants alternating), and `store_papers` itself end to end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import scale

from claimtrack.discovery.snapshot import parse_record
from claimtrack.ledger import Ledger
from claimtrack.papers import store_papers

COLUMNS = "id, title, abstract, published, first_seen_at"
BATCH = 2000


def one_way(way: str, rows: list[tuple[str, ...]], folder: Path) -> float:
    ledger = Ledger(folder / f"{way}.sqlite")
    conn = ledger.conn
    if way in ("no index", "rebuild"):
        for trigger in ("insert", "delete", "update"):
            conn.execute(f"DROP TRIGGER papers_fts_{trigger}")
    conn.execute(f"CREATE TEMP TABLE incoming ({COLUMNS})")
    start = time.perf_counter()
    for first in range(0, len(rows), BATCH):
        part = rows[first : first + BATCH]
        with ledger.transaction():
            if way == "per batch":
                conn.executemany("INSERT INTO temp.incoming VALUES (?,?,?,?,?)", part)
                conn.execute(f"INSERT INTO papers ({COLUMNS}) SELECT * FROM temp.incoming")
                conn.execute("DELETE FROM temp.incoming")
            else:
                conn.executemany(f"INSERT INTO papers ({COLUMNS}) VALUES (?,?,?,?,?)", part)
    if way == "rebuild":
        conn.execute("INSERT INTO papers_fts (papers_fts) VALUES ('rebuild')")
    seconds = time.perf_counter() - start
    ledger.close()
    return len(rows) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scifact", type=Path)
    parser.add_argument("--papers", type=int, default=30000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    records = list(scale.synthetic_records(scale.scifact(args.scifact), args.papers))
    papers = [parse_record(r) for r in records]
    rows = [(p.id, p.title, p.abstract, p.published, "2026-01-01") for p in papers]
    ways = ("no index", "row by row", "per batch", "rebuild", "store_papers")
    speeds: dict[str, list[float]] = {way: [] for way in ways}
    print(f"{args.papers} papers, load average {os.getloadavg()[0]:.1f}", file=sys.stderr)
    for _ in range(args.rounds):
        for way in ways:
            with tempfile.TemporaryDirectory() as tmp:
                if way == "store_papers":
                    ledger = Ledger(Path(tmp) / "ledger.sqlite")
                    start = time.perf_counter()
                    for first in range(0, len(papers), BATCH):
                        store_papers(ledger, papers[first : first + BATCH], source="snapshot")
                    speeds[way].append(len(papers) / (time.perf_counter() - start))
                    ledger.close()
                else:
                    speeds[way].append(one_way(way, rows, Path(tmp)))
    base = statistics.median(speeds["no index"])
    print(f"load average at the end: {os.getloadavg()[0]:.1f}", file=sys.stderr)
    print("| way | papers/s | vs no index |")
    print("|---|---|---|")
    for way in ways:
        speed = statistics.median(speeds[way])
        print(f"| {way} | {speed:,.0f} | {speed / base:.2f}x |")


if __name__ == "__main__":
    main()
