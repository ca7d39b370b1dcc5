"""The HTML report in a real browser: Debian's chromium, headless, offline, with a fresh profile."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import invoke
from reports_helpers import IMG_QUOTE, SCRIPT_TITLE, hostile_workspace
from test_reports_status import parse

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium")


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None  # the test that calls this is skipped without it
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; .ci/run does)")
def test_report_renders_in_chromium_without_running_paper_markup(tmp_path: Path) -> None:
    hostile_workspace(tmp_path / "ws")
    page = tmp_path / "report.html"
    result = invoke("-w", str(tmp_path / "ws"), "report", "status", "--format", "html", "--out", str(page))
    assert result.exit_code == 0, result.stderr
    url = page.resolve().as_uri()

    shot = tmp_path / "report.png"
    _chromium(tmp_path, "--window-size=1366,900", f"--screenshot={shot}", url)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000

    dom = _chromium(tmp_path, "--dump-dom", url).stdout
    elements = parse(dom)
    tags = [t for t, _ in elements.tags]
    # the payloads would mark <body> if they ran; the browser built no element from them
    body = next(attrs for t, attrs in elements.tags if t == "body")
    assert "data-pwned" not in body
    assert "script" not in tags and "img" not in tags
    text = "".join(elements.text)
    assert SCRIPT_TITLE in text and IMG_QUOTE in text
    rows = [a["data-claim"] for t, a in elements.tags if t == "tr" and "data-claim" in a]
    assert rows == ["calibration-claim", "replicated-claim", "unanchored-claim"]
    charts = [a for t, a in elements.tags if t == "svg" and a.get("class") == "stances"]
    assert [c["data-line"] for c in charts] == ["test-line"]
    assert tags.count("circle") == 3  # one dot per status change on the timeline
