"""Text similarity for linking notes to papers: weighted word overlap, key phrases, one-to-one assignment.

Lexical on purpose: a link must be explainable ("these words of the note are in the abstract"), cheap enough
for every import, and deterministic. A word counts by how rare it is in English (wordfreq's Zipf scale, so
"calibration" outweighs "model") times how rare it is among the texts being compared (so words that every
candidate of a search shares, the search words among them, say little about which candidate is right).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import cache

STOPWORDS = frozenset(
    "a about above across actually after all also among an and any are as at be been before being between both"
    " but by can could did do does done each either even ever every for from had has have how however i if in"
    " into is it its itself just may might more most much must no nor not of on one only or other our over per"
    " same should show shown shows so such than that the their them then there these they this those through"
    " thus to too under up upon use used using very via vs was we were what when where whether which while who"
    " whom why will with within without would yet"
    " find finds found make makes made new often rather".split()
)
_WORD = re.compile(r"[a-z][a-z0-9]*(?:['-][a-z0-9]+)*")
_CASED_WORD = re.compile(r"[a-z][a-z0-9]*(?:['-][a-z0-9]+)*", re.IGNORECASE)
_BREAK = re.compile(r"[.,;:!?()\[\]{}\"“”]|\s[-–—]\s")
_SUFFIXES = (
    ("izations", "iz"),
    ("ization", "iz"),
    ("isations", "iz"),
    ("isation", "iz"),
    ("ations", "at"),
    ("ation", "at"),
    ("izing", "iz"),
    ("ising", "iz"),
    ("ies", "y"),
    ("ied", "y"),
    ("ingly", ""),
    ("edly", ""),
    ("ments", "ment"),
    ("ness", ""),
    ("ing", ""),
    ("ed", ""),
    ("es", ""),
    ("s", ""),
)
POOL_PRIOR = 10  # pseudo-texts that share no word: a pool of one or two candidates still weighs words sensibly


def stem(word: str) -> str:
    """A light suffix fold, so "tuning", "tuned" and "tunes" meet; not a linguistic stemmer."""
    if word.endswith(("ss", "us", "is")):
        return word
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + replacement
            break
    return word[:-1] if word.endswith("e") and len(word) > 4 else word


@cache
def rarity(word: str) -> float:
    """How much a word says, from its English frequency: 'the' ~0, 'calibration' ~3.7, unknown words 6."""
    from wordfreq import zipf_frequency

    return max(0.3, min(6.0, 7.0 - zipf_frequency(word, "en")))


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("’", "'"))


def terms(text: str) -> dict[str, float]:
    """Content words of `text` as stems, each with the rarity of its rarest surface form."""
    out: dict[str, float] = {}
    for word in _words(text):
        parts = [word, *word.split("-")] if "-" in word else [word]
        for part in parts:
            if part in STOPWORDS or len(part) < 3:
                continue
            key = stem(part)
            out[key] = max(out.get(key, 0.0), rarity(part))
    return out


class Pool:
    """The texts a comparison ranges over; a word shared by many of them weighs less."""

    def __init__(self, texts: Iterable[dict[str, float]]):
        self.df: Counter[str] = Counter()
        self.size = 0
        for text in texts:
            self.df.update(text.keys())
            self.size += 1

    def weight(self, term: str) -> float:
        n = self.size + POOL_PRIOR
        return math.log(n / (self.df[term] + 0.5)) / math.log(n / 0.5)

    def coverage(self, part: dict[str, float], whole: dict[str, float]) -> float:
        """The weighted share of `part`'s words that `whole` holds (0 to 1)."""
        total = sum(w * self.weight(t) for t, w in part.items())
        found = sum(w * self.weight(t) for t, w in part.items() if t in whole)
        return found / total if total else 0.0


def match_score(note: dict[str, float], title: dict[str, float], paper: dict[str, float], pool: Pool) -> float:
    """How well a paper (title, and title+abstract) matches a note (title question+finding), 0 to 1: the
    harmonic mean of the share of the note's words the paper carries and the share of the paper title's words
    the note carries. Both must be high: a paper whose title merely echoes the search words, or a long
    abstract that happens to hold many of the note's words, scores low."""
    carried, named = pool.coverage(note, paper), pool.coverage(title, note)
    return 2 * carried * named / (carried + named) if carried + named else 0.0


def key_phrases(text: str, limit: int = 5) -> list[str]:
    """The most telling phrases of `text`: runs of content words (split at stopwords, adverbs and punctuation),
    each cut to its weightiest window of at most three words, ranked by summed rarity, no word used twice.
    Acronyms keep their case (RLHF); other words are lowered."""
    candidates: list[tuple[float, int, list[str]]] = []
    for chunk in _BREAK.split(text.replace("’", "'")):
        run: list[str] = []
        for word in [*_CASED_WORD.findall(chunk), ""]:
            low = word.lower()
            if word and low not in STOPWORDS and len(word) >= 3 and not _adverb(low):
                run.append(word)
                continue
            if run:
                windows = [run[i : i + k] for k in (1, 2, 3) for i in range(len(run) - k + 1)]
                best = max(windows, key=lambda w: (sum(rarity(x.lower()) for x in w), -len(w)))
                candidates.append((sum(rarity(x.lower()) for x in best), len(candidates), best))
            run = []
    phrases: list[str] = []
    used: set[str] = set()
    for _, _, words in sorted(candidates, key=lambda c: (-c[0], c[1])):
        stems = {stem(w.lower()) for w in words}
        if stems & used:
            continue
        used |= stems
        phrases.append(" ".join(w if any(c.isupper() for c in w[1:]) else w.lower() for w in words))
        if len(phrases) == limit:
            break
    return phrases


def _adverb(word: str) -> bool:
    """'steadily', 'largely': words that say how, which make poor search terms."""
    return word.endswith("ly") and len(word) > 5 and word not in ("family", "anomaly", "assembly", "monopoly")


def assign(similarity: Sequence[Sequence[float]], floor: float) -> list[tuple[int, int]]:
    """A one-to-one pairing of rows with columns that maximises the summed similarity (Hungarian method);
    pairs scoring below `floor` are dropped, so a row like nothing is left unpaired rather than forced."""
    rows = len(similarity)
    cols = len(similarity[0]) if rows else 0
    if not rows or not cols:
        return []
    flip = rows > cols
    cost = (
        [[-similarity[r][c] for r in range(rows)] for c in range(cols)]
        if flip
        else [[-v for v in r] for r in similarity]
    )
    pairs = _hungarian(cost)
    if flip:
        pairs = [(c, r) for r, c in pairs]
    return sorted((r, c) for r, c in pairs if similarity[r][c] >= floor)


def _hungarian(cost: list[list[float]]) -> list[tuple[int, int]]:
    """Minimum-cost assignment of every row of an n x m cost matrix (n <= m) to a distinct column."""
    n, m = len(cost), len(cost[0])
    u, v = [0.0] * (n + 1), [0.0] * (m + 1)
    owner, way = [0] * (m + 1), [0] * (m + 1)  # owner[j]: the row (1-based) holding column j
    for i in range(1, n + 1):
        owner[0], j0 = i, 0
        least, used = [math.inf] * (m + 1), [False] * (m + 1)
        while owner[j0]:
            used[j0] = True
            i0, delta, j1 = owner[j0], math.inf, 0
            for j in range(1, m + 1):
                if not used[j]:
                    reduced = cost[i0 - 1][j - 1] - u[i0] - v[j]
                    if reduced < least[j]:
                        least[j], way[j] = reduced, j0
                    if least[j] < delta:
                        delta, j1 = least[j], j
            for j in range(m + 1):
                if used[j]:
                    u[owner[j]] += delta
                    v[j] -= delta
                else:
                    least[j] -= delta
            j0 = j1
        while j0:
            j1 = way[j0]
            owner[j0] = owner[j1]
            j0 = j1
    return [(owner[j] - 1, j - 1) for j in range(1, m + 1) if owner[j]]
