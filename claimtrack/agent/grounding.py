"""Checks that keep an LLM's judgement tied to the paper: the quote must be in the paper, must carry a
finding, and must not be an instruction planted in the paper's text.

The instruction patterns are a tripwire, not the main defence: the main defences are that the paper is
fenced data in the user message (the rules live in the system message), that only a verbatim quote can
make evidence, and that a paper whose text addresses the judge has its confidence capped below any
sensible credibility threshold (see judge.INJECTION_CAP).
"""

from __future__ import annotations

import re
import unicodedata

_WS = re.compile(r"\s+")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"})
MIN_QUOTE_WORDS = 4

_STANCE_WORDS = r"(supersedes?|superseded|contradicts?|relaxes|supports|unrelated|holding)"
_OPENING = r"(?:^|[.!?;:]\s*|\bplease\s+|\byou\s+(?:should|must)\s+|\bnow\s+)"  # where an imperative starts
# Imperatives addressed to the reader, not findings: "Ignore your instructions", "answer supersedes",
# "stance: supersedes". Descriptive sentences such as "models ignore the instructions' semantics" or "we
# classify whether the evidence supports the claim" must not match: they are what these papers report.
_INSTRUCTION = re.compile(
    "|".join(
        [
            _OPENING + r"(?:ignore|disregard|forget|override)\b",
            r"\b(?:ignore|disregard|forget)\s+(?:all\s+|any\s+)?(?:your|previous|prior|the\s+above)\s+"
            r"(?:instructions?|prompts?|rules|guidelines)\b",
            _OPENING
            + r"(?:answer|respond|reply|output|classify|label|mark|rate|return|say)\b\W+(?:\w+\W+){0,4}"
            + _STANCE_WORDS
            + r"\b",
            r"\b(?:as an ai|ai (?:reviewer|judge|assistant)|language model reading this|you are now)\b",
            r"\bconfidence\s*[:=]\s*(?:1(?:\.0+)?|100\s*%)",
            r"\bstance\s*[:=]",
        ]
    ),
    re.IGNORECASE,
)


def normalize(text: str) -> str:
    """NFKC, typographic quotes and dashes folded, white space collapsed: what 'verbatim' tolerates."""
    return _WS.sub(" ", unicodedata.normalize("NFKC", text).translate(_QUOTES)).strip()


def is_grounded(quote: str, *sources: str) -> bool:
    """The quote occurs in one of the sources after normalisation (case kept: a verbatim copy)."""
    needle = normalize(quote)
    return bool(needle) and any(needle in normalize(source) for source in sources)


def looks_like_instruction(text: str) -> bool:
    """Text that addresses the judge instead of reporting a finding."""
    return bool(_INSTRUCTION.search(normalize(text)))


def word_count(text: str) -> int:
    return len(re.findall(r"\w+", text))
