"""`claimtrack anchors verify`: does each stored anchor still say what arXiv says?

For every anchor: arXiv lists the id (and the version, when the anchor names one) and has not withdrawn it;
the stored title, first author and date agree with arXiv's (titles compared without case, spacing or LaTeX;
a first author must be a person's name; a partial date agrees when arXiv's falls inside it); each figure a
claim's `numbers` cites is in the paper's text. Figures marked unconfirmed are listed apart: they are known
gaps, not drift, unless the text now carries them.

A figure is looked for in the anchor's abstract first and, when the abstract lacks it and a full-text reader
is given (`fulltext_of`), in the paper's full text: most figures sit in results sections, and reading a full
text costs a fetch, so it is read only for the figures that need it (see docs/store.md).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from claimtrack.anchors.arxiv import ArxivLookup, ArxivRecord, Ref
from claimtrack.anchors.figures import figures, found_in
from claimtrack.errors import SourceError
from claimtrack.ids import parse_arxiv_id
from claimtrack.models import Anchor, Claim, Figure
from claimtrack.store import Store

if TYPE_CHECKING:
    from claimtrack.fulltext import Reader

PaperText = Callable[[ArxivRecord], tuple[str, str] | None]
"""A paper's text to look figures up in: (what it is, e.g. 'abstract' or 'full text'; the text), or None."""

DRIFT, UNCONFIRMED, UNCHECKED = "drift", "unconfirmed", "unchecked"
_PARTICLES = frozenset("al bin da das de del den der di dos du el la le ten ter van von y zu".split())
_LATEX_COMMAND = re.compile(r"\\[a-zA-Z]+\*?")


def abstract_text(record: ArxivRecord) -> tuple[str, str] | None:
    return ("abstract", record.abstract) if record.abstract else None


def fulltext_of(reader: Reader) -> PaperText:
    """The paper's full text as `reader` reads it (once per version, kept in the ledger); None when it cannot be
    read, so the abstract's verdict stands."""
    from claimtrack.fulltext import FullText
    from claimtrack.papers import Paper

    def text_of(record: ArxivRecord) -> tuple[str, str] | None:
        paper = Paper(id=record.id, version=record.version, title=record.title, abstract=record.abstract)
        read = reader.read(paper)
        if not isinstance(read, FullText):
            return None
        return f"{read.source} full text", "\n".join([record.abstract, *(p.text for p in read.passages)])

    return text_of


@dataclass(frozen=True)
class Finding:
    """One disagreement (drift) or known gap (unconfirmed) between a claim's anchor data and arXiv, or an anchor
    that could not be checked (unchecked: arXiv unreachable)."""

    claim: str
    file: str
    anchor: str | None  # arXiv id the finding is about
    field: str  # e.g. anchors.0.first_author, numbers.2
    stored: str | None
    arxiv: str | None  # arXiv's value, where there is one
    message: str
    kind: str = DRIFT

    def line(self) -> str:
        return f"{self.file}: {self.field}: {self.message}"

    def as_json(self) -> dict[str, str | None]:
        return asdict(self)


def wanted_refs(claims: Iterable[Claim]) -> list[Ref]:
    """Every record verification needs: each anchor (its version, or the newest) and each figure's source."""
    refs: list[Ref] = []
    for claim in claims:
        for anchor in claim.anchors:
            refs.append((anchor.arxiv, anchor.version))
            if anchor.version is not None:
                refs.append((anchor.arxiv, None))  # to tell a missing version from an unknown paper
        refs += [parse_arxiv_id(f.source) for f in claim.numbers if f.source]
    return list(dict.fromkeys(refs))


def verify_claims(
    store: Store,
    claim_ids: Sequence[str],
    lookup: ArxivLookup,
    text_of: PaperText = abstract_text,
    fuller: PaperText | None = None,
) -> tuple[int, list[Finding]]:
    """(anchors checked, findings) for the named claims, or every claim; unknown ids are refused first. When
    arXiv cannot be asked, nothing is checked and each anchor is one `unchecked` finding saying why."""
    library = store.load()
    claims = [library.claim(i) for i in claim_ids] if claim_ids else list(library.claims.values())
    try:
        records = lookup.records(wanted_refs(claims))
    except SourceError as exc:
        return 0, [
            Finding(
                claim.id,
                store.display(store.claim_path(claim.id)),
                anchor.arxiv,
                f"anchors.{index}",
                None,
                None,
                f"not checked: {exc.message()}",
                UNCHECKED,
            )
            for claim in claims
            for index, anchor in enumerate(claim.anchors)
        ]
    return sum(len(c.anchors) for c in claims), verify(store, claims, records, text_of, fuller)


def verify(
    store: Store,
    claims: Iterable[Claim],
    records: dict[Ref, ArxivRecord | None],
    text_of: PaperText = abstract_text,
    fuller: PaperText | None = None,
) -> list[Finding]:
    """Findings for `claims`, in claim order; `records` answers every ref of `wanted_refs(claims)`. A figure
    `text_of` lacks is looked for again in `fuller`'s text, when given."""
    findings: list[Finding] = []
    for claim in claims:
        file = store.display(store.claim_path(claim.id))
        for index, anchor in enumerate(claim.anchors):
            findings += _anchor_findings(claim.id, file, index, anchor, records)
        for index, figure in enumerate(claim.numbers):
            findings += _figure_findings(claim, file, index, figure, records, text_of, fuller)
    return findings


def _anchor_findings(
    claim_id: str, file: str, index: int, anchor: Anchor, records: dict[Ref, ArxivRecord | None]
) -> list[Finding]:
    at = f"anchors.{index}"

    def finding(field: str, stored: str | None, arxiv: str | None, message: str) -> Finding:
        return Finding(claim_id, file, anchor.arxiv, f"{at}.{field}", stored, arxiv, message)

    record = records.get((anchor.arxiv, anchor.version))
    if record is None:
        newest = records.get((anchor.arxiv, None))
        if anchor.version is not None and newest is not None:
            return [
                finding(
                    "version",
                    anchor.version,
                    newest.version,
                    f"arXiv lists no {anchor.version} of {anchor.arxiv} (its newest is {newest.version})",
                )
            ]
        return [finding("arxiv", anchor.arxiv, None, f"arXiv lists no paper {anchor.arxiv}")]
    out = []
    if record.withdrawn:
        why = f": {record.comment}" if record.comment else ""
        out.append(finding("arxiv", anchor.arxiv, record.ref, f"{record.ref} is withdrawn on arXiv{why}"))
    if not anchor.resolved:
        hint = f"not resolved yet (arXiv: '{record.title}'); run `claimtrack anchors resolve {claim_id}`"
        return [*out, finding("title", None, record.title, hint)]
    if normal_title(anchor.title or "") != normal_title(record.title):
        out.append(finding("title", anchor.title, record.title, f"'{anchor.title}' but arXiv has '{record.title}'"))
    out += _author_findings(anchor, record, finding)
    if anchor.date is None:
        out.append(finding("date", None, record.published, f"missing; arXiv dates it {record.published}"))
    elif not record.published.startswith(anchor.date):
        out.append(
            finding("date", anchor.date, record.published, f"{anchor.date} but arXiv dates it {record.published}")
        )
    return out


def _author_findings(anchor: Anchor, record: ArxivRecord, finding: Callable[..., Finding]) -> list[Finding]:
    stored, listed = anchor.first_author, record.first_author
    where = f"{record.ref} lists '{listed}' first" if listed else f"{record.ref} lists no authors"
    if stored is None:
        return [finding("first_author", None, listed, f"missing; {where}")] if listed else []
    if not looks_like_name(stored):
        return [finding("first_author", stored, listed, f"'{stored}' is not a person's name; {where}")]
    if listed is None or not same_person(stored, listed):
        return [finding("first_author", stored, listed, f"'{stored}' but {where}")]
    return []


def _figure_findings(
    claim: Claim,
    file: str,
    index: int,
    figure: Figure,
    records: dict[Ref, ArxivRecord | None],
    text_of: PaperText,
    fuller: PaperText | None = None,
) -> list[Finding]:
    refs = [parse_arxiv_id(figure.source)] if figure.source else [(a.arxiv, a.version) for a in claim.anchors]
    field = f"numbers.{index}"

    def finding(message: str, kind: str = DRIFT) -> Finding:
        return Finding(claim.id, file, refs[0][0] if refs else None, field, figure.text, None, message, kind)

    wanted = figures(figure.text)
    if not wanted and figure.unconfirmed is None:
        return []  # nothing countable to look for ("low-resource setting")
    papers = [records.get(ref) for ref in refs]
    if figure.source and papers[0] is None:
        return [finding(f"its source {figure.source} is not listed on arXiv")]
    texts = [(paper, text) for paper in papers if paper is not None and (text := text_of(paper)) is not None]
    missing = [f for f in wanted if not any(found_in(f, text) for _, (_, text) in texts)]
    if missing and fuller is not None:
        full = [(paper, text) for paper in papers if paper is not None and (text := fuller(paper)) is not None]
        read = {paper.ref for paper, _ in full}
        texts = full + [(paper, text) for paper, text in texts if paper.ref not in read]
        missing = [f for f in wanted if not any(found_in(f, text) for _, (_, text) in texts)]
    where = ", ".join(f"the {kind} of {paper.ref}" for paper, (kind, _) in texts) or "no text"
    missing = [f.shown for f in missing]
    if figure.unconfirmed is not None:
        if wanted and texts and not missing:
            return [finding(f"marked unconfirmed, but {where} carries it; confirm it (drop the mark)")]
        lacking = f"; not in {where}" if texts else ""
        return [finding(f"unconfirmed: {figure.unconfirmed}{lacking}", UNCONFIRMED)]
    if not texts:
        return []  # the anchors' own findings say why there is no text to look in
    if missing:
        return [finding(f"{', '.join(missing)} not found in {where}")]
    return []


def normal_title(title: str) -> str:
    """A title without case, accents, LaTeX markup, punctuation or extra spacing."""
    text = title.replace("$", "").replace("\\&", "&").replace("~", " ")
    text = _LATEX_COMMAND.sub(" ", text).replace("{", "").replace("}", "")
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


def looks_like_name(text: str) -> bool:
    """A person's name as arXiv lists one ("Po-Nien Kung", "Alexander Y. Ku", "Jan van der Berg"): one to six
    words, each capitalised or a particle, and no commentary (digits, brackets, colons, question marks)."""
    if re.search(r"[\d()\[\]{}:;/?!\"=]", text) or "," in text:
        return False
    parts = text.split()
    if not 1 <= len(parts) <= 6:
        return False
    return all(p.casefold() in _PARTICLES or (p[0].isalpha() and not p[0].islower()) for p in parts)


def _name_words(name: str) -> list[str]:
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    return re.sub(r"[.\-'’]+", " ", text).split()


def same_person(a: str, b: str) -> bool:
    """Equal names, or the same family name with given names that agree where both are written
    ("Alexander Y. Ku" and "Alexander Ku"; "J. Simon" and "Jamie Simon")."""
    x, y = _name_words(a), _name_words(b)
    if x == y:
        return True
    if not x or not y or x[-1] != y[-1]:
        return False
    first_x, first_y = x[0], y[0]
    return first_x == first_y or (min(len(first_x), len(first_y)) == 1 and first_x[0] == first_y[0])
