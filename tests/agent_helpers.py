"""Agent test data: the judge's reply, in the JSON shape agents/judge.txt asks the model for."""

from __future__ import annotations

import json

from loopback import ChatReply


def judgement(
    stance: str, quote: str, confidence: float = 0.9, scope_note: str | None = None, rationale: str = "scripted"
) -> ChatReply:
    body = {
        "stance": stance,
        "quote": quote,
        "scope_note": scope_note,
        "confidence": confidence,
        "rationale": rationale,
    }
    return ChatReply(content=json.dumps(body))
