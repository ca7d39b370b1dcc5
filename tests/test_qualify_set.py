"""The judge qualification set (evals/judge/qualify.jsonl) is well formed, balanced enough to measure every
stance, and consistent with the project's rule that only a newer paper can supersede a claim."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest
from conftest import ROOT

from claimtrack.ids import ARXIV_RE
from claimtrack.models import Stance

QUALIFY = ROOT / "evals" / "judge" / "qualify.jsonl"
FIELDS = {"claim", "title", "abstract", "label", "arxiv", "why"}
CLAIMED = re.compile(r"Claimed: (?P<year>\d{4})-(?P<month>0[1-9]|1[0-2])\.$")


@pytest.fixture(scope="module")
def lines() -> list[str]:
    return QUALIFY.read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def records(lines: list[str]) -> list[dict]:
    return [json.loads(line) for line in lines]


def paper_month(arxiv: str) -> tuple[int, int]:
    """A new-style arXiv id starts with the year and month it was first submitted (YYMM)."""
    return 2000 + int(arxiv[:2]), int(arxiv[2:4])


def claim_month(claim: str) -> tuple[int, int]:
    match = CLAIMED.search(claim)
    assert match, f"claim does not end with 'Claimed: YYYY-MM.': {claim[-40:]!r}"
    return int(match["year"]), int(match["month"])


def test_every_line_is_one_record_with_exactly_the_fields(lines: list[str]) -> None:
    assert lines, "qualify.jsonl is empty"
    for number, line in enumerate(lines, 1):
        record = json.loads(line)
        assert set(record) == FIELDS, f"line {number}: fields {sorted(record)}"
        for field in FIELDS:
            value = record[field]
            assert isinstance(value, str) and value == value.strip() and value, f"line {number}: {field} blank"
        assert "\n" not in record["why"], f"line {number}: why must be one line"


def test_size_and_every_label_measurable(records: list[dict]) -> None:
    counts = Counter(record["label"] for record in records)
    assert len(records) >= 80
    assert set(counts) == {stance.value for stance in Stance}, counts
    assert min(counts.values()) >= 10, counts


def test_arxiv_ids_are_versionless_and_pairs_unique(lines: list[str], records: list[dict]) -> None:
    for record in records:
        match = ARXIV_RE.match(record["arxiv"])
        assert match and match["version"] is None, record["arxiv"]
    pairs = Counter((record["claim"], record["arxiv"]) for record in records)
    assert [pair for pair, n in pairs.items() if n > 1] == []
    assert len(set(lines)) == len(lines)


def test_one_paper_has_one_title_and_abstract(records: list[dict]) -> None:
    """A paper reused for several claims is quoted identically each time."""
    seen: dict[str, tuple[str, str]] = {}
    for record in records:
        text = (record["title"], record["abstract"])
        assert seen.setdefault(record["arxiv"], text) == text, record["arxiv"]


def test_claims_are_dated_and_varied(records: list[dict]) -> None:
    claims = Counter(record["claim"] for record in records)
    for claim in claims:
        claim_month(claim)
    assert len(claims) >= 20
    assert max(claims.values()) <= 8, claims.most_common(1)


def test_only_a_newer_paper_supersedes(records: list[dict]) -> None:
    for record in records:
        if record["label"] == Stance.SUPERSEDES:
            assert paper_month(record["arxiv"]) > claim_month(record["claim"]), record["arxiv"]
