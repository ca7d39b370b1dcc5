"""A small Okapi BM25 index in numpy/scipy: lexical matching beside the dense embeddings.

Built in memory from (id, text) pairs; tokenizing and weighting a few thousand abstracts takes well under a
second, so it is rebuilt per process from the ledger rather than persisted (nothing to keep in sync).
The document weights are precomputed once, so a query is one sparse column sum.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

_TOKEN = re.compile(r"[a-z0-9]+(?:[\-'][a-z0-9]+)*")
STOPWORDS = frozenset(
    "a about above after again against all am an and any are as at be because been before being below between"
    " both but by can could did do does doing down during each few for from further had has have having he her"
    " here hers him his how i if in into is it its itself just me more most my no nor not now of off on once only"
    " or other our out over own same she should so some such than that the their them then there these they"
    " this those through to too under until up very was we were what when where which while who whom why will"
    " with would you your".split()
)


def tokenize(text: str) -> list[str]:
    """Lowercase word tokens without stopwords, with a light plural/-ing strip so 'models' meets 'model'."""
    tokens = []
    for token in _TOKEN.findall(text.lower()):
        if token in STOPWORDS:
            continue
        tokens.append(_stem(token))
    return tokens


def _stem(token: str) -> str:
    if len(token) > 4 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 5 and token.endswith("ing"):
        return token[:-3]
    if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
        return token[:-1]
    return token


class BM25:
    """Okapi BM25 (k1, b as in Robertson et al.; defaults are the common 0.9 / 0.4 of Anserini)."""

    def __init__(self, ids: Sequence[str], texts: Sequence[str], *, k1: float = 0.9, b: float = 0.4):
        from scipy import sparse

        self.ids = list(ids)
        self.k1, self.b = k1, b
        vocab: dict[str, int] = {}
        rows, cols, counts = [], [], []
        lengths = np.zeros(len(self.ids), dtype=np.float32)
        for row, text in enumerate(texts):
            tokens = tokenize(text)
            lengths[row] = len(tokens)
            freq: dict[int, int] = {}
            for token in tokens:
                col = vocab.setdefault(token, len(vocab))
                freq[col] = freq.get(col, 0) + 1
            rows.extend([row] * len(freq))
            cols.extend(freq.keys())
            counts.extend(freq.values())
        self.vocab = vocab
        n = len(self.ids)
        tf = sparse.csr_matrix((np.array(counts, dtype=np.float32), (rows, cols)), shape=(n, max(1, len(vocab))))
        df = np.bincount(np.array(cols, dtype=np.int64), minlength=tf.shape[1]).astype(np.float32)
        self.idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)
        avg = float(lengths.mean()) if n and lengths.mean() > 0 else 1.0
        norm = k1 * (1.0 - b + b * lengths / avg)
        tf = tf.tocoo()
        weights = tf.data * (k1 + 1.0) / (tf.data + norm[tf.row]) * self.idf[tf.col]
        self.weights = sparse.csc_matrix((weights, (tf.row, tf.col)), shape=tf.shape)

    def __len__(self) -> int:
        return len(self.ids)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document for the query (repeated query words count once per occurrence)."""
        cols = [self.vocab[t] for t in tokenize(query) if t in self.vocab]
        if not cols or not self.ids:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self.weights[:, cols].sum(axis=1)).ravel()

    def top(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """(row, score) of the k best documents with a positive score, optionally among `allowed` rows."""
        scores = self.scores(query)
        if allowed is not None:
            masked = np.full_like(scores, -1.0)
            masked[allowed] = scores[allowed]
            scores = masked
        k = min(k, len(scores))
        if k <= 0:
            return []
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(int(i), float(scores[i])) for i in best if scores[i] > 0]

    def matched_terms(self, query: str, row: int, limit: int = 5) -> list[str]:
        """The query words that carry a document's score, strongest first: the 'why' of a lexical match."""
        surface: dict[str, str] = {}
        for word in _TOKEN.findall(query.lower()):
            if word not in STOPWORDS:
                surface.setdefault(_stem(word), word)
        weighted = [(float(self.weights[row, self.vocab[t]]), t) for t in surface if t in self.vocab]
        return [surface[t] for w, t in sorted(weighted, reverse=True) if w > 0][:limit]
