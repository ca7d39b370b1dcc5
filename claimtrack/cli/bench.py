"""`claimtrack bench ...`: benchmarks, one command per measured part (each lives with its area's CLI)."""

from __future__ import annotations

import typer

from claimtrack.cli.agent import bench_judge
from claimtrack.cli.retrieval import retrieval

bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks: retrieval quality and speed, judging.")
bench_app.command("retrieval")(retrieval)
bench_app.command("judge")(bench_judge)


def register(app: typer.Typer) -> None:
    app.add_typer(bench_app, name="bench")
