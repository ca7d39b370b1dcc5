"""arXiv search through the `arxiv` package: queries from a claim's hints and anchors, dated after the claim.

The real `arxiv.Client` owns paging, spacing and its own retry of empty pages; its HTTP session is given an
adapter that sends every request through `http.Fetcher`, so arXiv answers share the ledger cache and the
back-off on 5xx/429 with the other sources, and a malformed feed is reported instead of silently parsed
as "no results".
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from claimtrack.config import Settings
from claimtrack.discovery.http import Fetcher
from claimtrack.errors import SourceError
from claimtrack.ids import parse_arxiv_id
from claimtrack.ledger import Ledger
from claimtrack.models import Claim, partial_date_start
from claimtrack.papers import Paper

if TYPE_CHECKING:
    import arxiv
    import requests

SOURCE = "arxiv"
_STOP = frozenset(
    "a an and are as at be by can do does for from has have how in into is it its of on or than that the their"
    " there these this to under via vs was what when whether which while who why with without".split()
)
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9\-]+")


@dataclass(frozen=True)
class ArxivQuery:
    """One arXiv search: the words it needs, the categories it keeps and the submission window."""

    label: str  # where the query came from: 'term: ...', 'anchor: ...', 'extra: ...'
    words: tuple[str, ...]
    categories: tuple[str, ...] = ()
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    def text(self) -> str:
        """arXiv's query syntax: every word in some field, one of the categories, submitted in the window."""
        parts = [" AND ".join(f"all:{w}" for w in self.words)]
        if self.categories:
            parts.append("(" + " OR ".join(f"cat:{c}" for c in self.categories) + ")")
        if self.since or self.until:
            lo = (self.since or dt.datetime(1991, 1, 1, tzinfo=dt.UTC)).strftime("%Y%m%d%H%M")
            hi = (self.until or dt.datetime(2999, 1, 1, tzinfo=dt.UTC)).strftime("%Y%m%d%H%M")
            parts.append(f"submittedDate:[{lo} TO {hi}]")
        return " AND ".join(parts)


def keywords(text: str, limit: int = 5) -> tuple[str, ...]:
    """The first few content words of a phrase: arXiv ANDs them, so more words would find nothing."""
    seen: list[str] = []
    for word in _WORD.findall(text):
        low = word.lower()
        if low in _STOP or len(low) < 3 or low in seen:
            continue
        seen.append(low)
        if len(seen) == limit:
            break
    return tuple(seen)


def window(claim: Claim, now: dt.datetime, *, overlap: dt.timedelta) -> tuple[dt.datetime | None, dt.datetime]:
    """Submitted after the claim's date and after its last check less `overlap`, up to the end of today (UTC).

    arXiv dates a paper by its submission but announces it days later (a weekend, a holiday, moderation), so
    a window starting at the last check would miss a paper submitted before that check and announced after
    it: the window reaches `overlap` back (Settings.arxiv_overlap_days). Papers found twice cost nothing:
    they are stored and judged once. The end is rounded to the day so the same query URL (and its cached
    answer) serves every run that day.
    """
    starts = []
    if claim.claimed:
        day = partial_date_start(claim.claimed)
        starts.append(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC))
    if claim.last_checked:
        starts.append((claim.last_checked.astimezone(dt.UTC) - overlap).replace(second=0, microsecond=0))
    end = now.astimezone(dt.UTC).replace(hour=23, minute=59, second=0, microsecond=0)
    return (max(starts) if starts else None), end


def build_queries(
    claim: Claim, extra_queries: Sequence[str] = (), *, now: dt.datetime, overlap: dt.timedelta
) -> list[ArxivQuery]:
    """Curated search terms first, then anchor titles, then the LLM's extra queries; duplicates dropped."""
    since, until = window(claim, now, overlap=overlap)
    cats = tuple(claim.search.categories)
    sources = [(f"term: {t}", t) for t in claim.search.terms]
    sources += [(f"anchor: {a.title}", a.title) for a in claim.anchors if a.title]
    sources += [(f"extra: {q}", q) for q in extra_queries]
    if not sources:
        sources = [(f"title: {claim.title}", claim.title)]
    queries, seen = [], set()
    for label, phrase in sources:
        words = keywords(phrase)
        if not words or words in seen:
            continue
        seen.add(words)
        queries.append(ArxivQuery(label, words, cats, since, until))
    return queries


def check_feed(body: bytes) -> str | None:
    """A 200 answer that is not an Atom feed (cut off, an HTML error page) is an error, not 'no results'."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        return f"malformed Atom feed: {exc}"
    if not root.tag.endswith("}feed"):
        return f"not an Atom feed (root element {root.tag})"
    return None


def _adapter(fetcher: Fetcher) -> Any:
    """A requests transport adapter that answers through the Fetcher (cache, back-off, validation)."""
    import requests
    from requests.adapters import BaseAdapter
    from requests.structures import CaseInsensitiveDict

    class FetcherAdapter(BaseAdapter):
        def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
            answer = fetcher.get(request.url, validate=check_feed)
            response = requests.Response()
            response.status_code = answer.status
            response._content = answer.body
            response.headers = CaseInsensitiveDict({"content-type": answer.content_type})
            response.url = request.url
            response.request = request
            response.encoding = "utf-8"
            return response

        def close(self) -> None:
            fetcher.close()

    return FetcherAdapter()


def api_fetcher(settings: Settings, ledger: Ledger | None = None) -> Fetcher:
    """The fetcher for arXiv's API: one request at a time, CLAIMTRACK_ARXIV_DELAY_S apart, for the whole process
    (arXiv's rule is per client machine, not per claim or per search)."""
    return Fetcher.for_source(SOURCE, settings, ledger=ledger, min_interval_s=settings.arxiv_delay_s, connections=1)


def make_client(settings: Settings, fetcher: Fetcher) -> arxiv.Client:
    """The real arxiv.Client, pointed at settings.arxiv_url, its HTTP going through `fetcher`. The client's own
    spacing is off: it would space one client's pages only, and answers from the cache too; the fetcher paces the
    network calls of every client in the process together (http.Pace)."""
    import arxiv

    client = arxiv.Client(page_size=settings.arxiv_page_size, delay_seconds=0.0, num_retries=settings.arxiv_retries)
    client.query_url_format = settings.arxiv_url.rstrip("?") + "?{}"
    # The arxiv package exposes no session argument; mounting on its session is the one way in.
    client._session.mount("http://", _adapter(fetcher))
    client._session.mount("https://", _adapter(fetcher))
    return client


def to_paper(result: arxiv.Result) -> Paper | None:
    """An arxiv.Result as a Paper; None for entries that are not papers (arXiv's error entries)."""
    try:
        base, version = parse_arxiv_id(result.entry_id)
    except ValueError:
        return None
    return Paper(
        id=base,
        version=version,
        doi=result.doi or None,
        title=" ".join(result.title.split()),
        abstract=" ".join((result.summary or "").split()),
        authors=[a.name for a in result.authors],
        categories=list(result.categories),
        published=result.published.date().isoformat(),
        updated=result.updated.date().isoformat() if result.updated else None,
        url=f"https://arxiv.org/abs/{base}",
    )


def search(client: arxiv.Client, query: ArxivQuery, max_results: int) -> Iterator[Paper]:
    """Papers for one query, newest-relevant first; arxiv's own errors become SourceError."""
    import arxiv
    import requests

    request = arxiv.Search(query=query.text(), max_results=max_results, sort_by=arxiv.SortCriterion.Relevance)
    try:
        for result in client.results(request):
            paper = to_paper(result)
            if paper is not None:
                yield paper
    except arxiv.UnexpectedEmptyPageError as exc:
        raise SourceError(SOURCE, f"empty page in the middle of the results ({query.label}): {exc.url}") from exc
    except arxiv.HTTPError as exc:
        raise SourceError(SOURCE, f"HTTP {exc.status} for query ({query.label})") from exc
    except requests.RequestException as exc:
        raise SourceError(SOURCE, f"request failed ({query.label}): {exc}") from exc
