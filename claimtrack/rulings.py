"""A person's rulings on a claim's papers, and the one identity a paper has within a claim.

A ruling binds to the (claim, paper) pair, never to a judgement or evidence id: the same paper judged again (its
full text read, a new version, new prompts, another judge or confirming model) is still the paper the person
ruled on. Three rulings exist, each read from the claim's history:

- overruled: a verdict (a pinned status change) overrules the papers among the evidence the claim held then;
- rejected: a person rejected a review item of the paper;
- accepted: a person accepted a review item of the paper: that reading of the paper counts, and no other.

The newest ruling on a paper is in force until a person lifts it (a `lift` history entry). Rulings stored in
older files keep working: a verdict's `overrules` lists evidence ids, which are mapped to their papers here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from claimtrack.ids import normalize_arxiv_id
from claimtrack.models import (
    Claim,
    EvidenceKind,
    PaperMerge,
    ReviewDecision,
    RulingLifted,
    StatusChange,
)

RulingKind = Literal["overruled", "rejected", "accepted"]


@dataclass(frozen=True)
class Ruling:
    """A person's ruling in force on one paper of one claim."""

    paper: str  # the paper's identity (paper_identity), as the claim's evidence names it
    kind: RulingKind
    by: str  # "person:NAME"
    at: dt.datetime
    item: str | None = None  # the review item decided (accepted, rejected)
    evidence: str | None = None  # accepted: the evidence item that counts for the paper

    def as_dict(self) -> dict[str, str | None]:
        return {
            "paper": self.paper,
            "ruling": self.kind,
            "by": self.by,
            "at": self.at.isoformat(),
            "item": self.item,
            "evidence": self.evidence,
        }

    def line(self) -> str:
        """One line for `show`, `review` and the reports."""
        what = {"overruled": "overruled by a verdict", "rejected": "rejected", "accepted": "accepted"}[self.kind]
        via = f" (review {self.item})" if self.item else ""
        return f"{self.paper}: {what}{via} by {self.by} at {self.at.isoformat()}"


def paper_identity(source: str) -> str:
    """One spelling per paper id: an arXiv id without its version ("arXiv:2507.00001v2" -> "arXiv:2507.00001"),
    a DOI in lower case; other ids (S2, OpenAlex) as given."""
    if source.startswith("arXiv:"):
        try:
            return f"arXiv:{normalize_arxiv_id(source)}"
        except ValueError:
            return source
    if source.lower().startswith("doi:"):
        return source.lower()
    return source


def identities(claim: Claim) -> dict[str, str]:
    """Each id the claim's history merged into another (PaperMerge), mapped to the id kept, followed to the end."""
    into = {paper_identity(e.merged): paper_identity(e.into) for e in claim.history if isinstance(e, PaperMerge)}
    resolved = {}
    for old in into:
        target, seen = into[old], {old}
        while target in into and target not in seen:
            seen.add(target)
            target = into[target]
        resolved[old] = target
    return resolved


def paper_of(claim: Claim, source: str) -> str:
    """The paper's one identity within `claim`: its id normalised, then followed through the claim's merges."""
    ident = paper_identity(source)
    return identities(claim).get(ident, ident)


def rulings(claim: Claim, before: int | None = None) -> dict[str, Ruling]:
    """The rulings in force on the claim's papers, by paper identity (see the module's docstring); with `before`,
    those in force just before history entry `before` (`validate` checks that a lift lifted one). Papers are read
    through all the claim's merges, later ones too: a merge rewrites the evidence, so it renames a paper for the
    whole history."""
    merged = identities(claim)

    def ident(source: str) -> str:
        key = paper_identity(source)
        return merged.get(key, key)

    papers = {e.id: ident(e.source) for e in claim.evidence if e.kind == EvidenceKind.PAPER}
    out: dict[str, Ruling] = {}
    for entry in claim.history[:before]:
        if isinstance(entry, StatusChange) and entry.pinned:
            if entry.overrules is not None:
                overruled = {papers[ref] for ref in entry.overrules if ref in papers}
            else:  # a verdict written before `overrules` existed: what was judged before it, bar what it cites
                overruled = {
                    papers[e.id]
                    for e in claim.evidence
                    if e.id in papers and e.judged_at <= entry.at and e.id not in entry.evidence
                }
            for paper in overruled:
                out[paper] = Ruling(paper, "overruled", entry.by, entry.at)
        elif isinstance(entry, ReviewDecision):
            paper = ident(entry.source)
            kind: RulingKind = "accepted" if entry.decision == "accept" else "rejected"
            out[paper] = Ruling(paper, kind, entry.by, entry.at, entry.item, entry.evidence)
        elif isinstance(entry, RulingLifted):
            out.pop(ident(entry.source), None)
    return out


def overruled_ids(claim: Claim) -> set[str]:
    """The ids of the claim's evidence that is not a paper's (a replication, a person's pointer) which a verdict
    overruled: those are never judged again, so they are ruled on by id."""
    others = {e.id for e in claim.evidence if e.kind != EvidenceKind.PAPER}
    out: set[str] = set()
    for entry in claim.history:
        if isinstance(entry, StatusChange) and entry.pinned:
            if entry.overrules is not None:
                out |= set(entry.overrules) & others
            else:
                own = set(entry.evidence)
                out |= {e.id for e in claim.evidence if e.id in others and e.judged_at <= entry.at and e.id not in own}
    return out


def item_states(claim: Claim) -> dict[str, str]:
    """The state each review item of the claim has by its history: accepted or rejected, or open again once a
    person lifted the ruling its decision made. The ledger's `reviews` rows follow this (review.reconcile)."""
    merged = identities(claim)
    states: dict[str, str] = {}
    by_paper: dict[str, list[str]] = {}
    for entry in claim.history:
        if isinstance(entry, ReviewDecision):
            states[entry.item] = "accepted" if entry.decision == "accept" else "rejected"
            key = paper_identity(entry.source)
            by_paper.setdefault(merged.get(key, key), []).append(entry.item)
        elif isinstance(entry, RulingLifted):
            key = paper_identity(entry.source)
            for item in by_paper.get(merged.get(key, key), []):
                states[item] = "open"
    return states
