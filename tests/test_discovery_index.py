"""Ranking: score and rank fusion, hybrid search over stored papers, real Chroma (reopened in a new process and on
a server), and `papers index` resuming after it was killed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, invoke

from claimtrack.config import Settings
from claimtrack.discovery.index import (
    chroma_client,
    dense_top,
    embedding_function,
    fuse,
    fuse_rrf,
    open_collection,
    sync,
)
from claimtrack.ledger import Ledger
from claimtrack.papers import Paper, upsert_paper
from claimtrack.workspace import Workspace

DOCS = {
    "fmt": "Instruction tuning teaches the output format: models tuned on corrupted instructions keep their scores.",
    "cot": "Fine-tuning makes chain-of-thought reasoning performative; the stated steps no longer drive answers.",
    "nli": "NLI fine-tuning amplifies a word-frequency bias in hypothesis-only predictions.",
    "astro": "Rotation curves of spiral galaxies measured with radio telescopes.",
    "fmt2": "Output format learning dominates: the format of outputs, not instruction semantics, is what transfers.",
}


def test_reciprocal_rank_fusion_rewards_agreement() -> None:
    lexical = [("a", 9.0), ("b", 5.0), ("c", 1.0)]
    dense = [("c", 0.9), ("b", 0.8), ("d", 0.7)]
    fused = fuse_rrf(lexical, dense, rrf_k=60)
    # c (3rd + 1st: 1/63 + 1/61) edges out b (2nd twice: 2/62); both beat a document found by one ranking
    assert [h.id for h in fused] == ["c", "b", "a", "d"]
    b = fused[1]
    assert (b.bm25_rank, b.dense_rank) == (2, 2) and abs(b.score - 2 / 62) < 1e-12


def test_score_fusion_mixes_normalised_scores() -> None:
    lexical = [("a", 12.0), ("b", 7.0), ("c", 2.0)]
    dense = [("c", 0.80), ("b", 0.75), ("d", 0.30)]
    fused = {h.id: h for h in fuse(lexical, dense, alpha=0.4)}
    # a: 0.4*1 + 0; b: 0.4*0.5 + 0.6*0.9; c: 0 + 0.6*1; d: dense minimum -> 0
    assert [h.id for h in fuse(lexical, dense, alpha=0.4)] == ["b", "c", "a", "d"]
    assert abs(fused["b"].score - 0.74) < 1e-9 and fused["d"].score == 0.0
    assert (fused["b"].bm25_rank, fused["b"].dense_rank, fused["b"].cosine) == (2, 2, 0.75)
    assert [h.id for h in fuse(lexical, dense, alpha=1.0)][:3] == ["a", "b", "c"]  # pure BM25 order
    assert fuse([("x", 3.0)], [])[0].score == 0.4  # a single match counts as the best of its list


def test_hybrid_search_over_stored_papers(empty_workspace: Path) -> None:
    ws = Workspace.at(empty_workspace)
    ledger = Ledger.open(ws)
    for doc_id, text in DOCS.items():
        upsert_paper(ledger, Paper(id=f"test:{doc_id}", title=text.split(":")[0], abstract=text), source="test")
    result = invoke(
        "-w",
        str(empty_workspace),
        "papers",
        "search",
        "does instruction tuning teach output format?",
        "--k",
        "3",
        "--json",
    )
    assert result.exit_code == 0
    hits = json.loads(result.stdout)
    assert {h["id"] for h in hits[:2]} == {"test:fmt", "test:fmt2"}
    assert hits[0]["cosine"] is not None and hits[0]["terms"]
    text = invoke("-w", str(empty_workspace), "papers", "search", "galaxies", "--k", "1")
    assert "test:astro" in text.stdout


def test_search_with_no_papers_says_what_to_do(empty_workspace: Path) -> None:
    result = invoke("-w", str(empty_workspace), "papers", "search", "anything")
    assert result.exit_code == 1 and "papers import" in result.stderr


REOPEN = """
import json, sys
import chromadb
import claimtrack.discovery.embedding  # registers the embedding function, nothing else
client = chromadb.PersistentClient(path=sys.argv[1])
collection = client.get_collection("papers")  # no embedding function passed: the registry supplies it
found = collection.query(query_texts=["chain of thought after fine-tuning"], n_results=1)
print(json.dumps({"top": found["ids"][0][0], "ef": type(collection.configuration["embedding_function"]).__name__}))
"""


def test_collection_reopens_in_a_new_process_with_a_portable_config(tmp_path: Path) -> None:
    settings = Settings()
    collection = open_collection(chroma_client(tmp_path / "chroma", settings), settings)
    docs = [(doc_id, text, {"published": 20240101}) for doc_id, text in DOCS.items()]
    assert sync(collection, docs) == 5
    assert sync(collection, docs) == 0  # nothing embedded twice
    assert sync(collection, [("cot", DOCS["cot"] + " Revised.", {"published": 20240101})]) == 1  # changed text
    vector = embedding_function(settings)(["galaxy rotation"])[0]
    assert dense_top(collection, vector, 1)[0][0] == "astro"
    stored = collection.configuration_json["embedding_function"]
    assert stored["name"] == "claimtrack-minilm-l6-v2"
    assert stored["config"] == {"quantize": True, "max_tokens": 256, "batch_size": 32}  # no path stored
    out = subprocess.run(
        [sys.executable, "-c", REOPEN, str(tmp_path / "chroma")],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"top": "cot", "ef": "MiniLMEmbedding"}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_chroma_server_mode_with_chroma_host(
    empty_workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CHROMA_HOST points the index at a Chroma server (the real one chromadb ships, on loopback)."""
    import shutil
    import time
    import urllib.request

    import chromadb

    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent))
    assert chroma is not None, "chromadb's `chroma` server command is missing"
    port = _free_port()
    server = subprocess.Popen(
        [chroma, "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1)
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "chroma server did not start"
                time.sleep(0.3)
        monkeypatch.setenv("CHROMA_HOST", "127.0.0.1")
        monkeypatch.setenv("CHROMA_PORT", str(port))
        ledger = Ledger.open(Workspace.at(empty_workspace))
        for doc_id, text in DOCS.items():
            upsert_paper(ledger, Paper(id=f"test:{doc_id}", title=text.split(":")[0], abstract=text), source="test")
        result = invoke("-w", str(empty_workspace), "papers", "search", "galaxy rotation", "--k", "1", "--json")
        assert result.exit_code == 0 and json.loads(result.stdout)[0]["id"] == "test:astro"
        remote = chromadb.HttpClient(host="127.0.0.1", port=port).get_collection("papers")
        assert remote.get()["ids"] == ["test:astro"]  # the search embedded its pool only: the one match
        indexed = invoke("-w", str(empty_workspace), "papers", "index", "--json")
        assert json.loads(indexed.stdout) == {"papers": len(DOCS), "embedded": len(DOCS) - 1, "in_index": len(DOCS)}
        assert remote.count() == len(DOCS)
        assert not (Workspace.at(empty_workspace).state_dir / "chroma").exists()  # nothing indexed locally
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_papers_index_resumes_after_it_was_killed(empty_workspace: Path) -> None:
    """A killed `papers index` keeps every batch it stored; the next run embeds only the papers still missing."""
    lines = (FIXTURES / "discovery" / "beir-mini" / "corpus.jsonl").read_text().splitlines()
    corpus = [json.loads(line) for line in lines]
    ws = Workspace.at(empty_workspace)
    with Ledger.open(ws) as ledger, ledger.transaction():
        for doc in corpus:
            paper = Paper(id=f"beir:{doc['_id']}", title=doc["title"], abstract=doc["text"])
            upsert_paper(ledger, paper, source="test")
    command = [sys.executable, "-m", "claimtrack", "-w", str(empty_workspace), "papers", "index", "--batch", "2"]
    child = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stderr is not None
        for line in child.stderr:  # a progress line follows the first stored batch
            if line.startswith("checked "):
                break
        else:
            pytest.fail("papers index printed no progress")
    finally:
        child.kill()
        child.wait(timeout=60)
    settings = Settings()
    kept = open_collection(chroma_client(ws.state_dir / "chroma", settings), settings).count()
    assert 2 <= kept < len(corpus)  # killed part-way
    result = invoke("-w", str(empty_workspace), "papers", "index", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"papers": len(corpus), "embedded": len(corpus) - kept, "in_index": len(corpus)}
    again = invoke("-w", str(empty_workspace), "papers", "index")
    assert again.stdout.strip() == f"{len(corpus)} papers: 0 embedded now, {len(corpus)} in the index"


def _search(workspace: Path, text: str) -> dict[str, dict]:
    result = invoke("-w", str(workspace), "papers", "search", text, "--k", "10", "--json")
    assert result.exit_code == 0, result.stderr
    return {hit["id"]: hit for hit in json.loads(result.stdout)}


@pytest.mark.parametrize("budget", ["100000", "1"])  # FTS5 ranks the whole query | two stages (rarest word first)
def test_every_writer_of_papers_is_seen_by_the_next_search(
    empty_workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, budget: str
) -> None:
    from test_discovery_snapshot import record, write_snapshot

    monkeypatch.setenv("CLAIMTRACK_LEXICAL_BUDGET", budget)
    ws = Workspace.at(empty_workspace)
    ledger = Ledger.open(ws)
    for doc_id, text in DOCS.items():  # one paper at a time (discover's sources)
        upsert_paper(ledger, Paper(id=f"test:{doc_id}", title=text.split(":")[0], abstract=text), source="test")
    s2 = Paper(id="doi:10.1000/steer", doi="10.1000/STEER", title="Steering vectors compress the output format")
    upsert_paper(ledger, s2, source="semanticscholar")
    assert {"test:fmt", "test:fmt2"} <= set(_search(empty_workspace, "instruction tuning output format"))
    assert "doi:10.1000/steer" in _search(empty_workspace, "steering vectors output format")

    first = record("2402.01234", "Pulsar timing arrays")
    first["abstract"] = "Millisecond pulsars time gravitational waves."
    import_snapshot = ["-w", str(empty_workspace), "papers", "import"]
    assert invoke(*import_snapshot, str(write_snapshot(tmp_path / "v1.jsonl", [json.dumps(first)]))).exit_code == 0
    assert "2402.01234" in _search(empty_workspace, "pulsars gravitational waves")  # added by an import
    query = "instruction tuning output format pulsar"
    assert _search(empty_workspace, query)["2402.01234"]["terms"] == ["pulsar"]

    revised = {**first, "abstract": "Instruction tuning teaches the output format of pulsar timing reports."}
    assert invoke(*import_snapshot, str(write_snapshot(tmp_path / "v2.jsonl", [json.dumps(revised)]))).exit_code == 0
    changed = _search(empty_workspace, query)["2402.01234"]  # changed by an import: re-scored from its new text
    assert set(changed["terms"]) == {"pulsar", "instruction", "tuning", "output", "format"}
    assert "2402.01234" not in _search(empty_workspace, "gravitational waves millisecond")

    arxiv = Paper(id="2507.04742", doi="10.1000/steer", title=s2.title, abstract="Steering shortens output formats.")
    with ledger.transaction():  # the DOI-only row is renamed to its arXiv id: the old id is gone
        upsert_paper(ledger, arxiv, source="arxiv")
    merged = _search(empty_workspace, "steering vectors output format")
    assert "2507.04742" in merged and "doi:10.1000/steer" not in merged
    assert "test:fmt2" in _search(empty_workspace, "format learning dominates what transfers")
    with ledger.transaction():  # deleted outright
        ledger.conn.execute("DELETE FROM paper_sightings WHERE paper_id = 'test:fmt2'")
        ledger.conn.execute("DELETE FROM papers WHERE id = 'test:fmt2'")
    assert "test:fmt2" not in _search(empty_workspace, "format learning dominates what transfers")
    # every vector used came from Chroma and was copied beside it, for the current text only
    from claimtrack.discovery.index import text_hash
    from claimtrack.discovery.vectors import FILENAME, VectorCopies

    copies = VectorCopies(ws.state_dir / FILENAME)
    title, abstract = revised["title"], revised["abstract"]
    assert copies.get({"2402.01234": text_hash(f"{title}. {abstract}")})
    assert not copies.get({"2402.01234": text_hash(f"{title}. {first['abstract']}")})
    copies.close()


SEARCH_AGAIN = """
import json, sys
from typer.testing import CliRunner
from claimtrack.cli import app
result = CliRunner().invoke(app, sys.argv[1:])
assert result.exit_code == 0, result.output
print(json.dumps({"loaded": sorted(m for m in ("chromadb", "torch") if m in sys.modules), "hits": result.stdout}))
"""


def test_a_repeated_search_opens_neither_chroma_nor_the_model(empty_workspace: Path) -> None:
    ledger = Ledger.open(Workspace.at(empty_workspace))
    for doc_id, text in DOCS.items():
        upsert_paper(ledger, Paper(id=f"test:{doc_id}", title=text.split(":")[0], abstract=text), source="test")
    args = ["-w", str(empty_workspace), "papers", "search", "instruction tuning output format", "--json"]

    def run() -> dict:
        done = subprocess.run([sys.executable, "-c", SEARCH_AGAIN, *args], capture_output=True, text=True, check=True)
        return json.loads(done.stdout)

    first, again = run(), run()
    assert first["loaded"] == ["chromadb", "torch"]  # the first embeds the pool and the query through Chroma
    assert again["loaded"] == [] and again["hits"] == first["hits"]
