"""The web app's routes: the queue, one item, one claim, and the decisions posted from them.

Pages are rendered on the server; the only script is static/review.js (the keyboard). Decisions run
claimtrack.review's `decide_item` and `lift` in a worker thread, under the store's lock as the CLI takes it: a
run or another reviewer holding it gets the lock's own message on the page, and nothing is written.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from claimtrack.config import Settings
from claimtrack.errors import AlreadyDecided, Busy, ClaimtrackError, InvalidArgument, NotFound
from claimtrack.ledger import Ledger
from claimtrack.review import decide_item, get_item, lift, open_ids, preview, queue
from claimtrack.rulings import paper_of, rulings
from claimtrack.store import Store
from claimtrack.web.guard import Guard, same
from claimtrack.web.pages import history_line, matches, passage, quote_sources, stances
from claimtrack.workspace import Workspace

HERE = Path(__file__).resolve().parent
FILTERS = ("claim", "line", "stance", "source", "reason")
STATUS_OF = {Busy: 503, AlreadyDecided: 409, NotFound: 404}


class Review:
    """The app's state: the workspace, the decision's rules (as the CLI reads them from the settings), the CSRF
    token and the default reviewer."""

    def __init__(self, ws: Workspace, settings: Settings, *, reviewer: str, lock_wait: float) -> None:
        self.ws, self.reviewer, self.lock_wait = ws, reviewer, lock_wait
        self.rules = {"threshold": settings.judge_threshold, "margin": settings.status_margin}
        self.csrf = secrets.token_urlsafe(32)
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True, undefined=jinja2.StrictUndefined
        )
        env.filters["history_line"] = history_line
        self.templates = Jinja2Templates(env=env)

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        context = {"message": "", **context, "csrf": self.csrf, "reviewer": self.reviewer}
        context["done"] = request.query_params.get("done", "")
        return self.templates.TemplateResponse(request, name, context, status_code=status)

    # --- pages ----------------------------------------------------------------------------------------------------

    async def queue_page(self, request: Request) -> Response:
        wanted = {k: request.query_params.get(k, "") for k in FILTERS}
        return await run_in_threadpool(self._queue_page, request, wanted)

    def _queue_page(self, request: Request, wanted: dict[str, str]) -> Response:
        waiting = queue(self.ws)
        library = Store(self.ws).read()
        lines = {item.claim_id: library.lines_of(item.claim_id) for item in waiting}
        shown = [item for item in waiting if matches(item, lines[item.claim_id], wanted)]
        options = {
            "claim": sorted(lines),
            "line": sorted({line for ids in lines.values() for line in ids}),
            "stance": sorted({s for item in waiting for s in stances(item)}),
            "source": sorted({s for item in waiting for s in quote_sources(item)}),
            "reason": sorted({item.reason for item in waiting if item.reason}),
        }
        return self.render(
            request, "queue.html", items=shown, total=len(waiting), wanted=wanted, options=options, filters=FILTERS
        )

    async def item_page(self, request: Request) -> Response:
        return await run_in_threadpool(self._item_page, request, request.path_params["ident"])

    def _item_page(self, request: Request, ident: str, message: str = "", status: int = 200) -> Response:
        with Ledger.open(self.ws) as ledger:
            try:
                item = get_item(ledger, ident)
            except NotFound as exc:
                return PlainTextResponse(exc.message(), status_code=404)
            order = open_ids(ledger)
            passages = {
                role: passage(ledger, item.paper, j) for role, j in (("judge", item.judge), ("confirm", item.confirm))
            }
            outcomes = {}
            if item.state == "open":
                for decision in ("accept", "reject"):
                    try:
                        outcomes[decision] = preview(self.ws, ledger, item, decision, **self.rules)
                    except ClaimtrackError as exc:
                        outcomes[decision] = exc.message()
        library = Store(self.ws).read()
        claim = library.claim(item.claim_id)
        here = order.index(ident) if ident in order else None
        neighbours = _neighbours(order, ident, here)
        return self.render(
            request,
            "item.html",
            status,
            item=item,
            claim=claim,
            lines=library.lines_of(claim.id),
            passages=passages,
            outcomes=outcomes,
            ruling=rulings(claim).get(paper_of(claim, item.source)),
            position=None if here is None else here + 1,
            total=len(order),
            prev_id=neighbours[0],
            next_id=neighbours[1],
            message=message,
        )

    async def claim_page(self, request: Request) -> Response:
        return await run_in_threadpool(self._claim_page, request, request.path_params["claim_id"])

    def _claim_page(self, request: Request, claim_id: str, message: str = "", status: int = 200) -> Response:
        library = Store(self.ws).read()
        if claim_id not in library.claims:
            return PlainTextResponse(f"no claim {claim_id!r} in this workspace", status_code=404)
        claim = library.claim(claim_id)
        return self.render(
            request,
            "claim.html",
            status,
            claim=claim,
            lines=library.lines_of(claim_id),
            rulings=list(rulings(claim).values()),
            waiting=queue(self.ws, claim_id),
            message=message,
        )

    # --- decisions ------------------------------------------------------------------------------------------------

    async def decide(self, request: Request) -> Response:
        form = await _checked_form(request, self.csrf)
        if isinstance(form, Response):
            return form
        ident, action = request.path_params["ident"], form.get("action", "")
        return await run_in_threadpool(self._decide, request, ident, action, form)

    def _decide(self, request: Request, ident: str, action: str, form: dict[str, str]) -> Response:
        with Ledger.open(self.ws) as ledger:
            order = open_ids(ledger)
        after = _neighbours(order, ident, order.index(ident) if ident in order else None)[1]
        try:
            if action not in ("accept", "reject"):
                raise InvalidArgument("action", f"'{action}' is not accept or reject")
            decided = decide_item(
                self.ws,
                ident,
                "accept" if action == "accept" else "reject",
                by=_person(form),
                because=form.get("because", "").strip() or None,
                wait=self.lock_wait,
                **self.rules,
            )
        except ClaimtrackError as exc:
            return self._item_page(request, ident, exc.message(), STATUS_OF.get(type(exc), 400))
        change = decided.change
        moved = f": {change.from_} → {change.to}" if change else f"; status stays {decided.claim.status}"
        done = urlencode({"done": f"{ident} {action}ed for {decided.claim.id}{moved}"})
        return RedirectResponse(f"/item/{quote(after)}?{done}" if after else f"/?{done}", status_code=303)

    async def lift_ruling(self, request: Request) -> Response:
        form = await _checked_form(request, self.csrf)
        if isinstance(form, Response):
            return form
        return await run_in_threadpool(self._lift, request, request.path_params["claim_id"], form)

    def _lift(self, request: Request, claim_id: str, form: dict[str, str]) -> Response:
        try:
            claim, entry, change = lift(
                self.ws,
                claim_id,
                form.get("paper", ""),
                by=_person(form),
                because=form.get("because", ""),
                wait=self.lock_wait,
                **self.rules,
            )
        except ClaimtrackError as exc:
            return self._claim_page(request, claim_id, exc.message(), STATUS_OF.get(type(exc), 400))
        moved = f": {change.from_} → {change.to}" if change else f"; status stays {claim.status}"
        done = urlencode({"done": f"lifted the ruling ({entry.lifted}) on {entry.source}{moved}"})
        return RedirectResponse(f"/claim/{quote(claim_id)}?{done}", status_code=303)


def _neighbours(order: list[str], ident: str, here: int | None) -> tuple[str | None, str | None]:
    """The open items before and after `ident` in the queue (for a decided item: the queue's first)."""
    if here is None:
        return None, order[0] if order else None
    return (order[here - 1] if here > 0 else None), (order[here + 1] if here + 1 < len(order) else None)


def _person(form: dict[str, str]) -> str:
    by = form.get("by", "").strip()
    if not by or any(c.isspace() for c in by):
        raise InvalidArgument("by", "give the reviewer's name (one word), as `--by` takes it")
    return by


async def _checked_form(request: Request, csrf: str) -> dict[str, str] | Response:
    """The posted form, or a refusal when it carries no valid CSRF token or comes from another origin."""
    origin = request.headers.get("origin")
    if origin is not None and origin.split("://", 1)[-1] != request.headers.get("host", ""):
        return PlainTextResponse("refused: the form was posted from another origin", status_code=403)
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    if not same(fields.get("csrf"), csrf):
        return PlainTextResponse("refused: the form carries no valid CSRF token; reload the page", status_code=403)
    return fields


def create_app(
    ws: Workspace, settings: Settings, *, reviewer: str, token: str | None = None, lock_wait: float = 5.0
) -> Any:
    """The ASGI app over `ws`; with a `token`, every request must carry it (see guard.py). A decision waits up to
    `lock_wait` seconds for the store's lock, then shows the lock's message."""
    review = Review(ws, settings, reviewer=reviewer, lock_wait=lock_wait)
    routes = [
        Route("/", review.queue_page),
        Route("/item/{ident}", review.item_page),
        Route("/item/{ident}", review.decide, methods=["POST"]),
        Route("/claim/{claim_id}", review.claim_page),
        Route("/claim/{claim_id}/lift", review.lift_ruling, methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Guard(Starlette(routes=routes), token=token)
