"""Identifiers: claim and line slugs, arXiv ids. A slug is safe to use as a file name."""

from __future__ import annotations

import re
import unicodedata

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
SLUG_MAX = 80

# New-style ids (0704.0001 onwards: YYMM.NNNN or YYMM.NNNNN) and old-style (archive[.SUB]/YYMMNNN).
_NEW = r"\d{4}\.\d{4,5}"
_OLD = r"[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7}"
ARXIV_RE = re.compile(rf"^(?P<base>{_NEW}|{_OLD})(?P<version>v\d+)?$")
_PREFIX_RE = re.compile(r"^(?:arxiv:|https?://(?:export\.)?arxiv\.org/(?:abs|pdf)/)", re.IGNORECASE)


def is_slug(value: str) -> bool:
    return bool(SLUG_RE.match(value)) and len(value) <= SLUG_MAX


def slugify(text: str, max_len: int = 60) -> str:
    """A lowercase hyphenated slug, cut at a word boundary so ids stay readable."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > max_len:
            break
        slug = candidate
    return slug or "untitled"


def parse_arxiv_id(value: str) -> tuple[str, str | None]:
    """Split an arXiv id (optionally prefixed `arXiv:` or an abs URL) into (base id, version or None).

    Raises ValueError for anything that is not an arXiv id.
    """
    text = _PREFIX_RE.sub("", value.strip())
    text = text.removesuffix(".pdf")
    match = ARXIV_RE.match(text)
    if not match:
        raise ValueError(f"'{value}' is not an arXiv id (expected e.g. 2305.11383 or hep-th/9901001)")
    return match["base"], match["version"]


def normalize_arxiv_id(value: str) -> str:
    """The versionless id, the key papers are stored under."""
    return parse_arxiv_id(value)[0]
