"""Workspaces for the web app's tests: claims written through the store, review items queued through the real
`review.enqueue` over judgements stored as a run stores them, and `claimtrack serve` started as a user would."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from claimtrack.ledger import Ledger
from claimtrack.models import Claim, Line
from claimtrack.papers import Paper, upsert_paper
from claimtrack.reviews_table import enqueue
from claimtrack.store import Store
from claimtrack.workspace import Workspace

T0 = dt.datetime(2026, 5, 1, 9, 0, tzinfo=dt.UTC)
CLAIMS = ("reward-calibration", "cot-performative", "format-not-task")
HOSTILE_ABSTRACT = (
    "We study rewards. <script>document.body.setAttribute('data-pwned','1')</script> Binary rewards still raise"
    " overconfidence in our runs. <img src=x onerror=\"document.body.setAttribute('data-pwned','2')\"> End."
)
# (judge stance, confirm stance, judge confidence): the two readings disagree, as a queued pair's do
PAIRS = [("supports", "contradicts", 0.9), ("contradicts", "supports", 0.85), ("relaxes", "supports", 0.8)]


def make_workspace(root: Path, n_items: int, *, hostile: bool = False) -> Workspace:
    """A store of three claims in one line and `n_items` open review items over them, oldest first in order."""
    (root / "claims" / "lines").mkdir(parents=True)
    ws = Workspace.at(root)
    store = Store(ws)
    for ident in CLAIMS:
        store.create_claim(
            Claim(
                id=ident,
                title=f"Does {ident.replace('-', ' ')} hold?",
                statement=f"The finding named {ident} holds for current models.",
                scope="open models under 10B parameters",
                claimed="2025-06",
            )
        )
    store.write_line(Line(id="review-line", question="Which findings hold?", framing="A test line.", claims=[*CLAIMS]))
    for n in range(n_items):
        queue_item(ws, CLAIMS[n % len(CLAIMS)], n, hostile=hostile and n == 0)
    return ws


def queue_item(ws: Workspace, claim_id: str, n: int, *, hostile: bool = False) -> str:
    arxiv = f"2605.{10000 + n:05d}"
    quote = "Binary rewards still raise overconfidence in our runs."
    abstract = HOSTILE_ABSTRACT if hostile else f"Paper {n} revisits the claim. {quote} Other models differ."
    judge, confirm, confidence = PAIRS[n % len(PAIRS)]
    now = T0 + dt.timedelta(minutes=n)
    with Ledger.open(ws) as ledger:
        with ledger.transaction():
            authors = ["A. Author", "B. Author"]
            paper = Paper(
                id=arxiv, title=f"Study {n} of rewards", abstract=abstract, authors=authors, published="2026-04"
            )
            upsert_paper(ledger, paper, source="arxiv", claim_id=claim_id, now=now)
            for role, stance, conf in (("judge", judge, confidence), ("confirm", confirm, 0.7)):
                ledger.conn.execute(
                    "INSERT INTO judgements (key, claim_id, paper_id, model, prompt_version, outcome, stance, quote,"
                    " quote_source, confidence, rationale, judged_at, run_id, role)"
                    " VALUES (?,?,?,?,?,'judged',?,?,'abstract',?,?,?,'run-test',?)",
                    (f"{role}-{arxiv}", claim_id, arxiv, "gpt-test", f"{role}-v1", stance, quote, conf,
                     f"The {role} reads the abstract as {stance}.", now.isoformat(), role),
                )  # fmt: skip
        return enqueue(ledger, claim_id, arxiv, f"judge-{arxiv}", f"confirm-{arxiv}", run_id="run-test", now=now)[0]


def masked(text: str) -> str:
    """A claim file with its timestamps masked: two reviewers' same decisions differ only in when they were made."""
    return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?", "<time>", text)


def claim_files(ws: Workspace) -> dict[str, str]:
    return {p.name: masked(p.read_text()) for p in sorted(ws.claims_dir.glob("*.yaml"))}


@contextmanager
def serving(ws: Workspace, *args: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`claimtrack serve --port 0` in a subprocess; yields the URL it printed (with its token, if any)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "claimtrack", "-w", str(ws.root), "serve", "--port", "0", "--by", "ana", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"at (http://\S+)", line)
        assert match, f"serve printed {line!r}; stderr: {process.stderr.read() if process.poll() is not None else ''}"
        url = match.group(1)
        base = url.split("?")[0].replace("0.0.0.0", "127.0.0.1")
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(base, timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not answer"
                time.sleep(0.05)
        yield url, process
    finally:
        process.terminate()
        process.wait(timeout=10)
