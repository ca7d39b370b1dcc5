"""The figures a `numbers` entry cites, and whether a paper's text carries them.

A figure is a number as written (`43%`, `0.37`, `2.73x`, `150M`, `+11.04`; a range `5-30%` gives both ends), a
number word (`eight`), or a quoted phrase (`'within the first epoch'`). Text in parentheses is the entry's
own note on where the figure comes from (`(anchor v3)`, `(seed)`), not a figure. A figure is found when the
text holds the same value with a compatible unit (43% as "43%", "43 %" or "43 percent"; 8 as "8" or
"eight"; 150M as "150M" or "150 million"), or the phrase word for word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# "zero" and "one" are left out: as in "zero-shot" or "one format", they are seldom a count.
_NUMBER_WORDS = {
    w: i
    for i, w in enumerate(
        "_ _ two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"
        " seventeen eighteen nineteen twenty".split()
    )
    if w != "_"
} | {"thirty": 30, "forty": 40, "fifty": 50, "hundred": 100}
_COUNT_WORD = re.compile(r"(?<![\w-])([a-z]+)(?![\w-])")  # a number word not bound into "two-phase"
_UNIT_WORDS = {"percent": "%", "times": "x", "fold": "x", "million": "M", "billion": "B", "thousand": "K"}
_PARENS = re.compile(r"\([^()]*\)")
_QUOTED = re.compile(r"(?<![\w])['‘\"“]([^'’\"”]{3,}?)['’\"”](?![\w])")
# A number standing alone (not part of a name such as GSM8K, Llama2-13B or AIME'25), with its unit.
_FIGURE = re.compile(
    r"(?<![\w.'’\-])[~≈+\-−]?(\d+(?:\.\d+)?)(?:\s?[-–]\s?(\d+(?:\.\d+)?))?\s?(%|x|×|[KMB](?![a-z]))?(?![\w.]\d|[A-Za-z])"
)
_TEXT_NUMBER = re.compile(
    r"(?<![\w.])(\d+(?:,\d{3})*(?:\.\d+)?)\s?(%|x\b|×|[KMB]\b|percent|times|fold|million|billion)?(?!\w)"
)
_WORD = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class Cited:
    """One figure to look for: a value with its unit ('' when none), or a phrase."""

    shown: str  # as the entry writes it
    value: float | None = None
    unit: str = ""
    phrase: str | None = None


def figures(text: str) -> list[Cited]:
    """The figures an entry cites, in order, each once."""
    body = _PARENS.sub(" ", text)
    found: list[Cited] = []
    for quoted in _QUOTED.finditer(body):
        found.append(Cited(quoted.group(0), phrase=" ".join(_WORD.findall(quoted.group(1).lower()))))
    unquoted = _QUOTED.sub(" ", body)
    for match in _FIGURE.finditer(unquoted):
        unit = _unit(match.group(3) or "")
        ends = [match.group(1), match.group(2)] if match.group(2) else [match.group(1)]
        for end in ends:
            found.append(Cited(match.group(0).strip(), float(end), unit))
    for word in _COUNT_WORD.findall(unquoted.lower()):
        if word in _NUMBER_WORDS:
            found.append(Cited(word, float(_NUMBER_WORDS[word])))
    return list(dict.fromkeys(found))


def _unit(raw: str) -> str:
    return {"×": "x"}.get(raw, _UNIT_WORDS.get(raw, raw))


def found_in(figure: Cited, text: str) -> bool:
    """Whether `text` (a paper's abstract or body) carries the figure."""
    lowered = text.lower().replace("\\%", "%").replace("−", "-")
    if figure.phrase is not None:
        return f" {figure.phrase} " in f" {' '.join(_WORD.findall(lowered))} "
    for match in _TEXT_NUMBER.finditer(text.replace("\\%", "%")):
        value = float(match.group(1).replace(",", ""))
        if value == figure.value and _compatible(figure.unit, _unit(match.group(2) or "")):
            return True
    if figure.value is not None and figure.value.is_integer() and not figure.unit:
        words = set(_WORD.findall(lowered))
        return any(_NUMBER_WORDS.get(w) == int(figure.value) for w in words)
    return False


def _compatible(wanted: str, seen: str) -> bool:
    """A figure without a unit matches any; one with a unit needs the same unit."""
    return not wanted or wanted == seen
