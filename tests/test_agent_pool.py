"""The pieces a concurrent run stands on: the LLM call pool (slots, pause, budgets), each source's pace shared by
every fetcher in the process, and the ledger's one writer with a connection per thread."""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path

import pytest
from loopback import Loopback, Reply

from claimtrack.agent.pool import CallPool, Workers
from claimtrack.discovery.http import Fetcher
from claimtrack.ledger import Ledger


def _hold(pool: CallPool, seconds: float, seen: list[int], tokens: int = 0) -> None:
    with pool.slot(tokens):
        seen.append(pool.in_flight)
        time.sleep(seconds)


def test_the_pool_keeps_at_most_its_concurrency_in_flight():
    pool, seen = CallPool(concurrency=3), []
    threads = [threading.Thread(target=_hold, args=(pool, 0.1, seen)) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 10 and max(seen) == 3 and pool.in_flight == 0


def test_a_pause_holds_every_call_that_has_not_started():
    pool = CallPool(concurrency=8)
    pool.pause(0.5, "HTTP 429")
    started = time.monotonic()
    with pool.slot() as slot:
        waited = time.monotonic() - started
    assert waited >= 0.45 and slot.waited_s >= 0.45 and pool.paused_s == pytest.approx(0.5, abs=0.05)
    pool.pause(0.2, "HTTP 503")  # a shorter pause inside a longer one adds nothing; after it, it counts
    assert pool.paused_s == pytest.approx(0.7, abs=0.05)


@pytest.mark.parametrize(("budget", "tokens"), [({"requests_per_minute": 2}, 0), ({"tokens_per_minute": 100}, 60)])
def test_a_per_minute_budget_holds_calls_past_it(budget, tokens):
    pool, seen = CallPool(concurrency=8, **budget), []
    for _ in range(2 if tokens == 0 else 1):
        _hold(pool, 0, seen, tokens)
    third = threading.Thread(target=_hold, args=(pool, 0, seen, tokens), daemon=True)
    third.start()
    third.join(0.5)
    assert third.is_alive() and len(seen) == (2 if tokens == 0 else 1)  # it waits for the minute to pass


def test_workers_run_tasks_and_cancel_what_had_not_started_on_failure():
    running, gate = threading.Event(), threading.Event()

    def first_task() -> str:
        running.set()
        gate.wait(5)
        return "first"

    with pytest.raises(RuntimeError), Workers(1, "test") as workers:
        first = workers.submit(first_task)
        later = workers.submit(lambda: "later")
        assert running.wait(5)
        raise RuntimeError("the run was interrupted")
    gate.set()
    assert first.result(5) == "first" and later.cancelled()


def test_a_sources_pace_spaces_every_fetcher_of_it_in_the_process(tmp_path: Path):
    with Loopback() as server:
        server.route("/thing/{n}", lambda request: Reply(200, "{}"))
        fetchers = [Fetcher("paced-source", min_interval_s=0.3, connections=1, retries=0) for _ in range(3)]
        for fetcher in fetchers:
            fetcher._http()  # each client made before the clock matters (the first import of httpx is slow)
        threads = [threading.Thread(target=f.get, args=(f"{server.url}/thing/{i}",)) for i, f in enumerate(fetchers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for fetcher in fetchers:
            fetcher.close()
        arrivals = sorted(r.received for r in server.requests)
    assert len(arrivals) == 3
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert all(gap >= 0.25 for gap in gaps), gaps


def test_each_thread_has_its_own_transaction_and_the_ledger_one_writer(tmp_path: Path):
    """A thread's failed transaction rolls back its own writes only; another thread's write waits for it and
    is kept (on one shared connection it would have joined the failing transaction and been lost)."""
    ledger = Ledger(tmp_path / "ledger.sqlite")
    inside, other_done = threading.Event(), threading.Event()

    def other() -> None:
        inside.wait(5)
        with ledger.transaction() as conn:
            conn.execute("INSERT INTO runs (id, started_at, command) VALUES ('kept', 'now', 'x')")
        other_done.set()

    thread = threading.Thread(target=other)
    thread.start()
    with pytest.raises(RuntimeError), ledger.transaction() as conn:
        conn.execute("INSERT INTO runs (id, started_at, command) VALUES ('lost', 'now', 'x')")
        inside.set()
        assert not other_done.wait(0.3)  # the other writer waits for this transaction to end
        raise RuntimeError("this transaction fails")
    thread.join(5)
    assert [r[0] for r in ledger.conn.execute("SELECT id FROM runs")] == ["kept"]
    ledger.close()
