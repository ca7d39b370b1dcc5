"""The few passages of a paper that bear on a claim, within a token budget.

Ranked the way discovery ranks papers (discovery/index.py): a lexical ranking and a MiniLM dense ranking,
each min-max normalised and mixed by `index.fuse` (0.4 lexical, 0.6 dense). The lexical side is SQLite FTS5
with the porter tokenizer, over an in-memory table of the paper's passages; the dense side embeds, with the
same int8 MiniLM encoder as the paper index, the DENSE_POOL passages that rank best lexically (all of them in
a short paper). Embedding is the cost: about 30 passages/s on two shared cores, so a long paper's 200
passages would take seconds per (claim, paper) pair; a claim of dozens of words shares some stem with almost
every passage, so the lexical pool loses little. Passages are then taken best first while they fit in the
budget, so what is sent is the best of the paper, never the whole of it.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from claimtrack import imports
from claimtrack.config import Settings, load_settings
from claimtrack.discovery.lexical import TOKENIZER, fts_query
from claimtrack.fulltext.models import FullText, Passage
from claimtrack.fulltext.text import count_tokens, within_budget

if TYPE_CHECKING:
    from claimtrack.discovery.index import Hit

RANKED_KINDS = ("text", "caption", "table")  # the abstract is shown to the judge anyway
DENSE_POOL = 48  # passages embedded per (claim, paper): the lexical top when a paper has more


def passages_for(
    claim_text: str, fulltext: FullText, budget_tokens: int | None = None, settings: Settings | None = None
) -> list[Passage]:
    """The paper's passages that best match the claim, best first, whose tokens (MiniLM) add up to at most
    budget_tokens (default: settings.fulltext_budget_tokens). A passage that would overflow the budget is
    passed over for a smaller one further down."""
    settings = settings or load_settings()
    budget = settings.fulltext_budget_tokens if budget_tokens is None else budget_tokens
    candidates = [p for p in fulltext.passages if p.kind in RANKED_KINDS and p.text.strip()]
    if not candidates or budget <= 0:
        return []
    by_n = {p.n: p for p in candidates}
    costs = dict(zip(by_n, count_tokens([f"{p.label}: {p.text}" for p in candidates]), strict=True))
    ranked = [by_n[int(hit.id)] for hit in rank(claim_text, candidates, settings)]
    return [ranked[i] for i in within_budget([costs[p.n] for p in ranked], budget)]


def rank(claim_text: str, passages: list[Passage], settings: Settings) -> list[Hit]:
    """Every passage, best first, as fused lexical and dense hits (ids are the passages' `n`)."""
    from claimtrack.discovery.index import fuse

    lexical_hits = lexical(claim_text, passages)
    pool = passages
    if len(passages) > DENSE_POOL:
        matched = {int(n) for n, _ in lexical_hits[:DENSE_POOL]}
        start = [p.n for p in passages if p.n not in matched][: DENSE_POOL - len(matched)]  # few matched
        pool = [p for p in passages if p.n in matched or p.n in start]
    return fuse(lexical_hits, dense(claim_text, pool, settings))


def lexical(query: str, passages: list[Passage]) -> list[tuple[str, float]]:
    """(n, BM25 score) of the passages that share a word stem with the query, best first."""
    match = fts_query(query)  # the papers' own safe query: a claim's text is never FTS5 syntax
    if not match:
        return []
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute(f"CREATE VIRTUAL TABLE passages USING fts5(text, tokenize = '{TOKENIZER}')")
        conn.executemany("INSERT INTO passages (rowid, text) VALUES (?, ?)", [(p.n, p.text) for p in passages])
        rows = conn.execute(
            "SELECT rowid, bm25(passages) FROM passages WHERE passages MATCH ? ORDER BY bm25(passages)", (match,)
        ).fetchall()
    finally:
        conn.close()
    return [(str(n), -score) for n, score in rows]  # FTS5's bm25() is lower-is-better


def dense(query: str, passages: list[Passage], settings: Settings) -> list[tuple[str, float]]:
    """(n, cosine similarity to the query) of every passage, best first."""
    if not passages:
        return []
    with imports.LOCK:  # numpy, in a pair's thread (claimtrack/imports.py)
        import numpy as np

    from claimtrack.discovery.encoder import encoder

    vectors = np.asarray(
        encoder(settings.embed_int8, settings.embed_max_tokens).encode([query, *(p.text for p in passages)], 32)
    )
    cosines = vectors[1:] @ vectors[0]
    order = np.argsort(-cosines, kind="stable")
    return [(str(passages[i].n), float(cosines[i])) for i in order]
