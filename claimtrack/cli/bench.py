"""`claimtrack bench ...`: benchmarks measured on public datasets, never in timed tests."""

from __future__ import annotations

import typer

bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks on public datasets (retrieval, judge).")


def register(app: typer.Typer) -> None:
    from claimtrack.cli.agent import bench_judge

    bench_app.command(name="judge")(bench_judge)
    app.add_typer(bench_app, name="bench")
