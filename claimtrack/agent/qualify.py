"""`claimtrack judge qualify`: the configured judge, confirmer and rechecker answer pairs whose truth is known,
asked exactly as a run asks a first look (same prompts, same models, same cache), and the measurement is kept
in the ledger (qualification.py) for the run to weigh judgements by.

The labelled set is JSON lines, one pair per line: `claim`, `title`, `abstract`, `label` (a stance), `arxiv`,
`why`. SciFact's dev or train claims can be added (`--scifact DIR`): SUPPORT counts as supports, CONTRADICT
as contradicts, a cited abstract without a rationale as unrelated; SciFact has no relaxes or supersedes, so it
cannot qualify a judge alone.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, ValidationError

from claimtrack.agent.assess import Judges
from claimtrack.agent.bench_judge import cohen_kappa, load_pairs
from claimtrack.agent.judge import Request, Role, ask, build_request, cached, lookup
from claimtrack.agent.pool import CallPool, Workers, import_for_workers
from claimtrack.agent.qualification import ROLES, Qualification, RoleScores, new_id, verdict
from claimtrack.agent.weighing import STANCES, error_correlation
from claimtrack.errors import InvalidInput
from claimtrack.ledger import Ledger
from claimtrack.models import ArxivId, Claim, Model, Stance
from claimtrack.papers import Paper
from claimtrack.workspace import PROJECT_ROOT

DEFAULT_DATA = PROJECT_ROOT / "evals" / "judge" / "qualify.jsonl"
_SCIFACT = {"SUPPORT": Stance.SUPPORTS, "CONTRADICT": Stance.CONTRADICTS, "NOT ENOUGH INFO": Stance.UNRELATED}
ERROR = "error"  # the answer column of replies that stayed invalid
AGAIN = "recheck again"  # the recheck asked a second time per pair, in another variant of its prompt


class LabelledPair(Model):
    """One line of a qualification set."""

    claim: str = Field(min_length=1)
    title: str = Field(min_length=1)
    abstract: str = Field(min_length=1)
    label: Stance
    arxiv: ArxivId
    why: str = Field(min_length=1)


@dataclass(frozen=True)
class Sample:
    """A pair to measure on: the claim and paper as the judge is shown them, and the true stance."""

    claim: Claim
    paper: Paper
    label: Stance


def load_set(path: Path) -> list[Sample]:
    """Every line of a qualification set, validated; a bad line is one error naming file:line and field."""
    if not path.is_file():
        raise InvalidInput(path, "-", "not found (expected JSON lines: claim, title, abstract, label, arxiv, why)")
    samples = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                pair = LabelledPair.model_validate_json(line)
            except ValidationError as exc:
                first = exc.errors()[0]
                field = ".".join(str(p) for p in first["loc"]) or "line"
                if first["type"] == "json_invalid":
                    raise InvalidInput(where, "line", "not a JSON object") from exc
                raise InvalidInput(where, field, first["msg"]) from exc
            claim = _claim(pair.claim, f"q{number}")
            samples.append(Sample(claim, Paper(id=pair.arxiv, title=pair.title, abstract=pair.abstract), pair.label))
    if not samples:
        raise InvalidInput(path, "-", "holds no pairs")
    return samples


def scifact_samples(folder: Path, split: str) -> list[Sample]:
    pairs, corpus = load_pairs(folder, split, None)
    return [Sample(_claim(p.claim, f"scifact-{p.claim_id}"), corpus[p.doc_id], _SCIFACT[p.gold]) for p in pairs]


def _claim(statement: str, ident: str) -> Claim:
    """The pair's claim as the judge reads it: its statement is also its question (a set gives no other)."""
    return Claim(id=ident, title=statement, statement=statement)


def fingerprint(path: Path) -> str:
    return f"{path.name} ({hashlib.sha256(path.read_bytes()).hexdigest()[:12]})"


@dataclass(frozen=True)
class Asked:
    """How far a qualification is, for its progress line."""

    done: int  # requests answered, fresh or from the cache, of
    total: int
    cached: int  # of those answered, how many came from the cache
    in_flight: int  # LLM calls the endpoint is answering now
    left_s: float | None  # rough time left, once a few fresh requests were timed (None: unknown, or none left)


class _Tally:
    """The requests answered, counted across the workers, told to `progress` after each one. Time left: the
    fresh requests still to ask at the pace of those answered so far, once there were as many as the pool holds
    at once (the first of them end together)."""

    def __init__(self, total: int, fresh: int, pool: CallPool, progress: Callable[[Asked], None]):
        self.total, self.fresh, self.pool, self.progress = total, fresh, pool, progress
        self.done = self.cached = 0
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._tell()

    def answered(self, cached: bool) -> None:
        with self._lock:
            self.done += 1
            self.cached += cached
            self._tell()

    def _tell(self) -> None:
        asked = self.done - self.cached  # fresh requests answered
        left = None
        if asked >= max(3, self.pool.concurrency) and self.fresh > asked:
            left = (time.monotonic() - self.started) / asked * (self.fresh - asked)
        self.progress(Asked(self.done, self.total, self.cached, self.pool.in_flight, left))


def asks(judges: Judges) -> list[str]:
    """What is asked of each sample, in order: every role, then the recheck in another variant (when it has one)."""
    return [*ROLES, *([AGAIN] if judges.prompts["recheck"].variants > 1 else [])]


def qualify(
    ledger: Ledger,
    judges: Judges,
    samples: Sequence[Sample],
    data: list[str],
    *,
    now: dt.datetime | None = None,
    progress: Callable[[Asked], None] | None = None,
) -> Qualification:
    """Ask every role about every sample (from the cache when asked before) and measure the answers. Raises
    LLMError when the endpoint fails: what was answered is cached, so running again resumes.

    The recheck is asked twice per sample, as a run asks it while a pair stays unresolved: first as written
    (variant 0, the one every recheck starts with), then in one other variant of its prompt (sample i: variant
    1 + i mod 9). Its matrix pools both answers, and `recheck/recheck` measures how far another variant
    repeats the first one's errors.

    Samples are asked concurrently, as many at once as the judges' pool of calls holds (CLAIMTRACK_LLM_CONCURRENCY;
    1: one request after another), each sample's requests in the order above; the answers are taken in sample
    order, so the measurement does not depend on it. Once a request fails, no other starts."""
    now = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    truth = [s.label for s in samples]
    names = asks(judges)
    planned = [_requests(judges, names, number, sample) for number, sample in enumerate(samples)]
    fresh = sum(cached(ledger, request.key) is None for requests in planned for _, _, request in requests)
    pool = judges.llms["judge"].pool  # the confirmer's too
    tally = _Tally(len(planned) * len(names), fresh, pool, progress or (lambda _asked: None))
    import_for_workers(steps=False, sources=False, judge=True, reading=False, replicate=False)
    failed = threading.Event()
    with Workers(pool.concurrency, "qualify") as workers:
        pending = [workers.submit(functools.partial(_ask, ledger, judges, r, failed, tally)) for r in planned]
        replies = _in_order(pending)
    answers: dict[str, list[Stance | None]] = {name: [] for name in names}
    tokens: dict[str, list[int]] = {role: [0, 0, 0] for role in ROLES}  # calls, in, out
    for requests, got in zip(planned, replies, strict=True):
        for (name, role, _), (stance, tokens_in, tokens_out) in zip(requests, got, strict=True):
            answers[name].append(stance)
            tokens[role] = [tokens[role][0] + 1, tokens[role][1] + tokens_in, tokens[role][2] + tokens_out]
    said = {role: (truth, answers[role]) for role in ROLES}
    if AGAIN in answers:  # the recheck measured on both its variants
        said["recheck"] = (truth * 2, answers["recheck"] + answers[AGAIN])
    roles = {role: _scores(judges, role, *said[role], tokens[role]) for role in ROLES}
    labels = {s.value: n for s, n in Counter(truth).items()}
    qualified, reason = verdict(len(samples), labels, roles)
    kappa, correlation = {}, {}
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            name = "/".join(sorted((a, b))).replace(AGAIN, "recheck")
            if name in kappa:  # a role and the recheck's second variant: measured on the first
                continue
            kappa[name] = _round(cohen_kappa(_names(answers[a]), _names(answers[b]), (*STANCES, ERROR)))
            correlation[name] = _round(error_correlation(truth, answers[a], answers[b]))
    return Qualification(
        id=new_id(judges.identity, now),
        identity=judges.identity.key,
        judge=judges.identity,
        data=data,
        n=len(samples),
        labels=labels,
        roles=roles,
        kappa=kappa,
        error_correlation=correlation,
        qualified=qualified,
        reason=reason,
        tokens_in=sum(t[1] for t in tokens.values()),
        tokens_out=sum(t[2] for t in tokens.values()),
        created_at=now,
    )


_Planned = tuple[str, Role, Request]  # the answer's column (a role, or AGAIN), the role asked, its request
_Reply = tuple[Stance | None, int, int]  # the stance said (None: the reply stayed invalid), tokens in and out


def _requests(judges: Judges, names: list[str], number: int, sample: Sample) -> list[_Planned]:
    """The sample's requests, as `judge_pair` builds them: the recheck's second in variant 1 + number mod 9."""
    planned = []
    for name in names:
        role: Role = "recheck" if name == AGAIN else name  # type: ignore[assignment]
        variant = 1 + number % (judges.prompts["recheck"].variants - 1) if name == AGAIN else 0
        prompt = judges.prompts[role].variant(variant)
        planned.append((name, role, build_request(role, prompt, judges.llms[role].model, sample.claim, sample.paper)))
    return planned


def _ask(
    ledger: Ledger, judges: Judges, planned: list[_Planned], failed: threading.Event, tally: _Tally
) -> list[_Reply]:
    """One sample's requests in order, each from the cache or asked and cached (in a worker). None starts once
    a request has failed, this sample's or another's: the endpoint is down, and the rest waits for a second try."""
    replies = []
    for _, role, request in planned:
        if failed.is_set():
            raise CancelledError
        try:
            outcome = lookup(ledger, request) or ask(ledger, judges.llms[role], request, run_id="qualify")
            row = cached(ledger, outcome.key)  # the request as recorded, with what it cost
        except Exception:
            failed.set()
            raise
        assert row is not None  # answered or recorded as a judge-error: in the ledger either way
        replies.append((outcome.judgement.stance if outcome.judgement else None, row["tokens_in"], row["tokens_out"]))
        tally.answered(outcome.cached)
    return replies


def _in_order(pending: list[Future[list[_Reply]]]) -> list[list[_Reply]]:
    """Every sample's replies, in sample order; after a failure (LLMError: the endpoint's), once every sample in
    flight has ended, so that what they were answered is cached, the first failure."""
    replies: list[list[_Reply]] = []
    failure: Exception | None = None
    for future in pending:
        try:
            replies.append(future.result())
        except CancelledError:
            continue
        except Exception as exc:  # raised below, once the samples in flight have ended
            failure = failure or exc
    if failure is not None:
        raise failure
    return replies


def _names(answers: Sequence[Stance | None]) -> list[str]:
    return [a.value if a is not None else ERROR for a in answers]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _scores(judges: Judges, role: str, truth: list[Stance], said: list[Stance | None], used: list[int]) -> RoleScores:
    columns = [*STANCES, None]
    counts = Counter(zip(truth, said, strict=True))
    confusion = [[counts[(t, a)] for a in columns] for t in STANCES]
    precision, recall, f1 = {}, {}, []
    for s in STANCES:
        tp = counts[(s, s)]
        predicted = sum(1 for a in said if a == s)
        actual = sum(1 for t in truth if t == s)
        precision[s.value] = round(tp / predicted, 4) if predicted else 0.0
        recall[s.value] = round(tp / actual, 4) if actual else 0.0
        f1.append(2 * tp / (predicted + actual) if tp else 0.0)
    return RoleScores(
        model=judges.llms[role].model,  # type: ignore[index]
        prompt=judges.prompts[role].version,  # type: ignore[index]
        confusion=confusion,
        precision=precision,
        recall=recall,
        macro_f1=round(sum(f1) / len(STANCES), 4),
        errors=sum(1 for a in said if a is None),
        calls=used[0],
        tokens_in=used[1],
        tokens_out=used[2],
    )
