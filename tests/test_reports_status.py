"""The status report in md, html and json, its escaping, bad input, and `claimtrack log`."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import invoke
from reports_helpers import IMG_QUOTE, SCRIPT_TITLE, hostile_workspace


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    hostile_workspace(tmp_path / "ws")
    return tmp_path / "ws"


def _status(ws: Path, *extra: str) -> str:
    result = invoke("-w", str(ws), "report", "status", *extra)
    assert result.exit_code == 0, result.stderr
    return result.stdout


class _Elements(HTMLParser):
    """Tags with their attributes, and the page's text, as a browser's parser would see them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> _Elements:
    parser = _Elements()
    parser.feed(page)
    return parser


def test_json_has_the_documented_structure(ws: Path) -> None:
    report = json.loads(_status(ws, "--format", "json"))
    assert report["schema"] == "claimtrack.status-report/1"
    assert report["since_rule"] == "window" and report["since"] == "2026-03-01"
    assert report["newest_change"] == "2026-03-31T09:00:00+00:00"
    assert report["totals"] == {
        "claims": 3,
        "evidence": 3,
        "replications": 0,
        "pending": 1,
        "review": 1,
        "contested": 0,
        "by_status": {"untested": 1, "holding": 1, "relaxed": 0, "superseded": 1},
    }
    assert [(c["claim"], c["to"]) for c in report["changed"]] == [
        ("calibration-claim", "superseded"),
        ("replicated-claim", "holding"),
        ("calibration-claim", "holding"),
    ]
    assert report["lines"][0]["claims"] == ["calibration-claim", "replicated-claim", "unanchored-claim"]
    claim = report["claims"]["calibration-claim"]
    assert claim["last_change"]["rationale"] == "A newer training recipe removes the trade-off."
    assert claim["stance_counts"] == {"supports": 1, "relaxes": 0, "contradicts": 0, "supersedes": 1, "unrelated": 0}
    assert claim["evidence"][0]["quote"] == IMG_QUOTE
    hostile, support = claim["evidence"]
    assert (hostile["quote_source"], hostile["quote_section"]) == ("fulltext", "4.2 Scaling")
    assert hostile["quote_origin"] == "full text, §4.2 Scaling"
    assert support["quote_origin"] == "citation context on arXiv:2507.16806"
    replicated = report["claims"]["replicated-claim"]["evidence"][0]
    assert replicated["numbers"] == {"effect": 0.12, "stderr": 0.03, "ci_low": 0.06, "ci_high": 0.18}
    assert replicated["numbers_text"] == "effect 0.12 ± 0.03 (stderr), 95% CI 0.06 to 0.18"
    pending = report["claims"]["unanchored-claim"]["pending"]
    assert [(p["paper_id"], p["title"]) for p in pending] == [("2606.00042", "Template <b>matching</b> & RL")]
    [item] = report["claims"]["replicated-claim"]["review"]
    assert item["id"].startswith("rv-") and item["paper"] == "arXiv:2606.00077"
    assert (item["judge"]["stance"], item["confirm"]["stance"]) == ("contradicts", "supports")


def test_since_narrows_the_changed_section(ws: Path) -> None:
    report = json.loads(_status(ws, "--format", "json", "--since", "2026-03-10"))
    assert report["since_rule"] == "given"
    assert [c["at"][:10] for c in report["changed"]] == ["2026-03-31", "2026-03-11"]
    later = json.loads(_status(ws, "--format", "json", "--since", "2027"))
    assert later["changed"] == []
    assert "Nothing changed in this period." in _status(ws, "--since", "2027-01-01")


def test_markdown_shows_changes_evidence_numbers_and_pending(ws: Path) -> None:
    text = _status(ws)
    changed = text.index("## Changed since 2026-03-01 (30 days before the newest change)")
    assert changed < text.index("## Which training signals fool us?")
    assert (
        "- 2026-03-31 `calibration-claim`: holding → **superseded** by run-b:"
        " A newer training recipe removes the trade-off."
    ) in text
    assert "  - evidence: arXiv:2604.05555 (supersedes)" in text
    assert "| `replicated-claim` | holding | 2024-11 | 2026-03-11 | 1 | 1 | 0 |" in text
    assert "1 judged pair waiting for review (`claimtrack review`); 1 candidate paper not yet judged." in text
    assert "judged contradicts (0.75), confirmation supports (0.80)" in text
    assert "    - numbers: effect 0.12 ± 0.03 (stderr), 95% CI 0.06 to 0.18" in text
    assert "    > binary rewards raise overconfidence *(citation context on arXiv:2507.16806)*" in text
    assert "confident guesses persist *(full text, §4.2 Scaling)*" in text  # where each quote stands
    assert "  - arXiv:2606.00042 (2026-06-01, score 0.5) Template \\<b>matching\\</b> & RL" in text
    assert "- Anchors: none (not grounded in a paper yet)" in text
    # markup from papers cannot become HTML when the Markdown is rendered: every `<` is backslash-escaped
    assert "Attack \\<script>document.body" in text and ">\\<img src=x" in text
    assert re.search(r"(?<!\\)<", text) is None


def test_html_is_self_contained_and_escapes_paper_text(ws: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = invoke("-w", str(ws), "report", "status", "--format", "html", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    page = out.read_text(encoding="utf-8")
    elements = parse(page)
    tags = [t for t, _ in elements.tags]
    assert "script" not in tags and "img" not in tags and "link" not in tags and "iframe" not in tags
    assert not [a for _, attrs in elements.tags for a in attrs if a.startswith("on")]
    assert "http://" not in page and "https://" not in page  # nothing to fetch
    text = "".join(elements.text)
    assert SCRIPT_TITLE in text and IMG_QUOTE in text and "Template <b>matching</b> & RL" in text
    assert "1waiting for review" in text and "1not yet judged" in text  # the cards: the queue, the candidates
    assert "Reasoning <i>after</i> tuning" in text  # escaped, shown as text
    assert f"{IMG_QUOTE} (full text, §4.2 Scaling)" in text and tags.count("cite") == 2  # where the quotes stand
    rows = [a for t, a in elements.tags if t == "tr" and "data-claim" in a]
    assert [a["data-claim"] for a in rows] == ["calibration-claim", "replicated-claim", "unanchored-claim"]
    assert tags.count("svg") == 2  # the timeline and one evidence chart for the one line
    # stance bars: calibration-claim has one supporting and one superseding paper, replicated-claim one run
    rects = [a for t, a in elements.tags if t == "rect"]
    assert [r["fill"] for r in rects] == ["#2f8f5b", "#7b3fa0", "#2f8f5b"]
    assert len({r["width"] for r in rects}) == 1
    assert "@media print" in page


def test_same_store_gives_the_same_report(ws: Path) -> None:
    for fmt in ("md", "html", "json"):
        assert _status(ws, "--format", fmt) == _status(ws, "--format", fmt)


def test_empty_store_reports_no_changes(empty_workspace: Path) -> None:
    report = json.loads(_status(empty_workspace, "--format", "json"))
    assert report["since_rule"] == "none" and report["changed"] == [] and report["claims"] == {}
    assert "No status change is recorded yet." in _status(empty_workspace, "--format", "html")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "2026-02-30"], "error: --since: '2026-02-30' is not a date (expected YYYY-MM-DD)"),
        (["--since", "last week"], "error: --since: 'last week' is not a date (expected YYYY-MM-DD)"),
        (["--format", "pdf"], "error: --format: 'pdf' is not one of md, html, json"),
    ],
)
def test_bad_arguments_fail_in_one_line_and_write_nothing(
    ws: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "report.out"
    result = invoke("-w", str(ws), "report", "status", *args, "--out", str(out))
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [message]
    assert not out.exists()


def test_out_replaces_an_existing_file_whole(ws: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    out.write_text("old contents that are longer than nothing " * 1000, encoding="utf-8")
    result = invoke("-w", str(ws), "report", "status", "--format", "json", "--out", str(out))
    assert result.exit_code == 0
    assert json.loads(out.read_text(encoding="utf-8"))["totals"]["claims"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json", "ws"]


def test_log_lists_changes_newest_first_with_evidence(ws: Path) -> None:
    result = invoke("-w", str(ws), "log")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    heads = [line for line in lines if line[:1].isdigit()]
    assert heads == [
        "2026-03-31  calibration-claim  holding -> superseded  by run-b",
        "2026-03-11  replicated-claim  untested -> holding  by run-c",
        "2026-03-06  calibration-claim  untested -> holding  by run-a",
    ]
    assert "    evidence rep-1: supports job:probe-1 (recorded 2026-03-11)" in lines
    assert "      effect 0.12 ± 0.03 (stderr), 95% CI 0.06 to 0.18" in lines
    assert "    A newer training recipe removes the trade-off." in lines
    assert '      "binary rewards raise overconfidence" (citation context on arXiv:2507.16806)' in lines


def test_log_filters_by_claim_and_date_and_prints_json(ws: Path) -> None:
    result = invoke("-w", str(ws), "log", "calibration-claim", "--since", "2026-03-10", "--json")
    entries = json.loads(result.stdout)
    assert [(e["claim"], e["to"]) for e in entries] == [("calibration-claim", "superseded")]
    assert entries[0]["evidence"][0]["title"] == SCRIPT_TITLE
    assert invoke("-w", str(ws), "log", "--since", "2030-01-01").stdout.strip() == "no status changes recorded"


def test_log_unknown_claim_is_one_line_error(ws: Path) -> None:
    result = invoke("-w", str(ws), "log", "calibration")
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: unknown claim id 'calibration' (did you mean calibration-claim?)"
