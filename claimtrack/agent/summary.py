"""What a run did, per claim and in total: the summary `claimtrack run` prints (or gives as JSON) and the
ledger's runs table keeps. Failures are grouped by source and cause, so a source that is down for a whole run
reads as one line, not one per claim."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from claimtrack.agent.llm import Usage

SECOND_OPINIONS = ("confirm", "recheck")  # the calls confirmation costs: the confirmation and any recheck


@dataclass
class ClaimReport:
    claim_id: str
    papers_found: int = 0
    new_papers: int = 0
    extra_queries: list[str] = field(default_factory=list)
    judged: int = 0  # pairs this run asked the model about (a first look, a full judgement or a confirmation)
    cached: int = 0  # pairs whose judgements all came from the ledger cache
    set_aside: int = 0  # of the pairs judged: those a first look found clearly unrelated (nothing more read)
    read_in_full: int = 0  # of the pairs judged: those judged again with passages of their full text
    judge_errors: int = 0
    confirmed: int = 0  # pairs whose credible judgement a second judgement confirmed (fresh or cached)
    review: list[str] = field(default_factory=list)  # review items of pairs whose two judgements disagreed
    unjudged: int = 0  # candidates left for a later run (no LLM, --no-judge, k reached, or an endpoint failure)
    evidence_added: list[str] = field(default_factory=list)
    replication: str | None = None  # job id, when one ran or was collected
    change: dict[str, Any] | None = None  # from, to, evidence, rationale
    contested: str | None = None  # why the status in force is contested, when it is (decide.weigh)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unchecked: bool = False  # no source could be reached: nothing new about this claim could be looked at


@dataclass
class RunSummary:
    run_id: str
    started_at: str
    finished_at: str | None = None
    llm: str | None = None  # model name; None when no endpoint is configured or judging is off
    offline: bool = False
    fulltext: bool = True  # the judge read full texts and citation contexts (not --no-fulltext)
    claims: list[ClaimReport] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    collected: list[str] = field(default_factory=list)  # replication jobs (Slurm) finished since the last run
    judge_standing: str | None = None  # the judge qualified, trusted by override, or not qualified (one line)
    replication_jobs: dict[str, int] = field(default_factory=dict)  # claims waiting on a pending / failed job

    @property
    def failed(self) -> list[ClaimReport]:
        return [c for c in self.claims if c.failures]

    @property
    def unchecked(self) -> bool:
        """Nothing could be checked: every claim's sources were unreachable (a run with claims, not offline)."""
        return bool(self.claims) and all(c.unchecked for c in self.claims)

    @property
    def changes(self) -> list[ClaimReport]:
        return [c for c in self.claims if c.change]

    def failure_groups(self) -> list[dict[str, Any]]:
        """Failures grouped by source and cause, each with the claims it hit: a source that is down for the
        whole run is one line, not one per claim and anchor."""
        groups: dict[tuple[str, str], list[str]] = {}
        for claim in self.claims:
            for failure in claim.failures:
                source, _, detail = failure.partition(": ")
                hit = groups.setdefault((source, failure_cause(detail)), [])
                if claim.claim_id not in hit:
                    hit.append(claim.claim_id)
        return [{"source": s, "cause": c, "claims": ids} for (s, c), ids in groups.items()]

    def what_to_do(self) -> str | None:
        """The advice line for a run whose sources or endpoint could not be reached (see `what_to_do`)."""
        pairs = [(f.partition(": ")[0], f.partition(": ")[2]) for c in self.claims for f in c.failures]
        return what_to_do(pairs, offline="claimtrack run --due --offline")

    def tokens_per_pair(self, *, confirmation: bool) -> int | None:
        """The judge's tokens (in and out: first looks and judgements, and confirmations when asked) per pair
        this run judged; None when it judged none."""
        judged = sum(c.judged for c in self.claims)
        purposes = ("look", "judge", *SECOND_OPINIONS) if confirmation else ("look", "judge")
        return round(self.usage.tokens(*purposes) / judged) if judged else None

    def calls_per_pair(self) -> float | None:
        """Judge requests (looks, judgements, confirmations, rechecks) per pair this run judged."""
        judged = sum(c.judged for c in self.claims)
        calls = sum(self.usage.purposes.get(p, {}).get("calls", 0) for p in ("look", "judge", *SECOND_OPINIONS))
        return round(calls / judged, 2) if judged else None

    def as_dict(self) -> dict[str, Any]:
        confirm = self.usage.tokens(*SECOND_OPINIONS)
        rest = self.usage.tokens() - confirm
        return {
            "run_id": self.run_id,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "llm": self.llm,
            "judge_standing": self.judge_standing,
            "offline": self.offline,
            "fulltext": self.fulltext,
            "collected_replications": self.collected,
            "replication_jobs": self.replication_jobs,
            "totals": {
                "claims": len(self.claims),
                "failed": len(self.failed),
                "unchecked": sum(c.unchecked for c in self.claims),
                "papers_found": sum(c.papers_found for c in self.claims),
                "new_papers": sum(c.new_papers for c in self.claims),
                "pairs_judged": sum(c.judged for c in self.claims),
                "pairs_cached": sum(c.cached for c in self.claims),
                "pairs_set_aside": sum(c.set_aside for c in self.claims),
                "pairs_read_in_full": sum(c.read_in_full for c in self.claims),
                "tokens_per_pair": self.tokens_per_pair(confirmation=False),
                "tokens_per_pair_with_confirmation": self.tokens_per_pair(confirmation=True),
                "judge_errors": sum(c.judge_errors for c in self.claims),
                "pairs_confirmed": sum(c.confirmed for c in self.claims),
                "pairs_to_review": sum(len(c.review) for c in self.claims),
                "unjudged": sum(c.unjudged for c in self.claims),
                "status_changes": len(self.changes),
                "contested": sum(c.contested is not None for c in self.claims),
                "judge_calls_per_pair": self.calls_per_pair(),
                **{f"llm_{k}": v for k, v in self.usage.as_dict().items()},
                "confirm_tokens": confirm,
                "confirm_share": round(confirm / rest, 4) if rest else None,  # of the run's other LLM tokens
            },
            "failures_by_source": self.failure_groups(),
            "what_to_do": self.what_to_do(),
            "llm_by_purpose": self.usage.purposes,
            "claims": [asdict(c) for c in self.claims],
        }


LITERATURE_SOURCES = ("arxiv", "semanticscholar", "openalex", "citations")
"""The discovery sources a run or `discover` asks over the network (discovery/discover.py's SOURCES, and
"citations" for the lookups of citing papers)."""


def what_to_do(failures: Iterable[tuple[str, str]], *, offline: str) -> str | None:
    """One line on what to do after sources (or the LLM endpoint) could not be reached, from (source, detail)
    pairs; None when nothing of the kind failed. `offline` is the command that works without them."""
    failures = list(failures)
    sources = sorted({s for s, d in failures if s in LITERATURE_SOURCES and not d.startswith("offline")})
    judge = any(s == "judge" for s, _ in failures)
    if not sources and not judge:
        return None
    checks = []
    if sources:
        checks.append("the network and its proxy (HTTPS_PROXY)")
        if any(s == "semanticscholar" and "429" in d for s, d in failures):
            checks.append("S2_API_KEY (Semantic Scholar's rate limit)")
    if judge:
        checks.append("OPENAI_API_KEY or OPENAI_BASE_URL (the judge's endpoint)")
    text = f"what to do: `claimtrack doctor` tries each source and the endpoint; check {' and '.join(checks)}"
    if sources:
        text += (
            f"; meanwhile `{offline}` ranks what the ledger and an imported arXiv snapshot hold"
            " (`claimtrack papers import FILE`, docs/discovery.md)"
        )
    return text


# What makes one failure message differ from another of the same cause: the anchor, the query, the URL.
_SPECIFIC = re.compile(
    r" \((?:term|anchor|extra|title): [^)]*\)"
    r"| (?:for|resolving) (?:citations of |works citing |query )?(?:arXiv:)?[\w./:-]*\d[\w./:-]*"
    r"| \((?:https?://)?[\w.-]+(?::\d+)?/[^()\s]*\)|https?://\S+"
)


def failure_cause(detail: str) -> str:
    """A failure message without what is specific to one claim ('HTTP 429 for citations of arXiv:X' ->
    'HTTP 429'), so the same cause across claims reads as one."""
    return _SPECIFIC.sub("", detail).strip() or detail
