"""`claimtrack run` end to end: real discovery (arxiv client, ranking) against a loopback literature server,
the real openai/langchain-openai clients against a loopback LLM, real SQLite, real YAML store."""

from __future__ import annotations

import getpass
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from agent_helpers import citing, judgement, role_of, store_qualification
from conftest import ROOT, invoke
from loopback import ChatReply, Entry, Literature, OpenAIServer, Reply, SemanticScholar, user_text

from claimtrack.store import Store
from claimtrack.workspace import Workspace

CLAIMS = ("it-output-format-not-task", "finetuning-makes-cot-performative", "softcot-frozen-backbone")
SUPERSEDING = (
    "models trained with correct instructions outperform those trained with misleading instructions by 15 points"
)
RELAXING = "fine-tuning reduces chain-of-thought faithfulness only for models below 7B parameters"
SUPPORTING = "A frozen backbone with an auxiliary soft-thought model retains pretrained knowledge on all benchmarks"
PAPERS = [
    Entry(
        "2507.00001v1",
        "Instruction tuning teaches more than the output format",
        f"We revisit whether instruction tuning only teaches the output format. Across 40 tasks and models up to "
        f"70B, {SUPERSEDING}. Earlier results with small label spaces do not hold at scale.",
        "2025-07-01",
    ),
    Entry(
        "2508.00002v2",
        "Fine-tuning and chain-of-thought faithfulness revisited",
        f"Early termination and filler tests on 12 models show that {RELAXING}; larger models keep functional "
        "reasoning after fine-tuning.",
        "2025-08-03",
    ),
    Entry(
        "2509.00003v1",
        "Soft thoughts without forgetting",
        f"{SUPPORTING}. Continuous reasoning with soft chain-of-thought needs no fine-tuning of the main LLM.",
        "2025-09-09",
    ),
    Entry(
        "2509.00006v1",
        "Latent space reasoning at scale",
        "Continuous latent reasoning trained end to end shows catastrophic forgetting on knowledge benchmarks.",
        "2025-09-20",
    ),
    Entry(  # answers none of the claims' queries: arXiv never returns it
        "2510.00004v1",
        "Protein folding with diffusion models",
        "We fold proteins with a diffusion model and report state of the art structure accuracy.",
        "2025-10-10",
    ),
]
# (fragment of the claim's question, paper title) -> the judgement the scripted LLM gives;
# every other pair is unrelated.
VERDICTS = {
    ("instruction tuning", "Instruction tuning teaches more than the output format"): (
        "supersedes",
        SUPERSEDING,
        0.9,
        None,
    ),
    ("disconnect reasoning steps", "Fine-tuning and chain-of-thought faithfulness revisited"): (
        "relaxes",
        RELAXING,
        0.8,
        "models of 7B parameters and below",
    ),
    ("continuous reasoning", "Soft thoughts without forgetting"): ("supports", SUPPORTING, 0.85, None),
}


# What the confirming judgement says instead, where a test makes the two disagree: (fragment, title) -> reply.
CONFIRM_VERDICTS: dict[tuple[str, str], tuple[str, str, float, str | None]] = {}


def judged_pair(request: dict[str, Any]) -> tuple[str, str, str] | None:
    """(role, claim question, paper title) of a judge or confirm request; None for a query plan request."""
    role = role_of(request)
    if role == "plan":
        return None
    text = user_text(request)
    found = [re.search(pattern, text, re.MULTILINE) for pattern in (r"^Question: (.*)$", r"^\[1\] (.*)$")]
    assert found[0] and found[1], text
    return role, found[0][1], found[1][1]


def respond(request: dict[str, Any]) -> ChatReply:
    """The scripted LLM: query plans for the planner prompt, fixed verdicts for the judge and confirm prompts."""
    pair = judged_pair(request)
    if pair is None:
        return ChatReply(
            content=json.dumps({"queries": ["instruction following ablation", "reasoning faithfulness"]}),
            tokens_in=50,
            tokens_out=10,
        )
    role, question, title = pair
    script = {**VERDICTS, **CONFIRM_VERDICTS} if role == "confirm" else VERDICTS
    for (fragment, wanted), (stance, quote, confidence, scope) in script.items():
        if fragment in question and title == wanted:
            return citing(request, stance, quote, confidence, scope_note=scope)
    return judgement("unrelated", confidence=0.9)


def judge_pairs(requests: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The (question, title) of each first-judgement request."""
    return [(p[1], p[2]) for r in requests if (p := judged_pair(r)) and p[0] == "judge"]


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "claims").mkdir(parents=True)
    for claim_id in CLAIMS:
        shutil.copy(ROOT / "claims" / f"{claim_id}.yaml", root / "claims")
    return root


ANCHORS = ("2305.11383", "2411.15382", "2502.12134")  # of CLAIMS: known to both citation sources, not yet cited


@pytest.fixture
def literature(monkeypatch: pytest.MonkeyPatch) -> Iterator[Literature]:
    known = {anchor: [] for anchor in ANCHORS}
    with Literature(PAPERS, s2={f"arXiv:{a}": [] for a in ANCHORS}, openalex=known) as server:
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        yield server


SECRET = "sk-run-secret-0123456789abcdef"


@pytest.fixture
def llm(monkeypatch: pytest.MonkeyPatch, ws: Path) -> Iterator[OpenAIServer]:
    """The scripted judge, measured: a qualification is stored for it, so its judgements weigh by it."""
    with OpenAIServer(responder=respond) as server:
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("OPENAI_API_KEY", SECRET)
        store_qualification(ws)
        yield server


def _claim(ws: Path, claim_id: str) -> dict:
    return yaml.safe_load((ws / "claims" / f"{claim_id}.yaml").read_text())


def server_saw_key(server: OpenAIServer) -> bool:
    return bool(server.requests) and all(r.headers.get("authorization") == f"Bearer {SECRET}" for r in server.requests)


def test_run_end_to_end_writes_changes_history_and_evidence(ws, literature, llm):
    result = invoke("--workspace", str(ws), "run", "--all", "--no-replicate")
    assert result.exit_code == 0, result.stdout + result.stderr
    superseded = _claim(ws, "it-output-format-not-task")
    assert superseded["status"] == "superseded"
    change = superseded["history"][-1]
    assert change["from"] == "untested" and change["to"] == "superseded" and change["by"].startswith("run-")
    evidence = {e["id"]: e for e in superseded["evidence"]}
    assert change["evidence"] and set(change["evidence"]) <= set(evidence)
    item = evidence[change["evidence"][0]]
    assert item["source"] == "arXiv:2507.00001" and item["kind"] == "paper" and item["stance"] == "supersedes"
    # the quote is the paper's whole sentence that holds the finding, copied by the program from its number
    assert item["quote"] == f"Across 40 tasks and models up to 70B, {SUPERSEDING}."
    assert item["quote_source"] == "abstract" and item["confidence"] == 0.9 and item["published"] == "2025-07-01"
    assert re.fullmatch(r"test-model@[0-9a-f]{12}", item["judged_by"]) and item["run"] == change["by"]
    confirmation = item["confirmation"]  # the second, independent judgement that agreed
    assert confirmation["stance"] == "supersedes" and confirmation["confidence"] == 0.9
    assert re.fullmatch(r"test-model@[0-9a-f]{12}", confirmation["by"]) and confirmation["by"] != item["judged_by"]
    assert SUPERSEDING in change["rationale"] and change["rationale"].startswith("0 supports (0.00), 1 contests")
    assert all(e["stance"] != "unrelated" for e in superseded["evidence"])  # unrelated stays in the ledger
    relaxed = _claim(ws, "finetuning-makes-cot-performative")
    assert relaxed["status"] == "relaxed" and relaxed["history"][-1]["scope"] == "models of 7B parameters and below"
    holding = _claim(ws, "softcot-frozen-backbone")
    assert holding["status"] == "holding"
    assert all(_claim(ws, c)["last_checked"] for c in CLAIMS)
    out = result.stdout
    assert "3 claims checked, 0 failed" in out and "status changes: 3" in out
    assert "it-output-format-not-task: untested -> superseded" in out
    assert "[scope: models of 7B parameters and below]" in out
    calls = len(llm.chat.requests)
    roles = [role_of(r) for r in llm.chat.requests]
    assert roles.count("plan") == 3  # one query plan per claim: 50 tokens in, 10 out; each judgement 100 in, 20 out
    # Every pair is confirmed once and rechecked once: setting an unrelated paper aside takes the same evidence as
    # counting one (no full text is served, so the look is the judgement), and for a judge measured right on 20
    # of 20 pairs per stance two agreeing answers are worth P = 0.9976, short of 0.999; the third settles it.
    confirms = roles.count("confirm")
    assert confirms == roles.count("judge") == roles.count("recheck") > 3
    tokens_in, tokens_out = 50 * 3 + 100 * (calls - 3), 10 * 3 + 20 * (calls - 3)
    assert f"LLM {calls} calls, {tokens_in} tokens in, {tokens_out} out" in out
    confirm_tokens = (confirms + roles.count("recheck")) * 120  # second opinions: confirmations and rechecks
    rest = tokens_in + tokens_out - confirm_tokens
    assert f"confirmation cost {confirm_tokens} tokens ({confirm_tokens / rest:.0%} of the rest)" in out
    assert "3 confirmed, 0 waiting for review" in out
    # the planner's queries went to arXiv beside the curated terms
    curated = _claim(ws, "it-output-format-not-task")["search"]["terms"][0]
    assert any(" AND ".join(f"all:{w}" for w in curated.split()) in q for q in literature.arxiv.searches)
    assert any("all:ablation" in q for q in literature.arxiv.searches)  # the planner's query
    with sqlite3.connect(Workspace.at(ws).ledger_path) as conn:
        command, outcome, summary = conn.execute("SELECT command, outcome, summary_json FROM runs").fetchone()
        assert outcome == "ok" and json.loads(summary)["totals"]["status_changes"] == 3
        assert json.loads(summary)["totals"]["confirm_tokens"] == confirm_tokens
        assert command == "claimtrack run --all --no-replicate"
        assert conn.execute("SELECT COUNT(*) FROM candidates WHERE state = 'unjudged'").fetchone()[0] == 0
        roles_stored = dict(conn.execute("SELECT role, COUNT(*) FROM judgements GROUP BY role").fetchall())
        assert roles_stored["confirm"] == confirms
        assert conn.execute("SELECT judge_standing FROM runs").fetchone()[0].startswith("qualified q-")

    # The key was sent to the endpoint and written nowhere.
    assert server_saw_key(llm) and SECRET not in result.stdout + result.stderr
    state = Workspace.at(ws).state_dir
    for path in [*state.rglob("*"), *(ws / "claims").glob("*.yaml")]:
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path

    # Second run: nothing new on arXiv, so each claim ranks the stored papers, which now include those found
    # for the other claims. What was judged, confirmed or planned comes from the cache; only new pairs are
    # asked, and (all unrelated) they change nothing: no history is added.
    first = judge_pairs(llm.chat.requests)
    before = {c: (ws / "claims" / f"{c}.yaml").read_text() for c in CLAIMS}
    again = invoke("--workspace", str(ws), "run", "--all", "--no-replicate", "--json")
    assert again.exit_code == 0
    second = judge_pairs(llm.chat.requests[calls:])
    asked = [role_of(r) for r in llm.chat.requests[calls:]]
    assert "plan" not in asked  # no query was planned again
    # each new pair: judged, confirmed, rechecked (three agreeing answers settle a pair for this judge)
    assert asked.count("confirm") == len(second) == asked.count("judge") == asked.count("recheck")
    assert second and not set(second) & set(first)  # no pair was judged twice
    totals = json.loads(again.stdout)["totals"]
    assert (totals["llm_calls"], totals["pairs_judged"], totals["pairs_cached"]) == (
        3 * len(second),
        len(second),
        len(first),
    )
    assert totals["status_changes"] == 0 and totals["pairs_confirmed"] == 3  # the three, from the cache
    for claim_id in CLAIMS:
        now = yaml.safe_load((ws / "claims" / f"{claim_id}.yaml").read_text())
        was = yaml.safe_load(before[claim_id])
        assert now["history"] == was["history"] and now["evidence"] == was["evidence"]


NEWER = "Misleading instructions cost 20 points of accuracy for every model we tested above 1B parameters"
PAPER_B = ("instruction", "Misleading instructions at scale")


def _add_paper_b(literature: Literature) -> None:
    literature.arxiv.entries.append(
        Entry(
            "2511.00005v1",
            "Misleading instructions at scale",
            f"{NEWER}. The format-only account fails for large instruction tuning models.",
            datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
    )


def test_what_a_person_overruled_stays_overruled_after_later_automatic_changes(ws, literature, llm, monkeypatch):
    """Paper A (supersedes) moves the claim; a person says holding (A is out of scope); a newer paper B (relaxes)
    moves it to relaxed; the next run, with nothing new, must not move it back to superseded on A."""
    monkeypatch.setenv("CLAIMTRACK_HTTP_CACHE_TTL_S", "0")  # so the third run sees paper B
    claim_id = "it-output-format-not-task"
    args = ("--workspace", str(ws), "run", claim_id, "--no-replicate")
    assert invoke(*args).exit_code == 0
    first = _claim(ws, claim_id)
    assert first["status"] == "superseded"
    a_ids = [e["id"] for e in first["evidence"]]
    verdict = invoke(
        "--workspace", str(ws), "verdict", claim_id, "--status", "holding",
        "--because", "the superseding paper tests another setting", "--by", "ana",
    )  # fmt: skip
    assert verdict.exit_code == 0, verdict.stderr
    pin = _claim(ws, claim_id)["history"][-1]
    assert pin["pinned"] is True and pin["overrules"] == a_ids  # the file says what the person overruled
    assert invoke(*args).exit_code == 0  # same (cached) evidence: the verdict stands
    assert _claim(ws, claim_id)["status"] == "holding"
    _add_paper_b(literature)
    VERDICTS[PAPER_B] = ("relaxes", NEWER, 0.8, "models of 1B parameters and below")
    try:
        assert invoke(*args).exit_code == 0
        claim = _claim(ws, claim_id)
        assert [h["to"] for h in claim["history"]] == ["superseded", "holding", "relaxed"]
        newest = claim["history"][-1]
        assert NEWER in newest["rationale"] and not set(newest["evidence"]) & set(a_ids)
        assert "1 ruled out by a person, not weighed" in newest["rationale"]
        for _ in range(2):  # nothing new: A stays overruled, however many runs follow
            assert invoke(*args).exit_code == 0
    finally:
        del VERDICTS[PAPER_B]
    assert [h["to"] for h in _claim(ws, claim_id)["history"]] == ["superseded", "holding", "relaxed"]


def test_an_unconfirmed_supersedes_waits_for_review_and_a_person_decides(ws, literature, monkeypatch):
    """The confirming model disagrees: nothing moves. `review` lists the pair; an accept moves the claim at once,
    a reject overrules the pair for good; both are dated person's decisions in the claim's history."""
    CONFIRM_VERDICTS[("instruction tuning", PAPERS[0].title)] = ("supports", SUPERSEDING, 0.8, None)
    CONFIRM_VERDICTS[("disconnect reasoning steps", PAPERS[1].title)] = ("unrelated", "", 0.9, None)
    try:
        with OpenAIServer(responder=respond, models=("test-model", "confirm-model")) as server:
            for key, value in server.env().items():
                monkeypatch.setenv(key, value)
            monkeypatch.setenv("CLAIMTRACK_CONFIRM_MODEL", "confirm-model")
            claims = ("it-output-format-not-task", "finetuning-makes-cot-performative")
            result = invoke("--workspace", str(ws), "run", *claims, "--no-replicate")
            assert result.exit_code == 0, result.stdout + result.stderr
            confirms = [r for r in server.chat.requests if role_of(r) == "confirm"]
            assert confirms and all(r["model"] == "confirm-model" for r in confirms)
            assert all(r["model"] == "test-model" for r in server.chat.requests if role_of(r) == "judge")
            assert "status changes: 0" in result.stdout and "0 confirmed, 2 waiting for review" in result.stdout
            for claim_id in claims:
                claim = _claim(ws, claim_id)
                assert claim["status"] == "untested" and claim["history"] == [] and claim["evidence"] == []
            listing = invoke("--workspace", str(ws), "review", "--json")
            items = {i["claim"]: i for i in json.loads(listing.stdout)}
            superseding = items["it-output-format-not-task"]
            assert superseding["paper"] == "arXiv:2507.00001" and superseding["title"] == PAPERS[0].title
            assert (superseding["judge"]["stance"], superseding["confirm"]["stance"]) == ("supersedes", "supports")
            assert SUPERSEDING in superseding["judge"]["quote"] and superseding["judge"]["confidence"] == 0.9
            assert superseding["confirm"]["confidence"] == 0.8 and superseding["confirm"]["by"].startswith("confirm-")
            text = invoke("--workspace", str(ws), "review", "it-output-format-not-task")
            assert superseding["id"] in text.stdout and "supersedes 0.90" in text.stdout and "1 waiting" in text.stdout
            assert f'{SUPERSEDING}." (abstract)' in text.stdout  # where each quote stands in the paper
            assert superseding["judge"]["quote_source"] == "abstract" and superseding["judge"]["quote_section"] is None

            accepted = invoke("--workspace", str(ws), "review", "accept", superseding["id"], "--by", "ana")
            assert accepted.exit_code == 0, accepted.stderr
            assert "untested -> superseded" in accepted.stdout
            claim = _claim(ws, "it-output-format-not-task")
            decision, change = claim["history"]
            assert decision["event"] == "review" and decision["decision"] == "accept" and decision["by"] == "person:ana"
            assert decision["item"] == superseding["id"] and change["to"] == "superseded"
            [item] = claim["evidence"]
            assert item["confirmation"]["by"] == "person:ana" and item["confirmation"]["review"] == superseding["id"]
            log = invoke("--workspace", str(ws), "log", "it-output-format-not-task").stdout
            assert f"review {superseding['id']}: accepted supersedes from arXiv:2507.00001  by person:ana" in log
            shown = invoke("--workspace", str(ws), "show", "it-output-format-not-task").stdout
            assert "confirmed by person:ana: supersedes" in shown and f"review {superseding['id']}: accepted" in shown

            relaxing = items["finetuning-makes-cot-performative"]["id"]
            rejected = invoke("--workspace", str(ws), "review", "reject", relaxing, "--because", "wrong scale")
            assert rejected.exit_code == 0 and "status stays untested" in rejected.stdout
            [decision] = _claim(ws, "finetuning-makes-cot-performative")["history"]
            assert (decision["decision"], decision["rationale"]) == ("reject", "wrong scale")
            assert json.loads(invoke("--workspace", str(ws), "review", "--json").stdout) == []

            again = invoke("--workspace", str(ws), "review", "reject", relaxing)
            assert again.exit_code == 1  # decided already (by another person, or twice): one line, nothing changes
            assert (
                again.stderr.strip()
                == f"error: {relaxing} was already rejected by person:{getpass.getuser()}; nothing changed"
            )
            unknown = invoke("--workspace", str(ws), "review", "accept", "rv-nothing")
            assert unknown.exit_code == 2 and unknown.stderr.strip() == "error: unknown review item id 'rv-nothing'"

            before = {c: (_claim(ws, c)["history"], _claim(ws, c)["evidence"]) for c in claims}
            rerun = invoke("--workspace", str(ws), "run", *claims, "--no-replicate", "--json")
            rerun_totals = json.loads(rerun.stdout)["totals"]
            assert rerun_totals["status_changes"] == 0  # the rejected pair stays out
            assert rerun_totals["pairs_to_review"] == 0 and rerun_totals["llm_calls"] == 0  # decided, and cached
            assert {c: (_claim(ws, c)["history"], _claim(ws, c)["evidence"]) for c in claims} == before
            report = json.loads(invoke("--workspace", str(ws), "report", "status", "--format", "json").stdout)
            assert report["totals"]["review"] == 0
    finally:
        CONFIRM_VERDICTS.clear()


def test_judging_goes_down_the_ranking_run_after_run(ws, literature, llm):
    """k counts pairs not yet judged: cached pairs use no slot, so the paper ranked k+1 is judged next run."""
    args = ("--workspace", str(ws), "run", "softcot-frozen-backbone", "--no-replicate", "--k", "1", "--json")
    first = json.loads(invoke(*args).stdout)["claims"][0]
    assert (first["judged"], first["cached"]) == (1, 0) and first["unjudged"] >= 1
    with sqlite3.connect(Workspace.at(ws).ledger_path) as conn:
        ranked = [r[0] for r in conn.execute("SELECT paper_id FROM candidates ORDER BY rank")]
        states = dict(conn.execute("SELECT paper_id, state FROM candidates").fetchall())
    assert states[ranked[0]] != "unjudged" and states[ranked[1]] == "unjudged"
    second = json.loads(invoke(*args).stdout)["claims"][0]
    assert (second["judged"], second["cached"]) == (1, 1)
    with sqlite3.connect(Workspace.at(ws).ledger_path) as conn:
        assert conn.execute("SELECT state FROM candidates WHERE paper_id = ?", (ranked[1],)).fetchone()[0] != "unjudged"


def test_a_verdict_recorded_during_the_run_does_not_end_it(ws, literature, monkeypatch):
    """A person records a verdict while the run judges: the run decides on the claim as it is then, dated after
    the verdict, instead of dying on a change dated before it."""
    from claimtrack.models import Status
    from claimtrack.verdict import record_verdict

    claim_id = "softcot-frozen-backbone"

    def verdict_midway(request: dict[str, Any]) -> ChatReply:
        if role_of(request) == "judge" and not _claim(ws, claim_id)["history"]:
            later = datetime.now(UTC) + timedelta(minutes=5)  # the person's clock runs ahead of the run's start
            record_verdict(Store(Workspace.at(ws)), claim_id, Status.RELAXED, "mine", by="ana", now=later)
        return respond(request)

    with OpenAIServer(responder=verdict_midway) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.env()["OPENAI_BASE_URL"])
        store_qualification(ws)
        result = invoke("--workspace", str(ws), "run", claim_id, "--no-replicate")
    assert result.exit_code == 0, result.stdout + result.stderr
    history = _claim(ws, claim_id)["history"]
    assert [h["to"] for h in history] == ["relaxed", "holding"]  # the new support was not seen by the person
    assert history[1]["at"] >= history[0]["at"]
    Store(Workspace.at(ws)).load()


def test_one_claims_unexpected_error_fails_that_claim_only(ws, literature, llm, monkeypatch):
    from claimtrack.agent import run as run_module

    def broken(ctx: Any, check: Any) -> None:
        if check.claim.id == "finetuning-makes-cot-performative":
            raise KeyError("a bug")

    monkeypatch.setattr(run_module, "CLAIM_STEPS", (broken, *run_module.CLAIM_STEPS))
    result = invoke("--workspace", str(ws), "-v", "run", "--all", "--no-replicate")
    assert result.exit_code == 1
    assert "FAILED error: KeyError: 'a bug' (finetuning-makes-cot-performative)" in result.stdout
    assert "Traceback" in result.stderr  # at -v, with its traceback
    assert _claim(ws, "it-output-format-not-task")["status"] == "superseded"  # the others were checked
    assert _claim(ws, "softcot-frozen-backbone")["status"] == "holding"
    assert "last_checked" not in _claim(ws, "finetuning-makes-cot-performative")


def test_no_llm_run_stores_candidates_unjudged(ws, literature):
    result = invoke("--workspace", str(ws), "run", "--all", "--no-replicate")
    assert result.exit_code == 0, result.stderr
    assert "no LLM configured" in result.stdout and "status changes: 0" in result.stdout
    assert sum("no LLM configured" in line for line in result.stdout.splitlines()) == 1
    for claim_id in CLAIMS:
        claim = _claim(ws, claim_id)
        assert claim["status"] == "untested" and claim["history"] == [] and claim["last_checked"]
    with sqlite3.connect(Workspace.at(ws).ledger_path) as conn:
        unjudged = conn.execute("SELECT COUNT(*) FROM candidates WHERE state = 'unjudged'").fetchone()[0]
    assert unjudged >= len(CLAIMS)
    doctor = invoke("--workspace", str(ws), "doctor")
    assert re.search(r"^ok\s+last run\s+run-\S+ started .*: ok \(3 claims, 0 failed", doctor.stdout, re.MULTILINE)
    assert re.search(
        r"^ok\s+index\s+4 papers in the ledger; Chroma \(embedded\): 4 embeddings", doctor.stdout, re.MULTILINE
    )


def test_offline_run_goes_on(ws, llm):
    result = invoke("--workspace", str(ws), "run", "--all", "--offline", "--no-replicate", "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["offline"] is True and summary["totals"]["claims"] == 3 and summary["totals"]["failed"] == 0
    assert all("not queried" in c["notes"][0] for c in summary["claims"])
    assert llm.chat.requests == []  # nothing was stored to judge, and no query planned that could not be sent
    assert all("last_checked" not in _claim(ws, c) for c in CLAIMS)  # an offline check leaves claims due


def test_replication_without_the_specs_models_is_skipped_not_run_on_one_model(ws):
    # The spec's default models are neither cached nor reachable (the test guard refuses the hub), so the run
    # would have only the offline single model: no verdict is possible, so it must not spend CPU on it.
    result = invoke("--workspace", str(ws), "run", "it-output-format-not-task", "--offline", "--json")
    assert result.exit_code == 0, result.stderr
    notes = json.loads(result.stdout)["claims"][0]["notes"]
    assert any(n.startswith("replication skipped: the spec's models are neither reachable nor cached") for n in notes)
    ledger = sqlite3.connect(ws / ".claimtrack" / "ledger.sqlite")
    tables = {r[0] for r in ledger.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "replication_jobs" not in tables or ledger.execute("SELECT COUNT(*) FROM replication_jobs").fetchone() == (
        0,
    )
    assert not (ws / ".claimtrack" / "models").exists()  # Gemma was not even converted


def test_source_failures_are_grouped_by_source_and_cause_and_the_run_goes_on(ws, literature, llm, monkeypatch):
    literature.route("/{rest:path}", lambda _: Reply(503, "unavailable", "text/plain"))  # every source
    monkeypatch.setenv("CLAIMTRACK_HTTP_BACKOFF_S", "0.01")  # retried, but quickly
    result = invoke("--workspace", str(ws), "run", "--all", "--no-replicate")
    assert result.exit_code == 3  # no claim could be checked: every source failed for every one
    with sqlite3.connect(Workspace.at(ws).ledger_path) as conn:
        summary = json.loads(conn.execute("SELECT summary_json FROM runs").fetchone()[0])
    assert summary["totals"]["claims"] == 3 and summary["totals"]["failed"] == summary["totals"]["unchecked"] == 3
    assert all(c["failures"] for c in summary["claims"])
    failures = sum(len(c["failures"]) for c in summary["claims"])
    failed_lines = [line for line in result.stdout.splitlines() if "FAILED" in line]
    groups = summary["failures_by_source"]
    assert len(failed_lines) == len(groups) < failures  # one line per source and cause, not per claim and query
    assert {g["source"] for g in groups} >= {"arxiv", "semanticscholar", "openalex"}
    assert any("(3 claims: " in line for line in failed_lines)
    for group in groups:
        assert f"FAILED {group['source']}: {group['cause']} (" in result.stdout
    assert all("last_checked" not in _claim(ws, c) for c in CLAIMS)  # still due next time
    Store(Workspace.at(ws)).load()  # and the store is valid


def test_semantic_scholar_rate_limited_while_openalex_answers_is_a_note(ws, literature, llm, monkeypatch):
    literature.route(SemanticScholar.CITATIONS, [Reply(429, headers={"Retry-After": "0"})])
    monkeypatch.setenv("CLAIMTRACK_HTTP_RETRIES", "1")
    result = invoke("--workspace", str(ws), "run", "--all", "--no-replicate")
    assert result.exit_code == 0, result.stdout
    assert "FAILED" not in result.stdout and "0 failed" in result.stdout
    assert "note: semanticscholar failed (HTTP 429 (rate limited) after 2 tries); openalex answered (3 claims" in (
        result.stdout
    )
    assert all(_claim(ws, c)["last_checked"] for c in CLAIMS)  # the check was complete: not due again


def test_bad_input_exits_2(ws, monkeypatch):
    unknown = invoke("--workspace", str(ws), "run", "no-such-claim")
    assert unknown.exit_code == 2 and "unknown claim id 'no-such-claim'" in unknown.stderr
    nothing = invoke("--workspace", str(ws), "run")
    assert nothing.exit_code == 2 and "--due or --all" in nothing.stderr
    (ws / "agents").mkdir()
    (ws / "agents" / "judge.txt").write_text("a prompt without its user part\n")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    bad_prompt = invoke("--workspace", str(ws), "run", "--all")
    assert bad_prompt.exit_code == 2 and "judge.txt" in bad_prompt.stderr and "=== USER ===" in bad_prompt.stderr
    assert not (ws / ".claimtrack" / "ledger.sqlite").exists()  # nothing was started


def _subprocess_env(literature: Literature, llm: OpenAIServer, ws: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "CLAIMTRACK"))}
    return {**env, **literature.env(), **llm.env(), "CLAIMTRACK_HOME": str(ws)}


def test_second_run_is_refused_and_kill_9_resumes_without_rejudging(ws, literature, monkeypatch):
    stall = {"on": True}
    top = PAPERS[0].title  # the claim's best candidate, credible: its first look is answered, then it is confirmed

    def slow_after_first(request: dict[str, Any]) -> ChatReply:
        reply = respond(request)
        pair = judged_pair(request)
        if pair is not None:
            if stall["on"] and pair != ("judge", pair[1], top):
                reply.delay_s = 60  # the run (its pairs judged concurrently) hangs on all else until it is killed
            judged.append(pair)
        return reply

    judged: list[tuple[str, str]] = []
    with OpenAIServer(responder=slow_after_first) as llm:
        env = _subprocess_env(literature, llm, ws)
        log = ws.parent / "first-run.log"  # a file, not a pipe: an unread pipe could fill and stall the child
        first = subprocess.Popen(
            [sys.executable, "-m", "claimtrack", "run", "it-output-format-not-task", "--no-replicate"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log.open("w"),
        )
        try:
            deadline = time.monotonic() + 90
            confirming = [p for p in judged if p[0] == "confirm"]  # asked once the first look was committed
            while not confirming and time.monotonic() < deadline and first.poll() is None:
                time.sleep(0.1)
                confirming = [p for p in judged if p[0] == "confirm"]
            assert confirming, log.read_text() if first.poll() is not None else "no progress"
            # A second run while the first holds the lock: a clear refusal naming the first.
            monkeypatch.setenv("CLAIMTRACK_RUN_LOCK_WAIT_S", "0.2")
            for key, value in env.items():
                monkeypatch.setenv(key, value)
            refused = invoke("run", "--all", "--no-replicate")
            assert refused.exit_code == 75
            assert "75 when another run holds the workspace" in " ".join(invoke("run", "--help").stdout.split())
            assert f"pid {first.pid}" in refused.stderr and "started" in refused.stderr
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        Store(Workspace.at(ws)).load()  # the store is valid after kill -9
        ledger = Workspace.at(ws).ledger_path
        with sqlite3.connect(ledger) as conn:
            assert conn.execute("SELECT COUNT(*) FROM judgements").fetchone()[0] == 1
            assert conn.execute("SELECT outcome FROM runs").fetchone()[0] is None
        stall["on"] = False
        first_pair = ("judge", confirming[0][1], top)
        resumed = subprocess.run(
            [sys.executable, "-m", "claimtrack", "run", "it-output-format-not-task", "--no-replicate", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert resumed.returncode == 0, resumed.stderr
        assert judged.count(first_pair) == 1  # the pair judged before the kill was not asked again
        summary = json.loads(resumed.stdout)
        # its confirmation was still to be asked, so the pair counts among those this run judged, not the cached
        assert ("confirm", *first_pair[1:]) in judged and summary["totals"]["pairs_cached"] == 0
        with sqlite3.connect(ledger) as conn:
            outcomes = [r[0] for r in conn.execute("SELECT outcome FROM runs ORDER BY started_at")]
        assert sorted(outcomes) == ["interrupted", "ok"]


def test_contested_claim_triggers_its_replication_in_the_same_run(ws, literature, llm, tmp_path):
    """Literature contests a claim that has a probe: the run replicates it (tiny real models, real lm-eval)."""
    from tests.replication_helpers import build_tiny_model

    base = build_tiny_model(tmp_path / "tiny-base", seed=0)
    tuned = build_tiny_model(tmp_path / "tiny-tuned", seed=1)
    shutil.copytree(ROOT / "evals", ws / "evals")
    spec_path = ws / "evals" / "specs" / "instruction-ablation.yaml"
    spec = yaml.safe_load(spec_path.read_text())
    spec["models"] = [{"id": str(base), "role": "base"}, {"id": str(tuned), "role": "instruct"}]
    spec["limit"] = 3
    spec_path.write_text(yaml.safe_dump(spec))
    # A replication from yesterday: the probe is not due by cadence, only a contest can trigger it.
    path = ws / "claims" / "it-output-format-not-task.yaml"
    data = yaml.safe_load(path.read_text())
    yesterday = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0).isoformat()
    data["evidence"] = [
        {
            "id": "rep-earlier",
            "kind": "replication",
            "source": "rep-earlier",
            "stance": "supports",
            "judged_by": "rule:instruction-ablation",
            "judged_at": yesterday,
        }
    ]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    ledger = Workspace.at(ws).ledger_path

    off = invoke(
        "--workspace",
        str(ws),
        "run",
        "it-output-format-not-task",
        "softcot-frozen-backbone",
        "--no-replicate",
        "--json",
    )
    assert off.exit_code == 0 and all(c["replication"] is None for c in json.loads(off.stdout)["claims"])
    with sqlite3.connect(ledger) as conn:
        assert conn.execute("SELECT COUNT(*) FROM replication_jobs").fetchone() == (0,)

    on = invoke("--workspace", str(ws), "run", "it-output-format-not-task", "softcot-frozen-backbone", "--json")
    assert on.exit_code == 0, on.stdout + on.stderr
    summary = json.loads(on.stdout)
    reports = {c["claim_id"]: c for c in summary["claims"]}
    job = reports["it-output-format-not-task"]["replication"]
    assert job and job.startswith("rep-instruction-ablation-")
    assert reports["softcot-frozen-backbone"]["replication"] is None  # supported only, and no probe anyway
    with sqlite3.connect(ledger) as conn:
        row = conn.execute("SELECT claim_id, run_id, state FROM replication_jobs WHERE id = ?", (job,)).fetchone()
    assert row == ("it-output-format-not-task", summary["run_id"], "done")
    evidence = {e["id"]: e for e in _claim(ws, "it-output-format-not-task")["evidence"]}
    assert evidence[job]["kind"] == "replication" and evidence[job]["judged_by"] == "rule:instruction-ablation"


def test_ctrl_c_marks_the_run_interrupted_and_keeps_the_store_valid(ws, literature):
    asked: list[str] = []

    def stall(request: dict[str, Any]) -> ChatReply:
        reply = respond(request)
        if judged_pair(request) is not None:
            asked.append("judge")
            reply.delay_s = 60
        return reply

    with OpenAIServer(responder=stall) as llm:
        log = ws.parent / "run.log"  # a file, not a pipe: an unread pipe could fill and stall the child
        # As from a terminal: Ctrl-C's default action, even when this test runs in a background job, whose
        # children inherit SIGINT as ignored.
        run = subprocess.Popen(
            [sys.executable, "-m", "claimtrack", "run", "--all", "--no-replicate"],
            env=_subprocess_env(literature, llm, ws),
            stdout=subprocess.DEVNULL,
            stderr=log.open("w"),
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        deadline = time.monotonic() + 90
        while not asked and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.1)
        assert asked, log.read_text()  # the child is inside a judge call, which the server stalls
        run.send_signal(signal.SIGINT)
        try:
            assert run.wait(30) == 130  # click reports "Aborted!" with the shell's code for SIGINT
        except subprocess.TimeoutExpired:
            run.kill()
            pytest.fail(f"the run did not stop on Ctrl-C; its stderr:\n{log.read_text()[-3000:]}")
    Store(Workspace.at(ws)).load()
    with sqlite3.connect(Workspace.at(ws).ledger_path) as conn:
        assert conn.execute("SELECT outcome FROM runs").fetchone()[0] == "interrupted"


def test_endpoint_failure_leaves_pairs_unjudged_for_the_next_run(ws, literature, monkeypatch):
    monkeypatch.setenv("CLAIMTRACK_LLM_MAX_RETRIES", "0")
    with OpenAIServer(responder=lambda _request: ChatReply(status=500)) as broken:
        monkeypatch.setenv("OPENAI_BASE_URL", broken.env()["OPENAI_BASE_URL"])
        result = invoke("--workspace", str(ws), "run", "softcot-frozen-backbone", "--no-replicate", "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)["claims"][0]
    assert any("HTTP 500" in f for f in report["failures"]) and report["unjudged"] > 0
    assert "last_checked" not in _claim(ws, "softcot-frozen-backbone")
    with OpenAIServer(responder=respond) as working:
        monkeypatch.setenv("OPENAI_BASE_URL", working.env()["OPENAI_BASE_URL"])
        store_qualification(ws)
        again = invoke("--workspace", str(ws), "run", "softcot-frozen-backbone", "--no-replicate")
    assert again.exit_code == 0 and _claim(ws, "softcot-frozen-backbone")["status"] == "holding"


def test_ungrounded_judgement_is_a_judge_error_not_evidence(ws, literature, monkeypatch):
    def invent(request: dict[str, Any]) -> ChatReply:
        if "Propose arXiv" in request["messages"][0]["content"]:
            return ChatReply(content='{"queries": []}')
        return judgement("supersedes", "This paper proves the claim wrong beyond doubt.", 0.99)

    with OpenAIServer(responder=invent) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.env()["OPENAI_BASE_URL"])
        result = invoke("--workspace", str(ws), "run", "softcot-frozen-backbone", "--no-replicate", "--k", "2")
        judge_calls = len(server.chat.requests) - 1
    # two pairs, each asked by the judge, the confirmer and (nothing settled) the rechecker, twice (one retry)
    assert result.exit_code == 0 and judge_calls == 12
    assert "2 judge errors" in result.stdout and "status changes: 0" in result.stdout
    assert "the text given as quote is not in the paper" in result.stdout
    claim = _claim(ws, "softcot-frozen-backbone")
    assert claim["evidence"] == [] and claim["status"] == "untested"
    with sqlite3.connect(Workspace.at(ws).ledger_path) as conn:
        states = [r[0] for r in conn.execute("SELECT state FROM candidates ORDER BY rank LIMIT 2")]
    assert states == ["judge-error", "judge-error"]
