"""Linking notes to the papers that reported them, for `import-line` and `claimtrack anchors resolve`.

In order: a research prompt's `- arXiv:ID (YEAR): topic` anchors are paired with notes by content (one anchor
per note, the pairing with the most summed similarity, so the prompt's order does not matter); each id's
metadata comes from arXiv (id_list). A note left without an anchor gets an arXiv search built from the
telling phrases of its finding, and the best match is proposed only when it scores at least
`anchor_match_threshold` (see docs/store.md for how that was chosen). Every link is `confidence: resolved`:
claimtrack's, until a person confirms it with `claimtrack anchors set`. When arXiv cannot be reached the
links that need it are left for later, each said in one line.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from claimtrack.anchors.arxiv import ArxivLookup, ArxivRecord, Ref
from claimtrack.anchors.text import Pool, assign, key_phrases, match_score, terms
from claimtrack.config import Settings
from claimtrack.discovery.arxiv_source import ArxivQuery, keywords
from claimtrack.errors import SourceError
from claimtrack.models import Anchor, AnchorConfidence, Claim, PromptAnchor
from claimtrack.store import Library, Store

log = logging.getLogger(__name__)

SEARCH_NOTE = "An arXiv search "  # how the note of a search that proposed nothing starts
PROMPT_NOTE = "The research prompt names arXiv:"  # ... and that of a prompt id arXiv does not know
ASSIGN_FLOOR = 0.1  # a prompt anchor (or dated bullet) sharing less than this with every note is left unpaired
NO_ANCHOR = "No arXiv paper has been tied to this note."
MAX_CATEGORIES = 3


@dataclass
class NoteText:
    """What linking reads of a note: its title question and its finding (or a claim's statement)."""

    title: str
    text: str

    @property
    def whole(self) -> str:
        return f"{self.title} {self.text}"


@dataclass
class DatedBullet:
    """A research prompt's dated claim: its text and its '(~YEAR)'."""

    text: str
    year: int


@dataclass
class Link:
    """What linking found for one note."""

    anchor: Anchor | None = None
    claimed: str | None = None
    categories: list[str] = field(default_factory=list)
    anchor_note: str | None = None  # why there is no anchor, when there is none
    pending: str | None = None  # what is left to resolve, in one line
    done: str | None = None  # what was linked, in one line


class Linker:
    """arXiv for linking, opened on first need; after a failure it stops asking and says why, once."""

    def __init__(self, settings: Settings, open_lookup: Callable[[], ArxivLookup] | None):
        self.settings = settings
        self._open = open_lookup
        self._lookup: ArxivLookup | None = None
        self.offline: str | None = None if open_lookup else "offline"

    def _arxiv(self) -> ArxivLookup | None:
        if self.offline:
            return None
        if self._lookup is None:
            assert self._open is not None
            self._lookup = self._open()
        return self._lookup

    def _failed(self, exc: SourceError) -> None:
        self.offline = f"arXiv unreachable: {exc.detail}"
        log.warning("%s; anchors that need it are left to resolve", self.offline)

    def records(self, refs: Sequence[Ref]) -> dict[Ref, ArxivRecord | None] | None:
        """Records for `refs`; None when arXiv cannot be asked."""
        if not refs:
            return {}
        lookup = self._arxiv()
        if lookup is None:
            return None
        try:
            return lookup.records(refs)
        except SourceError as exc:
            self._failed(exc)
            return None

    def find(self, note: NoteText, year: int | None) -> tuple[list[str], ArxivRecord | None, float] | None:
        """Search arXiv for the paper that reported `note`: (the queries, the best match, its score), or None
        when arXiv cannot be asked."""
        lookup = self._arxiv()
        if lookup is None:
            return None
        since = dt.datetime(year - 1, 1, 1, tzinfo=dt.UTC) if year else None
        until = dt.datetime(year + 1, 12, 31, 23, 59, tzinfo=dt.UTC) if year else None
        queries = [
            ArxivQuery(f"note: {phrase}", words, (), since, until)
            for phrase in key_phrases(note.text or note.title, self.settings.anchor_search_queries)
            if (words := keywords(phrase))
        ]
        found: dict[str, ArxivRecord] = {}
        try:
            for query in queries:
                for record in lookup.search(query, self.settings.anchor_search_results):
                    found.setdefault(record.id, record)
        except SourceError as exc:
            self._failed(exc)
            return None
        labels = [q.label.removeprefix("note: ") for q in queries]
        if not found:
            return labels, None, 0.0
        return (labels, *best_match(note, list(found.values())))


def best_match(note: NoteText, papers: Sequence[ArxivRecord]) -> tuple[ArxivRecord, float]:
    """The paper that matches the note best, with its score (text.match_score over these papers)."""
    texts = [terms(f"{p.title} {p.abstract}") for p in papers]
    pool = Pool(texts)
    wanted = terms(note.whole)
    scored = [
        (match_score(wanted, terms(p.title), t, pool), i) for i, (p, t) in enumerate(zip(papers, texts, strict=True))
    ]
    score, index = max(scored, key=lambda s: (s[0], -s[1]))
    return papers[index], score


def pair_by_content(sides: Sequence[str], notes: Sequence[NoteText]) -> dict[int, tuple[int, float]]:
    """Note index -> (side index, similarity): each side (a prompt anchor's topic, a dated bullet) paired with at
    most one note by the share of its words the note holds, the pairing of most summed similarity."""
    if not sides or not notes:
        return {}
    note_terms = [terms(n.whole) for n in notes]
    pool = Pool(note_terms)
    similarity = [[pool.coverage(terms(side), n) for n in note_terms] for side in sides]
    return {col: (row, similarity[row][col]) for row, col in assign(similarity, ASSIGN_FLOOR)}


def anchor_from(
    record: ArxivRecord,
    *,
    found_by: str | None,
    score: float | None,
    confidence: AnchorConfidence,
    version: str | None = None,
) -> Anchor:
    """An anchor carrying arXiv's metadata for the record (`version` pins one version of the paper)."""
    return Anchor(
        arxiv=record.id,
        title=record.title,
        first_author=record.first_author,
        date=record.published[:7],
        version=version,
        confidence=confidence,
        found_by=found_by,
        score=None if score is None else round(score, 3),
    )


def link_notes(
    notes: dict[int, NoteText],
    everyone: Sequence[NoteText],
    prompt: Sequence[PromptAnchor],
    bullets: Sequence[DatedBullet],
    linker: Linker,
) -> dict[int, Link]:
    """Links for the notes in `notes` (index into `everyone`, the line's notes, which the prompt's anchors and
    dated bullets are paired against): the prompt's anchors first, then a search for each note left over.
    `prompt` holds only anchors no claim of the line uses yet."""
    links, dated = prompt_links(notes, everyone, prompt, bullets, linker)
    for index, note in sorted(notes.items()):
        if index not in links or links[index].anchor is None:
            links[index] = search_link(note, dated.get(index), linker, links.get(index))
    return links


def prompt_links(
    notes: dict[int, NoteText],
    everyone: Sequence[NoteText],
    prompt: Sequence[PromptAnchor],
    bullets: Sequence[DatedBullet],
    linker: Linker,
) -> tuple[dict[int, Link], dict[int, int]]:
    """Links from the research prompt's anchors, each id resolved on arXiv, and the year of the dated bullet
    each note pairs with (for notes the prompt's anchors leave without a date)."""
    links: dict[int, Link] = {}
    paired = {i: pair for i, pair in pair_by_content([p.topic for p in prompt], everyone).items() if i in notes}
    dated = {i: bullets[row].year for i, (row, _) in pair_by_content([b.text for b in bullets], everyone).items()}
    records = linker.records([(prompt[row].arxiv, None) for row, _ in paired.values()])
    for index, (row, raw) in sorted(paired.items()):
        ref, similarity = prompt[row], round(raw, 3)
        record = records.get((ref.arxiv, None)) if records is not None else None
        if records is None:
            links[index] = Link(
                anchor=Anchor(
                    arxiv=ref.arxiv, confidence=AnchorConfidence.RESOLVED, found_by="prompt", score=round(similarity, 3)
                ),
                claimed=str(ref.year) if ref.year else None,
                pending=f"arXiv:{ref.arxiv} from the research prompt: metadata not resolved ({linker.offline})",
            )
        elif record is None:
            links[index] = Link(
                claimed=str(dated[index]) if index in dated else None,
                anchor_note=f"{PROMPT_NOTE}{ref.arxiv} for this note; arXiv lists no such paper.",
                pending=f"arXiv:{ref.arxiv} from the research prompt is unknown to arXiv; no anchor",
            )
        else:
            anchor = anchor_from(record, found_by="prompt", score=similarity, confidence=AnchorConfidence.RESOLVED)
            links[index] = Link(
                anchor=anchor,
                claimed=anchor.date,
                categories=list(record.categories[:MAX_CATEGORIES]),
                done=f"arXiv:{record.id} from the research prompt (topic match {similarity:.2f})",
            )
    return links, dated


def search_link(note: NoteText, year: int | None, linker: Linker, prior: Link | None = None) -> Link:
    """A link from an arXiv search for the note's paper, proposed only above the threshold. `prior` is what the
    research prompt left (an id arXiv does not know): its date, note and pending line are kept."""
    prior = prior or Link()
    claimed = prior.claimed or (str(year) if year else None)
    earlier = [prior.pending] if prior.pending else []
    found = linker.find(note, year)
    threshold = linker.settings.anchor_match_threshold
    if found is None:
        return Link(
            claimed=claimed,
            anchor_note=prior.anchor_note or NO_ANCHOR,
            pending="; ".join([*earlier, f"no anchor: not searched ({linker.offline})"]),
        )
    queries, record, score = found
    score = round(score, 3)  # as stored, so what is said, kept and compared is one number
    asked = "; ".join(f"'{q}'" for q in queries)
    if record is not None and score >= threshold:
        anchor = anchor_from(record, found_by="search", score=score, confidence=AnchorConfidence.RESOLVED)
        return Link(
            anchor=anchor,
            claimed=anchor.date,
            categories=list(record.categories[:MAX_CATEGORIES]),
            done=f"arXiv:{record.id} found by search (match {score:.2f}); confirm it with `claimtrack anchors set`",
            pending="; ".join(earlier) or None,
        )
    best = f"the best was arXiv:{record.id} '{record.title}' at {score:.2f}" if record else "it found nothing"
    why = f"{SEARCH_NOTE}({asked}) found no paper matching this note at {threshold:.2f} or more; {best}."
    return Link(
        claimed=claimed,
        anchor_note=f"{prior.anchor_note} {why}" if prior.anchor_note else why,
        pending="; ".join([*earlier, f"no anchor: {best} (threshold {threshold:.2f})"]),
    )


def machine_note(note: str | None) -> bool:
    """Whether an anchor_note is one claimtrack wrote (and may replace), not a person's."""
    return note is not None and note.startswith((NO_ANCHOR, SEARCH_NOTE, PROMPT_NOTE))


def resolve_claims(store: Store, claim_ids: Sequence[str], linker: Linker) -> list[str]:
    """Fill the metadata of anchors that lack it and link claims that have no anchor (the unused anchors of
    their lines' research prompts first, then a search); one line per claim touched or left to resolve."""
    library = store.load()
    targets = [library.claim(i) for i in claim_ids] if claim_ids else list(library.claims.values())
    refs = [(a.arxiv, a.version) for c in targets for a in c.anchors if not a.resolved]
    records = linker.records(refs) or {}
    report: list[str] = []
    for claim in targets:
        missing = [a for a in claim.anchors if not a.resolved]
        if missing:
            report += _fill(store, claim, missing, records, linker)
    unanchored = [c for c in targets if not c.anchors]
    links = _line_links(library, unanchored, linker)
    for claim in unanchored:
        link = links.get(claim.id) or search_link(_note_of(claim), None, linker)
        store.update_claim(claim.id, lambda c, link=link: _apply(c, link))
        if link.anchor is not None and link.pending:
            report.append(f"{claim.id}: linked arXiv:{link.anchor.arxiv}; left to resolve: {link.pending}")
        elif link.anchor is not None:
            report.append(f"{claim.id}: linked {link.done}")
        else:
            report.append(f"{claim.id}: left to resolve: {link.pending}")
    return report


def _note_of(claim: Claim) -> NoteText:
    return NoteText(claim.title, claim.library_note or claim.statement)


def _fill(
    store: Store, claim: Claim, missing: list[Anchor], records: dict[Ref, ArxivRecord | None], linker: Linker
) -> list[str]:
    lines = []
    for anchor in missing:
        record = records.get((anchor.arxiv, anchor.version))
        if linker.offline:
            lines.append(f"{claim.id}: left to resolve: arXiv:{anchor.arxiv} metadata ({linker.offline})")
        elif record is None:
            lines.append(f"{claim.id}: arXiv lists no paper {anchor.arxiv}; see `claimtrack anchors verify`")
        else:
            store.update_claim(claim.id, lambda c, r=record: _fill_one(c, r))
            lines.append(f"{claim.id}: resolved arXiv:{record.ref} '{record.title}'")
    return lines


def _fill_one(claim: Claim, record: ArxivRecord) -> None:
    for index, anchor in enumerate(claim.anchors):
        if anchor.arxiv == record.id and not anchor.resolved:
            filled = anchor_from(record, found_by=anchor.found_by, score=anchor.score, confidence=anchor.confidence)
            claim.anchors[index] = filled.model_copy(update={"version": anchor.version})
            if claim.claimed is None or (len(claim.claimed) == 4 and filled.date and filled.date[:4] == claim.claimed):
                claim.claimed = filled.date
    if not claim.search.categories:
        claim.search = claim.search.model_copy(update={"categories": list(record.categories[:MAX_CATEGORIES])})


def _line_links(library: Library, unanchored: list[Claim], linker: Linker) -> dict[str, Link]:
    """Links from the research prompts of the lines the unanchored claims belong to, for anchors no claim uses."""
    used = {a for c in library.claims.values() for a in c.anchor_ids}
    wanted = {c.id for c in unanchored}
    links: dict[str, Link] = {}
    for line in library.lines.values():
        members = [library.claims[i] for i in line.claims if i in wanted and i not in links]
        prompt = [p for p in line.prompt_anchors if p.arxiv not in used]
        if not members or not prompt:
            continue
        notes = [_note_of(c) for c in members]
        for index, link in prompt_links(dict(enumerate(notes)), notes, prompt, [], linker)[0].items():
            if link.anchor is not None:
                links[members[index].id] = link
                used.add(link.anchor.arxiv)
    return links


def _apply(claim: Claim, link: Link) -> None:
    if link.anchor is not None:
        claim.anchors = [link.anchor]
        if machine_note(claim.anchor_note):
            claim.anchor_note = None
    elif machine_note(claim.anchor_note) and link.anchor_note:
        claim.anchor_note = link.anchor_note
    if claim.claimed is None and link.claimed:
        claim.claimed = link.claimed
    if not claim.search.categories and link.categories:
        claim.search = claim.search.model_copy(update={"categories": list(link.categories)})
