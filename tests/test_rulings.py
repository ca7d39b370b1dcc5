"""Decisions that stay made (issue 17), each scenario through the CLI against loopback servers: a person's
ruling binds to the (claim, paper) pair and survives re-judgement until lifted; one paper has one identity
whichever of its ids was seen first; the history is in order at one precision; review decisions are atomic.

Real discovery, the real full-text reader and passage ranking, the real openai client, real SQLite and YAML;
the model is scripted (it answers by the material it is shown and by the model it is asked as)."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from agent_helpers import citing, judgement, role_of, store_qualification
from conftest import FIXTURES, ROOT, claims_workspace, invoke
from loopback import ChatReply, Entry, Literature, OpenAIServer, user_text

from claimtrack.agent.prompts import load_prompt
from claimtrack.discovery.http import forget_down_hosts
from claimtrack.workspace import Workspace

CLAIM = "it-output-format-not-task"
ANCHOR = "2305.11383"
HTML = (FIXTURES / "fulltext" / "2406.01234v2.html").read_bytes()
RESULT = "tuning on simplified task definitions lost 7.8 exact-match points on held-out tasks"
SMALL_ONLY = "find that the conclusion holds for small models but not for large ones"
ABSTRACT = (
    "Earlier work found that instruction-tuned T5 models score about as well when tuned on simplified or misleading"
    f" instructions, and concluded that instruction tuning mostly teaches the output format. We repeat that study"
    f" across model scale and {SMALL_ONLY}."
)
TITLE = "Instruction Semantics Matter at Scale"
P = Entry("2506.01234v1", TITLE, ABSTRACT, "2025-06-03")
SUPPORT_TITLE = "Output format is what instruction tuning teaches"
SUPPORT_QUOTE = "Instruction tuning teaches the output format and little of the task across all 30 tasks we tested"
SUPPORTER = Entry(
    "2506.07777v1",
    SUPPORT_TITLE,
    f"We revisit instruction tuning with misleading instructions. {SUPPORT_QUOTE}. Our code is public.",
    "2025-06-20",
)
DOI = "10.1234/x"
DOI_TITLE = "Instruction tuning beyond the output format"
DOI_QUOTE = "Models tuned on misleading instructions lose 11 points of accuracy on every held-out task"
DOI_ABSTRACT = f"We study instruction tuning with misleading task instructions. {DOI_QUOTE}. The gap grows with scale."


def _variant(request: dict[str, Any]) -> int:
    """Which variant of agents/recheck.txt a request was sent with (by the order it lists the verdicts in)."""
    recheck = load_prompt(Workspace.at(ROOT), "recheck")
    orders = [re.search(r'"stance": "([a-z|]+)"', recheck.variant(k).system)[1] for k in range(recheck.variants)]  # type: ignore[index]
    return orders.index(re.search(r'"stance": "([a-z|]+)"', request["messages"][0]["content"])[1])  # type: ignore[index]


class Scripted:
    """The model: what each paper says, by what it is shown (full text or abstract), and which models confirm
    it differently. `said[title] = (stance, quote-when-abstract, quote-when-full-text, confidence)`."""

    def __init__(self) -> None:
        self.said: dict[str, tuple[str, str, str, float]] = {
            TITLE: ("relaxes", SMALL_ONLY, RESULT, 0.8),
            SUPPORT_TITLE: ("supports", SUPPORT_QUOTE, SUPPORT_QUOTE, 0.85),
            DOI_TITLE: ("contradicts", DOI_QUOTE, DOI_QUOTE, 0.8),
        }
        # (model, title) -> the stance that model confirms with; its rechecks then alternate, the judge's first
        self.confirm_as: dict[tuple[str, str], str] = {}
        self.asked: list[tuple[str, str, str]] = []  # (role, model, title) of each judge and confirm request

    def __call__(self, request: dict[str, Any]) -> ChatReply:
        role = role_of(request)
        if role == "plan":
            return ChatReply(content=json.dumps({"queries": ["instruction semantics scale"]}), tokens_in=5)
        text = user_text(request)
        title_line = re.search(r"^\[1\] (.*)$", text, re.MULTILINE)
        assert title_line is not None, text
        title = title_line[1]
        self.asked.append((role, request["model"], title))
        if title not in self.said:
            return judgement("unrelated", confidence=0.95)
        stance, abstract_quote, full_quote, confidence = self.said[title]
        quote = full_quote if "\nFull text" in text else abstract_quote
        other = self.confirm_as.get((request["model"], title))
        if role == "confirm" and other is not None:
            stance = other
        if role == "recheck" and other is not None:  # torn between the two readings: its rechecks alternate
            stance = stance if _variant(request) % 2 == 0 else other
        if stance == "unrelated":
            return judgement("unrelated", confidence=0.9)
        return citing(request, stance, quote, confidence, scope_note="models below 3B parameters")


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    return claims_workspace(tmp_path / "ws", CLAIM)


@pytest.fixture
def model() -> Scripted:
    return Scripted()


@pytest.fixture
def servers(monkeypatch: pytest.MonkeyPatch, model: Scripted) -> Iterator[tuple[Literature, OpenAIServer]]:
    forget_down_hosts()  # a host an earlier test's server left "down" is this test's server now
    html = {P.arxiv_id: HTML}
    with (
        Literature([P], s2={f"arXiv:{ANCHOR}": []}, openalex={ANCHOR: []}, html=html) as literature,
        OpenAIServer(responder=model, models=("test-model", "confirm-model", "other-judge")) as llm,
    ):
        for key, value in {**literature.env(), **llm.env()}.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        monkeypatch.setenv("CLAIMTRACK_FULLTEXT_BUDGET_TOKENS", "300")
        monkeypatch.setenv("CLAIMTRACK_HTTP_CACHE_TTL_S", "0")  # each run asks the sources again
        monkeypatch.setenv("CLAIMTRACK_HTTP_BACKOFF_S", "0.01")
        yield literature, llm


def _run(ws: Path, *extra: str) -> dict[str, Any]:
    store_qualification(ws)  # the scripted judge as configured now (models, prompts), measured
    result = invoke("--workspace", str(ws), "run", CLAIM, "--no-replicate", "--json", *extra)
    assert result.exit_code == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def _claim(ws: Path) -> dict[str, Any]:
    return yaml.safe_load((ws / "claims" / f"{CLAIM}.yaml").read_text())


def _statuses(ws: Path) -> list[str]:
    return [h["to"] for h in _claim(ws)["history"] if "to" in h]


def _verdict(ws: Path, status: str = "holding") -> None:
    result = invoke(
        "--workspace", str(ws), "verdict", CLAIM, "--status", status, "--because", "it tests another setting",
        "--by", "ana",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr


def _valid(ws: Path) -> None:
    result = invoke("--workspace", str(ws), "validate")
    assert result.exit_code == 0, result.stdout + result.stderr


# --- 1. a verdict holds when the paper is judged again ----------------------------------------------------------


def test_a_verdict_holds_when_the_overruled_paper_is_read_in_full_later(ws, servers, model):
    """Scenario 1: a --no-fulltext run relaxes the claim on P; a person says holding; the next plain run reads
    P's full text (a new judgement, a new evidence id): the verdict stands, and `show` says why."""
    _run(ws, "--no-fulltext")
    assert _statuses(ws) == ["relaxed"]
    _verdict(ws)
    asked = len(model.asked)
    _run(ws)
    assert ("judge", "test-model", TITLE) in model.asked[asked:]  # P was judged again, on its full text
    claim = _claim(ws)
    assert any(e.get("quote_source") == "fulltext" and e["source"] == "arXiv:2506.01234" for e in claim["evidence"])
    assert _statuses(ws) == ["relaxed", "holding"]
    shown = invoke("--workspace", str(ws), "show", CLAIM)
    assert "Rulings (1;" in shown.stdout and "arXiv:2506.01234: overruled by a verdict by person:ana" in shown.stdout
    rulings = json.loads(invoke("--workspace", str(ws), "show", CLAIM, "--json").stdout)["rulings"]
    assert [(r["paper"], r["ruling"], r["by"]) for r in rulings] == [("arXiv:2506.01234", "overruled", "person:ana")]
    _valid(ws)


def test_a_verdict_survives_ten_runs_in_which_the_overruled_papers_material_changes(ws, servers, model, monkeypatch):
    """Ten runs after the verdict, each judging P on new material (its full text, new versions, edited prompt
    files, another confirming or judging model): every one judges P again and none moves the claim. Lifting
    the ruling lets P's reading that counts decide again."""
    literature, _ = servers
    _run(ws, "--no-fulltext")
    _verdict(ws)
    shutil.copytree(ROOT / "agents", ws / "agents")

    def new_version(n: int) -> None:
        listed = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # inside the window the run searches
        literature.arxiv.entries[:] = [Entry(f"2506.01234v{n}", TITLE, ABSTRACT, listed)]
        literature.fulltext.html[f"2506.01234v{n}"] = HTML

    def edit_prompt(name: str, n: int) -> None:
        path = ws / "agents" / f"{name}.txt"
        system, user = path.read_text().split("=== USER ===", 1)
        path.write_text(f"{system.rstrip()}\nEdit {n}: be precise.\n=== USER ==={user}")

    changes = [
        lambda: None,  # the full text is read (it was not with --no-fulltext)
        lambda: new_version(2),
        lambda: edit_prompt("judge", 1),
        lambda: monkeypatch.setenv("CLAIMTRACK_CONFIRM_MODEL", "confirm-model"),
        lambda: new_version(3),
        lambda: edit_prompt("confirm", 2),
        lambda: monkeypatch.setenv("CLAIMTRACK_LLM_MODEL", "other-judge"),
        lambda: edit_prompt("judge", 3),
        lambda: new_version(4),
        lambda: monkeypatch.delenv("CLAIMTRACK_CONFIRM_MODEL"),
    ]
    for n, change in enumerate(changes):
        change()
        asked = len(model.asked)
        _run(ws)
        assert any(title == TITLE for _, _, title in model.asked[asked:]), f"run {n}: P was not judged again"
        assert _statuses(ws) == ["relaxed", "holding"]
    _valid(ws)
    lifted = invoke(
        "--workspace", str(ws), "verdict", CLAIM, "--lift", "arXiv:2506.01234v4", "--because", "read it again",
        "--by", "ana",
    )  # fmt: skip
    assert lifted.exit_code == 0, lifted.stderr
    assert (
        "lifted the ruling (overruled) on arXiv:2506.01234" in lifted.stdout and "holding -> relaxed" in lifted.stdout
    )
    claim = _claim(ws)
    assert claim["history"][-2]["event"] == "lift" and claim["history"][-1]["by"] == "person:ana"
    log = invoke("--workspace", str(ws), "log", CLAIM).stdout
    assert "lifted the ruling (overruled) on arXiv:2506.01234  by person:ana" in log
    again = invoke("--workspace", str(ws), "verdict", CLAIM, "--lift", "arXiv:2506.01234", "--because", "x")
    assert again.exit_code == 2 and again.stderr.startswith("error: --lift: no ruling on arXiv:2506.01234")
    _valid(ws)


# --- 2. a review reject holds -----------------------------------------------------------------------------------


def test_a_review_reject_holds_when_another_model_confirms_the_same_judgement(ws, servers, model, monkeypatch):
    """Scenario 2: the confirmation disagrees, the pair waits, a person rejects it; with another confirming
    model (as docs/agent.md recommends) the next run confirms the same cached judgement: the claim stays."""
    model.confirm_as[("test-model", TITLE)] = "supports"
    totals = _run(ws, "--no-fulltext")["totals"]
    assert totals["pairs_to_review"] == 1 and _statuses(ws) == []
    [item] = json.loads(invoke("--workspace", str(ws), "review", "--json").stdout)
    rejected = invoke("--workspace", str(ws), "review", "reject", item["id"], "--by", "bo", "--because", "off scope")
    assert rejected.exit_code == 0, rejected.stderr
    monkeypatch.setenv("CLAIMTRACK_CONFIRM_MODEL", "confirm-model")
    asked = len(model.asked)
    totals = _run(ws, "--no-fulltext")["totals"]
    assert ("confirm", "confirm-model", TITLE) in model.asked[asked:] and totals["pairs_confirmed"] == 1
    assert _statuses(ws) == [] and _claim(ws)["status"] == "untested"
    listing = invoke("--workspace", str(ws), "review", CLAIM).stdout
    assert f"arXiv:2506.01234: rejected (review {item['id']}) by person:bo" in listing
    report = json.loads(invoke("--workspace", str(ws), "report", "status", "--format", "json").stdout)
    assert [r["ruling"] for r in report["claims"][CLAIM]["rulings"]] == ["rejected"]
    lifted = invoke("--workspace", str(ws), "verdict", CLAIM, "--lift", "arXiv:2506.01234", "--because", "re-read")
    assert lifted.exit_code == 0, lifted.stderr
    assert "lifted the ruling (rejected)" in lifted.stdout and "untested -> relaxed" in lifted.stdout
    assert [i["id"] for i in json.loads(invoke("--workspace", str(ws), "review", "--json").stdout)] == [item["id"]]
    _valid(ws)  # a reject that left no evidence of its paper, and its lift, refer to what the claim knows


# --- 3. one paper, one identity ---------------------------------------------------------------------------------


def _citing_by_doi() -> dict[str, list[dict[str, Any]]]:
    """Semantic Scholar lists the citing paper by its DOI only (no arXiv id yet)."""
    paper = {
        "paperId": "s2-doi-only",
        "title": DOI_TITLE,
        "abstract": DOI_ABSTRACT,
        "externalIds": {"DOI": DOI},
        "publicationDate": "2025-08-01",
        "year": 2025,
        "authors": [{"name": "D. Oi"}],
    }
    return {f"arXiv:{ANCHOR}": [{"citingPaper": paper, "contexts": [], "intents": [], "isInfluential": False}]}


@pytest.mark.parametrize("disputed", [False, True], ids=["confirmed", "disputed"])
def test_a_paper_seen_by_doi_and_later_by_arxiv_id_is_one_paper(ws, servers, model, disputed):
    """Scenario 3: the paper first seen by DOI is listed by arXiv later with that DOI. It is one paper: one
    evidence entry (rewritten to the arXiv id, the history saying so), counted once, and one review item."""
    literature, _ = servers
    literature.arxiv.entries[:] = [SUPPORTER]
    literature.s2.citations.update(_citing_by_doi())
    if disputed:
        model.confirm_as[("test-model", DOI_TITLE)] = "supports"
    _run(ws, "--no-fulltext")
    before = {e["source"] for e in _claim(ws)["evidence"]}
    # one support against one contest (measured; disputed: waiting for review): split, so nothing moves
    assert ("doi:10.1234/x" in before) != disputed and _statuses(ws) == [] and _claim(ws)["contested"]
    listed = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # new on arXiv since the last check
    literature.arxiv.entries.append(Entry("2512.00009v1", DOI_TITLE, DOI_ABSTRACT, listed, doi=DOI))
    _run(ws, "--no-fulltext")
    claim = _claim(ws)
    sources = [e["source"] for e in claim["evidence"]]
    assert "doi:10.1234/x" not in sources
    assert sources.count("arXiv:2512.00009") == (0 if disputed else 1)  # one evidence entry
    # counted once: still one support against one contest (twice, it would outweigh the support)
    balance = "0 contests (0.00), 1 waiting for review" if disputed else "1 contests (1.00)"
    assert _statuses(ws) == [] and claim["contested"].startswith(f"1 supports (1.00), {balance}")
    if not disputed:
        [merge] = [h for h in claim["history"] if h.get("event") == "paper"]
        assert (merge["merged"], merge["into"]) == ("doi:10.1234/x", "arXiv:2512.00009")
        log = invoke("--workspace", str(ws), "log", CLAIM).stdout
        assert "paper doi:10.1234/x is arXiv:2512.00009" in log
    queue = json.loads(invoke("--workspace", str(ws), "review", "--json").stdout)
    assert [(i["paper"], i["title"]) for i in queue] == ([("arXiv:2512.00009", DOI_TITLE)] if disputed else [])
    with sqlite3.connect(Workspace.at(ws).ledger_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM reviews").fetchone()[0] == int(disputed)
        assert conn.execute("SELECT paper_id FROM paper_aliases").fetchall() == [("2512.00009",)]
        assert not conn.execute("SELECT 1 FROM judgements WHERE paper_id LIKE 'doi:%'").fetchall()
    _valid(ws)


# --- 4. history in order ----------------------------------------------------------------------------------------


def test_anchors_set_verdict_and_run_in_one_second_keep_the_history_in_order(ws, servers):
    """Scenario 4: an anchor decision, a verdict and a run within one second: every entry is dated to the
    second and none before the one above it; `validate` and `doctor` agree that the store is valid."""
    literature, _ = servers
    literature.arxiv.entries.append(
        Entry(
            f"{ANCHOR}v1",
            "Do Models Really Learn to Follow Instructions?",
            "We study instruction tuning.",
            "2023-05-19",
        )
    )
    while datetime.now(UTC).microsecond > 300_000:  # start early in a second, so all three land in it
        time.sleep(0.01)
    anchored = invoke(
        "--workspace", str(ws), "anchors", "set", CLAIM, "--arxiv", ANCHOR, "--because", "checked the abstract",
        "--by", "ana",
    )  # fmt: skip
    assert anchored.exit_code == 0, anchored.stdout + anchored.stderr
    _verdict(ws, "holding")
    _run(ws, "--no-fulltext")
    history = _claim(ws)["history"]
    stamps = [h["at"] for h in history]
    assert [h.get("event", "status") for h in history] == ["anchor", "status", "status"]
    assert [h.get("to") for h in history] == [None, "holding", "relaxed"]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", s) for s in stamps), stamps
    assert stamps == sorted(stamps)
    _valid(ws)
    doctor = invoke("--workspace", str(ws), "doctor")
    assert re.search(r"ok +store +1 claims, 0 lines, valid", doctor.stdout), doctor.stdout


# --- 5. review decisions are atomic -----------------------------------------------------------------------------


def _queued(ws: Path, model: Scripted) -> str:
    model.confirm_as[("test-model", TITLE)] = "supports"
    _run(ws, "--no-fulltext")
    [item] = json.loads(invoke("--workspace", str(ws), "review", "--json").stdout)
    return item["id"]


def test_a_decision_cut_between_its_two_writes_is_reconciled_and_a_second_one_refused(ws, servers, model):
    """Scenario 5: A's accept is written to the claim, then the process is killed (-9) before the ledger row is
    closed. B's reject must not pass: the next open sets the ledger from the claim; B gets one line, exit 1."""
    ident = _queued(ws, model)
    # The second reconcile of a decision runs after the claim is written and closes the ledger row: die there.
    killed_between_writes = (
        "import os, signal, sys; from claimtrack import review; real = review.reconcile; calls = [];"
        " review.reconcile = lambda ledger, ws: (calls.append(1), len(calls) == 2 and os.kill(os.getpid(),"
        " signal.SIGKILL), real(ledger, ws))[-1];"
        " from claimtrack.cli import app; sys.argv = ['claimtrack'] + sys.argv[1:]; app(prog_name='claimtrack')"
    )
    args = ["--workspace", str(ws), "review", "accept", ident, "--by", "a"]
    proc = subprocess.run([sys.executable, "-c", killed_between_writes, *args], capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr
    with sqlite3.connect(Workspace.at(ws).ledger_path) as conn:
        assert conn.execute("SELECT state FROM reviews WHERE id = ?", (ident,)).fetchone()[0] == "open"
    accepted = _claim(ws)
    assert _statuses(ws) == ["relaxed"]  # A's accept moved the claim

    rejected = invoke("--workspace", str(ws), "review", "reject", ident, "--by", "b")
    assert rejected.exit_code == 1
    assert rejected.stderr.strip() == f"error: {ident} was already accepted by person:a; nothing changed"
    assert _claim(ws) == accepted
    with sqlite3.connect(Workspace.at(ws).ledger_path) as conn:
        row = conn.execute("SELECT state, decided_by FROM reviews WHERE id = ?", (ident,)).fetchone()
    assert row == ("accepted", "person:a")
    _valid(ws)


def test_one_item_decided_twice_at_once_one_wins_the_other_gets_one_line(ws, servers, model):
    """Scenario 5: two people decide one item at the same moment (two processes): one decision is recorded,
    the other exits 1 with one line and changes nothing."""
    ident = _queued(ws, model)
    code = (
        "import sys; from claimtrack.cli import app; sys.argv = ['claimtrack'] + sys.argv[1:];"
        " app(prog_name='claimtrack')"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, "--workspace", str(ws), "review", action, ident, "--by", who],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for action, who in (("accept", "a"), ("reject", "b"))
    ]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 1], results
    [(_, _, err)] = [r for r in results if r[0] == 1]
    assert len(err.strip().splitlines()) == 1 and "was already" in err and "nothing changed" in err
    decisions = [h for h in _claim(ws)["history"] if h.get("event") == "review"]
    assert len(decisions) == 1
    with sqlite3.connect(Workspace.at(ws).ledger_path) as conn:
        state, by = conn.execute("SELECT state, decided_by FROM reviews WHERE id = ?", (ident,)).fetchone()
    assert (state[:-2], by) == (decisions[0]["decision"], decisions[0]["by"])
    _valid(ws)


# --- 6. which reading counts ------------------------------------------------------------------------------------


def test_an_accepted_reading_is_not_shadowed_by_a_newer_credible_judgement(ws, servers, model, monkeypatch):
    """Scenario 6: a person accepts P's disputed abstract reading (relaxes); P is judged again on another prompt
    and now supports, confirmed: the person's accept is the reading that counts, not the newer judgement."""
    ident = _queued(ws, model)
    accepted = invoke("--workspace", str(ws), "review", "accept", ident, "--by", "ana")
    assert accepted.exit_code == 0 and "untested -> relaxed" in accepted.stdout
    model.said[TITLE] = ("supports", SMALL_ONLY, RESULT, 0.9)
    model.confirm_as.clear()
    shutil.copytree(ROOT / "agents", ws / "agents")
    (ws / "agents" / "judge.txt").write_text((ws / "agents" / "judge.txt").read_text().replace("\n", "\n\n", 1))
    asked = len(model.asked)
    _run(ws, "--no-fulltext")
    assert ("judge", "test-model", TITLE) in model.asked[asked:]
    assert [e["stance"] for e in _claim(ws)["evidence"]] == ["relaxes", "supports"]
    assert _statuses(ws) == ["relaxed"]


def test_a_later_full_text_reading_retracts_an_earlier_confirmed_contest_from_the_abstract(ws, servers, model):
    """Scenario 6: P's abstract gives a confirmed contest (relaxed); its full text, read later, finds it
    unrelated: the reading on the more complete material counts, and the claim no longer rests on P."""
    literature, _ = servers
    _run(ws, "--no-fulltext")
    assert _statuses(ws) == ["relaxed"]  # the abstract's confirmed contest
    listed = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # a supporting paper, new since the last check
    literature.arxiv.entries.append(replace(SUPPORTER, published=listed))
    model.said[TITLE] = ("relaxes", SMALL_ONLY, RESULT, 0.8)

    def unrelated_on_full_text(request: dict[str, Any]) -> ChatReply:
        if role_of(request) != "plan" and "\nFull text" in user_text(request) and f"[1] {TITLE}" in user_text(request):
            return judgement("unrelated", confidence=0.9)
        return Scripted.__call__(model, request)

    _, llm = servers
    llm.chat.responder = unrelated_on_full_text
    _run(ws)
    claim = _claim(ws)
    readings = [(e["stance"], e.get("material")) for e in claim["evidence"] if e["source"] == "arXiv:2506.01234"]
    assert readings == [("relaxes", "abstract"), ("unrelated", "fulltext")]
    assert _statuses(ws) == ["relaxed", "holding"]
    assert "1 other readings of papers judged again, not weighed" in claim["history"][-1]["rationale"]
    _valid(ws)


# --- old files --------------------------------------------------------------------------------------------------


def test_a_verdict_in_an_old_file_overrules_the_papers_its_evidence_ids_name(ws, servers, model):
    """A committed claim file whose verdict lists evidence ids keeps working: each id is mapped to its paper,
    and the paper judged again under a new id stays overruled."""
    _run(ws, "--no-fulltext")
    data = _claim(ws)
    old_id = data["evidence"][0]["id"]
    data["history"].append(
        {
            "from": "relaxed", "to": "holding", "at": "2099-01-01T00:00:00Z", "by": "person:old",
            "rationale": "an old verdict", "pinned": True, "overrules": [old_id],
        }
    )  # fmt: skip
    data["status"] = "holding"
    (ws / "claims" / f"{CLAIM}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    _run(ws)  # full text read: a new judgement, a new evidence id
    assert len(_claim(ws)["evidence"]) == 2 and _statuses(ws) == ["relaxed", "holding"]
