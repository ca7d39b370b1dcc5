"""`judge qualify` asks the run's pool of concurrent calls, and says how far it is: a qualification asked four
requests at a time stores the record one asked serially stores; an endpoint that fails mid-way ends it with one
line, and a second try asks only what was not cached; the progress goes to stderr, never stdout. Real openai
client against the loopback OpenAI server."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from agent_helpers import QUALIFY_SET, answer_truly, paper_title, qualify_labels
from conftest import invoke
from loopback import ChatReply, OpenAIServer

from claimtrack.workspace import Workspace

LABELLED = qualify_labels()
REQUESTS = 4 * len(LABELLED)  # judge, confirm, recheck in two variants, per pair
STANCES = ("supports", "relaxes", "contradicts", "supersedes", "unrelated")


def asked(request: dict[str, Any]) -> str:
    """Which request of the qualification this is: the role's prompt in its variant, and the pair."""
    return f"{request['messages'][0]['content']}|{paper_title(request)}"


def erring(request: dict[str, Any], *, unusable: bool = True) -> ChatReply:
    """A judge that errs on some pairs, replies unusably to others, and uses a different number of tokens on
    each: decided by what was asked, never by when, so the answers are the same in whatever order the requests
    arrive."""
    row = LABELLED[paper_title(request)]
    seed = int(hashlib.sha256(asked(request).encode()).hexdigest(), 16)
    tokens = 50 + seed % 97
    if unusable and seed % 7 == 0:  # unusable, and again when told so: recorded as a judge-error
        return ChatReply(content="I think it supports the claim.", tokens_in=tokens, tokens_out=9)
    stance = STANCES[seed % 5] if seed % 3 == 0 else None  # None: the true label
    return replace(answer_truly(request, row, stance), tokens_in=tokens, tokens_out=seed % 31)


def serve(monkeypatch: pytest.MonkeyPatch, server: OpenAIServer, concurrency: int) -> None:
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("CLAIMTRACK_LLM_CONCURRENCY", str(concurrency))


def qualify(ws: Path, *extra: str) -> Any:
    (ws / "claims").mkdir(parents=True, exist_ok=True)  # a workspace with no claims: qualify needs none
    return invoke("--workspace", str(ws), "judge", "qualify", "--data", str(QUALIFY_SET), *extra)


def stored(ws: Path) -> dict[str, Any]:
    """The record stored in the ledger, less what differs between any two measurements (id, date)."""
    with sqlite3.connect(Workspace.at(ws).ledger_path) as conn:
        [(record,)] = conn.execute("SELECT record_json FROM judge_qualifications").fetchall()
    return {k: v for k, v in json.loads(record).items() if k not in ("id", "created_at")}


def cached(ws: Path) -> int:
    with sqlite3.connect(Workspace.at(ws).ledger_path) as conn:
        return conn.execute("SELECT COUNT(*) FROM judgements").fetchone()[0]


def test_a_concurrent_qualification_stores_what_a_serial_one_stores(tmp_path, monkeypatch):
    with OpenAIServer(responder=erring) as server:
        server.chat.latency_s = 0.05  # long enough that requests overlap when qualify lets them
        serve(monkeypatch, server, 1)
        serial = qualify(tmp_path / "serial", "--json")
        assert server.chat.most_in_flight == 1
        server.chat.most_in_flight = 0
        serve(monkeypatch, server, 4)
        concurrent = qualify(tmp_path / "concurrent", "--json")
        most = server.chat.most_in_flight
    assert serial.exit_code == concurrent.exit_code == 1, serial.stdout + serial.stderr  # it errs too often
    assert most > 1  # the requests overlapped
    record = stored(tmp_path / "serial")
    roles = record["roles"]
    assert sum(r["errors"] for r in roles.values()) > 0 and min(r["macro_f1"] for r in roles.values()) < 1
    assert roles["judge"]["calls"] == len(LABELLED) and roles["recheck"]["calls"] == 2 * len(LABELLED)
    assert stored(tmp_path / "concurrent") == record
    printed = [
        {k: v for k, v in json.loads(r.stdout).items() if k not in ("id", "created_at")} for r in (serial, concurrent)
    ]
    assert printed == [record, record]


def test_an_endpoint_failing_mid_way_stops_and_a_second_try_asks_only_the_rest(tmp_path, monkeypatch):
    """After its 30th request the endpoint answers 500 to everything: the command ends with one line, no new
    request starts, what was answered stays cached; once it recovers, a second try asks the rest alone."""
    down = {"after": 30}

    def failing(request: dict[str, Any]) -> ChatReply:
        if len(server.chat.requests) > down["after"]:
            return ChatReply(status=500)
        return erring(request, unusable=False)  # one HTTP request per judge request

    ws = tmp_path / "ws"
    with OpenAIServer(responder=failing) as server:
        server.chat.latency_s = 0.05
        serve(monkeypatch, server, 4)
        monkeypatch.setenv("CLAIMTRACK_LLM_MAX_RETRIES", "0")
        failed = qualify(ws)
        first = [asked(r) for r in server.chat.requests]
        answered = cached(ws)
        with sqlite3.connect(Workspace.at(ws).ledger_path) as conn:
            assert conn.execute("SELECT COUNT(*) FROM judge_qualifications").fetchone()[0] == 0  # none stored
        down["after"] = 10**6
        again = qualify(ws, "--json")
        second = [asked(r) for r in server.chat.requests[len(first) :]]
        serve(monkeypatch, server, 1)
        whole = qualify(tmp_path / "whole")  # the same set in a workspace that never failed, serially
    assert failed.exit_code == 3, failed.stdout + failed.stderr
    [line] = [x for x in failed.stderr.splitlines() if not x.startswith("qualify: ")]
    assert line == "error: llm: test-model: HTTP 500" and failed.stdout == ""
    # Each of the four workers sends at most one request once the endpoint is down, and then stops; the
    # samples not started are never asked. Every request answered before is cached.
    assert 30 < len(first) <= 30 + 4 and answered == 30
    assert len(second) == REQUESTS - 30 and len(set(second)) == len(second)  # the 70 not cached, once each
    assert not set(second) & set(first[:30]) and len(set(second) | set(first[:30])) == REQUESTS
    assert again.exit_code == whole.exit_code and stored(tmp_path / "whole") == stored(ws)


def test_progress_goes_to_stderr_and_json_alone_to_stdout(tmp_path, monkeypatch):
    ws = tmp_path / "ws"
    with OpenAIServer(responder=erring) as server:
        serve(monkeypatch, server, 4)
        first = qualify(ws, "--json")
        again = qualify(ws, "--json")
        quiet = qualify(ws, "--json", "-q")
    lines = [x for x in first.stderr.splitlines() if x.startswith("qualify: ")]
    assert lines[0].startswith(f"qualify: 0/{REQUESTS} requests answered (0 from the cache)")
    assert lines[-1].startswith(f"qualify: {REQUESTS}/{REQUESTS} requests answered (0 from the cache)")
    assert json.loads(first.stdout)["n"] == len(LABELLED)  # stdout is the record alone
    assert "qualify: " not in first.stdout and "qualify: " not in again.stdout
    assert f"{REQUESTS}/{REQUESTS} requests answered ({REQUESTS} from the cache)" in again.stderr
    assert "requests answered" not in quiet.stderr and json.loads(quiet.stdout)["n"] == len(LABELLED)


def test_the_progress_line_tells_the_time_left_once_fresh_requests_were_timed():
    from claimtrack.agent.qualify import Asked
    from claimtrack.cli.judge import _line

    assert _line(Asked(3, 100, 1, 2, None)).endswith("2 LLM calls in flight")
    assert _line(Asked(30, 100, 10, 8, 2400.0)).endswith("8 LLM calls in flight, about 40 min left")
    assert _line(Asked(90, 100, 10, 8, 30.4)).endswith("about 30 s left")
    assert _line(Asked(9, 368, 0, 1, 80 * 60.0)).endswith("about 1 h 20 min left")


def test_the_progress_counts_every_request_and_estimates_once_a_round_of_fresh_ones_was_timed(tmp_path, monkeypatch):
    from claimtrack.agent.assess import load_prompts, make_judges
    from claimtrack.agent.qualify import Asked, load_set
    from claimtrack.agent.qualify import qualify as measure
    from claimtrack.config import load_settings
    from claimtrack.ledger import Ledger

    (tmp_path / "ws" / "claims").mkdir(parents=True)
    ws = Workspace.at(tmp_path / "ws")
    samples = load_set(QUALIFY_SET)
    told: list[Asked] = []
    with OpenAIServer(responder=erring) as server, Ledger.open(ws) as ledger:
        serve(monkeypatch, server, 4)
        judges = make_judges(load_prompts(ws), load_settings(), ledger=ledger, run_id="qualify")
        assert judges is not None
        measure(ledger, judges, samples[:10], ["first ten"])  # cached: the second measurement's first 40
        measure(ledger, judges, samples, ["all"], progress=told.append)
    assert [a.done for a in told] == list(range(REQUESTS + 1)) and {a.total for a in told} == {REQUESTS}
    assert told[-1].cached == 40 and all(0 <= a.in_flight <= 4 for a in told)
    fresh = [a.done - a.cached for a in told]
    assert all(a.left_s is None for a, f in zip(told, fresh, strict=True) if f < 4)  # 4: what the pool holds
    assert all(a.left_s is not None for a, f in zip(told, fresh, strict=True) if 4 <= f < REQUESTS - 40)
    assert told[-1].left_s is None  # nothing left to ask
