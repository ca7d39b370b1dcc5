"""Splitting prose into sentences: the judge's numbered sentences (agent/material.py) and the sentence ends
where full texts are cut into passages (fulltext/text.py) come from this one heuristic, which knows the
abbreviations of scientific prose; it is good enough to number and cut text, not a parser."""

from __future__ import annotations

import re

# Words that end in a full stop without ending a sentence ("e.g.", "et al.", "Fig. 2", "vs."), compared in
# lower case without their final stop. A single letter is an initial ("J. Smith") and never ends one either.
_ABBREVIATIONS = frozenset(
    "e.g i.e al fig figs eq eqs eqn sec secs sect tab tabs vs cf no nos approx resp ref refs dr mr mrs ms prof st"
    " inc ltd jr sr app appx ch thm lem def prop alg viz ca w.r.t a.k.a etc. vol pp ed eds".split()
)
# A sentence ends at . ! or ? (with any closing quotes or brackets), then white space, then something that
# can start a sentence: a capital, a digit, an opening quote or bracket. Lower case after a stop ("e.g. the")
# never starts one, and a stop inside a number (0.61) is followed by no space.
_BOUNDARY = re.compile(r"[.!?][\"'\u201d\u2019)\]]*\s+(?=[A-Z0-9\"'\u201c\u2018(\[])")


def split_sentences(text: str) -> list[str]:
    """The sentences of `text`, white space collapsed, in order."""
    flat = " ".join(text.split())
    sentences, start = [], 0
    for boundary in _BOUNDARY.finditer(flat):
        before = flat[start : boundary.start() + 1]
        if _ends_in_abbreviation(before):
            continue
        sentences.append(flat[start : boundary.end()].strip())
        start = boundary.end()
    tail = flat[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def _ends_in_abbreviation(text: str) -> bool:
    """Whether the stop that ends `text` belongs to an abbreviation or an initial rather than a sentence."""
    if not text.endswith("."):
        return False
    word = text.rsplit(None, 1)[-1].lstrip("(\"'[\u201c\u2018").lower()
    bare = word[:-1]
    return bare in _ABBREVIATIONS or word in _ABBREVIATIONS or (len(bare) == 1 and bare.isalpha())
