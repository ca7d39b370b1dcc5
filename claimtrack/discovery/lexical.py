"""Lexical retrieval: SQLite FTS5 over the papers' titles and abstracts, ranked by FTS5's own BM25.

The index is `papers_fts` in the ledger (migration m007_papers_fts): external-content, so it holds no second copy
of the text, and triggers keep it in step with `papers`, so no process rebuilds anything. Stemming (porter) and
case/diacritics folding happen inside FTS5, for documents and queries alike.

A user's text never reaches FTS5 as syntax: `fts_query` keeps its words, drops stopwords and operators, quotes
every word and joins them with OR, so quotes, `NEAR`, `*`, `^`, parentheses or `title:` in a claim are plain text.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

# bm25() column weights (title, abstract), chosen on the even-numbered SciFact train queries (docs/discovery.md).
TITLE_WEIGHT = 3.0
ABSTRACT_WEIGHT = 1.0
MAX_WORDS = 64  # a query is cut to its first 64 distinct words (a pasted abstract stays fast)
TOKENIZER = "porter unicode61 remove_diacritics 2"  # papers_fts's, as migration m007_papers_fts made it

STOPWORDS = frozenset(
    "a about above after again against all am an and any are as at be because been before being below between"
    " both but by can could did do does doing down during each few for from further had has have having he her"
    " here hers him his how i if in into is it its itself just me more most my no nor not now of off on once only"
    " or other our out over own same she should so some such than that the their them then there these they"
    " this those through to too under until up very was we were what when where which while who whom why will"
    " with would you your".split()
)
_WORD = re.compile(r"[^\W_]+")  # letters and digits, as FTS5's unicode61 tokenizer splits them
_OPERATORS = frozenset({"AND", "OR", "NOT", "NEAR"})


def words(text: str) -> list[str]:
    """The distinct lowercase words of `text` worth searching for, in order: no stopwords, no FTS5 operators."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(text):
        if word in _OPERATORS:
            continue
        lower = word.lower()
        if lower not in STOPWORDS:
            seen.setdefault(lower, None)
    return list(seen)[:MAX_WORDS]


def quote(word: str) -> str:
    """An FTS5 string: whatever it holds is text to the tokenizer, never syntax."""
    return '"' + word.replace('"', '""') + '"'


def fts_query(text: str) -> str:
    """An FTS5 MATCH expression for papers holding any word of `text` ('' when it has none: match nothing)."""
    return " OR ".join(quote(w) for w in words(text))


@dataclass(frozen=True)
class Scope:
    """Which stored papers a search may return: those published after `after` (an ISO date) or listed in
    `include`, never those in `exclude`. The default scope is every paper."""

    after: str | None = None
    include: Collection[str] = field(default_factory=frozenset)
    exclude: Collection[str] = field(default_factory=frozenset)

    def sql(self) -> tuple[str, list[object]]:
        """A condition on `p` (the papers row) and its parameters."""
        clauses: list[str] = []
        params: list[object] = []
        if self.after is not None:
            allowed = "p.published > ?"
            params.append(self.after)
            if self.include:
                allowed += f" OR p.id IN ({','.join('?' * len(self.include))})"
                params += list(self.include)
            clauses.append(f"({allowed})")
        if self.exclude:
            clauses.append(f"p.id NOT IN ({','.join('?' * len(self.exclude))})")
            params += list(self.exclude)
        return " AND ".join(clauses) or "1", params


def search(
    conn: sqlite3.Connection,
    text: str,
    k: int,
    *,
    scope: Scope | None = None,
    weights: tuple[float, float] = (TITLE_WEIGHT, ABSTRACT_WEIGHT),
) -> list[tuple[str, float]]:
    """(paper id, BM25 score) of the k best papers for `text` within `scope`; higher is better."""
    return ranked(conn, fts_query(text), k, scope=scope, weights=weights)


def ranked(
    conn: sqlite3.Connection,
    match: str,
    k: int,
    *,
    scope: Scope | None = None,
    weights: tuple[float, float] = (TITLE_WEIGHT, ABSTRACT_WEIGHT),
) -> list[tuple[str, float]]:
    """(paper id, BM25 score) of the k best papers for an FTS5 MATCH expression that is already safe."""
    if not match or k <= 0:
        return []
    condition, params = (scope or Scope()).sql()
    rows = conn.execute(
        "SELECT p.id, -bm25(papers_fts, ?, ?) AS score FROM papers_fts JOIN papers p ON p.rowid = papers_fts.rowid"
        f" WHERE papers_fts MATCH ? AND {condition} ORDER BY score DESC, p.id LIMIT ?",
        (*weights, match, *params, k),
    ).fetchall()
    return [(row[0], float(row[1])) for row in rows]


def matched_words(conn: sqlite3.Connection, text: str, ids: Sequence[str], *, limit: int = 5) -> dict[str, list[str]]:
    """For each paper in `ids`, the words of `text` it contains, those carrying most of its score first: the
    'why' of a lexical match. One FTS5 query per word, each limited to these papers; words that stem alike
    ("tuning", "tuned") are shown once."""
    if not ids:
        return {}
    found: dict[str, list[tuple[float, str]]] = {i: [] for i in ids}
    marks = ",".join("?" * len(ids))
    shown: set[str] = set()
    query_words = words(text)
    for word, stem in zip(query_words, stems(query_words), strict=True):
        if stem in shown:
            continue
        shown.add(stem)
        rows = conn.execute(
            "SELECT p.id, -bm25(papers_fts, ?, ?) FROM papers_fts JOIN papers p ON p.rowid = papers_fts.rowid"
            f" WHERE papers_fts MATCH ? AND p.id IN ({marks})",
            (TITLE_WEIGHT, ABSTRACT_WEIGHT, quote(word), *ids),
        )
        for paper_id, score in rows:
            found[paper_id].append((float(score), word))
    return {i: [w for _, w in sorted(pairs, key=lambda pair: -pair[0])][:limit] for i, pairs in found.items()}


def stems(words: Sequence[str]) -> list[str]:
    """Each word as the index holds it (stemmed and folded), from FTS5's own tokenizer on a scratch table."""
    scratch = sqlite3.connect(":memory:")
    try:
        scratch.execute(f"CREATE VIRTUAL TABLE w USING fts5(word, tokenize='{TOKENIZER}')")
        scratch.execute("CREATE VIRTUAL TABLE v USING fts5vocab(w, instance)")
        scratch.executemany("INSERT INTO w (rowid, word) VALUES (?, ?)", enumerate(words))
        terms = dict(scratch.execute("SELECT doc, term FROM v WHERE offset = 0"))
    finally:
        scratch.close()
    return [terms.get(i, word) for i, word in enumerate(words)]
