"""`claimtrack serve` over HTTP: what it refuses (another host, a missing token, a form without its CSRF token,
another origin), the headers it sends, and decisions that follow the CLI's code path and lock."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import invoke
from starlette.testclient import TestClient
from web_helpers import claim_files, make_workspace, serving

from claimtrack.config import load_settings
from claimtrack.web.app import create_app


@pytest.fixture
def ws(tmp_path: Path):
    return make_workspace(tmp_path / "ws", 3)


def _client(ws, **kwargs) -> TestClient:
    return TestClient(create_app(ws, load_settings(), reviewer="ana", **kwargs), base_url="http://127.0.0.1:8722")


def _csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def _open_ids(ws) -> list[str]:
    return [item["id"] for item in json.loads(invoke("-w", str(ws.root), "review", "--json").stdout)]


def test_pages_carry_a_content_security_policy_and_list_the_queue_oldest_first(ws) -> None:
    client = _client(ws)
    page = client.get("/")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy and "unsafe-inline" not in policy
    assert re.findall(r'data-item="(rv-[0-9a-f]+)"', page.text) == _open_ids(ws)
    assert "http" not in re.sub(r'href="https://arxiv.org/[^"]+"', "", page.text)  # nothing loads from elsewhere
    filtered = client.get("/", params={"claim": "cot-performative"})
    assert re.findall(r'data-item="(rv-[0-9a-f]+)"', filtered.text) == [_open_ids(ws)[1]]
    assert client.get("/", params={"stance": "relaxes"}).text.count("data-item=") == 1
    assert client.get("/static/review.js").headers["content-type"].startswith("text/javascript")


def test_a_post_without_the_csrf_token_or_from_another_origin_is_refused_and_changes_nothing(ws) -> None:
    client = _client(ws)
    first = _open_ids(ws)[0]
    before = claim_files(ws)
    page = client.get(f"/item/{first}").text
    form = {"action": "accept", "by": "ana", "because": ""}
    assert client.post(f"/item/{first}", data=form).status_code == 403
    assert client.post(f"/item/{first}", data={**form, "csrf": "forged"}).status_code == 403
    other = client.post(f"/item/{first}", data={**form, "csrf": _csrf(page)}, headers={"origin": "http://evil.test"})
    assert other.status_code == 403 and "another origin" in other.text
    lift = client.post("/claim/reward-calibration/lift", data={"paper": "arXiv:2605.10000", "because": "x"})
    assert lift.status_code == 403
    assert claim_files(ws) == before and _open_ids(ws)[0] == first
    done = client.post(f"/item/{first}", data={**form, "csrf": _csrf(page)}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith(f"/item/{_open_ids(ws)[0]}?done=")


def test_a_request_naming_another_host_is_refused_when_bound_to_loopback(ws) -> None:
    client = _client(ws)
    assert client.get("/", headers={"host": "attacker.example:8722"}).status_code == 403
    assert client.get("/", headers={"host": "localhost:8722"}).status_code == 200


def test_serve_on_another_host_prints_a_token_and_refuses_requests_without_it(ws) -> None:
    with serving(ws, "--host", "0.0.0.0") as (url, _):
        assert "?token=" in url
        base, token = url.split("?token=")
        local = base.replace("0.0.0.0", "127.0.0.1")
        refused = httpx.get(local)
        assert refused.status_code == 403 and "token" in refused.text
        assert httpx.get(local, params={"token": "wrong"}).status_code == 403
        with httpx.Client(follow_redirects=True) as browser:
            entered = browser.get(f"{local}?token={token}")  # the cookie it sets carries the token on
            assert entered.status_code == 200 and entered.url.query == b""
            assert browser.get(local + "item/" + _open_ids(ws)[0]).status_code == 200


def test_serve_binds_loopback_by_default(ws) -> None:
    with serving(ws) as (url, _):
        assert url.startswith("http://127.0.0.1:") and "token" not in url
        assert httpx.get(url).status_code == 200


def test_a_decision_while_another_process_holds_the_store_says_so_and_writes_nothing(ws) -> None:
    client = _client(ws, lock_wait=0.5)
    first = _open_ids(ws)[0]
    page = client.get(f"/item/{first}").text
    before = claim_files(ws)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from claimtrack.fileio import file_lock\n"
         "with file_lock(__import__('pathlib').Path(sys.argv[1]), holder='a claimtrack run'):\n"
         "    print('held', flush=True); time.sleep(60)", str(ws.lock_path)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        busy = client.post(f"/item/{first}", data={"csrf": _csrf(page), "action": "accept", "by": "ana"})
        assert busy.status_code == 503
        assert re.search(r'id="message">[^<]*another claimtrack process writing this store holds', busy.text)
    finally:
        holder.terminate()
        holder.wait()
    assert claim_files(ws) == before and _open_ids(ws)[0] == first


def test_decisions_follow_the_cli_semantics_a_second_one_is_refused_and_a_lift_reopens(ws) -> None:
    client = _client(ws)
    first = _open_ids(ws)[0]
    page = client.get(f"/item/{first}").text
    assert "accept moves the claim untested → holding" in page
    form = {"csrf": _csrf(page), "action": "accept", "by": "ana", "because": "read the abstract"}
    assert client.post(f"/item/{first}", data=form, follow_redirects=False).status_code == 303
    shown = json.loads(invoke("-w", str(ws.root), "show", "reward-calibration", "--json").stdout)
    assert shown["status"] == "holding"
    review = [h for h in shown["history"] if h.get("event") == "review"]
    assert review[0]["by"] == "person:ana" and review[0]["rationale"] == "read the abstract"
    again = client.post(f"/item/{first}", data={**form, "action": "reject"})
    assert again.status_code == 409 and "already accepted by person:ana; nothing changed" in again.text
    nobody = client.post(f"/item/{_open_ids(ws)[0]}", data={**form, "by": ""})
    assert nobody.status_code == 400 and "reviewer" in nobody.text
    decided = client.get(f"/item/{first}").text
    assert 'id="reopen"' in decided and "accepted (review" in decided
    lift = {"csrf": form["csrf"], "paper": "arXiv:2605.10000", "by": "ana", "because": "misread the scope"}
    lifted = client.post("/claim/reward-calibration/lift", data=lift)
    assert lifted.status_code == 200 and "lifted the ruling (accepted) on arXiv:2605.10000" in lifted.text
    assert first in _open_ids(ws)
    missing = client.post("/claim/reward-calibration/lift", data=lift)
    assert missing.status_code == 400 and "no ruling on arXiv:2605.10000" in missing.text


def test_serve_on_a_taken_port_is_one_line_exit_2(ws) -> None:
    with serving(ws) as (url, _):
        port = url.rsplit(":", 1)[1].strip("/")
        started = time.monotonic()
        result = invoke("-w", str(ws.root), "serve", "--port", port)
        assert result.exit_code == 2 and result.stderr.startswith("error: --port: cannot listen on 127.0.0.1:")
        assert len(result.stderr.strip().splitlines()) == 1 and time.monotonic() - started < 30
