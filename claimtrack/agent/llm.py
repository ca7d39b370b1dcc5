"""The LLM endpoint: langchain-openai's ChatOpenAI over any OpenAI-compatible server, with token accounting.

Every call's tokens in and out are recorded (ledger table `llm_calls`) and summed per run. The API key lives
only in memory: local servers (vLLM, llama.cpp, Ollama) often need none, so a placeholder is passed then.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from claimtrack.config import Settings
from claimtrack.errors import SourceError
from claimtrack.ledger import Ledger

log = logging.getLogger(__name__)
_PLACEHOLDER_KEY = "no-key-needed"  # for keyless local servers; never leaves this process except as a header


class LLMError(SourceError):
    """The endpoint failed (connection, timeout, HTTP error after retries)."""

    def __init__(self, message: str):
        super().__init__("llm", message)


@dataclass
class Usage:
    """Calls and tokens, summed over a run (or a benchmark)."""

    calls: int = 0
    failed_calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "calls": self.calls,
            "failed_calls": self.failed_calls,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
        }


@dataclass(frozen=True)
class Reply:
    text: str
    tokens_in: int
    tokens_out: int


@dataclass
class LLM:
    """One chat model; `chat` sends a system and a user message and records what it cost."""

    model: str
    chat_model: Any  # langchain_openai.ChatOpenAI
    ledger: Ledger | None = None
    run_id: str | None = None
    usage: Usage = field(default_factory=Usage)

    def chat(self, system: str, user: str, *, purpose: str) -> Reply:
        from langchain_core.messages import HumanMessage, SystemMessage
        from openai import APIError, APITimeoutError

        messages = [SystemMessage(content=system), HumanMessage(content=user)]
        started = time.monotonic()
        try:
            message = self.chat_model.invoke(messages)
        except APITimeoutError as exc:
            self._record(purpose, 0, 0, started, error="timed out")
            raise LLMError(f"{self.model}: request timed out ({exc.__class__.__name__})") from exc
        except APIError as exc:  # status errors, connection errors (APIConnectionError subclasses APIError)
            detail = f"HTTP {exc.status_code}" if getattr(exc, "status_code", None) else exc.__class__.__name__
            self._record(purpose, 0, 0, started, error=detail)
            raise LLMError(f"{self.model}: {detail}") from exc
        tokens_in, tokens_out = _tokens(message)
        self._record(purpose, tokens_in, tokens_out, started)
        content = message.content if isinstance(message.content, str) else str(message.content)
        return Reply(content, tokens_in, tokens_out)

    def _record(self, purpose: str, tokens_in: int, tokens_out: int, started: float, error: str | None = None) -> None:
        seconds = time.monotonic() - started
        outcome = f"failed ({error})" if error else f"{tokens_in} tokens in, {tokens_out} out"
        log.info("llm: %s %s call: %s, %.1f s", self.model, purpose, outcome, seconds)
        if error is None:
            self.usage.calls += 1
        else:
            self.usage.failed_calls += 1
        self.usage.tokens_in += tokens_in
        self.usage.tokens_out += tokens_out
        if self.ledger is None:
            return
        with self.ledger.transaction() as conn:
            conn.execute(
                "INSERT INTO llm_calls (run_id, purpose, model, tokens_in, tokens_out, ok, error, at)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (
                    self.run_id,
                    purpose,
                    self.model,
                    tokens_in,
                    tokens_out,
                    int(error is None),
                    error,
                    dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                ),
            )


def _tokens(message: Any) -> tuple[int, int]:
    """Tokens from langchain's usage_metadata, else the raw OpenAI `usage` in response_metadata."""
    meta = getattr(message, "usage_metadata", None) or {}
    if meta:
        return int(meta.get("input_tokens", 0)), int(meta.get("output_tokens", 0))
    usage = (getattr(message, "response_metadata", None) or {}).get("token_usage") or {}
    return int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))


def make_llm(
    settings: Settings, *, ledger: Ledger | None = None, run_id: str | None = None, max_retries: int = 2
) -> LLM | None:
    """The configured chat model, or None when no endpoint is configured (no key and no base URL)."""
    if not settings.llm_configured:
        return None
    from langchain_openai import ChatOpenAI

    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else _PLACEHOLDER_KEY
    chat_model = ChatOpenAI(
        model=settings.llm_model,
        api_key=key,
        base_url=settings.openai_base_url,
        timeout=settings.llm_timeout_s,
        max_retries=max_retries,
        temperature=0.0,
    )
    return LLM(model=settings.llm_model, chat_model=chat_model, ledger=ledger, run_id=run_id)
