"""`claimtrack serve` in a real browser (Debian's chromium, headless, through its DevTools protocol): a person
works the queue with the keyboard alone, and the claims end as the same decisions through the CLI leave them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cdp import CHROMIUM, Browser
from conftest import invoke
from web_helpers import HOSTILE_ABSTRACT, claim_files, make_workspace, serving

from claimtrack.workspace import Workspace

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; .ci/run does)"),
]


@pytest.fixture
def browser(tmp_path: Path):
    opened = Browser(tmp_path / "profile")
    yield opened
    opened.close()


def test_three_decisions_by_keyboard_move_the_claim_and_paper_markup_stays_text(tmp_path: Path, browser) -> None:
    ws = make_workspace(tmp_path / "ws", 3, hostile=True)
    with serving(ws) as (url, _):
        browser.open(url)
        assert browser.evaluate("document.querySelectorAll('tr[data-item]').length") == 3
        browser.press("j")  # the first item
        assert browser.text("#status") == "untested"
        # the hostile abstract is shown as text: no element was built from it and nothing ran
        assert browser.text("#abstract") == HOSTILE_ABSTRACT
        assert browser.evaluate("document.querySelectorAll('main script, main img').length") == 0
        assert browser.evaluate("document.body.hasAttribute('data-pwned')") is False
        assert browser.text("#judge mark") == "Binary rewards still raise overconfidence in our runs."
        assert browser.text("#if-accept").startswith("accept moves the claim untested → holding")
        first = browser.evaluate("location.pathname")
        browser.press("a")  # accept: supports 0.9, the claim holds
        assert browser.text("#done").endswith("accepted for reward-calibration: untested → holding")
        assert browser.evaluate("location.pathname") != first  # the next item opened
        second = browser.evaluate("location.pathname")
        browser.press("j")  # next, then previous: back on the second item
        browser.press("k")
        assert browser.evaluate("location.pathname") == second
        browser.press("r")  # reject: the contradicting reading is ruled out; the status stays
        assert browser.text("#done").endswith("rejected for cot-performative; status stays untested")
        browser.press("a")
        assert browser.evaluate("location.pathname") == "/"  # the queue, now empty
        assert "nothing waits for review" in browser.text("table.queue")
        browser.open(url + "claim/reward-calibration")
        assert browser.text("#status") == "holding"
    shown = json.loads(invoke("-w", str(ws.root), "show", "reward-calibration", "--json").stdout)
    assert shown["status"] == "holding"


def test_twenty_items_by_keyboard_equal_the_same_decisions_through_the_cli(tmp_path: Path, browser) -> None:
    web = make_workspace(tmp_path / "web", 20)
    cli = tmp_path / "cli"
    shutil.copytree(web.root, cli)
    keys = ["a" if n % 3 else "r" for n in range(20)]
    queue = json.loads(invoke("-w", str(cli), "review", "--json").stdout)
    assert len(queue) == 20
    for item, key in zip(queue, keys, strict=True):
        decided = invoke("-w", str(cli), "review", "accept" if key == "a" else "reject", item["id"], "--by", "ana")
        assert decided.exit_code == 0, decided.stderr
    with serving(web) as (url, _):
        browser.open(url)
        browser.press("j")
        for key in keys:
            browser.press(key)
        assert browser.evaluate("location.pathname") == "/"
    assert json.loads(invoke("-w", str(web.root), "review", "--json").stdout) == []
    before = claim_files(make_workspace(tmp_path / "untouched", 0))
    after = claim_files(web)
    assert after == claim_files(Workspace.at(cli))
    assert after != before  # the decisions changed the claims
