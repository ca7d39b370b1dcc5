"""`claimtrack doctor`: what this workspace can do right now, in a few lines. Each check is short (network
timeouts of a few seconds) and reports, never raises: a doctor that crashes on the fault it should name
is no use. The API key is never printed; only whether one is set.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import sqlite3
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from claimtrack.config import Settings
from claimtrack.store import Store
from claimtrack.workspace import Workspace

NET_TIMEOUT_S = 4.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None  # None: informational (absent but optional)
    detail: str

    def line(self) -> str:
        mark = {True: "ok  ", False: "FAIL", None: "--  "}[self.ok]
        return f"{mark}  {self.name:<10} {self.detail}"


def check_store(ws: Workspace) -> Check:
    """The whole store as `claimtrack validate` checks it (files, history order, references), so the two agree."""
    from claimtrack.validate import validate_store

    library, problems = validate_store(Store(ws))
    if problems:
        return Check("store", False, f"{len(problems)} problem(s), first: {problems[0]}")
    return Check("store", True, f"{len(library.claims)} claims, {len(library.lines)} lines, valid ({ws.root})")


def check_anchors(ws: Workspace) -> Check:
    """How many claims still need a paper, or a person's look at the one claimtrack linked."""
    from claimtrack.models import AnchorConfidence

    library = Store(ws).read()
    anchors = [a for c in library.claims.values() for a in c.anchors]
    bare = sum(1 for c in library.claims.values() if not c.anchors)
    unresolved = sum(1 for a in anchors if not a.resolved)
    unverified = sum(1 for a in anchors if a.confidence != AnchorConfidence.VERIFIED)
    machine = sum(1 for a in anchors if a.confidence == AnchorConfidence.RESOLVED)
    detail = (
        f"{len(anchors)} anchors: {unresolved} without arXiv metadata (`claimtrack anchors resolve`), "
        f"{unverified} not verified by a person ({machine} of them linked by claimtrack: `claimtrack anchors set`);"
        f" {bare} claims without an anchor"
    )
    return Check("anchors", True if not (unresolved or machine) else None, detail)


def check_llm(settings: Settings) -> Check:
    if not settings.llm_configured:
        return Check(
            "llm",
            None,
            "not configured (set OPENAI_API_KEY, or OPENAI_BASE_URL for a local server); "
            "runs will leave candidates unjudged",
        )
    import openai

    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "no-key-needed"
    where = settings.openai_base_url or "api.openai.com"
    key_note = "key set" if settings.openai_api_key else "no key"
    client = openai.OpenAI(api_key=key, base_url=settings.openai_base_url, timeout=NET_TIMEOUT_S, max_retries=0)
    started = time.monotonic()
    try:
        models = [m.id for m in client.models.list()]
    except openai.APIStatusError as exc:
        return Check("llm", False, f"{settings.llm_model} at {where} ({key_note}): HTTP {exc.status_code}")
    except openai.APIError as exc:
        return Check("llm", False, f"{settings.llm_model} at {where} ({key_note}): {exc.__class__.__name__}")
    took = time.monotonic() - started
    listed = "listed" if settings.llm_model in models else f"NOT among the {len(models)} models served"
    return Check(
        "llm",
        settings.llm_model in models or not models,
        f"{settings.llm_model} at {where} ({key_note}): answering in {took:.1f}s, model {listed}",
    )


def _reach(name: str, url: str, *, method: str = "GET", optional: str = "") -> Check:
    """Any HTTP answer, even an error status, means the host is reachable. An `optional` source that does not
    answer is informational, with that text saying what runs do without it."""
    started = time.monotonic()
    request = urllib.request.Request(url, headers={"User-Agent": "claimtrack-doctor"}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=NET_TIMEOUT_S) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if optional:
            return Check(name, None, f"unreachable: {reason}; {optional}")
        return Check(name, False, f"unreachable: {reason}")
    return Check(name, True, f"reachable (HTTP {status}, {time.monotonic() - started:.1f}s)")


def check_sources(settings: Settings) -> list[Check]:
    return [
        _reach("arxiv", f"{settings.arxiv_url}?search_query=all:test&max_results=1"),
        _reach("s2", f"{settings.s2_url.rstrip('/')}/paper/arXiv:1706.03762?fields=title"),
        _reach("openalex", f"{settings.openalex_url.rstrip('/')}/works?per-page=1"),
    ]


FULLTEXT_PROBE = "1706.03762"  # any arXiv id: the check asks for headers only, never the page


def check_fulltext(settings: Settings) -> Check:
    """Whether arXiv's HTML full texts answer (a HEAD request); without them the judge reads abstracts."""
    url = f"{settings.arxiv_html_url.rstrip('/')}/{FULLTEXT_PROBE}"
    return _reach("fulltext", url, method="HEAD", optional="runs judge on titles and abstracts only")


def check_lm_eval() -> Check:
    if importlib.util.find_spec("lm_eval") is None:
        return Check("lm-eval", False, "not installed: replication cannot run")
    return Check("lm-eval", True, f"{importlib.metadata.version('lm_eval')} installed")


def check_gpu() -> Check:
    if importlib.util.find_spec("torch") is None:
        return Check("gpu", None, "torch not installed")
    import torch

    if torch.cuda.is_available():
        return Check("gpu", True, f"{torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}")
    return Check("gpu", None, "none; replication runs on CPU (small models and --limit)")


def check_ledger(ws: Workspace) -> Check:
    """The ledger opens and SQLite finds it whole (quick_check reads every page, so damage anywhere shows)."""
    from claimtrack.errors import LedgerUnreadable
    from claimtrack.ledger import Ledger

    if not ws.ledger_path.exists():
        return Check("ledger", None, "no ledger yet (made by the first discover or run)")
    try:
        with Ledger.open(ws) as ledger:
            found = [row[0] for row in ledger.conn.execute("PRAGMA quick_check(3)")]
    except LedgerUnreadable as exc:
        return Check("ledger", False, exc.message())
    except sqlite3.DatabaseError as exc:
        return Check("ledger", False, LedgerUnreadable(ws.ledger_path, str(exc)).message())
    if found != ["ok"]:
        return Check("ledger", False, LedgerUnreadable(ws.ledger_path, "; ".join(found)).message())
    return Check("ledger", True, f"{ws.ledger_path} ({ws.ledger_path.stat().st_size / 1e6:.1f} MB), whole")


def check_index(ws: Workspace, settings: Settings) -> Check:
    """Papers in the ledger and embeddings in the Chroma index that ranks them."""
    from claimtrack.ledger import Ledger

    if not ws.ledger_path.exists():
        return Check("index", None, "no ledger yet (nothing discovered)")
    with Ledger.open(ws) as ledger:
        count = ledger.conn.execute("SELECT COUNT(*) FROM papers").fetchone()[0]
        return Check("index", True, f"{count} papers in the ledger; {_chroma_count(ws, ledger, settings)}")


def _chroma_count(ws: Workspace, ledger: object, settings: Settings) -> str:
    from claimtrack.discovery.index import PaperIndex

    index = PaperIndex(ws.state_dir, ledger, settings)
    if not settings.chroma_host and not index.path.is_dir():
        return "no Chroma index yet"
    where = f"server {settings.chroma_host}" if settings.chroma_host else "embedded"
    try:
        return f"Chroma ({where}): {index.collection.count()} embeddings"
    except (OSError, ValueError, RuntimeError) as exc:  # an unreachable server or a damaged folder: say so
        return f"Chroma ({where}) unavailable: {exc}"


def check_last_run(ws: Workspace) -> Check:
    from claimtrack.ledger import Ledger

    if not ws.ledger_path.exists():
        return Check("last run", None, "never")
    with Ledger.open(ws) as ledger:
        row = ledger.conn.execute("SELECT * FROM runs ORDER BY started_at DESC LIMIT 1").fetchone()
    if row is None:
        return Check("last run", None, "never")
    totals = json.loads(row["summary_json"]).get("totals", {}) if row["summary_json"] else {}
    outcome = row["outcome"] or "running or killed"
    detail = f"{row['id']} started {row['started_at']}: {outcome}"
    if totals:
        detail += (
            f" ({totals.get('claims', 0)} claims, {totals.get('failed', 0)} failed, "
            f"{totals.get('status_changes', 0)} status changes)"
        )
    return Check("last run", row["outcome"] == "ok" if row["outcome"] else False, detail)


def check_judge(ws: Workspace, settings: Settings) -> Check:
    """Whether the configured judge is qualified to move statuses (`claimtrack judge qualify`)."""
    from claimtrack.agent.assess import load_prompts
    from claimtrack.agent.qualification import Standing, identity_for, latest
    from claimtrack.errors import ClaimtrackError
    from claimtrack.ledger import Ledger

    if not settings.llm_configured:
        return Check("judge", None, "no LLM endpoint: nothing to qualify")
    try:
        prompts = load_prompts(ws)
    except ClaimtrackError as exc:
        return Check("judge", False, exc.message())
    identity = identity_for(settings, {role: prompt.version for role, prompt in prompts.items()})
    record = None
    if ws.ledger_path.exists():
        with Ledger.open(ws) as ledger:
            record = latest(ledger, identity)
    standing = Standing(judge=identity, qualification=record, trusted=settings.trust_judge)
    return Check("judge", True if standing.qualified else (None if standing.trusted else False), standing.line())


def diagnose(ws: Workspace, settings: Settings) -> list[Check]:
    ledger = check_ledger(ws)
    readable = ledger.ok is not False
    skipped = "not checked: the ledger cannot be read"
    return [
        check_store(ws),
        ledger,
        check_anchors(ws),
        check_llm(settings),
        check_judge(ws, settings),
        *check_sources(settings),
        check_fulltext(settings),
        check_lm_eval(),
        check_gpu(),
        check_index(ws, settings) if readable else Check("index", None, skipped),
        check_last_run(ws) if readable else Check("last run", None, skipped),
    ]
