"""`claimtrack serve`: the review queue as a local web app (claimtrack/web), started here and only here."""

from __future__ import annotations

import getpass
import secrets
from typing import Annotated

import typer

from claimtrack.cli.common import workspace


def register(app: typer.Typer) -> None:
    app.command(name="serve")(serve)


def serve(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(min=0, max=65535, help="The port to listen on (0: any free one).")] = 8722,
    host: Annotated[
        str, typer.Option(help="The address to bind; any but a loopback one needs the token printed at start.")
    ] = "127.0.0.1",
    by: Annotated[str | None, typer.Option(help="The reviewer's name the forms start with (default: login).")] = None,
) -> None:
    """Serve the review queue in a browser: the queue, each item with the paper's words in context, each claim.

    Decisions made on the page are the CLI's (`review accept/reject`, `verdict --lift`): same code, same lock.
    Binds 127.0.0.1 by default; another --host needs the token printed at start (open the printed URL).
    """
    import socket

    import uvicorn

    from claimtrack.config import load_settings
    from claimtrack.errors import InvalidArgument
    from claimtrack.web.app import create_app
    from claimtrack.web.guard import is_loopback

    ws = workspace(ctx)
    token = None if is_loopback(host) else secrets.token_urlsafe(24)
    app = create_app(ws, load_settings(), reviewer=by or getpass.getuser(), token=token)
    try:  # bound here, so the URL printed names the port a `--port 0` got
        sock = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    except OSError as exc:
        raise InvalidArgument("--port", f"cannot listen on {host}:{port} ({exc.strerror})") from None
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{sock.getsockname()[1]}/" + (f"?token={token}" if token else "")
    typer.echo(f"serving {ws.root} at {url}  (Ctrl-C stops)")
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])
