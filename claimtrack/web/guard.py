"""What keeps the app local and its forms honest: the host check, the access token, CSRF and the headers.

Bound to a loopback address, the app answers only requests naming a loopback host (a web page elsewhere cannot
reach it through DNS rebinding). Bound to any other address it asks for the token printed at start, once as
`?token=` (then kept in a same-site cookie). Every form post carries the app's CSRF token, and every response
forbids inline script, other origins and framing (Content-Security-Policy).
"""

from __future__ import annotations

import hmac
import ipaddress
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlencode

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self';"
    " frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),  # no-referrer would make a form post's Origin "null"
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]
COOKIE = "claimtrack_token"


def is_loopback(host: str) -> bool:
    name = host.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def same(given: str | None, wanted: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), wanted.encode())


class Guard:
    """ASGI middleware: refuse what the module's docstring says, and add the security headers to every answer."""

    def __init__(self, app: Any, *, token: str | None) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if self.token is None and not is_loopback(name):
            await _refuse(send, 403, f"refused: this server answers only to a loopback host name, not {name!r}")
            return
        if self.token is not None:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            cookie = SimpleCookie(headers.get("cookie", "")).get(COOKIE)
            if same(query.get("token", [None])[0], self.token):
                rest = urlencode({k: v for k, v in query.items() if k != "token"}, doseq=True)
                await _redirect(send, scope["path"] + (f"?{rest}" if rest else ""), self.token)
                return
            if not same(cookie.value if cookie else None, self.token):
                await _refuse(send, 403, "refused: open the URL with the token `claimtrack serve` printed at start")
                return

        async def with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + HEADERS
            await send(message)

        await self.app(scope, receive, with_headers)


async def _refuse(send: Any, status: int, text: str) -> None:
    body = text.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + HEADERS})
    await send({"type": "http.response.body", "body": body})


async def _redirect(send: Any, location: str, token: str) -> None:
    cookie = f"{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"
    headers = [(b"location", location.encode()), (b"set-cookie", cookie.encode()), (b"content-length", b"0")]
    await send({"type": "http.response.start", "status": 303, "headers": headers + HEADERS})
    await send({"type": "http.response.body", "body": b""})
