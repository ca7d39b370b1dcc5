"""Judging one (claim, paper) pair: a structured, grounded judgement, cached in the ledger.

The judge is shown the paper as numbered sentences (material.py) and cites the numbers of those that carry its
stance; the program copies the quote from them, so a quote is always the paper's own words. One pair is
judged in up to three roles: `judge` (the first judgement, prompt agents/judge.txt), `confirm` (an
independent second judgement that sees the paper again, laid out differently, and never the first answer;
prompt agents/confirm.txt) and `recheck` (asked while the answers leave the pair unresolved, in variants of
agents/recheck.txt). assess.py asks them and weighs what they said.

Why JSON parsed here rather than `with_structured_output`: function calling and `json_schema` response
formats are not served by every OpenAI-compatible server (older llama.cpp and Ollama builds, many vLLM
models without a tool parser), and include_raw still leaves the repair to us. A plain chat reply holding one
JSON object works everywhere; a reply cut off after its last required field is repaired, and any other
malformed reply gets one retry with the reason told to the model.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator

from claimtrack.agent.grounding import MIN_QUOTE_WORDS, looks_like_instruction, word_count
from claimtrack.agent.llm import LLM
from claimtrack.agent.material import Block, CitationError, Material, material_for
from claimtrack.agent.prompts import Prompt
from claimtrack.ids import slugify
from claimtrack.ledger import Ledger
from claimtrack.models import Claim, Evidence, EvidenceKind, Model, QuoteSource, ReadMaterial, Stance
from claimtrack.papers import Paper

log = logging.getLogger(__name__)
INJECTION_CAP = 0.3  # confidence ceiling when the paper's text addresses the judge
Role = Literal["judge", "confirm", "recheck"]
_FENCE_SLOT = "\x00FENCE\x00"  # where the per-call fence goes; the cache key is taken with the slot in place
_STANCE_FORMS = {
    "support": Stance.SUPPORTS,
    "supported": Stance.SUPPORTS,
    "relax": Stance.RELAXES,
    "relaxed": Stance.RELAXES,
    "contradict": Stance.CONTRADICTS,
    "contradicted": Stance.CONTRADICTS,
    "supersede": Stance.SUPERSEDES,
    "superseded": Stance.SUPERSEDES,
}


class Judgement(Model):
    """A judgement of a pair: the stance, and the quote the program copied from the sentences cited."""

    stance: Stance
    sentences: list[int] = Field(default_factory=list)
    quote: str = ""
    quote_source: QuoteSource | None = None
    quote_section: str | None = None
    scope_note: str | None = None
    confidence: float = Field(ge=0.0, le=1.0)
    rationale: str = ""


class _Reply(Model):
    """What the model must return (lenient where small models stray harmlessly)."""

    stance: Stance
    sentences: list[int] = Field(default_factory=list)
    quote: str | None = None  # not asked for; a model that copies text instead of citing is located
    scope_note: str | None = None
    confidence: float = Field(ge=0.0, le=1.0)
    rationale: str = ""

    @field_validator("stance", mode="before")
    @classmethod
    def _stance(cls, value: Any) -> Any:
        if isinstance(value, str):
            word = value.strip().lower()
            return _STANCE_FORMS.get(word, word)
        return value

    @field_validator("sentences", mode="before")
    @classmethod
    def _numbers(cls, value: Any) -> Any:
        """[3, 4], 3, "3", "[3]", "S3, S4", ["3"]: the numbers, whatever they are wrapped in."""
        if value is None:
            return []
        items = value if isinstance(value, list) else [value]
        numbers: list[int] = []
        for item in items:
            if isinstance(item, bool):
                raise ValueError("expected sentence numbers")
            if isinstance(item, int):
                numbers.append(item)
            elif isinstance(item, (str, float)):
                found = re.findall(r"\d+", str(item).split(".")[0] if isinstance(item, float) else str(item))
                if not found:
                    raise ValueError(f"'{item}' is not a sentence number")
                numbers += [int(n) for n in found]
            else:
                raise ValueError("expected sentence numbers")
        return numbers

    @field_validator("scope_note", "quote", mode="before")
    @classmethod
    def _text_or_none(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in ("", "null", "none", "n/a"):
            return None
        return value


@dataclass(frozen=True)
class JudgeOutcome:
    """A judged pair (or a recorded failure to judge it), fresh or from the cache."""

    key: str
    claim_id: str
    paper: Paper
    outcome: str  # judged | judge-error
    judgement: Judgement | None
    error: str | None
    judged_by: str  # MODEL@PROMPT_VERSION
    judged_at: dt.datetime
    cached: bool
    role: Role = "judge"


class Rejected(ValueError):
    """A reply that cannot become a judgement; the message is told to the model on the retry."""


@dataclass(frozen=True)
class Request:
    """What one role sends about one pair: the messages, and the key that caches the answer."""

    role: Role
    prompt: Prompt
    model: str
    claim: Claim
    paper: Paper
    material: Material
    user: str  # with the fence slot in place
    key: str

    @property
    def judged_by(self) -> str:
        return f"{self.model}@{self.prompt.version}"

    def user_message(self) -> str:
        fence = f"<<<PAPER-{secrets.token_hex(6)}>>>"  # unguessable, so the paper cannot close the fence itself
        return self.user.replace(_FENCE_SLOT, fence)


def claim_lines(claim: Claim) -> str:
    """The claim as the judge reads it; fields that are not known are left out, not written as "unknown"."""
    lines = [f"Question: {claim.title}", f"Statement: {claim.statement}"]
    if claim.scope:
        lines.append(f"Scope: {claim.scope}")
    if claim.claimed:
        lines.append(f"Claimed: {claim.claimed}")
    return "\n".join(lines)


def paper_lines(paper: Paper, material: Material) -> str:
    lines = [f"Published: {paper.published}"] if paper.published else []
    return "\n".join([*lines, material.render()])


def build_request(
    role: Role, prompt: Prompt, model: str, claim: Claim, paper: Paper, extra: Sequence[Block] = ()
) -> Request:
    """The message for one role, and its cache key: a hash of the exact text sent (the fence aside), the
    model, the prompt version, and the paper's id and version."""
    shown = paper.model_copy(
        update={"title": paper.title.replace("\x00", ""), "abstract": paper.abstract.replace("\x00", "")}
    )
    material = material_for(shown, extra)
    user = prompt.user(claim=claim_lines(claim), paper=paper_lines(paper, material), fence=_FENCE_SLOT)
    text = "\x1f".join([role, model, prompt.version, prompt.system, user, paper.id, paper.version or ""])
    key = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return Request(role, prompt, model, claim, paper, material, user, key)


def cached(ledger: Ledger, key: str) -> dict | None:
    row = ledger.conn.execute("SELECT * FROM judgements WHERE key = ?", (key,)).fetchone()
    return dict(row) if row else None


# --- parsing ------------------------------------------------------------------------------------------------


def extract_json(text: str) -> tuple[dict[str, Any], bool]:
    """The reply's JSON object, and whether it had to be repaired because the reply was cut off.

    A reply cut inside its rationale, or between two fields, is repaired by closing what was open (the
    rationale keeps the part that arrived). A reply cut anywhere else (inside the stance, the numbers, the
    scope note) cannot be repaired without guessing: Rejected, and the model is told it was cut off.
    """
    start = text.find("{")
    if start < 0:
        raise Rejected("the reply held no JSON object")
    end = text.rfind("}")
    if end > start:
        try:
            data = json.loads(text[start : end + 1])
        except json.JSONDecodeError as exc:
            if _balanced(text[start:]):
                raise Rejected(f"the reply was not valid JSON ({exc.msg} at position {exc.pos})") from exc
        else:
            if not isinstance(data, dict):
                raise Rejected("the reply was not a JSON object")
            return data, False
    return _repair(text[start:]), True


def _balanced(text: str) -> bool:
    """Whether every string, bracket and brace the text opens is closed (so it was not cut off)."""
    stack, in_string, escaped = [], False, False
    for char in text:
        if in_string:
            escaped = char == "\\" and not escaped
            if char == '"' and not escaped:
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char in "{[":
            stack.append(char)
        elif char in "}]" and stack:
            stack.pop()
    return not stack and not in_string


def _repair(text: str) -> dict[str, Any]:
    """Close a JSON object that was cut off, if the cut fell where nothing needed is lost (see extract_json)."""
    stack: list[str] = []
    in_string = escaped = False
    key_open: str | None = None  # the key whose string value the text was inside when it ended
    last_key, expecting_value, last_cut = None, False, 0
    token = ""
    for index, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
                if len(stack) == 1 and not expecting_value:
                    last_key = token
                token = ""
            else:
                token += char
            continue
        if char == '"':
            in_string, token = True, ""
        elif char == ":" and len(stack) == 1:
            expecting_value = True
        elif char == "," and len(stack) == 1:
            expecting_value, last_cut = False, index
        elif char in "{[":
            stack.append(char)
        elif char in "}]" and stack:
            stack.pop()
    if in_string and expecting_value and len(stack) == 1:
        key_open = last_key
    closing = "".join("}" if opener == "{" else "]" for opener in reversed(stack))
    candidates = []
    if key_open == "rationale":  # cut inside the rationale: keep what arrived
        candidates.append(text[:-1] + '"' + closing if escaped else text + '"' + closing)
    if not in_string and text.rstrip().endswith('"') and len(stack) == 1:
        candidates.append(text + closing)  # cut right after a complete string value
    if last_cut and key_open is None:
        candidates.append(text[:last_cut] + "}")  # cut inside a number or list: drop that member only
    for candidate in candidates:
        try:
            data = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict):
            return data
    raise Rejected("your reply was cut off before the JSON object closed")


def parse_reply(text: str, material: Material, *, cut_off: bool = False) -> Judgement:
    """Validate one reply against the schema and the grounding rules, or raise Rejected with the reason."""
    try:
        data, repaired = extract_json(text)
    except Rejected as exc:
        if cut_off:
            raise Rejected("your reply was cut off before the JSON object closed; reply with a shorter one") from exc
        raise
    try:
        reply = _Reply.model_validate({k: v for k, v in data.items() if k in _Reply.model_fields})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "reply"
        if repaired and first["type"] == "missing":
            raise Rejected("your reply was cut off before the JSON object closed; reply with a shorter one") from exc
        raise Rejected(f"field '{field}': {first['msg']}") from exc
    rationale = reply.rationale + (" [reply cut off here]" if repaired and "rationale" in data else "")
    if reply.stance == Stance.UNRELATED:
        return Judgement(stance=reply.stance, confidence=reply.confidence, rationale=rationale)
    try:
        cited = material.cite(reply.sentences) if reply.sentences else material.locate(reply.quote or "")
    except CitationError as exc:
        raise Rejected(str(exc)) from exc
    if cited is None:
        what = "the text given as quote is not in the paper; " if reply.quote else ""
        raise Rejected(
            f"{what}a '{reply.stance}' judgement must cite the numbers of the paper's sentences that carry it"
        )
    if any(looks_like_instruction(sentence) for sentence in cited.sentences):
        raise Rejected("a cited sentence is an instruction planted in the paper, not a reported finding")
    if word_count(cited.quote) < MIN_QUOTE_WORDS:
        raise Rejected(f"the cited text is too short to carry the stance (at least {MIN_QUOTE_WORDS} words)")
    return Judgement(
        stance=reply.stance,
        sentences=list(cited.numbers),
        quote=cited.quote,
        quote_source=cited.source,
        quote_section=cited.section,
        scope_note=reply.scope_note,
        confidence=reply.confidence,
        rationale=rationale,
    )


def _capped(judgement: Judgement, material: Material) -> Judgement:
    """A paper whose text addresses the judge cannot be credible evidence on the judge's word alone."""
    if not looks_like_instruction(material.text()) or judgement.confidence <= INJECTION_CAP:
        return judgement
    note = " [confidence capped: the paper's text contains instructions addressed to the judge]"
    return judgement.model_copy(update={"confidence": INJECTION_CAP, "rationale": judgement.rationale + note})


# --- judging ------------------------------------------------------------------------------------------------


def judge_pair(
    ledger: Ledger,
    llm: LLM,
    prompt: Prompt,
    claim: Claim,
    paper: Paper,
    *,
    run_id: str | None = None,
    now: dt.datetime | None = None,
    role: Role = "judge",
    extra: Sequence[Block] = (),
    purpose: str | None = None,
) -> JudgeOutcome:
    """Judge a pair in one role, from the cache when possible. Raises LLMError when the endpoint fails (not
    cached: the pair stays unjudged and the next run tries again); a reply that stays invalid after one retry
    is recorded as `judge-error` with the reason, committed at once so a killed run never re-asks."""
    request = build_request(role, prompt, llm.model, claim, paper, extra)
    return lookup(ledger, request) or ask(ledger, llm, request, run_id=run_id, now=now, purpose=purpose)


def lookup(ledger: Ledger, request: Request) -> JudgeOutcome | None:
    """The cached outcome of a request, or None when it was never answered."""
    row = cached(ledger, request.key)
    if row is None:
        return None
    log.debug("%s: %s on %s from the cache", request.role, request.claim.id, request.paper.id)
    return outcome_from_row(row, request.claim.id, request.paper, request.judged_by)


def ask(
    ledger: Ledger,
    llm: LLM,
    request: Request,
    *,
    run_id: str | None = None,
    now: dt.datetime | None = None,
    purpose: str | None = None,
) -> JudgeOutcome:
    """Ask the model (one retry on a rejected reply) and record the outcome in the ledger. `purpose` names the
    calls in the usage counts (default: the role; a first look is a `judge` request counted as `look`)."""
    claim, paper, prompt = request.claim, request.paper, request.prompt
    user = request.user_message()
    tokens_in = tokens_out = 0
    judgement, error = None, None
    for attempt in range(2):
        reply = llm.chat(prompt.system, user, purpose=purpose or request.role)
        tokens_in += reply.tokens_in
        tokens_out += reply.tokens_out
        try:
            judgement = _capped(parse_reply(reply.text, request.material, cut_off=reply.cut_off), request.material)
            break
        except Rejected as exc:
            error = str(exc)
            log.info("%s: reply on %s for %s rejected (%s)", request.role, paper.id, claim.id, error)
            if attempt == 0:
                user = (
                    f"{user}\n\nYour previous reply was rejected: {error}. Reply again with one JSON object; "
                    "cite the numbers of the paper's sentences that carry the stance."
                )
    at = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    outcome = "judged" if judgement is not None else "judge-error"
    with ledger.transaction() as conn:
        conn.execute(
            "INSERT OR REPLACE INTO judgements (key, claim_id, paper_id, paper_version, model, prompt_version,"
            " outcome, stance, quote, scope_note, confidence, rationale, error, tokens_in, tokens_out, judged_at,"
            " run_id, role, sentences_json, quote_source, quote_section)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                request.key,
                claim.id,
                paper.id,
                paper.version,
                request.model,
                prompt.version,
                outcome,
                judgement.stance.value if judgement else None,
                judgement.quote if judgement else None,
                judgement.scope_note if judgement else None,
                judgement.confidence if judgement else None,
                judgement.rationale if judgement else None,
                None if judgement else error,
                tokens_in,
                tokens_out,
                at.isoformat(),
                run_id,
                request.role,
                json.dumps(judgement.sentences) if judgement else None,
                judgement.quote_source.value if judgement and judgement.quote_source else None,
                judgement.quote_section if judgement else None,
            ),
        )
        if request.role == "judge":
            conn.execute(
                "UPDATE candidates SET state = ? WHERE claim_id = ? AND paper_id = ?", (outcome, claim.id, paper.id)
            )
    return JudgeOutcome(
        request.key,
        claim.id,
        paper,
        outcome,
        judgement,
        None if judgement else error,
        request.judged_by,
        at,
        cached=False,
        role=request.role,
    )


def outcome_from_row(row: dict, claim_id: str, paper: Paper, judged_by: str | None = None) -> JudgeOutcome:
    """A judgements row as an outcome (cached)."""
    judgement = None
    if row["outcome"] == "judged":
        judgement = Judgement(
            stance=Stance(row["stance"]),
            sentences=json.loads(row.get("sentences_json") or "[]"),
            quote=row["quote"] or "",
            quote_source=QuoteSource(row["quote_source"]) if row.get("quote_source") else None,
            quote_section=row.get("quote_section"),
            scope_note=row["scope_note"],
            confidence=row["confidence"],
            rationale=row["rationale"] or "",
        )
    at = dt.datetime.fromisoformat(row["judged_at"])
    by = judged_by or f"{row['model']}@{row['prompt_version']}"
    role = row.get("role") or "judge"
    return JudgeOutcome(row["key"], claim_id, paper, row["outcome"], judgement, row["error"], by, at, True, role)


def evidence_id(paper: Paper, key: str) -> str:
    return f"paper-{slugify(paper.id, max_len=40)}-{key[:8]}"


def to_evidence(
    outcome: JudgeOutcome, run_id: str | None, *, material: ReadMaterial | None = None, unrelated: bool = False
) -> Evidence | None:
    """The claim's evidence item for a judged pair (not yet confirmed); None for errors, and for unrelated
    papers unless `unrelated` (those stay in the ledger only, so the claim file lists what bears on it; a paper
    the claim holds evidence of that is now found unrelated is recorded, since that reading counts)."""
    j = outcome.judgement
    if j is None or (j.stance == Stance.UNRELATED and not unrelated):
        return None
    paper = outcome.paper
    published = paper.published[:10] if paper.published else None
    return Evidence(
        id=evidence_id(paper, outcome.key),
        kind=EvidenceKind.PAPER,
        source=paper.source,
        title=paper.title,
        published=published,
        stance=j.stance,
        quote=j.quote or None,
        quote_source=j.quote_source,
        quote_section=j.quote_section,
        scope_note=j.scope_note,
        confidence=j.confidence,
        rationale=j.rationale or None,
        judged_by=outcome.judged_by,
        judged_at=outcome.judged_at,
        run=run_id,
        material=material,
    )
