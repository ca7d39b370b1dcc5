"""One re-validation run: for each chosen claim, the steps in CLAIM_STEPS (plan queries -> discover and rank
-> judge the top k -> replicate where due or contested -> decide and write). Claims are written one at a time
(Store.update_claim: lock, re-read, atomic write), and each judgement is committed to the ledger as it is made,
so a run killed at any point leaves a valid store and the next run re-asks nothing it already paid for.

Claims run concurrently, and so do the pairs of a claim, so that LLM calls and lookups overlap (pool.py bounds
the calls in flight). What a claim ends with does not depend on that: each claim stores and ranks its papers in
the run's claim order (Turns), a claim's pairs are chosen before any is judged and their outcomes are taken in
rank order, and the reports are gathered in claim order, so a run gives what a serial one gives.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import logging
import os
import secrets
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError
from dataclasses import dataclass, field
from typing import Any

from claimtrack.agent.assess import Assessment, Assessor, load_prompts, make_judges
from claimtrack.agent.decide import is_credible, weigh
from claimtrack.agent.llm import LLM, LLMError
from claimtrack.agent.material import Block
from claimtrack.agent.planner import plan_queries
from claimtrack.agent.pool import Turns, Workers, import_for_workers
from claimtrack.agent.progress import Progress, Tally
from claimtrack.agent.prompts import Prompt, load_prompt
from claimtrack.agent.qualification import Standing, latest
from claimtrack.agent.reading import FullTextStep, Reading
from claimtrack.agent.summary import ClaimReport, RunSummary
from claimtrack.config import Settings
from claimtrack.errors import Busy, ClaimtrackError, InvalidArgument, SourceError
from claimtrack.fileio import atomic_write, file_lock
from claimtrack.ledger import Ledger
from claimtrack.models import CONTESTING, Claim, Evidence, EvidenceKind
from claimtrack.papers import Paper, adopt_identities, aliases
from claimtrack.reviews_table import waiting
from claimtrack.rulings import paper_of
from claimtrack.store import Store
from claimtrack.workspace import Workspace

log = logging.getLogger(__name__)


@dataclass
class RunOptions:
    claim_ids: list[str] = field(default_factory=list)
    due: bool = False
    all: bool = False
    offline: bool = False
    judge: bool = True
    fulltext: bool = True  # read full texts and citation contexts for the judge; False: titles and abstracts only
    replicate: bool = True
    k: int | None = None  # pairs judged afresh per claim; Settings.judge_k when None
    replicate_limit: int | None = None  # items per probe condition (lm-eval --limit)
    trust_judge: bool = False  # a person vouches for an unqualified judge: it counts by confidence, as before

    @property
    def command(self) -> str:
        """The command line this run stands for, as recorded in the ledger's runs table."""
        flags = [
            ("--due", self.due),
            ("--all", self.all),
            ("--offline", self.offline),
            ("--no-judge", not self.judge),
            ("--no-fulltext", not self.fulltext),
            ("--no-replicate", not self.replicate),
            ("--trust-judge", self.trust_judge),
        ]
        parts = ["claimtrack run", *self.claim_ids, *(flag for flag, on in flags if on)]
        parts += [f"--k {self.k}"] if self.k else []
        parts += [f"--replicate-limit {self.replicate_limit}"] if self.replicate_limit else []
        return " ".join(parts)


def new_run_id(now: dt.datetime) -> str:
    return f"run-{now.strftime('%Y%m%dt%H%M%Sz').lower()}-{secrets.token_hex(3)}"


def select_claims(store: Store, options: RunOptions, now: dt.datetime) -> list[Claim]:
    """The claims named, or the due ones, or all; unknown ids are bad input (exit 2)."""
    library = store.load()
    if not (options.claim_ids or options.due or options.all):
        raise InvalidArgument("CLAIM_ID", "name claims, or pass --due or --all")
    if options.all:
        chosen = list(library.claims.values())
    else:
        chosen = [library.claim(cid) for cid in dict.fromkeys(options.claim_ids)]  # NotFound names the id
        if options.due:
            named = {c.id for c in chosen}
            chosen += [c for c in library.claims.values() if c.is_due(now) and c.id not in named]
    return chosen


class RunLock:
    """One run per workspace: a flock in the state folder, plus a note saying who holds it."""

    def __init__(self, ws: Workspace, wait: float):
        self.path = ws.ensure_state() / "run.lock"
        self.info = ws.state_dir / "run.json"
        self.wait = wait
        self._cm: Any = None

    def __enter__(self) -> RunLock:
        self._cm = file_lock(self.path, wait=self.wait, holder="another claimtrack run")
        try:
            self._cm.__enter__()
        except Busy:
            raise Busy(f"another claimtrack run is in progress ({self._holder()}); try again when it ends") from None
        return self

    def note(self, run_id: str, started_at: str, command: str) -> None:
        atomic_write(
            self.info, json.dumps({"pid": os.getpid(), "run_id": run_id, "started_at": started_at, "command": command})
        )

    def _holder(self) -> str:
        try:
            info = json.loads(self.info.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return "holder unknown"
        return f"pid {info.get('pid')}, {info.get('run_id')}, started {info.get('started_at')}"

    def __exit__(self, *exc: object) -> None:
        self._cm.__exit__(*exc)


def execute(
    ws: Workspace,
    options: RunOptions,
    *,
    settings: Settings,
    now: dt.datetime | None = None,
    progress: Progress | None = None,
) -> RunSummary:
    """Run the agent over the chosen claims and return the summary (also stored in the ledger's runs table)."""
    now = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    store = Store(ws)
    claims = select_claims(store, options, now)  # bad input fails before anything is locked or written
    judging = options.judge and settings.llm_configured
    judge_prompts = load_prompts(ws) if judging else {}  # bad input fails before anything is locked
    prompts = {"queries": load_prompt(ws, "queries")} if judging else {}
    with RunLock(ws, settings.run_lock_wait_s) as lock, Ledger.open(ws) as ledger:
        run_id = new_run_id(now)
        summary = RunSummary(
            run_id=run_id, started_at=now.isoformat(), offline=options.offline, fulltext=options.fulltext
        )
        lock.note(run_id, summary.started_at, options.command)
        _close_dead_runs(ledger)
        judges = make_judges(judge_prompts, settings, ledger=ledger, run_id=run_id) if judging else None
        standing = None
        if judges is not None:
            trusted = options.trust_judge or settings.trust_judge
            standing = Standing(judge=judges.identity, qualification=latest(ledger, judges.identity), trusted=trusted)
            summary.judge_standing = standing.line()
        with ledger.transaction() as conn:
            conn.execute(
                "INSERT INTO runs (id, started_at, command, judge_standing) VALUES (?,?,?,?)",
                (run_id, summary.started_at, options.command, standing.record() if standing else None),
            )
        llm = judges.llms["judge"] if judges is not None else None
        summary.llm = judges.label if judges is not None else None
        assessor = None
        if judges is not None and standing is not None:
            summary.usage = judges.llms["judge"].usage
            assessor = Assessor(
                ledger,
                judges.llms,
                judges.prompts,
                standing,
                settings.judge_threshold,
                run_id,
                set_aside_at=settings.first_look_unrelated,
                pair_probability=settings.pair_probability,
                max_calls=settings.max_calls_per_pair,
            )
        reading = Reading(ledger, settings) if assessor is not None and options.fulltext else None
        pool = llm.pool if llm is not None else None  # the judges' one pool of calls, shown in the progress line
        outcome = "interrupted"
        import_for_workers(
            sources=not options.offline,
            judge=llm is not None,
            reading=reading is not None,
            replicate=options.replicate and any(c.replication for c in claims),
        )
        # Claims and pairs in flight: enough pairs that the pool's calls are kept busy while other pairs read full
        # texts; with a concurrency of 1, one of each (a serial run).
        width = settings.llm_concurrency
        depth = 1 if width == 1 else 2 * width
        try:
            if options.replicate:
                summary.collected = _collect(ws)
            with Workers(width, "claim") as claim_workers, Workers(depth, "pair") as pair_workers:
                ctx = RunContext(
                    ws=ws,
                    ledger=ledger,
                    store=store,
                    llm=llm,
                    assessor=assessor,
                    reading=reading,
                    prompts=prompts,
                    options=options,
                    settings=settings,
                    run_id=run_id,
                    now=now,
                    tally=Tally(len(claims), progress or (lambda _status: None), pool),
                    pairs=pair_workers,
                )
                checks = [
                    claim_workers.submit(functools.partial(check_claim, ctx, claim, number))
                    for number, claim in enumerate(claims, 1)
                ]
                summary.claims += [check.result() for check in checks]  # in the run's order, whatever ended first
            if options.replicate:
                from claimtrack.replication.board import waiting

                summary.replication_jobs = waiting(ledger)
            outcome = "failed" if summary.failed else "ok"
        finally:
            if reading is not None:
                reading.close()
            summary.finished_at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
            with ledger.transaction() as conn:
                conn.execute(
                    "UPDATE runs SET finished_at = ?, outcome = ?, summary_json = ? WHERE id = ?",
                    (summary.finished_at, outcome, json.dumps(summary.as_dict()), run_id),
                )
    return summary


def _close_dead_runs(ledger: Ledger) -> None:
    """Runs left without an outcome died (kill -9, power loss): we hold the run lock, so none is alive."""
    with ledger.transaction() as conn:
        conn.execute("UPDATE runs SET outcome = 'interrupted' WHERE outcome IS NULL")


def _collect(ws: Workspace) -> list[str]:
    """Replication jobs submitted to Slurm by earlier runs: finished ones write their evidence now."""
    from claimtrack.replication import collect

    return [f"{o.job_id}: {o.error or 'collected'}" for o in collect(ws)]


@dataclass(frozen=True)
class RunContext:
    """What every step of a run shares, fixed for the whole run."""

    ws: Workspace
    ledger: Ledger
    store: Store
    llm: LLM | None  # None: no endpoint configured, or --no-judge
    assessor: Assessor | None  # judges and confirms pairs; None when llm is None
    reading: Reading | None  # full texts and citation contexts for the judge; None with --no-fulltext
    prompts: dict[str, Prompt]  # "judge", "confirm" and "queries", loaded when judging
    options: RunOptions
    settings: Settings
    run_id: str
    now: dt.datetime  # the run's start: the date of its status changes and of last_checked
    tally: Tally  # progress: each claim's step, pairs judged of planned, calls in flight
    pairs: Workers  # where the pairs are assessed, across claims
    turns: Turns = field(default_factory=Turns)  # storing and ranking, in the run's claim order
    replicating: threading.Lock = field(default_factory=threading.Lock)  # one replication at a time

    @property
    def k(self) -> int:
        return self.options.k or self.settings.judge_k


@dataclass
class ClaimCheck:
    """One claim on its way through the steps: what the steps found so far, and the report they fill.

    `claim` is the claim as the run read it at the start; only the last step re-reads and writes it.
    """

    claim: Claim
    report: ClaimReport
    number: int  # the claim's place in the run, from 1: its turn to store and rank
    say: Callable[[str], None]  # progress: what the run is doing for this claim now
    candidates: list[Paper] = field(default_factory=list)  # ranked best first
    judged: list[Evidence] = field(default_factory=list)  # confirmed evidence from this run's pairs, fresh or cached
    readings: list[Evidence] = field(default_factory=list)  # unconfirmed readings of papers the claim holds
    known: dict[str, str] | None = None  # paper ids given up in merges, as of the claim's turn to store its papers
    replicated: list[Evidence] = field(default_factory=list)


def check_claim(ctx: RunContext, claim: Claim, number: int) -> ClaimReport:
    """Take one claim through every step in order. A step that fails notes it in the report and the next
    still runs: a source being down must not stop the judging of what was already found. An unexpected error
    fails this claim alone, with a one-line reason (the traceback is logged at -v), and the run goes on."""
    check = ClaimCheck(claim, ClaimReport(claim.id), number, lambda step: ctx.tally.say(number, claim.id, step))
    try:
        for step in CLAIM_STEPS:
            step(ctx, check)
    except Exception as exc:  # one claim's fault must not end the run for the others
        reason = exc.message() if isinstance(exc, ClaimtrackError) else f"{type(exc).__name__}: {exc}"
        check.report.failures.append(f"error: {' '.join(reason.split())}")
        log.info("%s failed; its traceback:\n%s", claim.id, traceback.format_exc().rstrip())
    finally:
        ctx.turns.done(number)  # a claim that failed before its turn must not hold up the claims after it
    check.say("done")
    return check.report


def plan_extra_queries(ctx: RunContext, check: ClaimCheck) -> None:
    """Ask the LLM for extra search queries beside the curated ones, since papers name the same mechanism in
    words a curator did not think of. Skipped offline, where no query is sent."""
    if ctx.llm is None or ctx.options.offline:
        return
    check.say("planning queries")
    try:
        check.report.extra_queries = plan_queries(
            ctx.ledger, ctx.llm, ctx.prompts["queries"], check.claim, run_id=ctx.run_id
        )
    except LLMError as exc:
        check.report.failures.append(f"query planning: {exc}")


def discover_candidates(ctx: RunContext, check: ClaimCheck) -> None:
    """Find and rank papers newer than the claim. Each source's failure is noted and the others' papers are
    still ranked, so one source down costs the run that source only."""
    from claimtrack.discovery.discover import discover

    check.say("discovering")
    report = check.report
    try:
        result = discover(
            ctx.ws,
            ctx.ledger,
            check.claim,
            settings=ctx.settings,
            extra_queries=tuple(report.extra_queries),
            offline=ctx.options.offline,
            k=max(20, ctx.k + _judged_before(ctx, check.claim)),
            run_id=ctx.run_id,
            now=ctx.now,
            in_turn=_turn(ctx, check),
        )
    except SourceError as exc:
        report.failures.append(f"discovery: {exc}")
        report.unchecked = True
        return
    if ctx.options.offline:  # discovery lists each source it skipped; one line per claim says it
        skipped = sorted({f.source for f in result.failures})
        report.notes.append(f"offline: {', '.join(skipped)} not queried; ranked the papers already stored")
    else:
        report.failures += [f"{f.source}: {f.message}" for f in result.failures]
        report.unchecked = result.nothing_reached
    report.notes += result.notes
    ranked = sorted(result.candidates, key=lambda c: c.rank)
    report.papers_found = len(ranked)
    report.new_papers = result.new_papers
    check.candidates = [c.paper for c in ranked]


@contextlib.contextmanager
def _turn(ctx: RunContext, check: ClaimCheck) -> Iterator[None]:
    """The claim's turn to store and rank; it also notes the paper merges known then, which a serial run would
    decide the claim with (later claims' discoveries may merge more papers before this claim is written)."""
    with ctx.turns.turn(check.number):
        yield
        check.known = aliases(ctx.ledger)


def _judged_before(ctx: RunContext, claim: Claim) -> int:
    """Candidates of the claim judged in earlier runs: the ranking must reach past them to supply k new ones."""
    row = ctx.ledger.conn.execute(
        "SELECT COUNT(*) FROM candidates WHERE claim_id = ? AND state != 'unjudged'", (claim.id,)
    ).fetchone()
    return int(row[0])


def judge_candidates(ctx: RunContext, check: ClaimCheck) -> None:
    """Judge the candidates down the ranking until k pairs were judged afresh: pairs judged before come from
    the cache and use no slot, so each run reaches further down (the paper ranked k+1 is judged next time).

    Each pair gets a first look on its title and abstract (and what it says where it cites the claim's anchors);
    unless that finds it clearly unrelated, its full text is read and the best passages for the claim are judged
    with the rest (with --no-fulltext, the title and abstract alone are judged, once). A credible judgement is
    confirmed by a second one on the same material (confirm.py); only confirmed evidence can move the claim, and
    a pair whose two judgements disagree waits in the review queue. Without an LLM the pairs stay unjudged;
    when the endpoint fails the rest wait for the next run rather than be guessed. A slot is a fresh first look.

    The pairs are chosen first (a first look in the cache takes no slot), then assessed concurrently, each in
    its own order of steps, and their outcomes are taken in rank order, as one after the other would give them."""
    report, assessor = check.report, ctx.assessor
    if assessor is None:
        report.unjudged = len(check.candidates[: ctx.k])
        return
    chosen = _chosen_pairs(ctx, check)
    ctx.tally.say(check.number, check.claim.id, f"judging {len(chosen)} pairs", planned=len(chosen))
    assessed = [ctx.pairs.submit(functools.partial(_assess, ctx, check, paper)) for paper in chosen]
    failure: LLMError | None = None
    for paper, pending in zip(chosen, assessed, strict=True):
        try:
            assessment, more = pending.result()
        except LLMError as exc:  # the endpoint failed: the pairs not yet started wait for the next run
            failure = failure or exc
            for later in assessed:
                later.cancel()
            continue
        except CancelledError:
            continue
        _count(ctx, check, paper, assessment, more)
    if failure is not None:
        report.failures.append(f"judge: {failure}")
    report.unjudged = _not_judged(ctx, check)


def _chosen_pairs(ctx: RunContext, check: ClaimCheck) -> list[Paper]:
    """The candidates a serial walk down the ranking would assess: every one whose first look is cached, and
    fresh ones until k of them."""
    assessor = ctx.assessor
    assert assessor is not None
    chosen, fresh = [], 0
    for paper in check.candidates:
        if not assessor.is_judged(check.claim, paper, _first_look_blocks(ctx, check.claim, paper)):
            if fresh >= ctx.k:
                break
            fresh += 1
        chosen.append(paper)
    return chosen


def _assess(ctx: RunContext, check: ClaimCheck, paper: Paper) -> tuple[Assessment, FullTextStep | None]:
    """One pair's assessment, its steps in order (in a pair worker)."""
    assessor = ctx.assessor
    assert assessor is not None
    shown = _first_look_blocks(ctx, check.claim, paper)
    more = ctx.reading.for_pair(check.claim, paper) if ctx.reading is not None else None
    try:
        return assessor.assess(check.claim, paper, shown, more=more, now=ctx.now), more
    finally:
        ctx.tally.say(check.number, check.claim.id, f"judged {paper.id}", judged=1)


def _count(ctx: RunContext, check: ClaimCheck, paper: Paper, assessment: Assessment, more: FullTextStep | None) -> None:
    """Add one assessed pair to the claim's report and evidence."""
    report = check.report
    first = assessment.first
    if assessment.fresh:
        report.judged += 1
        report.set_aside += assessment.set_aside
        report.read_in_full += assessment.read_more
    else:
        report.cached += 1
    read = more.read if more is not None else None
    if read is not None and (read.retry or not first.cached):  # said when judged on it, or to be read later
        report.notes += list(read.notes)
    if first.outcome == "judge-error":
        report.judge_errors += 1
        if not first.cached:  # said once, in the run that recorded it
            report.notes.append(f"judge-error on {paper.id}: {first.error}")
    if assessment.evidence is not None:
        report.confirmed += 1
        check.judged.append(assessment.evidence)
    elif (reading := assessment.reading(ctx.run_id)) is not None:
        check.readings.append(reading)
    if assessment.review is not None:
        report.review.append(assessment.review)


def _first_look_blocks(ctx: RunContext, claim: Claim, paper: Paper) -> tuple[Block, ...]:
    """What the judge is shown beside the title and abstract on the first look: the citation contexts."""
    return ctx.reading.contexts(claim, paper) if ctx.reading is not None else ()


def _not_judged(ctx: RunContext, check: ClaimCheck) -> int:
    """Candidates whose first look is not in the cache: those past the k slots, or left by an endpoint failure."""
    assessor = ctx.assessor
    assert assessor is not None
    return sum(
        not assessor.is_judged(check.claim, paper, _first_look_blocks(ctx, check.claim, paper))
        for paper in check.candidates
    )


def replicate_claim(ctx: RunContext, check: ClaimCheck) -> None:
    """Run the claim's replication probe when it is due, or at once when new literature contests the claim:
    a measurement then weighs against the papers' word. A broken spec or failed job fails this claim only."""
    claim, report = check.claim, check.report
    contested = any(is_credible(e, ctx.settings.judge_threshold) and e.stance in CONTESTING for e in check.judged)
    if not (ctx.options.replicate and claim.replication) or not (contested or _replication_due(claim, ctx.now)):
        return
    check.say("replicating" + (" (contested by new literature)" if contested else ""))
    from claimtrack.replication import replicate

    try:
        # One at a time: a probe fills the machine, and redirect_stdout is process-wide.
        with ctx.replicating, contextlib.redirect_stdout(sys.stderr):  # lm-eval prints to stdout; keep it for --json
            outcome = replicate(
                ctx.ws, claim.id, limit=ctx.options.replicate_limit, run_id=ctx.run_id, comparison_only=True
            )
    except ClaimtrackError as exc:
        report.failures.append(f"replication: {exc.message()}")
        return
    if outcome.state == "skipped":
        report.notes.append(
            f"replication skipped: {outcome.note} (`claimtrack replicate {claim.id}` probes the offline model alone)"
        )
        return
    report.replication = outcome.job_id
    if outcome.error:
        report.failures.append(f"replication: {outcome.error}")
    elif outcome.evidence is not None:
        check.replicated.append(outcome.evidence)


def _replication_due(claim: Claim, now: dt.datetime) -> bool:
    """No replication evidence yet, or the newest is older than the claim's review cadence."""
    done = [e.judged_at for e in claim.evidence if e.kind == EvidenceKind.REPLICATION]
    return not done or now - max(done) >= dt.timedelta(days=claim.review_every_days)


def decide_and_write(ctx: RunContext, check: ClaimCheck) -> None:
    """Add the new evidence to the claim and let the status rules (decide.py) move it, in one locked
    read-modify-write of the claim as it is on disk now: an edit made during the run is kept, and a verdict a
    person recorded during the run is decided against (dated after it, so the history stays in order)."""
    check.say("deciding")
    report = check.report

    known = check.known if check.known is not None else aliases(ctx.ledger)
    pending = waiting(ctx.ledger, check.claim.id)

    def apply(current: Claim) -> None:
        adopt_identities(current, known, by=ctx.run_id, now=ctx.now)
        held = {paper_of(current, e.source) for e in current.evidence if e.kind == EvidenceKind.PAPER}
        retracting = [e for e in check.readings if paper_of(current, known.get(e.source, e.source)) in held]
        report.evidence_added += current.add_evidence([*check.judged, *retracting, *check.replicated])
        adopt_identities(current, known, by=ctx.run_id, now=ctx.now)  # judged under an id merged since
        remeasured = {e.id: e.probability for e in check.judged if e.probability is not None}
        for item in current.evidence:  # a pair weighed again (a newer measurement of the judge) counts by it
            if item.id in remeasured and item.probability != remeasured[item.id]:
                item.probability = remeasured[item.id]
        at = current.entry_time(ctx.now)
        decision = weigh(
            current,
            threshold=ctx.settings.judge_threshold,
            by=ctx.run_id,
            now=at,
            margin=ctx.settings.status_margin,
            waiting=pending,
        )
        current.contested = decision.contested
        report.contested = decision.contested
        change = decision.change
        if change is not None:
            current.record_change(change)
            report.change = {
                "from": change.from_.value,
                "to": change.to.value,
                "evidence": change.evidence,
                "rationale": change.rationale,
                "scope": change.scope,
            }
        if not report.failures and not ctx.options.offline:
            current.last_checked = ctx.now  # a failed or offline check leaves the claim due, so --due retries it

    ctx.store.update_claim(check.claim.id, apply)


CLAIM_STEPS: tuple[Callable[[RunContext, ClaimCheck], None], ...] = (
    plan_extra_queries,
    discover_candidates,
    judge_candidates,
    replicate_claim,
    decide_and_write,
)
"""What a run does for each claim, in order; each step reads what the ones before it left in the ClaimCheck."""
