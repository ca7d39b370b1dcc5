"""Add an inquiring-line document's line and notes to the store, merging notes it already holds.

Notes that neither an anchor sheet nor the store ties to a paper are linked by `anchors.resolve` (the research
prompt's anchors, else an arXiv search); that asks arXiv before the store's lock is taken, so a slow network
never holds other writers up, and the plan is then made again under the lock from what the store holds.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import Field, ValidationError

from claimtrack.anchors.arxiv import ArxivLookup
from claimtrack.anchors.resolve import NO_ANCHOR, DatedBullet, Link, Linker, NoteText, link_notes
from claimtrack.anchors.text import key_phrases
from claimtrack.config import Settings, load_settings
from claimtrack.errors import InvalidArgument, InvalidInput, StoreInvalid
from claimtrack.fileio import load_yaml
from claimtrack.ids import is_slug, slugify
from claimtrack.ledger import Ledger
from claimtrack.linedoc import LineDocument, Note, parse_line_document
from claimtrack.models import Anchor, Claim, Line, Model, PromptAnchor, SearchHints
from claimtrack.store import Library, Store, problems_of


class SheetAnchor(Model):
    arxiv: str
    title: str
    first_author: str | None = None
    date: str | None = None
    version: str | None = None
    confidence: str = "verified"


class SheetEntry(Model):
    """One note in an anchor sheet: curated facts (id, year, anchor paper) keyed by the note's title."""

    id: str
    title: str
    seeds: list[str] = Field(default_factory=list)
    year: int | None = None
    numbers_cited_by_seed: list[str] = Field(default_factory=list)
    anchor: SheetAnchor | None = None
    aliases: list[str] = Field(default_factory=list)
    wording_note: str | None = None
    note: str | None = None


@dataclass
class ImportReport:
    line_id: str
    created: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    linked: list[str] = field(default_factory=list)  # "claim: what was linked", one per anchor claimtrack found
    pending: list[str] = field(default_factory=list)  # "claim: what is left to resolve", one per anchor


def _norm(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()


def load_sheet(path: Path) -> list[SheetEntry]:
    data = load_yaml(path)
    if not isinstance(data, list):
        raise InvalidInput(path, "-", "an anchor sheet is a list of notes")
    entries = []
    for index, item in enumerate(data):
        try:
            entries.append(SheetEntry.model_validate(item))
        except ValidationError as exc:
            problem = problems_of(exc, str(path))[0]
            raise InvalidInput(path, f"[{index}].{problem.field}", problem.message) from exc
    return entries


def search_terms(note: Note) -> list[str]:
    """Search phrases from the note's finding (its title question when it has none): the telling phrases of
    what was found, not the first words of the question."""
    return key_phrases(note.finding or note.title or "")


def import_line(
    store: Store,
    path: Path,
    *,
    line_id: str | None = None,
    sheet_path: Path | None = None,
    settings: Settings | None = None,
    offline: bool = False,
) -> ImportReport:
    """Parse `path`, link its notes to papers, then write its claims and line. Everything is validated before
    the first write. `offline`: ask arXiv nothing; links that need it are reported as left to resolve."""
    doc = parse_line_document(path)
    sheet = load_sheet(sheet_path) if sheet_path else []
    if line_id is not None and not is_slug(line_id):
        raise InvalidArgument("--id", f"'{line_id}' is not a slug (lowercase letters, digits, hyphens)")
    line_id = line_id or slugify(doc.question)
    settings = settings or load_settings()
    draft = _plan(doc, path, store.load(), sheet, line_id)
    with contextlib.ExitStack() as stack:
        links = _links(doc, draft, _linker(store, settings, offline, stack))
    with store.locked():  # held across the writes, so the plan stays true of the store it was made from
        library = store.load()
        plan = _plan(doc, path, library, sheet, line_id, links)
        for claim in plan.claims:
            if claim.id in library.claims:
                store.update_claim(claim.id, lambda _stored, merged=claim: merged)
            else:
                store.create_claim(claim)
        store.write_line(plan.line)
    return plan.report


def _linker(store: Store, settings: Settings, offline: bool, stack: contextlib.ExitStack) -> Linker:
    """arXiv through the ledger's caches, opened only if some note needs it."""
    if offline:
        return Linker(settings, None)

    def open_lookup() -> ArxivLookup:
        ledger = stack.enter_context(Ledger.open(store.ws))
        return stack.enter_context(ArxivLookup(ledger, settings))

    return Linker(settings, open_lookup)


def _links(doc: LineDocument, draft: _Plan, linker: Linker) -> dict[int, Link]:
    """Links for the notes that neither the sheet nor the store ties to a paper."""
    texts = [NoteText(n.title or (n.slug or "").replace("-", " "), n.finding or "") for n in doc.notes]
    needs = {i: texts[i] for i in draft.unlinked}
    if not needs:
        return {}
    taken = {a for claim in draft.claims for a in claim.anchor_ids}
    prompt = [PromptAnchor(arxiv=a.arxiv, year=a.year, topic=a.topic) for a in doc.prompt_anchors]
    bullets = [DatedBullet(b.text, b.year) for b in doc.dated_claims if b.year]
    return link_notes(needs, texts, [a for a in prompt if a.arxiv not in taken], bullets, linker)


@dataclass
class _Plan:
    claims: list[Claim]
    line: Line
    report: ImportReport
    unlinked: list[int]  # notes (by index) whose claim has no anchor and no sheet entry deciding it


def _plan(
    doc: LineDocument,
    path: Path,
    library: Library,
    sheet: list[SheetEntry],
    line_id: str,
    links: dict[int, Link] | None = None,
) -> _Plan:
    links = links or {}
    report = ImportReport(line_id)
    by_title = {_norm(c.title): c for c in library.claims.values()}
    by_alias = {alias: c for c in library.claims.values() for alias in ([*c.aliases, c.id])}
    by_note = {_norm(c.library_note): c for c in library.claims.values() if c.library_note}
    sheet_by_title = {_norm(e.title): e for e in sheet}
    sheet_by_alias = {alias: e for e in sheet for alias in ([*e.aliases, e.id])}
    taken = set(library.claims)
    written: dict[str, Claim] = {}
    order: list[str] = []
    unlinked: list[int] = []
    for index, note in enumerate(doc.notes):
        link = links.get(index)
        entry = sheet_by_alias.get(note.slug) if note.slug else sheet_by_title.get(_norm(note.title))
        existing = (
            (by_alias.get(note.slug) if note.slug else by_title.get(_norm(note.title)))
            or (entry and (library.claims.get(entry.id) or by_title.get(_norm(entry.title))))
            or (by_note.get(_norm(note.finding)) if note.finding else None)
        )
        if existing is not None:
            claim = written.get(existing.id) or existing.model_copy(deep=True)
            _merge(claim, note, entry, link)
            report.merged.append(claim.id)
        else:
            claim = _new_claim(note, entry, taken, path, report, link)
            taken.add(claim.id)
            report.created.append(claim.id)
        if not claim.anchors and entry is None:
            unlinked.append(index)
        if link is not None and link.done and link.anchor in claim.anchors:
            report.linked.append(f"{claim.id}: {link.done}")
        if link is not None and link.pending:
            report.pending.append(f"{claim.id}: {link.pending}")
        written[claim.id] = claim
        if claim.id not in order:
            order.append(claim.id)
    previous = library.lines.get(line_id)
    extras = [c for c in (previous.claims if previous else []) if c not in order]
    try:
        line = Line(
            id=line_id,
            question=doc.question,
            framing=doc.framing,
            source=path.name,
            claims=order + extras,
            prompt_anchors=[PromptAnchor(arxiv=a.arxiv, year=a.year, topic=a.topic) for a in doc.prompt_anchors],
        )
        claims = [Claim.model_validate(c.model_dump(by_alias=True)) for c in written.values()]
    except ValidationError as exc:
        raise StoreInvalid(problems_of(exc, str(path))) from exc
    return _Plan(claims, line, report, unlinked)


def _anchors(entry: SheetEntry | None, link: Link | None = None) -> list[Anchor]:
    if entry is None or entry.anchor is None:
        return [link.anchor] if link is not None and link.anchor is not None else []
    a = entry.anchor
    return [
        Anchor(
            arxiv=a.arxiv,
            title=a.title,
            first_author=a.first_author,
            date=a.date,
            version=a.version,
            confidence=a.confidence,
        )
    ]


def _claimed(entry: SheetEntry | None, link: Link | None = None) -> str | None:
    if entry is None:
        return link.claimed if link is not None else None
    if entry.anchor and entry.anchor.date:
        return entry.anchor.date
    return str(entry.year) if entry.year else None


def _new_claim(
    note: Note, entry: SheetEntry | None, taken: set[str], path: Path, report: ImportReport, link: Link | None
) -> Claim:
    title = note.title or (entry.title if entry else None)
    if title is None:  # cited only by slug, and no sheet names it
        title = (note.slug or "untitled").replace("-", " ").capitalize()
        report.warnings.append(
            f"note '{note.slug}' is cited only by slug in {path.name}: its claim has no text yet; "
            "give it an alias in an anchor sheet to merge it with the note it names"
        )
    base = entry.id if entry else (note.slug if note.slug and is_slug(note.slug) else slugify(title))
    claim_id, n = base, 2
    while claim_id in taken:
        claim_id, n = f"{base}-{n}", n + 1
    anchors = _anchors(entry, link)
    finding = note.finding
    return Claim(
        id=claim_id,
        title=title,
        statement=finding or f"Cited by {path.name} without its text.",
        claimed=_claimed(entry, link),
        anchors=anchors,
        anchor_note=None if anchors else (link.anchor_note if link and link.anchor_note else NO_ANCHOR),
        numbers=list(entry.numbers_cited_by_seed) if entry else [],
        library_note=finding,
        caveat=entry.wording_note if entry else None,
        aliases=sorted({*(entry.aliases if entry else []), *([note.slug] if note.slug else [])} - {claim_id}),
        search=SearchHints(
            terms=search_terms(Note(title, finding)), categories=list(link.categories) if link and not entry else []
        ),
    )


def _merge(claim: Claim, note: Note, entry: SheetEntry | None, link: Link | None) -> None:
    """Fill what the stored claim lacks; never overwrite what a person curated."""
    if claim.library_note is None and note.finding:
        claim.library_note = note.finding
    if not claim.anchors:
        claim.anchors = _anchors(entry, link)
        if claim.anchors and (entry is not None or claim.anchor_note == NO_ANCHOR):
            claim.anchor_note = None
    if claim.claimed is None:
        claim.claimed = _claimed(entry, link)
    if not claim.search.categories and link is not None and entry is None:
        claim.search = claim.search.model_copy(update={"categories": list(link.categories)})
    if entry is not None:
        held = {n.text for n in claim.numbers}
        claim.numbers = claim.numbers + [n for n in entry.numbers_cited_by_seed if n not in held]
    if note.slug and note.slug != claim.id and note.slug not in claim.aliases:
        claim.aliases = [*claim.aliases, note.slug]
