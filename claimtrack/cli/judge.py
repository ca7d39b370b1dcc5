"""`claimtrack judge qualify`: measure the configured judge on pairs whose answer is known."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from claimtrack.cli.common import print_json, table, workspace

if TYPE_CHECKING:
    from claimtrack.agent.qualify import Asked

judge_app = typer.Typer(no_args_is_help=True, help="The LLM judge: measure it before its judgements move a status.")


def register(app: typer.Typer) -> None:
    app.add_typer(judge_app, name="judge")


@judge_app.command("qualify")
def qualify(
    ctx: typer.Context,
    data: Annotated[
        Path | None,
        typer.Option("--data", help="A labelled set (JSON lines); default: the project's evals/judge/qualify.jsonl."),
    ] = None,
    scifact: Annotated[
        Path | None, typer.Option("--scifact", help="Add SciFact's claims from this folder (no relaxes/supersedes).")
    ] = None,
    split: Annotated[str, typer.Option("--split", help="SciFact's claims file: train, dev or test.")] = "dev",
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Measure on the first N pairs only.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the stored record as JSON.")] = False,
) -> None:
    """Run the configured judge, confirmer and rechecker on a labelled set, as a run asks them (same prompts,
    same cache), and store the measurement for this judge (models, endpoint, prompt versions): confusion
    matrices, precision and recall per label, macro-F1, kappa and error correlation between roles, tokens.

    Asks up to CLAIMTRACK_LLM_CONCURRENCY requests at once, as a run does, and shows on stderr how many are
    answered, how many came from the cache and about how long the rest will take.

    Exit 0 when the judge qualifies (its judgements may then move statuses, weighed by the measurement),
    1 when it does not (one line says why), 2 for bad input, 3 when the endpoint failed (what it answered is
    cached: a second try asks only the rest).
    """
    from claimtrack.agent.assess import load_prompts, make_judges
    from claimtrack.agent.qualification import MIN_MACRO_F1, store
    from claimtrack.agent.qualify import DEFAULT_DATA, asks, fingerprint, load_set, qualify, scifact_samples
    from claimtrack.cli.progress import counter
    from claimtrack.config import load_settings
    from claimtrack.errors import InvalidArgument
    from claimtrack.ledger import Ledger

    settings = load_settings()
    if not settings.llm_configured:
        raise InvalidArgument("OPENAI_API_KEY/OPENAI_BASE_URL", "no LLM endpoint configured")
    ws = workspace(ctx)
    prompts = load_prompts(ws)
    samples, names = [], []
    if data is not None or scifact is None:
        path = data or DEFAULT_DATA
        if data is None and not path.is_file():
            raise InvalidArgument("--data", f"the project's qualification set {path} is missing; name one with --data")
        samples += load_set(path)
        names.append(fingerprint(path))
    if scifact is not None:
        samples += scifact_samples(scifact, split)
        names.append(f"SciFact {split} ({scifact.name})")
    samples = samples[:limit] if limit else samples
    with Ledger.open(ws) as ledger:
        judges = make_judges(prompts, settings, ledger=ledger, run_id="qualify")
        assert judges is not None  # an endpoint is configured
        with counter(len(samples) * len(asks(judges)), "qualify: asking", estimate=False) as show:
            record = qualify(ledger, judges, samples, names, progress=lambda asked: show(asked.done, _line(asked)))
        store(ledger, record)
    if as_json:
        print_json(record.model_dump(mode="json"))
    else:
        typer.echo(f"{record.id}: {judges.identity.describe()} on {record.n} pairs ({'; '.join(record.data)})")
        rows = [
            [
                role,
                f"{s.macro_f1:.3f}",
                *(f"{s.precision[k]:.2f}/{s.recall[k]:.2f}" for k in s.precision),
                str(s.errors),
            ]
            for role, s in record.roles.items()
        ]
        labels = list(next(iter(record.roles.values())).precision)
        typer.echo(table(rows, ["role", "macro-F1", *(f"{k} P/R" for k in labels), "errors"]))
        pairs = ", ".join(f"{k} {_num(v)}" for k, v in record.kappa.items())
        errors = ", ".join(f"{k} {_num(v)}" for k, v in record.error_correlation.items())
        typer.echo(f"kappa between roles: {pairs}; error correlation: {errors}")
        typer.echo(f"tokens: {record.tokens_in} in, {record.tokens_out} out (floor: macro-F1 {MIN_MACRO_F1} per role)")
    line = f"{'qualified' if record.qualified else 'not qualified'}: {record.reason}"
    typer.echo(line, err=as_json)
    if not record.qualified:
        raise typer.Exit(1)


def _line(asked: Asked) -> str:
    """The progress line: requests answered of all, from the cache, in flight, and the time left once known."""
    line = (
        f"qualify: {asked.done}/{asked.total} requests answered ({asked.cached} from the cache),"
        f" {asked.in_flight} LLM calls in flight"
    )
    return line if asked.left_s is None else f"{line}, about {_duration(asked.left_s)} left"


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 2:
        return f"{round(seconds)} s"
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def _num(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.2f}"
