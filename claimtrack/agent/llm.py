"""The LLM endpoint: langchain-openai's ChatOpenAI over any OpenAI-compatible server, with token accounting.

Every attempt at a call, a retry included, is one row of the ledger table `llm_calls` (purpose, tokens in and
out, seconds, ok or why not) and is summed per run. Calls go through the run's CallPool (pool.py): a bounded
number in flight, and one pause for all of them when the endpoint answers 429 or 503.

The retries are ours, not the openai client's: its own retries are silent (a local model that times out after
60 s was asked three times and counted once), so the client is built with none. The API key lives only in
memory: local servers (vLLM, llama.cpp, Ollama) often need none, so a placeholder is passed then.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from claimtrack.agent.pool import CallPool
from claimtrack.config import Settings
from claimtrack.errors import SourceError
from claimtrack.ledger import Ledger

log = logging.getLogger(__name__)
_PLACEHOLDER_KEY = "no-key-needed"  # for keyless local servers; never leaves this process except as a header
_RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
_BUSY_STATUS = frozenset({429, 503})  # the endpoint asks us to slow down: the whole pool waits
# A busy endpoint is not a broken one: its refusals are waited out (pool-wide) and retried this often per call
# without using up CLAIMTRACK_LLM_MAX_RETRIES; bounded, so one that never stops refusing still fails the run.
BUSY_TRIES = 10


class LLMError(SourceError):
    """The endpoint failed (connection, timeout, HTTP error after retries)."""

    def __init__(self, message: str):
        super().__init__("llm", message)


@dataclass
class Usage:
    """Attempts and tokens, summed over a run (or a benchmark), in all and per purpose (judge, confirm, plan)."""

    calls: int = 0  # attempts that got a reply
    failed_calls: int = 0  # attempts that failed, retried or not
    tokens_in: int = 0
    tokens_out: int = 0
    seconds: float = 0.0
    purposes: dict[str, dict[str, int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, purpose: str, tokens_in: int, tokens_out: int, seconds: float, ok: bool) -> None:
        with self._lock:  # the run's calls end in several threads
            self._add(purpose, tokens_in, tokens_out, seconds, ok)

    def _add(self, purpose: str, tokens_in: int, tokens_out: int, seconds: float, ok: bool) -> None:
        self.calls += ok
        self.failed_calls += not ok
        self.tokens_in += tokens_in
        self.tokens_out += tokens_out
        self.seconds += seconds
        mine = self.purposes.setdefault(purpose, {"calls": 0, "failed_calls": 0, "tokens_in": 0, "tokens_out": 0})
        mine["calls" if ok else "failed_calls"] += 1
        mine["tokens_in"] += tokens_in
        mine["tokens_out"] += tokens_out

    def tokens(self, *purposes: str) -> int:
        """Tokens in and out of the given purposes (all, when none is named)."""
        chosen = purposes or tuple(self.purposes)
        return sum(
            self.purposes.get(p, {}).get("tokens_in", 0) + self.purposes.get(p, {}).get("tokens_out", 0) for p in chosen
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "failed_calls": self.failed_calls,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "seconds": round(self.seconds, 1),
        }


@dataclass(frozen=True)
class Reply:
    text: str
    tokens_in: int
    tokens_out: int
    cut_off: bool = False  # the server stopped at the token limit (finish_reason "length")


@dataclass
class LLM:
    """One chat model; `chat` sends a system and a user message, retrying what may pass, and records each try."""

    model: str
    chat_model: Any  # langchain_openai.ChatOpenAI, built without retries of its own
    ledger: Ledger | None = None
    run_id: str | None = None
    usage: Usage = field(default_factory=Usage)
    max_retries: int = 2
    backoff_s: float = 1.0  # the first wait; doubles each retry, or what the server's Retry-After asks
    max_wait_s: float = 60.0
    max_tokens: int = 0  # the reply limit sent, counted in the pool's token budget before the reply is known
    pool: CallPool = field(default_factory=CallPool)
    sleep: Callable[[float], None] = time.sleep

    def chat(self, system: str, user: str, *, purpose: str) -> Reply:
        from langchain_core.messages import HumanMessage, SystemMessage
        from openai import APIConnectionError, APIError, APIStatusError, APITimeoutError

        messages = [SystemMessage(content=system), HumanMessage(content=user)]
        estimate = (len(system) + len(user)) // 4 + self.max_tokens  # for the pool's token budget, until it is known
        attempt = busy = 0
        while True:
            attempt += 1
            with self.pool.slot(estimate) as slot:
                started = time.monotonic()
                try:
                    message = self.chat_model.invoke(messages)
                except (APITimeoutError, APIConnectionError, APIStatusError, APIError) as exc:
                    failure: Exception | None = exc
                    if getattr(exc, "status_code", None) in _BUSY_STATUS:  # at once, before anyone else starts
                        busy += 1
                        self.pool.pause(self._wait(exc, busy), f"{self.model} answered HTTP {exc.status_code}")
                else:
                    failure = None
                    tokens_in, tokens_out = _tokens(message)
                    slot.spent(tokens_in + tokens_out)
            if failure is None:
                self._record(purpose, attempt, tokens_in, tokens_out, started, waited=slot.waited_s)
                content = message.content if isinstance(message.content, str) else str(message.content)
                finish = (getattr(message, "response_metadata", None) or {}).get("finish_reason")
                return Reply(content, tokens_in, tokens_out, cut_off=finish == "length")
            status = getattr(failure, "status_code", None)
            if isinstance(failure, APITimeoutError):
                detail = "timed out"
            elif status:
                detail = f"HTTP {status}"
            else:
                detail = failure.__class__.__name__
            self._record(purpose, attempt, 0, 0, started, error=detail, waited=slot.waited_s)
            failed = attempt - busy  # attempts that failed for another reason than a busy endpoint
            retryable = isinstance(failure, APIConnectionError) or status in _RETRYABLE_STATUS
            if not retryable or failed > self.max_retries or busy > BUSY_TRIES:
                after = f" after {attempt} attempts" if attempt > 1 else ""
                raise LLMError(
                    f"{self.model}: {'request timed out' if detail == 'timed out' else detail}{after}"
                ) from failure
            if status not in _BUSY_STATUS:  # a busy endpoint's wait is the pool's pause, taken above
                self.sleep(self._wait(failure, failed))

    def _wait(self, exc: Exception, attempt: int) -> float:
        """The server's Retry-After when it gives one, else exponential back-off; never above max_wait_s."""
        response = getattr(exc, "response", None)
        header = response.headers.get("retry-after") if response is not None else None
        try:
            wait = float(header) if header is not None else self.backoff_s * 2 ** (attempt - 1)
        except ValueError:
            wait = self.backoff_s * 2 ** (attempt - 1)
        return max(0.0, min(wait, self.max_wait_s))

    def _record(
        self,
        purpose: str,
        attempt: int,
        tokens_in: int,
        tokens_out: int,
        started: float,
        error: str | None = None,
        waited: float = 0.0,
    ) -> None:
        seconds = time.monotonic() - started
        outcome = f"failed ({error})" if error else f"{tokens_in} tokens in, {tokens_out} out"
        retry = f" (attempt {attempt})" if attempt > 1 else ""
        log.info(
            "llm: %s %s call%s: %s, %.1f s (waited %.2f s in the pool)",
            self.model,
            purpose,
            retry,
            outcome,
            seconds,
            waited,
        )
        self.usage.add(purpose, tokens_in, tokens_out, seconds, ok=error is None)
        if self.ledger is None:
            return
        with self.ledger.transaction() as conn:
            conn.execute(
                "INSERT INTO llm_calls (run_id, purpose, model, tokens_in, tokens_out, ok, error, at, attempt, seconds)"
                " VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    self.run_id,
                    purpose,
                    self.model,
                    tokens_in,
                    tokens_out,
                    int(error is None),
                    error,
                    dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    attempt,
                    round(seconds, 3),
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
    settings: Settings,
    *,
    ledger: Ledger | None = None,
    run_id: str | None = None,
    max_retries: int | None = None,
    model: str | None = None,
    usage: Usage | None = None,
    pool: CallPool | None = None,
) -> LLM | None:
    """The configured chat model (or `model` on the same endpoint), or None when no endpoint is configured.

    `usage` and `pool` let two models of one run (the judge and a confirming model) add to one account and share
    one pool of calls (by default, a pool of their own as the settings size it).
    """
    if not settings.llm_configured:
        return None
    from langchain_openai import ChatOpenAI

    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else _PLACEHOLDER_KEY
    name = model or settings.llm_model
    # `max_tokens` goes in the body as is: langchain-openai renames its own max_tokens to max_completion_tokens,
    # which llama.cpp's and other local servers ignore (a reply then runs on, or is cut where the server likes).
    extra = {"max_tokens": settings.llm_max_tokens} if settings.llm_max_tokens else {}
    chat_model = ChatOpenAI(
        model=name,
        api_key=key,
        base_url=settings.openai_base_url,
        timeout=settings.llm_timeout_s,
        max_retries=0,
        temperature=0.0,
        extra_body=extra or None,
    )
    return LLM(
        model=name,
        chat_model=chat_model,
        ledger=ledger,
        run_id=run_id,
        usage=usage if usage is not None else Usage(),
        max_retries=settings.llm_max_retries if max_retries is None else max_retries,
        backoff_s=settings.llm_backoff_s,
        max_tokens=settings.llm_max_tokens,
        pool=pool if pool is not None else CallPool.from_settings(settings),
    )
