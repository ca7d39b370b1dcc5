"""A run's progress: what each claim is doing, with the run's counts (claims done, pairs judged of those
planned, LLM calls in flight), handed to the CLI's progress line from whichever thread made the step."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from claimtrack.agent.pool import CallPool


@dataclass(frozen=True)
class Status:
    """What the run is doing: one claim's step, with the run's counts (for the progress line)."""

    number: int  # the claim's place in the run, from 1
    total: int  # claims in the run
    claim_id: str
    step: str
    claims_done: int
    pairs_judged: int  # pairs whose assessment ended, of
    pairs_planned: int  # the pairs chosen so far (a claim's are known once it is ranked)
    calls_in_flight: int  # LLM calls the endpoint is answering now


Progress = Callable[[Status], None]


class Tally:
    """The run's counts for the progress line, kept across threads."""

    def __init__(self, total: int, progress: Progress, pool: CallPool | None):
        self.total = total
        self.progress = progress
        self.pool = pool
        self.claims_done = self.pairs_judged = self.pairs_planned = 0
        self._lock = threading.Lock()

    def say(self, number: int, claim_id: str, step: str, *, planned: int = 0, judged: int = 0) -> None:
        with self._lock:
            self.pairs_planned += planned
            self.pairs_judged += judged
            self.claims_done += step == "done"
            status = Status(
                number,
                self.total,
                claim_id,
                step,
                self.claims_done,
                self.pairs_judged,
                self.pairs_planned,
                self.pool.in_flight if self.pool is not None else 0,
            )
            self.progress(status)
