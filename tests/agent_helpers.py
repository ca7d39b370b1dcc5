"""Agent test data: the judge's reply, in the JSON shape agents/judge.txt asks the model for, and a way for a
scripted model to cite the numbered sentences it was shown."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
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
    """plan, judge, confirm or recheck: which prompt a chat request was sent with."""
    system = request["messages"][0]["content"]
    if "Propose arXiv search queries" in system:
        return "plan"
    if "You give a second opinion" in system:
        return "recheck"
    return "confirm" if "You review research papers" in system else "judge"


QUALIFY_SET = Path(__file__).parent / "fixtures" / "judge" / "qualify-small.jsonl"


def qualify_labels(path: Path = QUALIFY_SET) -> dict[str, dict[str, str]]:
    """The labelled set's pairs by paper title: label and abstract."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {row["title"]: row for row in rows}


def paper_title(request: Mapping[str, Any]) -> str:
    """The title of the paper a judge request shows (its sentence [1])."""
    found = re.search(r"^\[1\] (.*)$", user_text(request), re.MULTILINE)
    assert found, user_text(request)
    return found[1]


def answer_truly(request: Mapping[str, Any], row: Mapping[str, str], stance: str | None = None) -> ChatReply:
    """An answer to a labelled pair: `stance` (default: its true label), citing the abstract's last sentence."""
    said = stance or row["label"]
    if said == "unrelated":
        return judgement("unrelated", confidence=0.9)
    last = [s for s in re.split(r"(?<=[.!?]) ", row["abstract"]) if s][-1]
    return citing(request, said, last, 0.9)


def store_qualification(ws: Path, *, per_label: int = 20, qualified: bool = True) -> str:
    """Store a measurement of the configured (scripted) judge as `judge qualify` would after `per_label` pairs of
    each label answered without error by every role, the recheck in two variants (the scripted judges of these
    tests answer by a fixed script, so that is what they are; their errors, never made, correlate 0); returns
    its id."""
    import datetime as dt

    from claimtrack.agent.prompts import load_prompt
    from claimtrack.agent.qualification import ROLES, Qualification, RoleScores, identity_for, new_id, store
    from claimtrack.agent.weighing import STANCES
    from claimtrack.config import load_settings
    from claimtrack.ledger import Ledger
    from claimtrack.workspace import Workspace

    workspace = Workspace.at(ws)
    identity = identity_for(load_settings(), {r: load_prompt(workspace, r).version for r in ROLES})
    perfect = [[per_label if i == j else 0 for j in range(len(STANCES) + 1)] for i in range(len(STANCES))]
    one = {s.value: 1.0 for s in STANCES}
    scores = RoleScores(
        model="test-model", prompt="p", confusion=perfect, precision=one, recall=one, macro_f1=1.0, errors=0
    )
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    record = Qualification(
        id=new_id(identity, now),
        identity=identity.key,
        judge=identity,
        data=["scripted"],
        n=per_label * len(STANCES),
        labels={s.value: per_label for s in STANCES},
        roles=dict.fromkeys(ROLES, scores),
        kappa={},
        error_correlation={
            "confirm/judge": None,
            "judge/recheck": None,
            "confirm/recheck": None,
            "recheck/recheck": None,
        },
        qualified=qualified,
        reason="scripted judge, stored by the tests",
        created_at=now,
    )
    with Ledger.open(workspace) as ledger:
        store(ledger, record)
    return record.id
