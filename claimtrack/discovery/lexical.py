"""Lexical retrieval: SQLite FTS5 over the papers' titles and abstracts, ranked by FTS5's own BM25.

The index is `papers_fts` in the ledger (migration m007_papers_fts): external-content, so it holds no second copy
of the text, and triggers keep it in step with `papers`, so no process rebuilds anything. Stemming (porter) and
case/diacritics folding happen inside FTS5, for documents and queries alike.

At a million papers the words of a claim that nearly every abstract holds ("model", "language") have posting
lists of hundreds of thousands of papers, and ranking every paper that holds any word costs what those lists
cost. So `search` runs in two stages: FTS5 ranks the papers holding the query's rarest words (as many words as
fit a budget of postings, rarest first), and the best `CANDIDATES` of those are re-scored with every word by
`Bm25`, which reads each candidate's own text with the index's tokenizer and scores it as FTS5's bm25() would
over the whole query (same formula, same corpus statistics, so the same numbers; a test checks it). A query
whose words all fit the budget goes to FTS5 whole. The same per-word scores give the 'why' of a hit
(`matched_words`) from the hit's own text, never from a scan of postings.

A user's text never reaches FTS5 as syntax: `fts_query` keeps its words, drops stopwords and operators, quotes
every word and joins them with OR, so quotes, `NEAR`, `*`, `^`, parentheses or `title:` in a claim are plain text.
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

# bm25() column weights (title, abstract), chosen on the even-numbered SciFact train queries (docs/discovery.md).
TITLE_WEIGHT = 3.0
ABSTRACT_WEIGHT = 1.0
MAX_WORDS = 64  # a query is cut to its first 64 distinct words (a pasted abstract stays fast)
TOKENIZER = "porter unicode61 remove_diacritics 2"  # papers_fts's, as migration m007_papers_fts made it
K1, B = 1.2, 0.75  # FTS5's bm25() constants
# Stage 1 reads the postings of the rarest query words while their document counts sum to at most this many
# (always at least one word; Settings.lexical_budget), then keeps its best CANDIDATES for stage 2. Chosen by
# measurement at 100k-1M papers and on the SciFact tuning half (docs/discovery.md).
POSTING_BUDGET = 100_000
CANDIDATES = 1_000

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
    budget: int = POSTING_BUDGET,
    candidates: int = CANDIDATES,
) -> list[tuple[str, float]]:
    """(paper id, BM25 score) of the k best papers for `text` within `scope`; higher is better.

    The scores are FTS5's bm25() over all the query's words. Which papers are scored: those FTS5 ranks best
    (`candidates` of them, at least k) on the rarest words whose postings fit `budget`; every paper holding
    any word when all of them fit."""
    query = words(text)
    if not query or k <= 0:
        return []
    bm25 = Bm25(conn, query, weights)
    rare = bm25.rarest(budget)
    if rare is None:  # every word fits the budget: FTS5 ranks the query as it is
        return ranked(conn, " OR ".join(quote(w) for w in bm25.present), k, scope=scope, weights=weights)
    pool = _ranked_rows(conn, " OR ".join(quote(w) for w in rare), max(candidates, k), scope, weights)
    scores = bm25.score(rowid for rowid, _, _ in pool)
    best = sorted(((paper_id, sum(scores[rowid].values())) for rowid, paper_id, _ in pool), key=lambda p: (-p[1], p[0]))
    return best[:k]


def ranked(
    conn: sqlite3.Connection,
    match: str,
    k: int,
    *,
    scope: Scope | None = None,
    weights: tuple[float, float] = (TITLE_WEIGHT, ABSTRACT_WEIGHT),
) -> list[tuple[str, float]]:
    """(paper id, BM25 score) of the k best papers for an FTS5 MATCH expression that is already safe."""
    return [(paper_id, score) for _, paper_id, score in _ranked_rows(conn, match, k, scope, weights)]


def _ranked_rows(
    conn: sqlite3.Connection, match: str, k: int, scope: Scope | None, weights: tuple[float, float]
) -> list[tuple[int, str, float]]:
    if not match or k <= 0:
        return []
    condition, params = (scope or Scope()).sql()
    rows = conn.execute(
        "SELECT p.rowid, p.id, -bm25(papers_fts, ?, ?) AS score FROM papers_fts"
        " JOIN papers p ON p.rowid = papers_fts.rowid"
        f" WHERE papers_fts MATCH ? AND {condition} ORDER BY score DESC, p.id LIMIT ?",
        (*weights, match, *params, k),
    ).fetchall()
    return [(row[0], row[1], float(row[2])) for row in rows]


class Bm25:
    """FTS5's bm25() for one query, computed from papers' own text: each query word is a phrase with its idf
    from the index's document counts, and a paper's term frequencies and length come from tokenizing its title
    and abstract with the index's tokenizer. Reads no posting list, except to count a word's papers once after
    the index changed (`_document_counts`)."""

    def __init__(self, conn: sqlite3.Connection, query: Sequence[str], weights: tuple[float, float]):
        self.conn = conn
        self.words = list(query)
        self.stems = stems(self.words)
        self.weights = weights
        stamp = _averages(conn)
        totals = _varints(stamp) or [0]
        rows = max(totals[0], 1)
        self.avgdl = sum(totals[1:]) / rows
        self.df = _document_counts(conn, set(self.stems), stamp)
        # FTS5: idf = log((N - n + 0.5) / (n + 0.5)), and at least 1e-6
        self.idf = {s: max(math.log((rows - n + 0.5) / (n + 0.5)), 1e-6) for s, n in self.df.items()}
        self.present = list(dict.fromkeys(w for w, s in zip(self.words, self.stems, strict=True) if self.df[s]))

    def rarest(self, budget: int) -> list[str] | None:
        """The query's rarest words (one per stem) whose document counts sum to at most `budget`, at least one;
        None when every word fits."""
        by_stem = {s: w for w, s in zip(self.words, self.stems, strict=True) if self.df[s]}
        chosen: list[str] = []
        total = 0
        for stem in sorted(by_stem, key=lambda s: self.df[s]):
            if chosen and total + self.df[stem] > budget:
                break
            chosen.append(by_stem[stem])
            total += self.df[stem]
        return None if len(chosen) == len(by_stem) else chosen

    def score(self, rowids: Iterable[int]) -> dict[int, dict[str, float]]:
        """Per paper (rowid), each query word's share of its bm25 score (words it lacks left out)."""
        counts, lengths = _term_counts(self.conn, list(rowids), set(self.stems), self.weights)
        scores: dict[int, dict[str, float]] = {}
        for rowid, length in lengths.items():
            norm = K1 * (1 - B + B * length / self.avgdl)
            shares: dict[str, float] = {}
            for word, stem in zip(self.words, self.stems, strict=True):
                freq = counts.get((rowid, stem), 0.0)
                if freq:
                    shares[word] = self.idf[stem] * freq * (K1 + 1) / (freq + norm)  # words are distinct
            scores[rowid] = shares
        return scores


def _varints(blob: bytes) -> list[int]:
    """SQLite's variable-length integers, as FTS5 writes its statistics."""
    values, i = [], 0
    while i < len(blob):
        start = i
        value = 0
        while i - start < 8 and blob[i] & 0x80:
            value = (value << 7) | (blob[i] & 0x7F)
            i += 1
        value = (value << 8) | blob[i] if i - start == 8 else (value << 7) | blob[i]
        i += 1
        values.append(value)
    return values


def _averages(conn: sqlite3.Connection) -> bytes:
    """FTS5's 'averages' record: the paper count and token totals, rewritten by every change to the index."""
    row = conn.execute("SELECT block FROM papers_fts_data WHERE id = 1").fetchone()
    return bytes(row[0]) if row else b""


def _document_counts(conn: sqlite3.Connection, terms: set[str], stamp: bytes) -> dict[str, int]:
    """How many papers hold each (stemmed) term: kept counts made at this `stamp`, the rest counted from FTS5's
    vocabulary (a scan of the term's postings) and kept (migration m009_search_at_scale)."""
    wanted = sorted(terms)
    marks = ",".join("?" * len(wanted))
    counts = dict(
        conn.execute(f"SELECT term, docs FROM fts_term_docs WHERE stamp = ? AND term IN ({marks})", (stamp, *wanted))
    )
    missing = [t for t in wanted if t not in counts]
    if missing:
        conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.papers_fts_rows USING fts5vocab(main, papers_fts, row)")
        for term in missing:
            row = conn.execute("SELECT doc FROM temp.papers_fts_rows WHERE term = ?", (term,)).fetchone()
            counts[term] = row[0] if row else 0
        conn.execute("SAVEPOINT term_docs")  # one write, inside or outside the caller's transaction
        conn.executemany(
            "INSERT INTO fts_term_docs (term, docs, stamp) VALUES (?, ?, ?)"
            " ON CONFLICT(term) DO UPDATE SET docs = excluded.docs, stamp = excluded.stamp",
            [(t, counts[t], stamp) for t in missing],
        )
        conn.execute("RELEASE term_docs")
    return counts


def _term_counts(
    conn: sqlite3.Connection, rowids: Sequence[int], terms: set[str], weights: tuple[float, float]
) -> tuple[dict[tuple[int, str], float], dict[int, int]]:
    """For these papers: each term's column-weighted frequency, and each paper's length in tokens, by tokenizing
    their text in a scratch FTS5 table with the index's tokenizer."""
    scratch = sqlite3.connect(":memory:")
    try:
        scratch.execute(f"CREATE VIRTUAL TABLE d USING fts5(title, abstract, tokenize='{TOKENIZER}')")
        scratch.execute("CREATE VIRTUAL TABLE v USING fts5vocab(d, instance)")
        for start in range(0, len(rowids), 500):
            part = rowids[start : start + 500]
            rows = conn.execute(
                f"SELECT rowid, title, abstract FROM papers WHERE rowid IN ({','.join('?' * len(part))})", part
            )
            scratch.executemany("INSERT INTO d (rowid, title, abstract) VALUES (?, ?, ?)", [tuple(r) for r in rows])
        column_weight = {"title": weights[0], "abstract": weights[1]}
        counts: dict[tuple[int, str], float] = {}
        marks = ",".join("?" * len(terms))
        for term, doc, column in scratch.execute(f"SELECT term, doc, col FROM v WHERE term IN ({marks})", list(terms)):
            counts[doc, term] = counts.get((doc, term), 0.0) + column_weight[column]
        lengths = {doc: sum(_varints(size)) for doc, size in scratch.execute("SELECT id, sz FROM d_docsize")}
    finally:
        scratch.close()
    return counts, lengths


def matched_words(conn: sqlite3.Connection, text: str, ids: Sequence[str], *, limit: int = 5) -> dict[str, list[str]]:
    """For each paper in `ids`, the words of `text` it contains, those carrying most of its score first: the
    'why' of a lexical match, from the papers' own text (`Bm25`). Words that stem alike ("tuning", "tuned") are
    shown once, as the first of them in the query."""
    if not ids:
        return {}
    query = words(text)
    found: dict[str, list[str]] = {i: [] for i in ids}
    if not query:
        return found
    marks = ",".join("?" * len(ids))
    rowids = dict(conn.execute(f"SELECT rowid, id FROM papers WHERE id IN ({marks})", list(ids)).fetchall())
    bm25 = Bm25(conn, query, (TITLE_WEIGHT, ABSTRACT_WEIGHT))
    first: dict[str, str] = {}  # stem -> the first query word with it
    for word, stem in zip(bm25.words, bm25.stems, strict=True):
        first.setdefault(stem, word)
    for rowid, shares in bm25.score(rowids).items():
        # a word's share is what FTS5's bm25() gives the paper for that word alone
        held = [(shares[w], w) for w in first.values() if w in shares]
        found[rowids[rowid]] = [w for _, w in sorted(held, key=lambda pair: -pair[0])][:limit]
    return found


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
