"""The paper index: FTS5 in the ledger finds a pool of papers, MiniLM embeddings in Chroma re-score it, and the
two scores are fused.

Lexical search runs over every stored paper (claimtrack.discovery.lexical). Dense scores are computed only for
a bounded pool per query: the lexical top `Settings.lexical_pool` plus any papers the caller adds (for a claim,
the papers its searches and citations found). A pool paper is embedded once, the first time it is needed, and
kept in Chroma with a hash of its text, so later queries embed only papers that are new or whose text changed;
`claimtrack papers index` embeds the whole ledger ahead of time. Chroma lives in the workspace state folder
(PersistentClient), or on a shared server when CHROMA_HOST is set.

Fusion: the lexical scores (over the lexical top of the pool) and the cosines (over the pool) are each min-max
normalised to [0, 1] and mixed, score = ALPHA * lexical + (1 - ALPHA) * dense (a paper outside the lexical top
gets 0 there). ALPHA, the pool size and FTS5's column weights were chosen on the even-numbered SciFact train
queries only; the odd half is held out and reported apart (docs/discovery.md). Reciprocal rank fusion
(`fuse_rrf`) is kept for comparison.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from claimtrack import imports
from claimtrack.config import Settings
from claimtrack.discovery import lexical

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

    from claimtrack.discovery.embedding import MiniLMEmbedding
    from claimtrack.discovery.vectors import VectorCopies
    from claimtrack.ledger import Ledger

log = logging.getLogger(__name__)

COLLECTION = "papers"
QUERIES = "papers-queries"  # query embeddings, so a repeated search needs no model
RRF_K = 60
ALPHA = 0.4  # weight of the lexical score in the fused score; tuned on half of SciFact train (see above)


def text_of(title: str, abstract: str) -> str:
    """What is embedded for a paper: its title and abstract."""
    title, abstract = title.strip(), abstract.strip()
    return f"{title}. {abstract}" if title and abstract else (title or abstract)


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def chroma_client(path: Path, settings: Settings) -> ClientAPI:
    """A Chroma server when CHROMA_HOST is set (a team's shared index), else a folder on disk."""
    with imports.LOCK:  # a run's first Chroma may open beside a probe or the encoder loading (imports.py)
        import chromadb
        from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_host:
        return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings)
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def embedding_function(settings: Settings) -> MiniLMEmbedding:
    with imports.LOCK:
        from claimtrack.discovery.embedding import MiniLMEmbedding

    return MiniLMEmbedding(quantize=settings.embed_int8, max_tokens=settings.embed_max_tokens)


def open_collection(client: ClientAPI, settings: Settings, name: str = COLLECTION) -> Collection:
    return client.get_or_create_collection(
        name, embedding_function=embedding_function(settings), configuration={"hnsw": {"space": "cosine"}}
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
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Embed and store the (id, text, metadata) docs that are missing or changed; returns how many.

    Docs are checked and embedded a thousand at a time and each batch is stored as soon as it is embedded, so
    the docs never sit in memory together and an interrupted call keeps every batch it finished: calling it
    again embeds only the rest. `progress(checked, embedded)` follows each stored batch and each checked chunk.
    """
    checked = embedded = 0
    chunk: list[tuple[str, str, dict[str, Any]]] = []

    def flush() -> None:
        nonlocal checked, embedded
        known = collection.get(ids=[d[0] for d in chunk], include=["metadatas"])
        hashes = {i: (m or {}).get("hash") for i, m in zip(known["ids"], known["metadatas"], strict=True)}
        todo = []
        for doc_id, text, meta in chunk:
            digest = text_hash(text)
            if hashes.get(doc_id) != digest:
                todo.append((doc_id, text, {**meta, "hash": digest}))
        for start in range(0, len(todo), batch):
            part = todo[start : start + batch]
            collection.upsert(ids=[d[0] for d in part], documents=[d[1] for d in part], metadatas=[d[2] for d in part])
            embedded += len(part)
            if progress:  # the chunk's share done so far
                progress(checked + len(chunk) * (start + len(part)) // len(todo), embedded)
        checked += len(chunk)
        if progress:
            progress(checked, embedded)

    for doc in docs:
        chunk.append(doc)
        if len(chunk) >= 1000:
            flush()
            chunk = []
    if chunk:
        flush()
    return embedded


def dense_top(collection: Collection, query_vector: Sequence[float], k: int) -> list[tuple[str, float]]:
    """(id, cosine similarity) of the k nearest papers in the whole collection (Chroma's HNSW index)."""
    n = min(k, collection.count())
    if n <= 0:
        return []
    vector = [float(x) for x in query_vector]
    result = collection.query(query_embeddings=[vector], n_results=n, include=["distances"])
    return [(i, 1.0 - float(d)) for i, d in zip(result["ids"][0], result["distances"][0], strict=True)]


def cosines(collection: Collection, query_vector: Sequence[float], ids: Sequence[str]) -> list[tuple[str, float]]:
    """(id, cosine) of the stored papers among `ids` against a query vector, best first (exact, no ANN)."""
    if not ids:
        return []
    stored = collection.get(ids=list(ids), include=["embeddings"])
    return ranked_cosines(dict(zip(stored["ids"], stored["embeddings"], strict=True)), query_vector)


def ranked_cosines(vectors: Mapping[str, Sequence[float]], query_vector: Sequence[float]) -> list[tuple[str, float]]:
    """(id, cosine) of unit vectors against a query vector, best first; ties broken by id."""
    with imports.LOCK:
        import numpy as np

    if not vectors:
        return []
    ids = list(vectors)
    scores = np.asarray([vectors[i] for i in ids], dtype=np.float32) @ np.asarray(query_vector, dtype=np.float32)
    return sorted(zip(ids, scores.tolist(), strict=True), key=lambda pair: (-pair[1], pair[0]))


def _normalised(ranking: Sequence[tuple[str, float]]) -> dict[str, float]:
    if not ranking:
        return {}
    low, high = min(s for _, s in ranking), max(s for _, s in ranking)
    span = high - low
    return {doc_id: ((s - low) / span if span > 0 else 1.0) for doc_id, s in ranking}


def fuse(
    lexical: Sequence[tuple[str, float]], dense: Sequence[tuple[str, float]], *, alpha: float = ALPHA
) -> list[Hit]:
    """Convex mix of min-max-normalised lexical and cosine scores (best first; ties broken by id)."""
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


def published_number(published: str | None) -> int:
    """2024-03-05 -> 20240305 (Chroma filters compare numbers); 0 when unknown."""
    if not published:
        return 0
    digits = published.replace("-", "")[:8].ljust(8, "0")
    return int(digits) if digits.isdigit() else 0


@dataclass
class SearchResult:
    hits: list[Hit]
    pool: int  # papers scored by both rankings
    embedded: int  # pool papers embedded by this search (not in Chroma before, or changed)


class PaperIndex:
    """The workspace's papers: the ledger's FTS5 index for words, the Chroma collection for meaning, and copies
    of the vectors searches used (claimtrack.discovery.vectors), so a search whose vectors are all known opens
    neither Chroma nor the model."""

    def __init__(self, state_dir: Path, ledger: Ledger, settings: Settings):
        self.ledger = ledger
        self.settings = settings
        self.path = state_dir / "chroma"
        self._client: ClientAPI | None = None
        self._collection: Collection | None = None
        self._queries: Collection | None = None
        self._copies: VectorCopies | None = None

    @property
    def client(self) -> ClientAPI:
        if self._client is None:
            self._client = chroma_client(self.path, self.settings)
        return self._client

    @property
    def collection(self) -> Collection:
        if self._collection is None:
            self._collection = open_collection(self.client, self.settings)
        return self._collection

    @property
    def copies(self) -> VectorCopies:
        if self._copies is None:
            with imports.LOCK:  # numpy
                from claimtrack.discovery.vectors import FILENAME, VectorCopies

            self._copies = VectorCopies(self.path.parent / FILENAME)
        return self._copies

    def query_vector(self, text: str) -> Sequence[float]:
        """The embedding of a query, kept in its own collection by a hash of its text (and copied). A claim is
        searched with the same text week after week, so a repeated search loads no model at all."""
        key = text_hash(text)
        copy_id = f"query:{key}"
        known = self.copies.get({copy_id: key})
        if known:
            return known[copy_id]
        if self._queries is None:
            self._queries = open_collection(self.client, self.settings, QUERIES)
        stored = self._queries.get(ids=[key], include=["embeddings"])
        if stored["ids"]:
            vector = [float(x) for x in stored["embeddings"][0]]
        else:
            vector = [float(x) for x in embedding_function(self.settings)([text])[0]]
            self._queries.upsert(ids=[key], embeddings=[vector])
        self.copies.put([(copy_id, key, vector)])
        return vector

    def pool_vectors(self, ids: Sequence[str]) -> tuple[dict[str, Sequence[float]], int]:
        """The vectors of these papers and how many had to be embedded: copies where the text is unchanged, the
        rest through Chroma (which embeds what it lacks or holds stale), copied for the next search."""
        docs = list(self._docs(ids))
        hashes = {doc_id: text_hash(text) for doc_id, text, _ in docs}
        vectors: dict[str, Sequence[float]] = dict(self.copies.get(hashes))
        missing = [doc for doc in docs if doc[0] not in vectors]
        if not missing:
            return vectors, 0
        embedded = sync(self.collection, missing)
        stored = self.collection.get(ids=[doc[0] for doc in missing], include=["embeddings"])
        fresh = dict(zip(stored["ids"], stored["embeddings"], strict=True))
        self.copies.put((doc_id, hashes[doc_id], vector) for doc_id, vector in fresh.items())
        vectors.update(fresh)
        return vectors, embedded

    def _docs(self, ids: Sequence[str] | None = None) -> Iterable[tuple[str, str, dict[str, Any]]]:
        """(id, text, metadata) of the given papers, or of every stored paper streamed in ledger order."""
        query = "SELECT rowid, id, title, abstract, published FROM papers"
        if ids is None:
            last = 0
            while rows := self.ledger.conn.execute(
                query + " WHERE rowid > ? ORDER BY rowid LIMIT 1000", (last,)
            ).fetchall():
                yield from (self._doc(r) for r in rows)
                last = rows[-1]["rowid"]
            return
        for start in range(0, len(ids), 500):
            part = list(ids[start : start + 500])
            rows = self.ledger.conn.execute(query + f" WHERE id IN ({','.join('?' * len(part))})", part)
            yield from (self._doc(r) for r in rows)

    @staticmethod
    def _doc(row: Any) -> tuple[str, str, dict[str, Any]]:
        return row["id"], text_of(row["title"], row["abstract"]), {"published": published_number(row["published"])}

    def sync(
        self, ids: Sequence[str] | None = None, *, batch: int = 256, progress: Callable[[int, int], None] | None = None
    ) -> int:
        """Embed the given papers (default: every stored paper) that the collection lacks or holds stale."""
        return sync(self.collection, self._docs(ids), batch=batch, progress=progress)

    def search(
        self,
        query: str,
        k: int,
        *,
        scope: lexical.Scope | None = None,
        extra: Sequence[str] = (),
        pool: int | None = None,
    ) -> SearchResult:
        """Hybrid search: the lexical top `pool` papers in `scope`, plus `extra` (ids already in scope), re-scored
        by cosine and fused; the best k, each with the query words it contains."""
        conn = self.ledger.conn
        lexical_top = lexical.search(
            conn, query, pool or self.settings.lexical_pool, scope=scope, budget=self.settings.lexical_budget
        )
        ids = list(dict.fromkeys([doc_id for doc_id, _ in lexical_top] + list(extra)))
        if not ids:
            return SearchResult([], 0, 0)
        vectors, embedded = self.pool_vectors(ids)
        if embedded:
            log.info("embedded %d papers of a pool of %d", embedded, len(ids))
        hits = fuse(lexical_top, ranked_cosines(vectors, self.query_vector(query)))[:k]
        terms = lexical.matched_words(conn, query, [h.id for h in hits])
        for hit in hits:
            hit.terms = terms.get(hit.id, [])
        return SearchResult(hits, len(ids), embedded)
