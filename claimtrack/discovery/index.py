"""The paper index: a Chroma collection of MiniLM embeddings beside a BM25 index, fused by normalised score.

Chroma lives in the workspace state folder (PersistentClient), or on a shared server when CHROMA_HOST is
set. Each stored embedding carries a hash of the text it was made from, so re-indexing embeds only papers
that are new or whose title/abstract changed. BM25 is rebuilt in memory from the ledger (cheap) and kept
for the life of the process.

Fusion: each ranking's top-100 scores are min-max normalised to [0, 1] and mixed,
score = ALPHA * bm25 + (1 - ALPHA) * dense (a paper missing from one list gets 0 there). ALPHA = 0.4 was
chosen on the even-numbered SciFact train queries only; the odd half is held out and reported apart
(docs/discovery.md). It beat reciprocal rank fusion (`fuse_rrf`, kept for comparison) for every setting
tried on the tuning half.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from claimtrack.config import Settings
from claimtrack.discovery.bm25 import BM25

if TYPE_CHECKING:
    import numpy as np
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

    from claimtrack.ledger import Ledger

COLLECTION = "papers"
RRF_K = 60
ALPHA = 0.4  # weight of BM25 in the fused score; tuned on half of SciFact train (see above)


def text_of(title: str, abstract: str) -> str:
    """What is indexed for a paper: its title and abstract."""
    title, abstract = title.strip(), abstract.strip()
    return f"{title}. {abstract}" if title and abstract else (title or abstract)


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def chroma_client(path: Path, settings: Settings) -> ClientAPI:
    """A Chroma server when CHROMA_HOST is set (a team's shared index), else a folder on disk."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_host:
        return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings)
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def open_collection(client: ClientAPI, settings: Settings, name: str = COLLECTION) -> Collection:
    from claimtrack.discovery.embedding import MiniLMEmbedding

    function = MiniLMEmbedding(quantize=settings.embed_int8, max_tokens=settings.embed_max_tokens)
    return client.get_or_create_collection(
        name, embedding_function=function, configuration={"hnsw": {"space": "cosine"}}
    )


@dataclass
class Hit:
    """One fused result with what each ranking said about it (the 'why' of a candidate)."""

    id: str
    score: float
    bm25_rank: int | None = None
    dense_rank: int | None = None
    bm25: float = 0.0
    cosine: float | None = None
    terms: list[str] = field(default_factory=list)


def sync(
    collection: Collection,
    docs: Iterable[tuple[str, str, dict[str, Any]]],
    *,
    batch: int = 256,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Embed and store the (id, text, metadata) docs that are missing or changed. Returns how many."""
    todo: list[tuple[str, str, dict[str, Any]]] = []
    embedded = 0
    chunk: list[tuple[str, str, dict[str, Any]]] = []

    def flush_check() -> None:
        known = collection.get(ids=[d[0] for d in chunk], include=["metadatas"])
        hashes = {i: (m or {}).get("hash") for i, m in zip(known["ids"], known["metadatas"], strict=True)}
        for doc_id, text, meta in chunk:
            digest = text_hash(text)
            if hashes.get(doc_id) != digest:
                todo.append((doc_id, text, {**meta, "hash": digest}))

    for doc in docs:
        chunk.append(doc)
        if len(chunk) >= 1000:
            flush_check()
            chunk = []
    if chunk:
        flush_check()
    for start in range(0, len(todo), batch):
        part = todo[start : start + batch]
        collection.upsert(ids=[d[0] for d in part], documents=[d[1] for d in part], metadatas=[d[2] for d in part])
        embedded += len(part)
        if progress:
            progress(embedded)
    return embedded


def dense_top(
    collection: Collection, query: str, k: int, allowed_ids: Sequence[str] | None = None
) -> list[tuple[str, float]]:
    """(id, cosine similarity) of the k nearest papers, optionally only among allowed_ids."""
    if allowed_ids is not None and not allowed_ids:
        return []
    size = collection.count() if allowed_ids is None else len(allowed_ids)
    n = min(k, size)
    if n <= 0:
        return []
    kwargs: dict[str, Any] = {"ids": list(allowed_ids)} if allowed_ids is not None else {}
    result = collection.query(query_texts=[query], n_results=n, include=["distances"], **kwargs)
    return [(i, 1.0 - float(d)) for i, d in zip(result["ids"][0], result["distances"][0], strict=True)]


def _normalised(ranking: Sequence[tuple[str, float]]) -> dict[str, float]:
    if not ranking:
        return {}
    low, high = min(s for _, s in ranking), max(s for _, s in ranking)
    span = high - low
    return {doc_id: ((s - low) / span if span > 0 else 1.0) for doc_id, s in ranking}


def fuse(
    lexical: Sequence[tuple[str, float]], dense: Sequence[tuple[str, float]], *, alpha: float = ALPHA
) -> list[Hit]:
    """Convex mix of min-max-normalised BM25 and cosine scores (best first; ties broken by id)."""
    lex, den = _normalised(lexical), _normalised(dense)
    hits: dict[str, Hit] = {}
    for rank, (doc_id, score) in enumerate(lexical, start=1):
        hits[doc_id] = Hit(doc_id, 0.0, bm25_rank=rank, bm25=score)
    for rank, (doc_id, cosine) in enumerate(dense, start=1):
        hit = hits.setdefault(doc_id, Hit(doc_id, 0.0))
        hit.dense_rank, hit.cosine = rank, cosine
    for hit in hits.values():
        hit.score = alpha * lex.get(hit.id, 0.0) + (1.0 - alpha) * den.get(hit.id, 0.0)
    return sorted(hits.values(), key=lambda h: (-h.score, h.id))


def fuse_rrf(
    lexical: Sequence[tuple[str, float]],
    dense: Sequence[tuple[str, float]],
    *,
    rrf_k: int = RRF_K,
    weights: tuple[float, float] = (1.0, 1.0),
) -> list[Hit]:
    """Reciprocal rank fusion of two rankings (best first); ties broken by id for a stable order."""
    hits: dict[str, Hit] = {}
    for rank, (doc_id, score) in enumerate(lexical, start=1):
        hit = hits.setdefault(doc_id, Hit(doc_id, 0.0))
        hit.bm25_rank, hit.bm25 = rank, score
        hit.score += weights[0] / (rrf_k + rank)
    for rank, (doc_id, cosine) in enumerate(dense, start=1):
        hit = hits.setdefault(doc_id, Hit(doc_id, 0.0))
        hit.dense_rank, hit.cosine = rank, cosine
        hit.score += weights[1] / (rrf_k + rank)
    return sorted(hits.values(), key=lambda h: (-h.score, h.id))


def bm25_top(index: BM25, query: str, k: int, allowed_rows: np.ndarray | None = None) -> list[tuple[str, float]]:
    return [(index.ids[row], score) for row, score in index.top(query, k, allowed_rows)]


_BM25_CACHE: dict[tuple[str, int, str], BM25] = {}


def published_number(published: str | None) -> int:
    """2024-03-05 -> 20240305 (Chroma filters compare numbers); 0 when unknown."""
    if not published:
        return 0
    digits = published.replace("-", "")[:8].ljust(8, "0")
    return int(digits) if digits.isdigit() else 0


class PaperIndex:
    """The workspace's papers (the ledger) seen through BM25 and the Chroma collection."""

    def __init__(self, state_dir: Path, ledger: Ledger, settings: Settings):
        self.ledger = ledger
        self.settings = settings
        self.path = state_dir / "chroma"
        self._collection = None

    @property
    def collection(self) -> Collection:
        if self._collection is None:
            self._collection = open_collection(chroma_client(self.path, self.settings), self.settings)
        return self._collection

    def _rows(self, ids: Sequence[str] | None = None) -> list[Any]:
        query = "SELECT id, title, abstract, published FROM papers"
        if ids is None:
            return self.ledger.conn.execute(query + " ORDER BY id").fetchall()
        rows = []
        for start in range(0, len(ids), 900):
            part = list(ids[start : start + 900])
            rows += self.ledger.conn.execute(query + f" WHERE id IN ({','.join('?' * len(part))})", part).fetchall()
        return rows

    def bm25(self) -> BM25:
        """BM25 over every stored paper, rebuilt only when the ledger's papers changed."""
        count, newest = self.ledger.conn.execute(
            "SELECT COUNT(*), COALESCE(MAX(first_seen_at), '') FROM papers"
        ).fetchone()
        total_text = self.ledger.conn.execute(
            "SELECT COALESCE(SUM(LENGTH(title) + LENGTH(abstract)), 0) FROM papers"
        ).fetchone()[0]
        key = (str(self.ledger.path), int(count), f"{newest}/{total_text}")
        if key not in _BM25_CACHE:
            rows = self._rows()
            _BM25_CACHE.clear()
            _BM25_CACHE[key] = BM25([r["id"] for r in rows], [text_of(r["title"], r["abstract"]) for r in rows])
        return _BM25_CACHE[key]

    def sync(self, ids: Sequence[str] | None = None, progress: Callable[[int], None] | None = None) -> int:
        """Embed the given papers (default: all stored) that the collection lacks or holds stale."""
        docs = (
            (r["id"], text_of(r["title"], r["abstract"]), {"published": published_number(r["published"])})
            for r in self._rows(ids)
        )
        return sync(self.collection, docs, progress=progress)

    def search(self, query: str, k: int, allowed_ids: Sequence[str] | None = None, *, pool: int = 100) -> list[Hit]:
        """Hybrid search: BM25 and dense top-`pool` lists fused, best k returned, with matched terms."""
        import numpy as np

        lexical_index = self.bm25()
        allowed_rows = None
        if allowed_ids is not None:
            position = {doc_id: row for row, doc_id in enumerate(lexical_index.ids)}
            allowed_rows = np.array([position[i] for i in allowed_ids if i in position], dtype=np.int64)
        lexical = bm25_top(lexical_index, query, pool, allowed_rows)
        dense = dense_top(self.collection, query, pool, allowed_ids)
        hits = fuse(lexical, dense)[:k]
        position = {doc_id: row for row, doc_id in enumerate(lexical_index.ids)}
        for hit in hits:
            if hit.id in position:
                hit.terms = lexical_index.matched_terms(query, position[hit.id])
        return hits
