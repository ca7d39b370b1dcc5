"""A judge's qualification: how it answered pairs whose truth is known, kept in the ledger, and whether that
reaches the floor at which its judgements may move a status on their own (docs/agent.md, "Qualifying a judge").

A judge is its judge model, confirm model, endpoint and prompt versions together (`JudgeIdentity`): change any
of them and it is another judge, measured afresh. The newest measurement of a judge is the one that counts.

**The floor.** A judge qualifies when its measurement covers at least MIN_PAIRS pairs with at least
MIN_PER_LABEL of each of the five labels (so every row of every confusion matrix is measured, not guessed),
and each role (judge, confirm, recheck) reaches a macro-F1 of MIN_MACRO_F1 over the five labels. Why 0.6: a
role below it errs on more than about two pairs in five, so even three agreeing answers leave a pair short
of the probability a judgement needs to count, and the run would only send its pairs to review at the cost
of their calls; a judge that answers one label throughout scores at most 0.067 (1/15) and fails by far. Above
the floor the weighing does the rest: a judge that qualifies barely counts its judgements barely.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Mapping

from pydantic import Field

from claimtrack.agent.weighing import STANCES, Measure, likelihoods
from claimtrack.config import Settings
from claimtrack.ledger import Ledger
from claimtrack.models import Model, UtcDateTime

MIN_PAIRS = 25
MIN_PER_LABEL = 5
MIN_MACRO_F1 = 0.6
ROLES = ("judge", "confirm", "recheck")
OPENAI_ENDPOINT = "https://api.openai.com/v1"
TRUST_HINT = "claimtrack judge qualify"  # the command every "not qualified" line names


class JudgeIdentity(Model):
    """What makes one judge: a change to any field is another judge, measured afresh."""

    judge_model: str
    confirm_model: str
    endpoint: str
    prompts: dict[str, str]  # role -> prompt version (sha256 prefix of agents/<prompt>.txt)

    @property
    def key(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode("utf-8")).hexdigest()

    def describe(self) -> str:
        confirm = "" if self.confirm_model == self.judge_model else f", confirmed by {self.confirm_model}"
        return f"{self.judge_model}{confirm} at {self.endpoint}"


def identity_for(settings: Settings, prompts: Mapping[str, str]) -> JudgeIdentity:
    """The judge a run with these settings and prompt versions uses."""
    endpoint = (settings.openai_base_url or OPENAI_ENDPOINT).rstrip("/")
    return JudgeIdentity(
        judge_model=settings.llm_model,
        confirm_model=settings.confirm_model or settings.llm_model,
        endpoint=endpoint,
        prompts=dict(prompts),
    )


class RoleScores(Model):
    """One role's answers on the labelled pairs."""

    model: str
    prompt: str  # its prompt version
    confusion: list[list[int]]  # rows: the true label; columns: the answer; both in STANCES order, then errors
    precision: dict[str, float]
    recall: dict[str, float]
    macro_f1: float
    errors: int  # replies that stayed invalid (judge-error)
    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0


class Qualification(Model):
    """One measurement of a judge, as `claimtrack judge qualify --json` prints it and the ledger keeps it."""

    id: str
    identity: str  # JudgeIdentity.key
    judge: JudgeIdentity
    data: list[str]  # each labelled set: "name (sha256 prefix)"
    n: int
    labels: dict[str, int]  # pairs per true label
    roles: dict[str, RoleScores]
    kappa: dict[str, float | None]  # "a/b" -> Cohen's kappa between two roles' answers
    error_correlation: dict[str, float | None]  # "a/b" -> phi of the two roles' errors
    qualified: bool
    reason: str
    floor: dict[str, float] = Field(
        default_factory=lambda: {
            "min_pairs": MIN_PAIRS,
            "min_per_label": MIN_PER_LABEL,
            "min_macro_f1": MIN_MACRO_F1,
        }
    )
    tokens_in: int = 0
    tokens_out: int = 0
    created_at: UtcDateTime

    def measure(self) -> Measure:
        return Measure(
            {role: likelihoods(scores.confusion) for role, scores in self.roles.items()}, self.error_correlation
        )


def verdict(n: int, labels: Mapping[str, int], roles: Mapping[str, RoleScores]) -> tuple[bool, str]:
    """Whether the measurement reaches the floor, and why (one line)."""
    if n < MIN_PAIRS:
        return False, f"only {n} pairs measured; the floor is {MIN_PAIRS}"
    thin = [s.value for s in STANCES if labels.get(s.value, 0) < MIN_PER_LABEL]
    if thin:
        return False, f"fewer than {MIN_PER_LABEL} pairs labelled {', '.join(thin)}; every label must be measured"
    weak = [f"{role} {scores.macro_f1:.2f}" for role, scores in roles.items() if scores.macro_f1 < MIN_MACRO_F1]
    if weak:
        return False, f"macro-F1 below the floor of {MIN_MACRO_F1}: {', '.join(weak)}"
    scores = ", ".join(f"{role} {s.macro_f1:.2f}" for role, s in roles.items())
    return True, f"macro-F1 {scores} on {n} pairs (floor {MIN_MACRO_F1})"


def store(ledger: Ledger, record: Qualification) -> None:
    with ledger.transaction() as conn:
        conn.execute(
            "INSERT INTO judge_qualifications (id, identity, judge_model, confirm_model, endpoint, prompts_json,"
            " data, n, qualified, reason, record_json, tokens_in, tokens_out, created_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                record.id,
                record.identity,
                record.judge.judge_model,
                record.judge.confirm_model,
                record.judge.endpoint,
                json.dumps(record.judge.prompts, sort_keys=True),
                "; ".join(record.data),
                record.n,
                int(record.qualified),
                record.reason,
                record.model_dump_json(),
                record.tokens_in,
                record.tokens_out,
                record.created_at.isoformat(),
            ),
        )


def latest(ledger: Ledger, judge: JudgeIdentity) -> Qualification | None:
    """The newest measurement of this judge, or None when it was never measured."""
    row = ledger.conn.execute(
        "SELECT record_json FROM judge_qualifications WHERE identity = ? ORDER BY created_at DESC, rowid DESC LIMIT 1",
        (judge.key,),
    ).fetchone()
    return Qualification.model_validate_json(row[0]) if row else None


def new_id(judge: JudgeIdentity, now: dt.datetime) -> str:
    """A fresh id: two measurements of one judge in the same second are two records."""
    return "q-" + hashlib.sha256(f"{judge.key}|{now.isoformat()}|{secrets.token_hex(8)}".encode()).hexdigest()[:12]


class Standing(Model):
    """How the judge of a run stands: measured and qualified, trusted by a person's override, or neither."""

    judge: JudgeIdentity
    qualification: Qualification | None = None
    trusted: bool = False  # CLAIMTRACK_TRUST_JUDGE=1 or `run --trust-judge`

    @property
    def qualified(self) -> bool:
        return self.qualification is not None and self.qualification.qualified

    @property
    def measure(self) -> Measure | None:
        """The measurement that weighs judgements, when the judge qualified (and is not merely trusted)."""
        return self.qualification.measure() if self.qualified and self.qualification is not None else None

    def line(self) -> str:
        """One line for run summaries, doctor and reports."""
        if self.qualified and self.qualification is not None:
            return f"judge qualified ({self.qualification.id}: {self.qualification.reason})"
        why = (
            "never measured"
            if self.qualification is None
            else f"{self.qualification.id} below the floor: {self.qualification.reason}"
        )
        if self.trusted:
            return f"judge NOT qualified ({why}), trusted by override (CLAIMTRACK_TRUST_JUDGE / --trust-judge)"
        return f"judge not qualified ({why}): its status-moving judgements wait for review; run `{TRUST_HINT}`"

    def record(self) -> str:
        """What the ledger's runs row keeps."""
        if self.qualified and self.qualification is not None:
            return f"qualified {self.qualification.id}"
        return "trusted (not qualified)" if self.trusted else "not qualified"


def last_run_standing(ledger: Ledger) -> str | None:
    """How the judge stood in the newest run that judged (the runs table's `judge_standing`), for reports."""
    row = ledger.conn.execute(
        "SELECT judge_standing FROM runs WHERE judge_standing IS NOT NULL ORDER BY started_at DESC, rowid DESC LIMIT 1"
    ).fetchone()
    return row[0] if row else None
