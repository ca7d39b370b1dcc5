"""A run's LLM calls and lookups overlap, and its results do not depend on it: one scripted library run serially
(CLAIMTRACK_LLM_CONCURRENCY=1) and concurrently (8) writes the same claim files, report and ledger rows; a judge
that refuses one call in five with 429 and Retry-After is waited out by the whole pool, with the same results."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from agent_helpers import citing, judgement
from conftest import ROOT, invoke
from loopback import ChatReply, Literature, OpenAIServer
from test_agent_run import ANCHORS, CLAIMS, PAPERS, VERDICTS, judged_pair

from claimtrack.workspace import Workspace

HTML = (ROOT / "tests" / "fixtures" / "fulltext" / "2406.01234v2.html").read_bytes()
# Where the confirming judgement disagrees, so the pair waits for review.
DISPUTED = ("disconnect reasoning steps", "Fine-tuning and chain-of-thought faithfulness revisited")
CONTEXT = "Unlike Kung and Peng (2023), we find that instruction tuning teaches more than the output format."
_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?", re.IGNORECASE)
_RUN = re.compile(r"run-\d{8}t\d{6}z-[0-9a-f]{6}")


def respond(request: dict[str, Any]) -> ChatReply:
    """test_agent_run's scripted model, with one confirmation that disagrees and an unsure recheck."""
    pair = judged_pair(request)
    if pair is None:
        return ChatReply(content=json.dumps({"queries": ["instruction following ablation"]}))
    role, question, title = pair
    for (fragment, wanted), (stance, quote, confidence, scope) in VERDICTS.items():
        if fragment in question and title == wanted:
            if role == "confirm" and (fragment, wanted) == DISPUTED:
                return judgement("unrelated", confidence=0.9)
            if role == "recheck" and (fragment, wanted) == DISPUTED:  # unsure: the pair waits for a person
                return citing(request, "supports", quote, 0.4)
            return citing(request, stance, quote, confidence, scope_note=scope)
    return judgement("unrelated", confidence=0.9 if "Latent" not in title else 0.7)  # one unrelated is read in full


@pytest.fixture
def literature(monkeypatch: pytest.MonkeyPatch) -> Any:
    """test_agent_run's papers, one with a full text and one citing an anchor with a citation context."""
    s2 = {f"arXiv:{a}": [] for a in ANCHORS}
    s2[f"arXiv:{ANCHORS[0]}"] = [
        {
            "contexts": [CONTEXT],
            "intents": ["result"],
            "isInfluential": True,
            "citingPaper": {
                "paperId": "s2-1",
                "title": PAPERS[0].title,
                "abstract": PAPERS[0].abstract,
                "externalIds": {"ArXiv": PAPERS[0].base_id},
                "publicationDate": PAPERS[0].published,
            },
        }
    ]
    html = {PAPERS[0].arxiv_id: HTML, PAPERS[3].arxiv_id: HTML}
    with Literature(PAPERS, s2=s2, openalex={a: [] for a in ANCHORS}, html=html) as server:
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        yield server


def _library(tmp_path: Path, name: str) -> Path:
    root = tmp_path / name
    (root / "claims").mkdir(parents=True)
    for claim_id in CLAIMS:
        shutil.copy(ROOT / "claims" / f"{claim_id}.yaml", root / "claims")
    return root


def _run(ws: Path, monkeypatch: pytest.MonkeyPatch, llm: OpenAIServer, concurrency: int) -> dict[str, Any]:
    for key, value in llm.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("CLAIMTRACK_LLM_CONCURRENCY", str(concurrency))
    result = invoke("--workspace", str(ws), "run", "--all", "--no-replicate", "--trust-judge", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    report = invoke("--workspace", str(ws), "report", "status", "--format", "json")
    assert report.exit_code == 0, report.stderr
    return {"summary": json.loads(result.stdout), "report": report.stdout}


def _plain(text: str) -> str:
    """Text with the run's id and the wall-clock times (which differ between any two runs) taken out."""
    return _RUN.sub("RUN", _STAMP.sub("TIME", text))


def _outcome(ws: Path, ran: dict[str, Any]) -> dict[str, Any]:
    """Everything a run leaves that must not depend on its concurrency."""
    summary = ran["summary"]
    totals = {k: v for k, v in summary["totals"].items() if k != "llm_seconds"}
    claims = {p.name: _plain(p.read_text()) for p in sorted((ws / "claims").glob("*.yaml"))}
    queries = {
        "judgements": "SELECT key, claim_id, paper_id, paper_version, outcome, stance, quote, scope_note, confidence,"
        " rationale, error, tokens_in, tokens_out, role, sentences_json, quote_source, quote_section FROM judgements",
        "candidates": "SELECT claim_id, paper_id, score, rank, why, state FROM candidates",
        "reviews": "SELECT id, claim_id, paper_id, judge_key, confirm_key, state FROM reviews",
        "papers": "SELECT * FROM papers",
        "sightings": "SELECT paper_id, source, detail, claim_id FROM paper_sightings",
        "contexts": "SELECT paper_id, anchor, contexts_json FROM citation_contexts",
        "passages": "SELECT key, paper_id, version, passages_json FROM passage_choices",
        "fulltexts": "SELECT * FROM fulltexts",
        "calls": "SELECT purpose, model, tokens_in, tokens_out, ok, error, attempt FROM llm_calls",
        "plans": "SELECT key, claim_id, queries_json FROM query_plans",
    }
    with sqlite3.connect(Workspace.at(ws).ledger_path) as conn:
        rows = {name: sorted(_plain(repr(tuple(r))) for r in conn.execute(sql)) for name, sql in queries.items()}
    return {
        "totals": totals,
        "claims_in_summary": [_plain(json.dumps(c, sort_keys=True)) for c in summary["claims"]],
        "claim_files": claims,
        "report": _plain(ran["report"]),
        "rows": rows,
    }


def test_a_concurrent_run_gives_what_a_serial_run_gives(tmp_path, literature, monkeypatch):
    with OpenAIServer(responder=respond) as llm:
        llm.chat.latency_s = 0.3  # long enough that calls overlap when the run lets them
        serial_ws = _library(tmp_path, "serial")
        serial = _outcome(serial_ws, _run(serial_ws, monkeypatch, llm, 1))
        assert llm.chat.most_in_flight == 1
        concurrent_ws = _library(tmp_path, "concurrent")
        concurrent = _outcome(concurrent_ws, _run(concurrent_ws, monkeypatch, llm, 8))
        assert llm.chat.most_in_flight > 2  # the calls did overlap
    assert serial["totals"]["pairs_judged"] >= 6 and serial["totals"]["pairs_confirmed"] >= 2
    assert serial["totals"]["pairs_to_review"] == 1 and serial["totals"]["pairs_read_in_full"] >= 2
    assert serial["rows"]["contexts"] and serial["rows"]["passages"] and serial["rows"]["reviews"]
    for part in ("totals", "claims_in_summary", "claim_files", "report"):
        assert concurrent[part] == serial[part], part
    for table, rows in serial["rows"].items():
        assert concurrent["rows"][table] == rows, table


def test_a_judge_that_refuses_one_call_in_five_is_waited_out_with_the_same_results(tmp_path, literature, monkeypatch):
    with OpenAIServer(responder=respond) as llm:
        llm.chat.latency_s = 0.2  # so that calls are in flight together when one is refused
        baseline_ws = _library(tmp_path, "baseline")
        baseline = _outcome(baseline_ws, _run(baseline_ws, monkeypatch, llm, 8))
        llm.chat.busy_every = 5
        llm.chat.busy_headers = {"Retry-After": "2"}
        llm.chat.arrived.clear()
        llm.chat.most_in_flight = 0
        throttled_ws = _library(tmp_path, "throttled")
        throttled_run = _run(throttled_ws, monkeypatch, llm, 8)
        refused, arrived, most = list(llm.chat.refused), list(llm.chat.arrived), llm.chat.most_in_flight
    assert len(refused) >= 3 and throttled_run["summary"]["totals"]["failed"] == 0
    assert most > 2  # the calls overlapped
    # Retry-After is honoured by the whole pool: after a refusal, no call reaches the server for two seconds
    # (but for one already on its way when the refusal was: a second's grace, for a loaded machine such as CI's;
    # a pool that ignored Retry-After would send one every 0.2 s throughout).
    for when in refused:
        early = [t for t in arrived if when + 1.0 < t < when + 1.9]
        assert not early, f"{len(early)} calls arrived {[round(t - when, 2) for t in early]} s after a 429"
    throttled = _outcome(throttled_ws, throttled_run)
    assert throttled["totals"]["llm_failed_calls"] == len(refused)
    for part in ("claims_in_summary", "claim_files", "report"):
        assert throttled[part] == baseline[part], part
    calls = [r for r in throttled["rows"]["calls"] if "HTTP 429" not in r]
    assert sorted(re.sub(r", \d+\)$", ")", r) for r in calls) == sorted(
        re.sub(r", \d+\)$", ")", r) for r in baseline["rows"]["calls"]
    )  # the same calls answered, retries aside (their attempt numbers differ)
    for table in ("judgements", "candidates", "reviews", "passages", "contexts"):
        assert throttled["rows"][table] == baseline["rows"][table], table
