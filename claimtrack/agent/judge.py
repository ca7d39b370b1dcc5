"""Judging one (claim, paper) pair: a structured, grounded judgement, cached in the ledger.

Why JSON parsed here rather than `with_structured_output`: function calling and `json_schema` response
formats are not served by every OpenAI-compatible server (older llama.cpp and Ollama builds, many vLLM
models without a tool parser), and include_raw still leaves the repair to us. A plain chat reply holding one
JSON object works everywhere; we validate it with the pydantic schema below, and a malformed reply gets
the same single retry as an ungrounded quote, with the reason told to the model.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import secrets
from dataclasses import dataclass

from pydantic import Field, ValidationError

from claimtrack.agent.grounding import MIN_QUOTE_WORDS, is_grounded, looks_like_instruction, word_count
from claimtrack.agent.llm import LLM
from claimtrack.agent.prompts import Prompt
from claimtrack.ids import slugify
from claimtrack.ledger import Ledger
from claimtrack.models import Claim, Evidence, EvidenceKind, Model, Stance
from claimtrack.papers import Paper

log = logging.getLogger(__name__)
INJECTION_CAP = 0.3  # confidence ceiling when the paper's text addresses the judge


class Judgement(Model):
    """What the model must return for a pair."""

    stance: Stance
    quote: str = ""
    scope_note: str | None = None
    confidence: float = Field(ge=0.0, le=1.0)
    rationale: str = ""


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


class Rejected(ValueError):
    """A reply that cannot become a judgement; the message is told to the model on the retry."""


def cache_key(claim: Claim, paper: Paper, model: str, prompt_version: str) -> str:
    text = "\x1f".join(
        [claim.statement, claim.scope or "", claim.claimed or "", paper.id, paper.version or "", model, prompt_version]
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cached(ledger: Ledger, key: str) -> dict | None:
    row = ledger.conn.execute("SELECT * FROM judgements WHERE key = ?", (key,)).fetchone()
    return dict(row) if row else None


def parse_reply(text: str, paper: Paper) -> Judgement:
    """Validate one reply against the schema and the grounding rules, or raise Rejected with the reason."""
    match = re.search(r"\{.*\}", text, re.DOTALL)
    if match is None:
        raise Rejected("the reply held no JSON object")
    try:
        data = json.loads(match.group(0))
    except json.JSONDecodeError as exc:
        raise Rejected(f"the reply was not valid JSON ({exc.msg} at position {exc.pos})") from exc
    if not isinstance(data, dict):
        raise Rejected("the reply was not a JSON object")
    try:
        judgement = Judgement.model_validate({k: v for k, v in data.items() if k in Judgement.model_fields})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "reply"
        raise Rejected(f"field '{field}': {first['msg']}") from exc
    if judgement.stance == Stance.UNRELATED:
        return judgement
    quote = judgement.quote.strip()
    if not quote:
        raise Rejected(f"a '{judgement.stance}' judgement needs a verbatim quote from the title or abstract")
    if not is_grounded(quote, paper.title, paper.abstract):
        raise Rejected("the quote does not occur verbatim in the paper's title or abstract")
    if looks_like_instruction(quote):
        raise Rejected("the quote is an instruction planted in the paper, not a reported finding")
    if word_count(quote) < MIN_QUOTE_WORDS:
        raise Rejected(f"the quote is too short to carry the stance (at least {MIN_QUOTE_WORDS} words)")
    return judgement


def _capped(judgement: Judgement, paper: Paper) -> Judgement:
    """A paper whose text addresses the judge cannot be credible evidence on the judge's word alone."""
    if not looks_like_instruction(f"{paper.title}\n{paper.abstract}") or judgement.confidence <= INJECTION_CAP:
        return judgement
    note = " [confidence capped: the paper's text contains instructions addressed to the judge]"
    return judgement.model_copy(update={"confidence": INJECTION_CAP, "rationale": judgement.rationale + note})


def _user_message(prompt: Prompt, claim: Claim, paper: Paper) -> str:
    fence = f"<<<PAPER-{secrets.token_hex(6)}>>>"  # unguessable, so the paper cannot close the fence itself
    return prompt.user(
        question=claim.title,
        statement=claim.statement,
        scope=claim.scope or "(as stated)",
        claimed=claim.claimed or "unknown",
        fence=fence,
        title=paper.title,
        published=paper.published or "unknown",
        abstract=paper.abstract or "(no abstract)",
    )


def judge_pair(
    ledger: Ledger,
    llm: LLM,
    prompt: Prompt,
    claim: Claim,
    paper: Paper,
    *,
    run_id: str | None = None,
    now: dt.datetime | None = None,
) -> JudgeOutcome:
    """Judge a pair, from the cache when possible. Raises LLMError when the endpoint fails (not cached:
    the pair stays unjudged and the next run tries again); a reply that stays invalid after one retry is
    recorded as `judge-error` with the reason, and committed at once so a killed run never re-asks."""
    key = cache_key(claim, paper, llm.model, prompt.version)
    judged_by = f"{llm.model}@{prompt.version}"
    hit = cached(ledger, key)
    if hit is not None:
        log.debug("judge: %s on %s from the cache", claim.id, paper.id)
        return _from_row(hit, claim.id, paper, judged_by)
    user = _user_message(prompt, claim, paper)
    tokens_in = tokens_out = 0
    judgement, error = None, None
    for attempt in range(2):
        reply = llm.chat(prompt.system, user, purpose="judge")
        tokens_in += reply.tokens_in
        tokens_out += reply.tokens_out
        try:
            judgement = _capped(parse_reply(reply.text, paper), paper)
            break
        except Rejected as exc:
            error = str(exc)
            log.info("judge: reply on %s for %s rejected (%s)", paper.id, claim.id, error)
            if attempt == 0:
                user = (
                    f"{user}\n\nYour previous reply was rejected: {error}. Reply again with one JSON object; "
                    "the quote must be copied exactly from the title or abstract above."
                )
    at = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    outcome = "judged" if judgement is not None else "judge-error"
    with ledger.transaction() as conn:
        conn.execute(
            "INSERT OR REPLACE INTO judgements (key, claim_id, paper_id, paper_version, model, prompt_version,"
            " outcome, stance, quote, scope_note, confidence, rationale, error, tokens_in, tokens_out, judged_at,"
            " run_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                key,
                claim.id,
                paper.id,
                paper.version,
                llm.model,
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
            ),
        )
        conn.execute(
            "UPDATE candidates SET state = ? WHERE claim_id = ? AND paper_id = ?", (outcome, claim.id, paper.id)
        )
    return JudgeOutcome(
        key, claim.id, paper, outcome, judgement, None if judgement else error, judged_by, at, cached=False
    )


def _from_row(row: dict, claim_id: str, paper: Paper, judged_by: str) -> JudgeOutcome:
    judgement = None
    if row["outcome"] == "judged":
        judgement = Judgement(
            stance=Stance(row["stance"]),
            quote=row["quote"] or "",
            scope_note=row["scope_note"],
            confidence=row["confidence"],
            rationale=row["rationale"] or "",
        )
    at = dt.datetime.fromisoformat(row["judged_at"])
    return JudgeOutcome(
        row["key"], claim_id, paper, row["outcome"], judgement, row["error"], judged_by, at, cached=True
    )


def to_evidence(outcome: JudgeOutcome, run_id: str | None) -> Evidence | None:
    """The claim's evidence item for a judged pair; None for errors and for unrelated papers (those stay
    in the ledger only, so the claim file lists what bears on it)."""
    j = outcome.judgement
    if j is None or j.stance == Stance.UNRELATED:
        return None
    paper = outcome.paper
    evidence_id = f"paper-{slugify(paper.id, max_len=40)}-{outcome.key[:8]}"
    source = f"arXiv:{paper.arxiv_id}" if paper.arxiv_id else paper.id
    published = paper.published[:10] if paper.published else None
    return Evidence(
        id=evidence_id,
        kind=EvidenceKind.PAPER,
        source=source,
        title=paper.title,
        published=published,
        stance=j.stance,
        quote=j.quote,
        scope_note=j.scope_note,
        confidence=j.confidence,
        rationale=j.rationale or None,
        judged_by=outcome.judged_by,
        judged_at=outcome.judged_at,
        run=run_id,
    )
