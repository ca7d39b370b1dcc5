"""Extra search queries proposed by the LLM for a claim (synonyms, other names of the mechanism, the
opposite finding). They go to discovery BESIDE the claim's curated hints, never instead of them, and are
cached by (claim text, curated terms, model, prompt version) so a second run asks nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re

from claimtrack.agent.llm import LLM
from claimtrack.agent.prompts import Prompt
from claimtrack.ledger import Ledger
from claimtrack.models import Claim

MAX_QUERIES = 5
MAX_QUERY_CHARS = 120
_SAFE = re.compile(r"[^\w\s\-]")


def _key(claim: Claim, model: str, prompt_version: str) -> str:
    text = "\x1f".join([claim.statement, claim.scope or "", "|".join(claim.search.terms), model, prompt_version])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def clean_queries(text: str, curated: list[str]) -> list[str]:
    """The usable queries in a reply: plain words, short, new, at most MAX_QUERIES. A bad reply gives []."""
    match = re.search(r"\{.*\}", text, re.DOTALL)
    try:
        data = json.loads(match.group(0)) if match else {}
    except json.JSONDecodeError:
        return []
    raw = data.get("queries") if isinstance(data, dict) else None
    if not isinstance(raw, list):
        return []
    seen = {t.strip().lower() for t in curated}
    out: list[str] = []
    for item in raw:
        if not isinstance(item, str):
            continue
        query = " ".join(_SAFE.sub(" ", item).split())[:MAX_QUERY_CHARS].strip()
        if len(query.split()) >= 2 and query.lower() not in seen:
            seen.add(query.lower())
            out.append(query)
    return out[:MAX_QUERIES]


def plan_queries(ledger: Ledger, llm: LLM, prompt: Prompt, claim: Claim, *, run_id: str | None = None) -> list[str]:
    """Extra queries for `claim`, from the cache or one LLM call. Raises LLMError when the endpoint fails."""
    key = _key(claim, llm.model, prompt.version)
    row = ledger.conn.execute("SELECT queries_json FROM query_plans WHERE key = ?", (key,)).fetchone()
    if row is not None:
        return json.loads(row["queries_json"])
    user = prompt.user(
        statement=claim.statement,
        scope=claim.scope or "(as stated)",
        claimed=claim.claimed or "unknown",
        terms="; ".join(claim.search.terms) or "(none)",
    )
    reply = llm.chat(prompt.system, user, purpose="plan")
    queries = clean_queries(reply.text, claim.search.terms)
    with ledger.transaction() as conn:
        conn.execute(
            "INSERT OR REPLACE INTO query_plans (key, claim_id, model, prompt_version, queries_json, made_at, run_id)"
            " VALUES (?,?,?,?,?,?,?)",
            (
                key,
                claim.id,
                llm.model,
                prompt.version,
                json.dumps(queries),
                dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                run_id,
            ),
        )
    return queries
