"""The data model of the store. YAML files are parsed into these; unknown fields are errors."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_serializer,
    model_validator,
)

from claimtrack.errors import ChangeRefused
from claimtrack.ids import is_slug, normalize_arxiv_id


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, validate_assignment=True)


class Status(StrEnum):
    UNTESTED = "untested"
    HOLDING = "holding"
    RELAXED = "relaxed"
    SUPERSEDED = "superseded"


class Stance(StrEnum):
    SUPPORTS = "supports"
    RELAXES = "relaxes"
    CONTRADICTS = "contradicts"
    SUPERSEDES = "supersedes"
    UNRELATED = "unrelated"


CONTESTING = frozenset({Stance.RELAXES, Stance.CONTRADICTS, Stance.SUPERSEDES})
"""The stances that narrow or overturn a claim, as against supporting it (or not bearing on it)."""


class EvidenceKind(StrEnum):
    PAPER = "paper"
    REPLICATION = "replication"
    MANUAL = "manual"


class QuoteSource(StrEnum):
    """Which block of the text the judge was shown a quote came from."""

    ABSTRACT = "abstract"  # the title and abstract
    FULLTEXT = "fulltext"  # a passage of the full text (with its section heading in quote_section)
    CITATION_CONTEXT = "citation-context"  # what the paper says where it cites the claim's anchor


class AnchorConfidence(StrEnum):
    """Who tied the paper to the claim, and how sure they are. Only `resolved` is a machine's."""

    VERIFIED = "verified"  # a person saw id, title and date, and the abstract carries the claim
    LIKELY = "likely"  # a real paper, but the claim merges several, is only partly carried by it, or not all was seen
    UNCERTAIN = "uncertain"
    RESOLVED = (
        "resolved"  # linked by claimtrack (a research prompt's anchor, or an arXiv search); no person confirmed it
    )


_PARTIAL_DATE = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")


def _to_text(value: Any) -> Any:
    # YAML reads 2023 as an int and 2023-05-11 as a date; the store keeps both as text.
    if isinstance(value, (int, dt.date)) and not isinstance(value, bool):
        return value.isoformat() if isinstance(value, dt.date) else str(value)
    return value


def _check_partial_date(value: str) -> str:
    if not _PARTIAL_DATE.match(value):
        raise ValueError(f"'{value}' is not a year or date (YYYY, YYYY-MM or YYYY-MM-DD)")
    return value


PartialDate = Annotated[str, BeforeValidator(_to_text), AfterValidator(_check_partial_date)]
"""A year, a month or a day: findings are often dated only to the year."""


def partial_date_start(value: str) -> dt.date:
    """The first day a partial date covers (2023 -> 2023-01-01)."""
    parts = [int(p) for p in value.split("-")] + [1, 1]
    return dt.date(parts[0], parts[1], parts[2])


def _check_slug(value: str) -> str:
    if not is_slug(value):
        raise ValueError(f"'{value}' is not a slug (lowercase letters, digits and single hyphens, at most 80)")
    return value


def _check_arxiv(value: str) -> str:
    return normalize_arxiv_id(value)


Slug = Annotated[str, AfterValidator(_check_slug)]
ArxivId = Annotated[str, BeforeValidator(_to_text), AfterValidator(_check_arxiv)]
UtcDateTime = Annotated[dt.datetime, AfterValidator(lambda v: v if v.tzinfo else v.replace(tzinfo=dt.UTC))]
EntryTime = Annotated[UtcDateTime, AfterValidator(lambda v: v.replace(microsecond=0))]
"""When a history entry was made: every kind is dated to the second, so entries compare in one precision (a
file written before, with microseconds on an entry, reads back truncated, which keeps its order)."""
_CATEGORY = re.compile(r"^[a-z\-]+(\.[A-Za-z\-]+)?$")


class Anchor(Model):
    """A paper that anchors a claim: where the finding was reported.

    An anchor linked while arXiv could not be reached holds only its id (title None) until `claimtrack anchors
    resolve` fills in the metadata.
    """

    arxiv: ArxivId
    title: str | None = None
    first_author: str | None = None
    date: PartialDate | None = None  # of the first version
    version: str | None = Field(default=None, pattern=r"^v[1-9]\d*$")  # the version the metadata describes
    confidence: AnchorConfidence = AnchorConfidence.VERIFIED
    found_by: Literal["prompt", "search"] | None = None  # how claimtrack linked it; None when a person did
    score: float | None = Field(default=None, ge=0.0, le=1.0)  # how well the paper matched the note, when found_by

    @property
    def display_title(self) -> str:
        return self.title or "(title not resolved yet)"

    @property
    def resolved(self) -> bool:
        """Whether arXiv's metadata has been filled in."""
        return self.title is not None


class Figure(Model):
    """A figure (or a finding stated as one) that a claim cites.

    In YAML it is plain text when it is expected in the anchors' text; a mapping adds where it comes from, or
    marks it unconfirmed: `{text: ..., source: arXiv:ID[vN], unconfirmed: why}`. A plain figure stays plain
    text on rewrite, so files written before this model keep their bytes.
    """

    text: str
    source: str | None = None  # arXiv:ID or arXiv:IDvN, when the figure is from another paper or one version
    unconfirmed: str | None = None  # why it could not be found in its source's text (an audit, a reader)

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        return {"text": value} if isinstance(value, str) else value

    @field_validator("source")
    @classmethod
    def _source(cls, value: str | None) -> str | None:
        if value is not None:
            if not value.startswith("arXiv:"):
                raise ValueError(f"'{value}' is not arXiv:ID or arXiv:IDvN")
            normalize_arxiv_id(value)
        return value

    @model_serializer(mode="wrap")
    def _as_text(self, handler: Any) -> Any:
        data = handler(self)
        return self.text if self.source is None and self.unconfirmed is None else data

    def __str__(self) -> str:
        return self.text


class SearchHints(Model):
    """Curated terms and arXiv categories the discovery step searches with."""

    terms: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)

    @field_validator("categories")
    @classmethod
    def _categories(cls, value: list[str]) -> list[str]:
        for category in value:
            if not _CATEGORY.match(category):
                raise ValueError(f"'{category}' is not an arXiv category (e.g. cs.CL)")
        return value


def quote_origin(source: QuoteSource | str | None, section: str | None) -> str | None:
    """Where in a paper a quote stands, as a reader cites it: "abstract", "full text, §4.2 Scaling", "citation
    context on arXiv:2305.11383"; None when not recorded."""
    if source is None:
        return None
    if source == QuoteSource.FULLTEXT:
        return f"full text, {section_label(section)}" if section else "full text"
    if source == QuoteSource.CITATION_CONTEXT:
        return f"citation context on {section}" if section else "citation context"
    return "abstract"


def section_label(section: str) -> str:
    """A paper's section as a reader cites it: "§4.2 Scaling" when numbered, else its heading as written."""
    return f"§{section}" if section[:1].isdigit() else section


class Confirmation(Model):
    """The second judgement that let a paper judgement count: an independent model judgement that agreed on
    the direction, or a person who accepted the pair from the review queue."""

    by: str  # "MODEL@PROMPT_VERSION" (the confirming judgement) or "person:NAME"
    stance: Stance  # what the confirming judgement said (for a person: the stance they accepted)
    quote: str | None = None  # the confirming judgement's own quote, copied from the sentences it cited
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    at: UtcDateTime
    review: str | None = None  # the review item a person accepted


class ReadMaterial(StrEnum):
    """What a judgement of a paper read, least to most complete (decide.py counts the most complete reading)."""

    ABSTRACT = "abstract"  # the title and abstract, with what the paper says where it cites the anchors
    FULLTEXT = "fulltext"  # the above and passages of the full text


class Evidence(Model):
    """One piece of evidence about a claim: a judged paper, a replication result or a person's pointer."""

    id: Slug
    kind: EvidenceKind
    source: str  # "arXiv:2507.12345", a replication job id, or "person:NAME"
    title: str | None = None
    published: PartialDate | None = None  # when the source appeared, so "newer than the claim" is checkable
    stance: Stance
    quote: str | None = None  # verbatim from the source; required when an LLM judged a paper
    quote_source: QuoteSource | None = None  # the block of the text shown to the judge the quote came from
    quote_section: str | None = None  # a full-text quote's section heading; a citation context's anchor (arXiv:ID)
    scope_note: str | None = None
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    rationale: str | None = None
    judged_by: str  # "MODEL@PROMPT_VERSION", "rule:SPEC" or "person:NAME"
    judged_at: UtcDateTime
    numbers: dict[str, float] | None = None  # replication metrics (effect, stderr, ...)
    run: str | None = None
    confirmation: Confirmation | None = None  # a paper judgement counts only once confirmed
    material: ReadMaterial | None = None  # what a paper judgement read; None (older files): told by quote_source
    # The pair's stance probabilities given every judgement of it and the judge's measured confusion matrices
    # (agent/weighing.py); a paper judged by a qualified judge counts by them, not by its confidence.
    probability: dict[Stance, float] | None = None

    @property
    def read(self) -> ReadMaterial:
        """What the judgement read; for an item written before `material` existed, a full-text quote says
        the full text was read and anything else counts as the abstract."""
        if self.material is not None:
            return self.material
        return ReadMaterial.FULLTEXT if self.quote_source == QuoteSource.FULLTEXT else ReadMaterial.ABSTRACT

    @property
    def reading_key(self) -> tuple[Any, ...]:
        """What a paper judgement said, and on what: two items with one key are one reading (add_evidence)."""
        confirmed = self.confirmation is not None
        return (self.source, self.stance, self.quote, self.read, self.confidence, confirmed)

    @property
    def quote_origin(self) -> str | None:
        """Where in the source the quote stands (see `quote_origin`)."""
        return quote_origin(self.quote_source, self.quote_section)


class ModelScore(Model):
    """One model's figure in a replication: the metric and its bootstrap standard error."""

    model: str  # NAME or NAME@REVISION
    role: str  # the spec's role for it (base, tuned, ...)
    value: float | None = None  # None when the metric could not be computed on these items
    stderr: float | None = None


class Replication(Model):
    """A finished replication job as recorded on its claim, whether it ran one model or two: what was measured
    on what, over how many items, with its interval. Only a spec's two-model comparison can decide a status
    (through the evidence item it writes, named in `evidence`); a one-model job is a measurement to read."""

    job: str  # the job id (its result file under .claimtrack/replication/)
    spec: Slug
    task: str  # the lm-eval probe
    metric: str
    n: int = Field(ge=0)  # items measured (paired items when two models were compared)
    models: list[ModelScore] = Field(min_length=1)
    value: float | None = None  # two models: the effect (second minus first); one model: its metric
    interval: tuple[float, float] | None = None  # value -/+ the spec rule's z times the bootstrap stderr
    stance: Stance | None = None  # the rule's verdict on a two-model comparison
    evidence: str | None = None  # the evidence item the comparison wrote
    at: UtcDateTime  # when the job finished
    run: str | None = None  # the run that started it, if a run did

    def describe(self) -> str:
        """One line for a reader: the task, the figure with its interval and item count, each model's figure,
        and what the rule made of it ('ece 0.287 [0.251, 0.323], n=40; gemma-3-270m (base) 0.287; one model:
        no verdict')."""
        two = len(self.models) > 1
        figure = "not computable" if self.value is None else f"{self.value:+.3f}" if two else f"{self.value:.3f}"
        interval = f" [{self.interval[0]:.3f}, {self.interval[1]:.3f}]" if self.interval else ""
        scores = ", ".join(f"{m.model} ({m.role}) {'-' if m.value is None else f'{m.value:.3f}'}" for m in self.models)
        if self.stance is not None:
            verdict = f"rule: {self.stance}"
        else:
            verdict = "one model: no verdict" if not two else "no verdict"
        effect = f"effect ({self.models[1].role} - {self.models[0].role}) " if two else ""
        return f"{self.task}: {self.metric} {effect}{figure}{interval}, n={self.n}; {scores}; {verdict}"


class StatusChange(Model):
    """A dated change of a claim's status, naming the evidence behind it."""

    from_: Status = Field(alias="from")
    to: Status
    at: EntryTime
    by: str  # a run id or "person:NAME"
    evidence: list[str] = Field(default_factory=list)
    rationale: str
    scope: str | None = None  # for relaxed: where the claim still holds
    pinned: bool = False  # a person's verdict
    overrules: list[str] | None = None  # for a verdict: the evidence it overrules; each paper among it stays
    # overruled for this claim, however often it is judged again, until a person lifts the ruling (rulings.py)


class ReviewDecision(Model):
    """A person's decision on a review-queue item (a pair whose two judgements disagreed): accepted, it counts
    as confirmed evidence; rejected, it is overruled. Moves no status by itself (an accept re-decides, and
    any resulting change is its own status entry)."""

    event: Literal["review"] = "review"
    at: EntryTime
    by: str  # "person:NAME"
    item: str  # the review item's id
    decision: Literal["accept", "reject"]
    source: str  # the paper, "arXiv:ID"
    stance: Stance  # the first judgement's stance, which the person accepted or rejected
    evidence: str | None = None  # for accept: the evidence id it added
    rationale: str | None = None


def _history_event(entry: Any) -> str:
    """The kind of a history entry. Entries of other kinds carry an `event` tag; status changes, the first
    kind and the one every file written before had, carry none."""
    event = entry.get("event") if isinstance(entry, dict) else getattr(entry, "event", None)
    return event or "status"


class AnchorDecision(Model):
    """A person linked, confirmed or corrected one of a claim's anchors; moves no status."""

    event: Literal["anchor"] = "anchor"
    at: EntryTime
    by: str  # "person:NAME"
    arxiv: ArxivId
    confidence: AnchorConfidence
    changes: list[str] = Field(default_factory=list)  # "first_author: 'old' -> 'new'", one per field changed
    rationale: str

    @field_validator("confidence")
    @classmethod
    def _a_persons(cls, value: AnchorConfidence) -> AnchorConfidence:
        if value == AnchorConfidence.RESOLVED:
            raise ValueError(
                "'resolved' is claimtrack's own confidence; a person's decision is verified, likely or uncertain"
            )
        return value


class PaperMerge(Model):
    """Two ids turned out to name one paper (a DOI seen first, its arXiv id later): the claim's evidence of the
    paper was rewritten to the id kept, and a person's rulings on either id are one ruling. Moves no status."""

    event: Literal["paper"] = "paper"
    at: EntryTime
    by: str  # the run (or person) that found the two ids to be one paper
    merged: str  # the id given up, as evidence named the paper: "doi:10.1234/x"
    into: str  # the id kept: "arXiv:2512.00009"
    evidence: list[str] = Field(default_factory=list)  # the evidence items rewritten


class RulingLifted(Model):
    """A person lifted their ruling on a paper for this claim (a verdict's overrule, a review's accept or
    reject): its judgements are weighed again by the rules. Moves no status by itself."""

    event: Literal["lift"] = "lift"
    at: EntryTime
    by: str  # "person:NAME"
    source: str  # the paper, as evidence names it
    lifted: Literal["overruled", "rejected", "accepted"]  # the ruling that was in force
    rationale: str


HistoryEntry = Annotated[
    Annotated[StatusChange, Tag("status")]
    | Annotated[AnchorDecision, Tag("anchor")]
    | Annotated[ReviewDecision, Tag("review")]
    | Annotated[PaperMerge, Tag("paper")]
    | Annotated[RulingLifted, Tag("lift")],
    Discriminator(_history_event),
]
"""One dated entry of a claim's history. A new kind (a person's decision that moves no status) is a model
with an `event: Literal[...]` field, added to this union under the same tag."""


class Claim(Model):
    """A dated claim about how models learn, with its anchors, evidence and status history.

    Evidence and history change only through `add_evidence` and `record_change`, which hold the rules every
    writer (a run, a replication, a person's verdict) must keep; `Store.update_claim` writes the result.
    """

    id: Slug
    title: str  # the question the claim answers
    statement: str
    scope: str | None = None
    claimed: PartialDate | None = None  # when the finding was reported; None when unknown
    anchors: list[Anchor] = Field(default_factory=list)
    anchor_note: str | None = None  # why there is no anchor, or what the anchors do not cover
    numbers: list[Figure] = Field(default_factory=list)
    library_note: str | None = None  # the note as written in the library it was imported from
    caveat: str | None = None  # where the library's wording departs from what the anchor reports
    aliases: list[str] = Field(default_factory=list)  # other slugs the note is cited by
    search: SearchHints = Field(default_factory=SearchHints)
    status: Status = Status.UNTESTED
    # Why the status in force is contested: the evidence makes another outcome (another status, or supports and
    # contests that weigh the same) nearly as probable, so the status stays (agent/decide.py); each decision
    # sets or clears it.
    contested: str | None = None
    last_checked: UtcDateTime | None = None
    review_every_days: int = Field(default=90, gt=0)
    replication: Slug | None = None  # id of a spec in evals/specs/
    evidence: list[Evidence] = Field(default_factory=list)
    replications: list[Replication] = Field(default_factory=list, exclude_if=lambda v: not v)  # newest last
    history: list[HistoryEntry] = Field(default_factory=list)

    @property
    def anchor_ids(self) -> list[str]:
        return [a.arxiv for a in self.anchors]

    @property
    def year(self) -> str | None:
        return self.claimed[:4] if self.claimed else None

    def is_due(self, now: dt.datetime) -> bool:
        """Never checked, or checked longer ago than its review cadence."""
        if self.last_checked is None:
            return True
        return now - self.last_checked >= dt.timedelta(days=self.review_every_days)

    def evidence_by_id(self, evidence_id: str) -> Evidence | None:
        return next((e for e in self.evidence if e.id == evidence_id), None)

    @property
    def status_changes(self) -> list[StatusChange]:
        """The history's status changes, in order (other entries record decisions that moved no status)."""
        return [entry for entry in self.history if isinstance(entry, StatusChange)]

    @property
    def review_decisions(self) -> list[ReviewDecision]:
        return [entry for entry in self.history if isinstance(entry, ReviewDecision)]

    @property
    def latest_change(self) -> StatusChange | None:
        """The change in force: the newest by `at`, and of equally new ones the later in the history."""
        latest = None
        for change in self.status_changes:
            if latest is None or change.at >= latest.at:
                latest = change
        return latest

    def add_evidence(self, items: Iterable[Evidence]) -> list[str]:
        """Append the items the claim does not hold yet, so re-recording the same judgement or job is harmless;
        returns the ids added, in order. A paper judgement that repeats a reading the claim holds (the same
        paper, stance, quote, material, confidence and confirmedness, from another judge, prompt or id the
        paper had) adds nothing: the claim file grows by what is new, not by each re-judgement."""
        held = {e.id for e in self.evidence}
        readings = {e.reading_key for e in self.evidence if e.kind == EvidenceKind.PAPER}
        added = []
        for item in items:
            repeat = item.kind == EvidenceKind.PAPER and item.reading_key in readings
            if item.id not in held and not repeat:
                self.evidence.append(item)
                held.add(item.id)
                readings.add(item.reading_key)
                added.append(item.id)
        return added

    def merge_paper(self, merged: str, into: str, *, by: str, now: dt.datetime) -> PaperMerge | None:
        """Rewrite the evidence naming `merged` to name `into` (one paper, two ids) and say so in the history;
        None when no evidence names `merged` (nothing to rewrite, nothing recorded)."""
        rewritten = [e for e in self.evidence if e.kind == EvidenceKind.PAPER and e.source == merged]
        if not rewritten:
            return None
        for item in rewritten:
            item.source = into
        entry = PaperMerge(at=self.entry_time(now), by=by, merged=merged, into=into, evidence=[e.id for e in rewritten])
        self.history.append(entry)
        return entry

    def lift_ruling(self, entry: RulingLifted) -> None:
        """Append a person's lift of a ruling (rulings.py says which rulings are in force)."""
        self._check_in_order(entry)
        self.history.append(entry)

    def record_replication(self, record: Replication) -> bool:
        """Add a finished job's record unless the claim holds it already (a job collected twice, or its cached
        result reused, is recorded once); returns whether it was added."""
        if any(r.job == record.job for r in self.replications):
            return False
        self.replications.append(record)
        self.replications.sort(key=lambda r: r.at)
        return True

    def record_change(self, change: StatusChange) -> None:
        """Append `change` to the history and move the status with it, so the two never disagree.

        Refused (ChangeRefused) when it starts from another status than the claim's, names evidence the
        claim does not hold (add it first), or is dated before the history's last entry, of any kind: each would
        leave a
        history that `claimtrack validate` rejects.
        """
        if change.from_ != self.status:
            raise ChangeRefused(
                self.id, "from", f"the change starts at '{change.from_}' but the claim is '{self.status}'"
            )
        unknown = [ref for ref in change.evidence if self.evidence_by_id(ref) is None]
        if unknown:
            raise ChangeRefused(
                self.id, "evidence", f"the change names evidence the claim does not hold: {', '.join(unknown)}"
            )
        if self.history and change.at < self.history[-1].at:
            raise ChangeRefused(
                self.id,
                "at",
                f"the change is dated {change.at.isoformat()}, before the history's last entry"
                f" ({self.history[-1].at.isoformat()})",
            )
        self.history.append(change)
        self.status = change.to

    def decide_anchor(self, anchor: Anchor, decision: AnchorDecision) -> None:
        """A person's anchor: it replaces the anchor with its id (or goes first), machine proposals found by
        search give way to it, and the decision is dated in the history.

        Refused (ChangeRefused) when the decision names another paper than the anchor, is not a person's, or is
        dated before the history's last entry (`claimtrack validate` keeps the history in time order).
        """
        if decision.arxiv != anchor.arxiv or anchor.confidence != decision.confidence:
            raise ChangeRefused(self.id, "anchors", "the decision and the anchor it sets disagree")
        self._check_in_order(decision)
        anchors = [
            anchor if a.arxiv == anchor.arxiv else a
            for a in self.anchors
            if a.arxiv == anchor.arxiv or not (a.confidence == AnchorConfidence.RESOLVED and a.found_by == "search")
        ]
        self.anchors = anchors if anchor in anchors else [anchor, *anchors]
        self.history.append(decision)

    def record_decision(self, decision: ReviewDecision) -> None:
        """Append a person's review decision; refused (ChangeRefused) when an accept names evidence the claim
        does not hold, or when it is dated before the newest history entry."""
        if decision.evidence is not None and self.evidence_by_id(decision.evidence) is None:
            raise ChangeRefused(self.id, "evidence", f"the decision names unknown evidence '{decision.evidence}'")
        self._check_in_order(decision)
        self.history.append(decision)

    def entry_time(self, now: dt.datetime) -> dt.datetime:
        """When a new history entry made `now` is dated: `now` to the second, or the last entry's time when that
        is later (an entry recorded while a run or a person was deciding), so the history stays in time order."""
        now = now.replace(microsecond=0)
        return max(now, self.history[-1].at) if self.history else now

    def _check_in_order(self, entry: AnchorDecision | ReviewDecision | RulingLifted) -> None:
        """A person's decision is not dated before the history's last entry: `claimtrack validate` keeps the
        history in time order."""
        if self.history and entry.at < self.history[-1].at:
            raise ChangeRefused(
                self.id,
                "at",
                f"the decision is dated {entry.at.isoformat()}, before the history's last entry"
                f" ({self.history[-1].at.isoformat()})",
            )


class PromptAnchor(Model):
    """An anchor paper a line's research prompt lists, with the year and topic it gives."""

    arxiv: ArxivId
    year: int | None = None
    topic: str


class Line(Model):
    """An inquiring line: a question, its framing, and its claims in order."""

    id: Slug
    question: str
    framing: str
    source: str | None = None  # the document it was imported from
    claims: list[Slug] = Field(default_factory=list)
    prompt_anchors: list[PromptAnchor] = Field(default_factory=list)
