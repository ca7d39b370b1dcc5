"""Weighing by measurement, through the CLI: `judge qualify` measures the judge on a labelled set; an unqualified
judge's judgements wait for review; a qualified judge's move claims by what they are measured to be worth; a
split balance stays put, contested; a first look sets nothing aside on less evidence than counting takes; a
judge that answers contradicts for everything moves nothing. Real arxiv/openai clients against loopback servers."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from agent_helpers import (
    QUALIFY_SET,
    answer_truly,
    citing,
    judgement,
    paper_title,
    qualify_labels,
    role_of,
    store_qualification,
)
from conftest import ROOT, invoke
from loopback import ChatReply, Entry, Literature, OpenAIServer, user_text

from claimtrack.agent.weighing import (
    SPLIT,
    Item,
    Measure,
    choose,
    likelihoods,
    outcome_probabilities,
)
from claimtrack.models import Stance, Status
from claimtrack.workspace import Workspace

CLAIM = "finetuning-makes-cot-performative"
ANCHOR = "2411.15382"
RELAXING = "fine-tuning reduces chain-of-thought faithfulness only for models below 7B parameters"
SUPPORTING = "fine-tuning on math data makes chain-of-thought less faithful in every model we tested"
RELAX = Entry(
    "2508.00002v1",
    "Fine-tuning and chain-of-thought faithfulness revisited",
    f"Early termination and filler tests on 12 models show that {RELAXING}. Larger models keep functional reasoning.",
    "2025-08-03",
)
SUPPORT = Entry(
    "2508.00003v1",
    "Chain-of-thought faithfulness after fine-tuning",
    f"We measure chain-of-thought faithfulness before and after fine-tuning. We find that {SUPPORTING}.",
    "2025-08-05",
)
OTHER = Entry(
    "2508.00004v1",
    "Chain-of-thought faithfulness in vision models",
    "We study chain-of-thought faithfulness for image captioning systems and report a new benchmark of captions.",
    "2025-08-07",
)
TRUTH = {RELAX.title: ("relaxes", RELAXING), SUPPORT.title: ("supports", SUPPORTING), OTHER.title: ("unrelated", "")}
LABELLED = qualify_labels()
Responder = Callable[[dict[str, Any]], ChatReply]


def planner(request: dict[str, Any]) -> ChatReply | None:
    if role_of(request) == "plan":
        return ChatReply(content=json.dumps({"queries": ["chain-of-thought faithfulness"]}), tokens_in=50)
    return None


def truthful(script: dict[str, tuple[str, str]] = TRUTH) -> Responder:
    """A judge that answers every role truly: the labelled set's pairs by their label, the run's by `script`."""

    def respond(request: dict[str, Any]) -> ChatReply:
        if (plan := planner(request)) is not None:
            return plan
        title = paper_title(request)
        if title in LABELLED:
            return answer_truly(request, LABELLED[title])
        stance, quote = script.get(title, ("unrelated", ""))
        return citing(request, stance, quote) if quote else judgement(stance, confidence=0.9)

    return respond


def always_contradicts(request: dict[str, Any]) -> ChatReply:
    """A judge that answers contradicts for every pair, confidently, citing a real sentence of the paper."""
    if (plan := planner(request)) is not None:
        return plan
    numbers = [int(n) for n in re.findall(r"^\[(\d+)\] \S+ \S+ \S+ \S+", user_text(request), re.MULTILINE)]
    return judgement("contradicts", confidence=0.95, sentences=[max(numbers)])


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "claims").mkdir(parents=True)
    shutil.copy(ROOT / "claims" / f"{CLAIM}.yaml", root / "claims")
    return root


@pytest.fixture
def literature(monkeypatch: pytest.MonkeyPatch) -> Iterator[Literature]:
    with Literature([RELAX, SUPPORT, OTHER], s2={f"arXiv:{ANCHOR}": []}, openalex={ANCHOR: []}) as server:
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        yield server


def serve(monkeypatch: pytest.MonkeyPatch, responder: Responder) -> OpenAIServer:
    server = OpenAIServer(responder=responder)
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    return server


def run(ws: Path, *extra: str) -> Any:
    return invoke("--workspace", str(ws), "run", CLAIM, "--no-replicate", *extra)


def claim(ws: Path) -> dict[str, Any]:
    return yaml.safe_load((ws / "claims" / f"{CLAIM}.yaml").read_text())


def qualify(ws: Path, *extra: str) -> Any:
    return invoke("--workspace", str(ws), "judge", "qualify", "--data", str(QUALIFY_SET), *extra)


# --- through the CLI ------------------------------------------------------------------------------------------


def test_an_unqualified_judges_contest_waits_for_review_and_the_run_says_how_to_qualify_it(ws, literature, monkeypatch):
    with serve(monkeypatch, truthful({RELAX.title: TRUTH[RELAX.title]})):
        result = run(ws)
        doctor = invoke("--workspace", str(ws), "doctor")
        report = invoke("--workspace", str(ws), "report", "status", "--format", "md")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "judge not qualified (never measured)" in result.stdout and "claimtrack judge qualify" in result.stdout
    assert "status changes: 0" in result.stdout and "0 confirmed, 1 waiting for review" in result.stdout
    assert claim(ws)["status"] == "untested" and claim(ws).get("evidence", []) == []
    listing = invoke("--workspace", str(ws), "review", "--json")
    [item] = json.loads(listing.stdout)
    assert item["paper"] == f"arXiv:{RELAX.base_id}" and item["reason"] == "unqualified"
    assert item["judge"]["stance"] == "relaxes"
    assert "the judge is not qualified" in invoke("--workspace", str(ws), "review").stdout
    assert "judge not qualified" in doctor.stdout and "claimtrack judge qualify" in doctor.stdout
    assert "not qualified" in report.stdout and "claimtrack judge qualify" in report.stdout
    with sqlite3.connect(Workspace.at(ws).ledger_path) as conn:
        assert conn.execute("SELECT judge_standing FROM runs").fetchone()[0] == "not qualified"
    accepted = invoke("--workspace", str(ws), "review", "accept", item["id"], "--by", "ana")
    assert accepted.exit_code == 0 and "untested -> relaxed" in accepted.stdout  # a person's accept works as ever


def test_a_qualified_judges_confirmed_relaxes_moves_the_claim(ws, literature, monkeypatch):
    with serve(monkeypatch, truthful({RELAX.title: TRUTH[RELAX.title]})) as server:
        qualified = qualify(ws)
        assert qualified.exit_code == 0, qualified.stdout + qualified.stderr
        asked = len(server.chat.requests)
        assert asked == 4 * 25  # judge, confirm and the recheck in two variants on each of the 25 pairs
        again = qualify(ws, "--json")  # the same requests a second time: all from the cache
        assert again.exit_code == 0 and len(server.chat.requests) == asked
        result = run(ws)
    record = json.loads(again.stdout)
    assert record["qualified"] is True and record["n"] == 25 and record["labels"]["relaxes"] == 5
    assert record["roles"]["judge"]["macro_f1"] == 1.0 and record["roles"]["confirm"]["confusion"][1][1] == 5
    assert record["kappa"]["confirm/judge"] == 1.0 and record["tokens_in"] == 100 * 100
    assert record["roles"]["recheck"]["calls"] == 50 and record["kappa"]["recheck/recheck"] == 1.0
    assert "qualified: macro-F1 judge 1.00" in qualified.stdout
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "judge qualified (q-" in result.stdout
    moved = claim(ws)
    assert moved["status"] == "relaxed" and moved.get("contested") is None
    [evidence] = moved["evidence"]
    assert evidence["source"] == f"arXiv:{RELAX.base_id}" and evidence["stance"] == "relaxes"
    assert evidence["probability"]["relaxes"] > 0.99 and evidence["confirmation"]["stance"] == "relaxes"
    assert "P(relaxed 1.00)" in moved["history"][-1]["rationale"]


def test_a_support_against_a_relaxes_stays_put_and_is_contested(ws, literature, monkeypatch):
    """The knife-edge: one support and one relaxes, both measured and agreed. The status in force stays (here
    untested) and the claim is marked contested in show, status, the report and the research prompt."""
    with serve(monkeypatch, truthful()):
        store_qualification(ws)
        result = run(ws)
    assert result.exit_code == 0, result.stdout + result.stderr
    after = claim(ws)
    assert after["status"] == "untested" and after["history"] == []
    assert len(after["evidence"]) == 2 and after["contested"].startswith("1 supports (1.00), 1 contests (1.00)")
    assert f"{SPLIT} 1.00" in after["contested"]
    assert "contested" in result.stdout
    assert "untested, contested" in invoke("--workspace", str(ws), "show", CLAIM).stdout
    assert "untested (contested)" in invoke("--workspace", str(ws), "status").stdout
    assert json.loads(invoke("--workspace", str(ws), "status", "--json").stdout)[0]["contested"]
    assert "contested" in invoke("--workspace", str(ws), "report", "status", "--format", "md").stdout
    assert "<b>Contested</b>" in invoke("--workspace", str(ws), "report", "status", "--format", "html").stdout
    (ws / "claims" / "lines").mkdir()
    (ws / "claims" / "lines" / "faithfulness.yaml").write_text(
        yaml.safe_dump({"id": "faithfulness", "question": "Is reasoning faithful?", "framing": "-", "claims": [CLAIM]})
    )
    prompt = invoke("--workspace", str(ws), "report", "prompt", "--line", "faithfulness")
    assert prompt.exit_code == 0 and "Contested (the evidence is split; the status stays)" in prompt.stdout


def test_a_first_look_cannot_set_a_paper_aside_on_less_than_counting_it_takes(ws, literature, monkeypatch):
    """The look says unrelated, sure of it (at 0.95: the old rule set the pair aside there); the full judgement
    and the confirmation say relaxes. The look alone is not enough to set the pair aside: it is read in full."""
    result_text = (
        b"Across all runs, models below 7B parameters lost faithfulness after fine-tuning and larger ones kept it."
    )
    html = b"<html><body><section><h2>3 Results</h2><p>" + result_text + b"</p></section></body></html>"
    literature.fulltext.html[RELAX.arxiv_id] = html
    truth = truthful({RELAX.title: TRUTH[RELAX.title]})

    def unsure_look(request: dict[str, Any]) -> ChatReply:
        text = user_text(request)
        if role_of(request) == "judge" and RELAX.title in text and "Full text" not in text:
            return judgement("unrelated", confidence=0.95)
        return truth(request)

    with serve(monkeypatch, unsure_look) as server:
        store_qualification(ws)
        result = run(ws, "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    totals = json.loads(result.stdout)["totals"]
    asked = [(role_of(r), "Full text" in user_text(r)) for r in server.chat.requests if RELAX.title in user_text(r)]
    assert asked[:2] == [("judge", False), ("confirm", False)]  # the look, put to the confirmer: it disagrees
    assert ("judge", True) in asked and totals["pairs_read_in_full"] >= 1
    assert claim(ws)["status"] == "relaxed", result.stdout


def test_an_always_contradicting_judge_moves_nothing_qualified_or_not(ws, literature, monkeypatch):
    with serve(monkeypatch, always_contradicts):
        unqualified = run(ws)
        assert unqualified.exit_code == 0 and claim(ws)["status"] == "untested"
        measured = qualify(ws)
        assert measured.exit_code == 1
        assert "not qualified: macro-F1 below the floor of 0.6: judge 0.07" in measured.stdout
        again = run(ws)
    assert again.exit_code == 0 and "status changes: 0" in again.stdout
    assert "below the floor" in again.stdout
    after = claim(ws)
    assert after["status"] == "untested" and after.get("evidence", []) == []
    waiting = json.loads(invoke("--workspace", str(ws), "review", "--json").stdout)
    assert {i["paper"] for i in waiting} == {f"arXiv:{e.base_id}" for e in (RELAX, SUPPORT, OTHER)}
    assert all(i["judge"]["stance"] == "contradicts" for i in waiting)


def test_trust_judge_counts_an_unqualified_judge_as_before_and_the_run_says_so(ws, literature, monkeypatch):
    with serve(monkeypatch, truthful({RELAX.title: TRUTH[RELAX.title]})):
        result = run(ws, "--trust-judge")
        report = invoke("--workspace", str(ws), "report", "status", "--format", "md")
    assert result.exit_code == 0 and claim(ws)["status"] == "relaxed"
    assert "trusted by override" in result.stdout and "trusted" in report.stdout
    assert "probability" not in claim(ws)["evidence"][0]  # counted by its confidence, as before measurement
    with sqlite3.connect(Workspace.at(ws).ledger_path) as conn:
        command, standing = conn.execute("SELECT command, judge_standing FROM runs").fetchone()
    assert "--trust-judge" in command and standing == "trusted (not qualified)"


def test_judge_qualify_bad_input_is_one_line_exit_2(ws, tmp_path, monkeypatch):
    with serve(monkeypatch, truthful()):
        bad = tmp_path / "bad.jsonl"
        lines = QUALIFY_SET.read_text().splitlines()
        row = json.loads(lines[1])
        row["label"] = "maybe"
        bad.write_text("\n".join([lines[0], json.dumps(row)]) + "\n")
        result = invoke("--workspace", str(ws), "judge", "qualify", "--data", str(bad))
        assert result.exit_code == 2 and result.stderr.startswith(f"error: {bad}:2: label: ")
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
        bad.write_text("{not json\n")
        assert (
            "bad.jsonl:1: line: not a JSON object"
            in invoke("--workspace", str(ws), "judge", "qualify", "--data", str(bad)).stderr
        )
        missing = invoke("--workspace", str(ws), "judge", "qualify", "--data", str(tmp_path / "none.jsonl"))
        assert missing.exit_code == 2 and "none.jsonl: not found" in missing.stderr
    monkeypatch.delenv("OPENAI_BASE_URL")
    unset = invoke("--workspace", str(ws), "judge", "qualify", "--data", str(QUALIFY_SET))
    assert unset.exit_code == 2 and "no LLM endpoint configured" in unset.stderr


def test_too_few_pairs_do_not_qualify(ws, monkeypatch):
    with serve(monkeypatch, truthful()):
        result = qualify(ws, "--limit", "10")
    assert result.exit_code == 1 and "not qualified: only 10 pairs measured; the floor is 25" in result.stdout


# --- the arithmetic -----------------------------------------------------------------------------------------


def _measure(confusion: list[list[int]]) -> Measure:
    return Measure({r: likelihoods(confusion) for r in ("judge", "confirm", "recheck")}, {})


def test_a_judge_whose_answers_do_not_depend_on_the_truth_leaves_the_prior_as_it_was():
    blind = _measure([[0, 0, 20, 0, 0] for _ in range(5)])  # contradicts, whatever the truth
    posterior = blind.posterior([("judge", Stance.CONTRADICTS), ("confirm", Stance.CONTRADICTS)])
    assert all(abs(p - 0.2) < 1e-9 for p in posterior.values())


def test_correlated_roles_count_as_one():
    perfect = [[20 if i == j else 0 for j in range(5)] for i in range(5)]
    independent = Measure({r: likelihoods(perfect) for r in ("judge", "confirm")}, {"confirm/judge": 0.0})
    together = Measure({r: likelihoods(perfect) for r in ("judge", "confirm")}, {"confirm/judge": 1.0})
    answers = [("judge", Stance.SUPPORTS), ("confirm", Stance.SUPPORTS)]
    one = independent.posterior(answers[:1])[Stance.SUPPORTS]
    assert together.posterior(answers)[Stance.SUPPORTS] == pytest.approx(one)
    assert independent.posterior(answers)[Stance.SUPPORTS] > 0.99 > one


def test_outcomes_and_the_margin():
    sure = {Stance.SUPPORTS: 1.0}
    split = outcome_probabilities([Item(Stance.SUPPORTS, probability=sure), Item(Stance.RELAXES, weight=1.0)])
    assert split[SPLIT] == pytest.approx(1.0)
    assert choose(split, Status.HOLDING, 0.5).target is None and choose(split, Status.HOLDING, 0.5).contested
    half = outcome_probabilities([Item(Stance.SUPPORTS, probability={Stance.SUPPORTS: 0.5, Stance.UNRELATED: 0.5})])
    assert half[Status.HOLDING] == pytest.approx(0.5)
    assert choose(half, Status.UNTESTED, 0.5).target is None  # 0.5 against none's 0.5: not clearly
    strong = outcome_probabilities([Item(Stance.RELAXES, probability={Stance.RELAXES: 0.98, Stance.UNRELATED: 0.02})])
    assert choose(strong, Status.HOLDING, 0.5).target == Status.RELAXED


def test_a_sure_contest_unsure_how_strong_relaxes_the_claim():
    unsure = {Stance.SUPERSEDES: 0.55, Stance.CONTRADICTS: 0.42, Stance.UNRELATED: 0.03}
    odds = outcome_probabilities([Item(Stance.SUPERSEDES, probability=unsure)])
    assert choose(odds, Status.UNTESTED, 0.5).target == Status.RELAXED  # not superseded: not clearly
    assert choose(odds, Status.SUPERSEDED, 0.5).target is None  # a superseded claim does not step down on it


def test_a_disagreement_is_rechecked_in_other_variants_until_it_settles_within_the_cap(ws, literature, monkeypatch):
    truth = truthful({RELAX.title: TRUTH[RELAX.title]})

    def confirm_dissents(request: dict[str, Any]) -> ChatReply:
        if role_of(request) == "confirm" and RELAX.title in user_text(request):
            return judgement("unrelated", confidence=0.9)
        return truth(request)

    def fresh(name: str) -> Path:  # a fresh workspace: nothing cached, the claim never checked
        root = ws.parent / name
        (root / "claims").mkdir(parents=True)
        shutil.copy(ROOT / "claims" / f"{CLAIM}.yaml", root / "claims")
        store_qualification(root)
        return root

    with serve(monkeypatch, confirm_dissents) as server:
        store_qualification(ws)
        first = run(ws)
        mine = [r for r in server.chat.requests if RELAX.title in user_text(r)]
        calls = len(server.chat.requests)
        again = run(ws)
        assert len(server.chat.requests) == calls  # every judgement came from the cache
        monkeypatch.setenv("CLAIMTRACK_MAX_CALLS_PER_PAIR", "3")
        capped_ws = fresh("capped")
        capped = run(capped_ws)
        capped_asked = [role_of(r) for r in server.chat.requests[calls:] if RELAX.title in user_text(r)]
    assert first.exit_code == again.exit_code == capped.exit_code == 0
    # judge relaxes, confirm unrelated: two of three saying relaxes is P(relaxes) 0.97 for a judge measured
    # right on 20 of 20 per stance, short of 0.999; the recheck is asked again in its next variant (the
    # verdicts listed in another order), and three of four settle it
    assert [role_of(r) for r in mine] == ["judge", "confirm", "recheck", "recheck"]
    orders = [re.search(r'"stance": "([a-z|]+)"', r["messages"][0]["content"])[1] for r in mine[2:]]
    assert orders == [
        "supports|relaxes|contradicts|supersedes|unrelated",
        "relaxes|contradicts|supersedes|unrelated|supports",
    ]
    moved = claim(ws)
    assert moved["status"] == "relaxed" and moved["evidence"][0]["probability"]["relaxes"] >= 0.999
    assert json.loads(invoke("--workspace", str(ws), "review", "--json").stdout) == []
    # capped at three requests, the pair waits for a person, and a pair that waits holds the status
    assert capped_asked == ["judge", "confirm", "recheck"] and "1 waiting for review" in capped.stdout
    [item] = json.loads(invoke("--workspace", str(capped_ws), "review", "--json").stdout)
    assert item["reason"] == "uncertain" and 0.95 < item["probability"]["relaxes"] < 0.99
    assert yaml.safe_load((capped_ws / "claims" / f"{CLAIM}.yaml").read_text())["status"] == "untested"


def test_the_recheck_prompt_has_ten_wordings_each_listing_every_verdict_once():
    from claimtrack.agent.prompts import load_prompt

    recheck = load_prompt(Workspace.at(ROOT), "recheck")
    wordings = [recheck.variant(k) for k in range(recheck.variants)]
    assert recheck.variants == 10 and wordings[0] is recheck
    assert len({w.system for w in wordings}) == 10 and len({w.version for w in wordings}) == 10
    assert wordings[3].version == f"{recheck.version}.v3" and wordings[3].user_template == recheck.user_template
    for wording in wordings:
        definitions = [
            line.split(":")[0].strip() for line in wording.system.splitlines() if re.match(r"^  [a-z]+: ", line)
        ]
        choice = re.search(r'"stance": "([a-z|]+)"', wording.system)[1].split("|")  # type: ignore[index]
        assert sorted(definitions) == sorted(s.value for s in Stance) and definitions == choice
    with pytest.raises(ValueError):
        recheck.variant(10)
    assert load_prompt(Workspace.at(ROOT), "queries").variants == 1  # nothing to reorder: asked as written only


def test_a_repeat_never_measured_adds_nothing():
    perfect = [[20 if i == j else 0 for j in range(5)] for i in range(5)]
    old = Measure({"judge": likelihoods(perfect), "recheck": likelihoods(perfect)}, {"judge/recheck": 0.0})
    new = Measure(old.matrices, {"judge/recheck": 0.0, "recheck/recheck": 0.1})
    answers = [("judge", Stance.SUPPORTS), ("recheck", Stance.SUPPORTS), ("recheck", Stance.SUPPORTS)]
    assert not old.repeats("recheck") and new.repeats("recheck")
    assert old.posterior(answers) == pytest.approx(old.posterior(answers[:2]))  # the second recheck weighs 0
    assert new.posterior(answers)[Stance.SUPPORTS] > new.posterior(answers[:2])[Stance.SUPPORTS]
