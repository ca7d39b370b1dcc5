"""Agent test data: the judge's reply, in the JSON shape agents/judge.txt asks the model for, and a way for a
scripted model to cite the numbered sentences it was shown."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from loopback import ChatReply, user_text

_NUMBERED = re.compile(r"^\[(\d+)\] (.*)$", re.MULTILINE)


def judgement(
    stance: str,
    quote: str = "",
    confidence: float = 0.9,
    scope_note: str | None = None,
    rationale: str = "scripted",
    *,
    sentences: list[int] | None = None,
    tokens_in: int = 100,
    tokens_out: int = 20,
) -> ChatReply:
    """A reply citing `sentences`; with `quote` instead, a reply that copies text (as small models do), which
    the judge locates in the paper."""
    body: dict[str, Any] = {"stance": stance, "sentences": sentences or [], "confidence": confidence}
    if quote:
        body["quote"] = quote
    body |= {"scope_note": scope_note, "rationale": rationale}
    return ChatReply(content=json.dumps(body), tokens_in=tokens_in, tokens_out=tokens_out)


def sentence_numbers(text: str, quote: str) -> list[int]:
    """The numbers of the shown sentences that the quote overlaps (a sentence inside it, or it inside one)."""
    flat = " ".join(quote.split())
    return [int(n) for n, sentence in _NUMBERED.findall(text) if sentence in flat or flat in sentence]


def citing(
    request: Mapping[str, Any],
    stance: str,
    quote: str,
    confidence: float = 0.9,
    scope_note: str | None = None,
    **extra: Any,
) -> ChatReply:
    """The reply of a model that cites the numbers of the sentences holding `quote` in the request it got."""
    numbers = sentence_numbers(user_text(request), quote) if quote else []
    assert numbers or not quote, f"{quote!r} is in no numbered sentence of the request"
    return judgement(stance, confidence=confidence, scope_note=scope_note, sentences=numbers, **extra)


def role_of(request: Mapping[str, Any]) -> str:
    """plan, judge or confirm: which prompt a chat request was sent with."""
    system = request["messages"][0]["content"]
    if "Propose arXiv search queries" in system:
        return "plan"
    return "confirm" if "You review research papers" in system else "judge"
