"""What the judge reads beyond the title and abstract: the passages of a candidate's full text that bear on the
claim, and what the candidate says where it cites the claim's anchors, as labelled blocks of numbered sentences
(material.py), so a quote from them is cited by number and grounded like one from the abstract.

Citation contexts are short and already in the ledger (discovery stored them), so the first look reads them;
a full text costs a download and a ranking, so only the pairs the first look keeps are read (assess.Assessor).
Nothing here raises for a paper that cannot be read: the pair is judged on what could be read, and why the
rest could not is a note for the run summary.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from claimtrack.agent.material import Block
from claimtrack.config import Settings
from claimtrack.discovery.citations import CitationContext, contexts_for
from claimtrack.ledger import Ledger
from claimtrack.models import Claim, QuoteSource, section_label
from claimtrack.papers import Paper
from claimtrack.sentences import split_sentences

if TYPE_CHECKING:
    from claimtrack.fulltext import FullText, Passage, Reader

log = logging.getLogger(__name__)

RANKING_VERSION = "1"  # raise when passage ranking changes, so the stored choices are made again
_ASKED_AGAIN = frozenset({"source-error", "too-large"})  # Unreadable kinds a later run reads again
# Notes of a full text that say the judge may not have seen all of it: a download cut at its byte or time limit,
# pages past the limit, a PDF reading stopped or failed part-way. The others ("references dropped", "no HTML"
# before a PDF that answered) describe a complete reading and are not worth a reader's attention.
_PARTIAL = re.compile(r"\b(?:cut at|the first \d+ of|stopped at|failed|not parseable|not readable)\b")


@dataclass(frozen=True)
class Passages:
    """The full-text blocks for one pair, and notes on what could not be read."""

    blocks: tuple[Block, ...] = ()
    notes: tuple[str, ...] = ()
    retry: bool = False  # nothing was read now, but a later run may read it (source down, PDF too large)


def claim_text(claim: Claim) -> str:
    """What the passages are ranked against: the claim's question, statement and scope."""
    return " ".join(part for part in (claim.title, claim.statement, claim.scope) if part)


def passage_blocks(passages: Iterable[Passage]) -> tuple[Block, ...]:
    """One block per passage, in the paper's order, labelled with its section (and caption/table)."""
    blocks = []
    for passage in sorted(passages, key=lambda p: p.n):
        where = [section_label(passage.section)] if passage.section else []
        where += [passage.kind] if passage.kind in ("caption", "table") else []
        label = ", ".join(["Full text", *where])
        sentences = tuple(s for s in split_sentences(passage.text) if s)
        if sentences:
            blocks.append(Block(QuoteSource.FULLTEXT, label, sentences, section=passage.section or None))
    return tuple(blocks)


def context_blocks(found: Sequence[CitationContext], budget_tokens: int) -> tuple[Block, ...]:
    """One block per citing passage, labelled with the anchor it cites (and why, as Semantic Scholar classes
    it), in the source's order while they fit in the budget; a passage too long for what is left is passed
    over for a shorter one."""
    from claimtrack.fulltext.text import count_tokens, within_budget

    pieces = [(found_in, text) for found_in in found for text in found_in.contexts if text.strip()]
    blocks = []
    for index in within_budget(count_tokens([text for _, text in pieces]), budget_tokens):
        cited, text = pieces[index]
        how = [f"intent: {', '.join(cited.intents)}"] if cited.intents else []
        how += ["influential"] if cited.influential else []
        label = f"What this paper says where it cites arXiv:{cited.anchor}" + (f" ({'; '.join(how)})" if how else "")
        blocks.append(Block(QuoteSource.CITATION_CONTEXT, label, tuple(split_sentences(text)), f"arXiv:{cited.anchor}"))
    return tuple(blocks)


class Reading:
    """Full texts and citation contexts for one run's judge. One Reader, opened on first use, so the run's
    requests to arXiv are spaced together; `close` when the run ends."""

    def __init__(self, ledger: Ledger, settings: Settings):
        self.ledger = ledger
        self.settings = settings
        self._reader: Reader | None = None
        self._opening = threading.Lock()  # pairs are read in several threads; they share one Reader

    def contexts(self, claim: Claim, paper: Paper) -> tuple[Block, ...]:
        """What `paper` says where it cites the claim's anchors (empty when no source gave contexts)."""
        found = contexts_for(self.ledger, paper.id, claim.anchor_ids)
        return context_blocks(found, self.settings.contexts_budget_tokens) if found else ()

    def passages(self, claim: Claim, paper: Paper) -> Passages:
        """The full text's passages that bear on the claim, within the budget; none, with a note, when the
        paper could not be read."""
        from claimtrack.fulltext import FullText, Reader

        with self._opening:
            if self._reader is None:
                self._reader = Reader(self.ledger, self.settings)
        text = self._reader.read(paper)
        name = f"{paper.source}{paper.version or ''}" if paper.arxiv_id else paper.id
        if not isinstance(text, FullText):
            return Passages(notes=(f"full text: {text.reason} for {name}",), retry=text.kind in _ASKED_AGAIN)
        notes = tuple(f"full text: {note} for {name}" for note in text.notes if _PARTIAL.search(note))
        try:
            chosen = self._chosen(claim, text)
        except Exception as exc:  # a ranking that fails costs this pair its passages, not the run
            log.warning("ranking the passages of %s failed", name, exc_info=True)
            reason = f"full text: passages not ranked ({type(exc).__name__}: {exc}) for {name}"
            return Passages(notes=(*notes, reason), retry=True)
        return Passages(passage_blocks(chosen), notes)

    def _chosen(self, claim: Claim, text: FullText) -> list[Passage]:
        """passages_for, kept in the ledger: a later run sends the judge the same text (so its judgement comes
        from the cache, whatever the floating point of another machine would rank) without ranking again."""
        from claimtrack.fulltext import passages_for

        assert self._reader is not None
        settings = self.settings
        query = claim_text(claim)
        key = hashlib.sha256(
            "\x1f".join(
                [
                    RANKING_VERSION,
                    self._reader.parser,
                    text.paper_id,
                    text.version or "",
                    query,
                    str(settings.fulltext_budget_tokens),
                    f"{settings.embed_int8}/{settings.embed_max_tokens}",
                ]
            ).encode("utf-8")
        ).hexdigest()
        by_n = {p.n: p for p in text.passages}
        row = self.ledger.conn.execute("SELECT passages_json FROM passage_choices WHERE key = ?", (key,)).fetchone()
        if row is not None:
            numbers = json.loads(row[0])
            if all(n in by_n for n in numbers):
                return [by_n[n] for n in numbers]
        chosen = passages_for(query, text, settings.fulltext_budget_tokens, settings)
        with self.ledger.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO passage_choices (key, paper_id, version, passages_json, chosen_at)"
                " VALUES (?,?,?,?,?)",
                (
                    key,
                    text.paper_id,
                    text.version or "",
                    json.dumps([p.n for p in chosen]),
                    dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                ),
            )
        return chosen

    def for_pair(self, claim: Claim, paper: Paper) -> FullTextStep:
        """The full-text step of one pair, to be taken only if the first look keeps it."""
        return FullTextStep(self, claim, paper)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


@dataclass
class FullTextStep:
    """Reads one pair's passages when called (assess.Assessor calls it after a first look that keeps the pair)
    and keeps what it read, notes included, for the run summary."""

    reading: Reading
    claim: Claim
    paper: Paper
    read: Passages | None = None

    def __call__(self) -> tuple[Block, ...]:
        self.read = self.reading.passages(self.claim, self.paper)
        return self.read.blocks
