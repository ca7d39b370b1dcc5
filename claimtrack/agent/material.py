"""What the judge is shown of a paper: labelled blocks of numbered sentences, so it cites numbers, not text.

A judge that must copy a quote can copy the wrong text (a small model quoted the claim instead of the paper in
50 of 56 rejected replies); a judge that cites sentence numbers cannot: the program copies the quote from the
sentences cited, so every quote is the paper's own words by construction. A block is one source of text with
its label: the title and abstract, a full-text passage with its section, or a passage where the paper cites the
claim's anchor (agent/reading.py makes the last two). Numbers run on across blocks, so a number names one
sentence of one block.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from claimtrack.agent.grounding import normalize, unhyphenate
from claimtrack.models import QuoteSource
from claimtrack.papers import Paper
from claimtrack.sentences import split_sentences

MAX_CITED = 3  # sentences one quote may join: enough for a finding and its condition


@dataclass(frozen=True)
class Block:
    """One labelled source of text the judge sees, split into sentences."""

    source: QuoteSource
    label: str  # shown to the judge above the block
    sentences: tuple[str, ...]
    section: str | None = None  # a full-text passage's section heading


@dataclass(frozen=True)
class Cited:
    """A quote the program copied from the sentences a judge cited."""

    quote: str
    numbers: tuple[int, ...]
    source: QuoteSource
    section: str | None
    sentences: tuple[str, ...]


class CitationError(ValueError):
    """Cited numbers that name no quote (unknown, too many, from two blocks); the message is for the judge."""


@dataclass(frozen=True)
class Material:
    """The blocks a judge is shown, with one running sentence number from 1."""

    blocks: tuple[Block, ...]

    @property
    def numbered(self) -> list[tuple[int, Block, str]]:
        out, number = [], 1
        for block in self.blocks:
            for sentence in block.sentences:
                out.append((number, block, sentence))
                number += 1
        return out

    def render(self) -> str:
        """The blocks as the judge reads them: a label line, then `[n] sentence` lines."""
        parts, number = [], 1
        for block in self.blocks:
            lines = [f"{block.label}:"]
            for sentence in block.sentences:
                lines.append(f"[{number}] {sentence}")
                number += 1
            parts.append("\n".join(lines))
        return "\n\n".join(parts)

    def text(self) -> str:
        """Every sentence, for the checks that look at the whole text (the injection tripwire)."""
        return "\n".join(sentence for _, _, sentence in self.numbered)

    def cite(self, numbers: Sequence[int]) -> Cited:
        """The quote for the cited sentence numbers: their text joined in order, "[...]" over a gap."""
        wanted = sorted(set(numbers))
        if not wanted:
            raise CitationError("cite the number of at least one sentence of the paper")
        if len(wanted) > MAX_CITED:
            raise CitationError(f"cite at most {MAX_CITED} sentences: the ones that carry the stance")
        by_number = {n: (block, sentence) for n, block, sentence in self.numbered}
        unknown = [n for n in wanted if n not in by_number]
        if unknown:
            last = len(by_number)
            raise CitationError(f"sentence {unknown[0]} does not exist (the paper's sentences are numbered 1-{last})")
        blocks = {id(by_number[n][0]) for n in wanted}
        if len(blocks) > 1:
            raise CitationError("cite sentences of one block only")
        parts: list[str] = []
        for previous, number in zip([None, *wanted], wanted, strict=False):
            if previous is not None:
                parts.append(" " if number == previous + 1 else " [...] ")
            parts.append(by_number[number][1])
        block = by_number[wanted[0]][0]
        sentences = tuple(by_number[n][1] for n in wanted)
        return Cited("".join(parts), tuple(wanted), block.source, block.section, sentences)

    def locate(self, quote: str) -> Cited | None:
        """The sentences that hold a quote a judge copied instead of citing numbers, the quote kept as the paper
        writes it. The copy may differ in white space, typographic quotes, and the case of its first letter
        (a quote starting mid-sentence is often capitalised by the model), and in how a word broken at a line
        end is written ("pre-" then a line break, "pre-training", "pretraining"); it may run over sentences of one
        block."""
        needle = _fold_first(unhyphenate(normalize(quote).strip(" \"'"))[0])
        if len(needle) < 2:
            return None
        number = 1
        for block in self.blocks:
            plain = [normalize(s) for s in block.sentences]
            joined = " ".join(plain)
            folded, where = unhyphenate(joined)
            at = _find_folded(folded, needle)
            if at is not None:
                found, end = where[at], where[at + len(needle) - 1] + 1
                offset, numbers = 0, []
                for index, sentence in enumerate(plain):
                    if offset < end and found < offset + len(sentence):
                        numbers.append(number + index)
                    offset += len(sentence) + 1
                sentences = tuple(block.sentences[n - number] for n in numbers)
                return Cited(joined[found:end], tuple(numbers), block.source, block.section, sentences)
            number += len(block.sentences)
        return None


def _fold_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _find_folded(haystack: str, needle: str) -> int | None:
    """Where `needle` (first letter in lower case) occurs in `haystack`, either case of its first letter."""
    for candidate in (needle, needle[:1].upper() + needle[1:]):
        at = haystack.find(candidate)
        if at >= 0:
            return at
    return None


def abstract_block(paper: Paper) -> Block:
    """The title (as the first sentence) and the abstract: the block every judged paper has."""
    sentences = [" ".join(paper.title.split()), *split_sentences(paper.abstract or "")]
    return Block(QuoteSource.ABSTRACT, "Title and abstract", tuple(s for s in sentences if s))


def material_for(paper: Paper, extra: Iterable[Block] = ()) -> Material:
    """The blocks a judge sees for `paper`: title and abstract, then any further blocks (passages, contexts)."""
    return Material((abstract_block(paper), *extra))
