"""One path writes a claim: the mutation rules on the Claim model, Store.create_claim/update_claim as the only
writers (checked end to end for the importer, a verdict, a run and a replication), and the re-entrant lock."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_helpers import judgement, store_qualification
from conftest import ROOT, SEEDS, invoke
from loopback import ChatReply, Entry, Literature, OpenAIServer

from claimtrack.errors import ChangeRefused, InvalidInput
from claimtrack.importer import import_line
from claimtrack.models import Claim, Evidence, EvidenceKind, ReviewDecision, Stance, Status, StatusChange
from claimtrack.store import Store
from claimtrack.validate import validate_store
from claimtrack.verdict import record_verdict
from claimtrack.workspace import Workspace

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
IT = "it-output-format-not-task"


def _evidence(ident: str, stance: Stance = Stance.SUPPORTS) -> Evidence:
    return Evidence(
        id=ident,
        kind=EvidenceKind.MANUAL,
        source="arXiv:2401.00001",
        stance=stance,
        judged_by="person:ada",
        judged_at=T0,
    )


def _change(frm: Status, to: Status, at: dt.datetime, evidence: list[str], *, pinned: bool = False) -> StatusChange:
    return StatusChange(from_=frm, to=to, at=at, by="person:ada", evidence=evidence, rationale="r", pinned=pinned)


def _claim() -> Claim:
    return Claim(id="a-claim", title="Does it?", statement="It does.", anchor_note="none yet")


def test_add_evidence_skips_ids_the_claim_already_holds() -> None:
    claim = _claim()
    assert claim.add_evidence([_evidence("e1"), _evidence("e2"), _evidence("e1")]) == ["e1", "e2"]
    assert claim.add_evidence([_evidence("e2"), _evidence("e3")]) == ["e3"]
    assert [e.id for e in claim.evidence] == ["e1", "e2", "e3"]


def test_record_change_appends_and_moves_the_status() -> None:
    claim = _claim()
    claim.add_evidence([_evidence("e1")])
    claim.record_change(_change(Status.UNTESTED, Status.HOLDING, T0, ["e1"]))
    assert claim.status == Status.HOLDING and [h.to for h in claim.history] == [Status.HOLDING]
    claim.record_change(_change(Status.HOLDING, Status.HOLDING, T0, [], pinned=True))  # a person re-affirming
    assert len(claim.history) == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_change(Status.HOLDING, Status.RELAXED, T0, ["e1"]), "from: the change starts at 'holding'"),
        (_change(Status.UNTESTED, Status.RELAXED, T0, ["e1", "e9"]), "evidence: the change names evidence the claim"),
        (
            _change(Status.UNTESTED, Status.RELAXED, T0 - dt.timedelta(days=1), ["e1"]),
            "at: the change is dated 2025-12-31",
        ),
    ],
    ids=["wrong-from", "unknown-evidence", "earlier-than-latest"],
)
def test_record_change_refuses_a_change_that_breaks_the_history(change: StatusChange, message: str) -> None:
    claim = _claim()
    claim.add_evidence([_evidence("e1")])
    if change.at < T0:  # the claim needs a change in force for an earlier one to be out of order
        claim.record_change(_change(Status.UNTESTED, Status.UNTESTED, T0, []))
    before = claim.model_dump()
    with pytest.raises(ChangeRefused) as refused:
        claim.record_change(change)
    assert str(refused.value).startswith(f"claim a-claim: {message}")
    assert claim.model_dump() == before


def test_latest_change_is_the_newest_and_of_equal_ones_the_later_entry() -> None:
    claim = _claim()
    assert claim.latest_change is None
    late = _change(Status.UNTESTED, Status.HOLDING, T0 + dt.timedelta(days=2), [])
    early = _change(Status.HOLDING, Status.RELAXED, T0, [], pinned=True)
    claim.history = [late, early]  # out of order, as a hand edit might leave it
    assert claim.latest_change is late
    first = _change(Status.UNTESTED, Status.HOLDING, T0, [], pinned=True)
    second = _change(Status.HOLDING, Status.RELAXED, T0, [])
    claim.history = [first, second]
    assert claim.latest_change is second
    claim.history = [second, first]
    assert claim.latest_change is first


def test_a_review_decision_joins_the_history_but_moves_no_status() -> None:
    claim = _claim()
    claim.add_evidence([_evidence("e1")])
    claim.record_change(_change(Status.UNTESTED, Status.HOLDING, T0, ["e1"]))
    decision = ReviewDecision(
        at=T0 + dt.timedelta(hours=1), by="person:ana", item="rv-1", decision="accept", source="arXiv:1",
        stance=Stance.SUPPORTS, evidence="e1",
    )  # fmt: skip
    claim.record_decision(decision)
    assert claim.status == Status.HOLDING and claim.latest_change.at == T0 and claim.review_decisions == [decision]
    assert [type(h).__name__ for h in Claim.model_validate(claim.model_dump(by_alias=True)).history] == [
        "StatusChange",
        "ReviewDecision",
    ]
    with pytest.raises(ChangeRefused, match="unknown evidence 'e9'"):
        claim.record_decision(decision.model_copy(update={"evidence": "e9"}))
    with pytest.raises(ChangeRefused, match="before the history's last entry"):
        claim.record_decision(decision.model_copy(update={"at": T0 - dt.timedelta(days=1)}))


def test_create_claim_refuses_an_id_the_store_holds(repo_workspace: Path) -> None:
    store = Store(Workspace.at(repo_workspace))
    path = store.claim_path(IT)
    before = path.read_bytes()
    existing = store.load().claim(IT)
    with pytest.raises(InvalidInput, match=f"claims/{IT}.yaml: id: claim '{IT}' already exists"):
        store.create_claim(existing.model_copy(update={"title": "Another"}))
    assert path.read_bytes() == before
    created = store.create_claim(_claim())
    assert store.load().claim("a-claim") == created


def test_update_claim_cannot_rename_a_claim(repo_workspace: Path) -> None:
    store = Store(Workspace.at(repo_workspace))
    with pytest.raises(InvalidInput, match="a change cannot rename the claim to 'other-id'"):
        store.update_claim(IT, lambda claim: claim.model_copy(update={"id": "other-id"}))
    assert not store.claim_path("other-id").exists()


_TRY_LOCK = """
import sys
from pathlib import Path
from typing import Any
from claimtrack.errors import Busy
from claimtrack.store import Store
from claimtrack.workspace import Workspace
try:
    with Store(Workspace.at(Path(sys.argv[1]))).locked(wait=0.2):
        print("locked")
except Busy:
    print("busy")
"""


def _other_process_gets_the_lock(root: Path) -> bool:
    out = subprocess.run([sys.executable, "-c", _TRY_LOCK, str(root)], capture_output=True, text=True, check=True)
    return out.stdout.strip() == "locked"


def test_the_store_lock_is_re_entrant_in_a_process_and_exclusive_across_processes(repo_workspace: Path) -> None:
    store = Store(Workspace.at(repo_workspace))
    with store.locked(wait=0.5):
        with store.locked(wait=0.5):  # an import holding the lock calls update_claim, which takes it again
            store.update_claim(IT, lambda claim: setattr(claim, "review_every_days", 30))
            assert not _other_process_gets_the_lock(repo_workspace)
        assert not _other_process_gets_the_lock(repo_workspace)  # the inner exit must not release it
    assert _other_process_gets_the_lock(repo_workspace)
    assert store.load().claim(IT).review_every_days == 30


def test_a_verdict_citing_a_paper_twice_records_it_once(repo_workspace: Path) -> None:
    store = Store(Workspace.at(repo_workspace))
    claim = record_verdict(store, IT, Status.RELAXED, "why", by="ada", evidence=["2401.00001", "arXiv:2401.00001v2"])
    assert [e.source for e in claim.evidence] == ["arXiv:2401.00001"]
    assert claim.latest_change.evidence == [claim.evidence[0].id]
    assert validate_store(store)[1] == []


def test_a_verdict_made_on_a_clock_behind_the_history_is_dated_after_its_last_entry(repo_workspace: Path) -> None:
    """Every history entry comes after the one before it: a verdict whose clock reads earlier than the newest
    entry is dated at that entry, and a change dated before it is refused."""
    store = Store(Workspace.at(repo_workspace))
    record_verdict(store, IT, Status.HOLDING, "first", by="ada", now=T0)
    claim = record_verdict(store, IT, Status.RELAXED, "late", by="bob", now=T0 - dt.timedelta(days=1))
    assert claim.history[-1].at == claim.history[-2].at == T0 and validate_store(store)[1] == []
    change = claim.history[-1].model_copy(update={"at": T0 - dt.timedelta(days=1), "from_": Status.RELAXED})
    with pytest.raises(ChangeRefused, match="at: the change is dated 2025-12-31"):
        claim.record_change(change)


_VERDICTS = """
import sys
from pathlib import Path
from typing import Any
from claimtrack.models import Status
from claimtrack.store import Store
from claimtrack.verdict import record_verdict
from claimtrack.workspace import Workspace
store = Store(Workspace.at(Path(sys.argv[1])))
for i in range(10):
    record_verdict(store, "it-output-format-not-task", Status.HOLDING, f"{sys.argv[2]}-{i}", by=sys.argv[2])
"""


def test_verdicts_from_two_processes_at_once_keep_the_history_in_date_order(repo_workspace: Path) -> None:
    writers = [
        subprocess.Popen([sys.executable, "-c", _VERDICTS, str(repo_workspace), name], stderr=subprocess.PIPE)
        for name in ("ada", "bob")
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0], [w.stderr.read() for w in writers]
    store = Store(Workspace.at(repo_workspace))
    assert len(store.load().claim(IT).history) == 20
    assert validate_store(store)[1] == []


# --- every writer goes through create_claim / update_claim -------------------------------------------------


class WriteLog:
    """Which public Store method each claim write happened inside, and which claim files changed on disk."""

    def __init__(self) -> None:
        self.writes: list[tuple[str | None, str]] = []
        self.inside: list[str] = []

    def snapshot(self, root: Path) -> dict[str, bytes]:
        return {p.stem: p.read_bytes() for p in sorted((root / "claims").glob("*.yaml"))}


@pytest.fixture
def write_log(monkeypatch: pytest.MonkeyPatch) -> Iterator[WriteLog]:
    log = WriteLog()
    real = {name: getattr(Store, name) for name in ("create_claim", "update_claim", "_write_claim")}

    def entered(name: str) -> Callable[..., object]:
        def method(self: Store, *args: object, **kwargs: object) -> object:
            log.inside.append(name)
            try:
                return real[name](self, *args, **kwargs)
            finally:
                log.inside.pop()

        return method

    def write(self: Store, claim: Claim) -> Claim:
        log.writes.append((log.inside[-1] if log.inside else None, claim.id))
        return real["_write_claim"](self, claim)

    monkeypatch.setattr(Store, "create_claim", entered("create_claim"))
    monkeypatch.setattr(Store, "update_claim", entered("update_claim"))
    monkeypatch.setattr(Store, "_write_claim", write)
    yield log


def _through_the_writers(log: WriteLog, root: Path, action: Callable[[], object]) -> set[str]:
    """Run `action`; every claim file it changed was written by create_claim or update_claim. Returns the
    entry points used."""
    log.writes.clear()
    before = log.snapshot(root)
    action()
    after = log.snapshot(root)
    changed = {ident for ident in after if before.get(ident) != after[ident]}
    assert changed, "the action changed no claim"
    assert changed <= {ident for _, ident in log.writes}, "a claim file changed without a recorded write"
    assert all(entry in ("create_claim", "update_claim") for entry, _ in log.writes), log.writes
    return {entry for entry, _ in log.writes}


SUPERSEDING = "models trained with correct instructions outperform those trained with misleading ones by 15 points"


def _respond(request: dict[str, Any]) -> ChatReply:
    if "Propose arXiv search queries" in request["messages"][0]["content"]:
        return ChatReply(content=json.dumps({"queries": ["instruction following ablation"]}))
    if "Instruction tuning teaches more than the output format" in request["messages"][-1]["content"]:
        return judgement("supersedes", SUPERSEDING, 0.9)
    return judgement("unrelated", "", 0.9)


def test_import_run_verdict_and_replication_write_claims_only_through_the_store(
    tmp_path: Path,
    empty_workspace: Path,
    write_log: WriteLog,
    tiny_models: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The importer creates new claims, then fills what a later import adds (here the anchor sheet's facts).
    seed, sheet = SEEDS / "003_1a324a15511df874.txt", SEEDS / "anchors.yaml"
    store = Store(Workspace.at(empty_workspace))
    assert _through_the_writers(write_log, empty_workspace, lambda: import_line(store, seed)) == {"create_claim"}
    assert "update_claim" in _through_the_writers(
        write_log, empty_workspace, lambda: import_line(store, seed, sheet_path=sheet)
    )

    root = tmp_path / "run-ws"
    (root / "claims").mkdir(parents=True)
    for claim_id in (IT, "binary-reward-hurts-calibration"):
        shutil.copy(ROOT / "claims" / f"{claim_id}.yaml", root / "claims")

    paper = Entry(
        "2507.00001v1",
        "Instruction tuning teaches more than the output format",
        f"Across 40 tasks and models up to 70B, {SUPERSEDING}.",
        "2025-07-01",
    )
    with Literature([paper]) as literature, OpenAIServer(responder=_respond) as llm:
        for key, value in {**literature.env(), **llm.env(), "OPENAI_API_KEY": "k"}.items():
            monkeypatch.setenv(key, value)
        store_qualification(root)  # the scripted judge, measured

        def run() -> None:
            result = invoke("-w", str(root), "run", IT, "--no-replicate", "--json")
            assert result.exit_code == 0, result.stderr
            assert json.loads(result.stdout)["claims"][0]["change"]["to"] == "superseded"

        assert _through_the_writers(write_log, root, run) == {"update_claim"}

    def verdict() -> None:
        result = invoke("-w", str(root), "verdict", IT, "--status", "holding", "--because", "read it", "--by", "ada")
        assert result.exit_code == 0, result.stderr

    assert _through_the_writers(write_log, root, verdict) == {"update_claim"}

    def replicate() -> None:
        from claimtrack.replication import api

        base, tuned = (str(m) for m in tiny_models)
        outcome = api.replicate(Workspace.at(root), "binary-reward-hurts-calibration", models=[base, tuned], limit=5)
        assert outcome.evidence is not None, outcome

    assert _through_the_writers(write_log, root, replicate) == {"update_claim"}
    assert validate_store(Store(Workspace.at(root)))[1] == []
