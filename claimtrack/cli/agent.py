"""Commands of the re-test agent: run, schedule, doctor, and the judge benchmark (registered under `bench`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from claimtrack.cli.common import print_json, workspace
from claimtrack.errors import UNCHECKED_EXIT


def register(app: typer.Typer) -> None:
    app.command(name="run")(run)
    app.command(name="schedule")(schedule)
    app.command(name="doctor")(doctor)


def run(
    ctx: typer.Context,
    claim_ids: Annotated[list[str] | None, typer.Argument(metavar="[CLAIM_ID]...", help="Claims to re-check.")] = None,
    due: Annotated[bool, typer.Option("--due", help="Add every claim whose review cadence has passed.")] = False,
    all_: Annotated[bool, typer.Option("--all", help="Re-check every claim.")] = False,
    offline: Annotated[
        bool, typer.Option("--offline", help="No network for discovery: ledger and snapshot only.")
    ] = False,
    no_judge: Annotated[
        bool, typer.Option("--no-judge", help="Discover and rank only; leave candidates unjudged.")
    ] = False,
    no_fulltext: Annotated[
        bool,
        typer.Option("--no-fulltext", help="Judge titles and abstracts only: no full texts, no citation contexts."),
    ] = False,
    no_replicate: Annotated[bool, typer.Option("--no-replicate", help="Never run replication probes.")] = False,
    k: Annotated[
        int | None,
        typer.Option("--k", min=1, help="Pairs judged afresh per claim (default $CLAIMTRACK_JUDGE_K or 8)."),
    ] = None,
    replicate_limit: Annotated[
        int | None, typer.Option("--replicate-limit", min=1, help="Items per probe condition when a replication runs.")
    ] = None,
    trust_judge: Annotated[
        bool,
        typer.Option(
            "--trust-judge",
            help="Count an unqualified judge's agreed judgements by their confidence (a person vouches for it;"
            " also CLAIMTRACK_TRUST_JUDGE=1). Recorded on the run.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run summary as JSON.")] = False,
) -> None:
    """Re-check claims: discover newer papers, judge k new pairs (a first look on the abstract, then the best
    passages of the full text) and confirm the credible ones, replicate where due or contested, decide, write
    (pairs whose two judgements disagree wait for `claimtrack review`).

    Exit 0 when every claim was checked, 1 when some failed (the rest are saved), 2 for bad input,
    3 when no claim could be checked (every source unreachable), 75 when another run holds the workspace.
    """
    from claimtrack.agent.run import RunOptions, execute
    from claimtrack.cli.progress import reporter, summary_text
    from claimtrack.config import load_settings

    ws = workspace(ctx)
    options = RunOptions(
        claim_ids=list(claim_ids or []),
        due=due,
        all=all_,
        offline=offline,
        judge=not no_judge,
        fulltext=not no_fulltext,
        replicate=not no_replicate,
        k=k,
        replicate_limit=replicate_limit,
        trust_judge=trust_judge,
    )
    try:
        with reporter() as progress:
            summary = execute(ws, options, settings=load_settings(), progress=progress)
    except KeyboardInterrupt:
        _abort()
    if as_json:
        print_json(summary.as_dict())
    else:
        typer.echo(summary_text(summary, judging=not no_judge))
    if summary.unchecked:
        raise typer.Exit(UNCHECKED_EXIT)
    if summary.failed:
        raise typer.Exit(1)


def _abort() -> NoReturn:
    """Ctrl-C: the run is recorded as interrupted; end the process now, with the shell's code for SIGINT. Its
    worker threads may be inside an LLM call or a model's forward pass, and an interpreter that shuts down
    around native code in a thread can abort; what they had not committed is lost, as after kill -9, which the
    ledger's transactions and the store's atomic writes make safe."""
    typer.echo("Aborted!", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(130)


def schedule(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(metavar="cron|systemd|github", help="Which scheduler to print for.")],
    push: Annotated[
        bool, typer.Option("--push", help="github: commit straight to the branch instead of a pull request.")
    ] = False,
) -> None:
    """Print a weekly `claimtrack run --due` schedule: a crontab line, a systemd service + timer, or a
    GitHub Actions workflow that opens (or updates) a pull request with the changed claims and the status
    report. Warns on stderr, one line each, of what the schedule would lack (workspace, Python, env file, key)."""
    from claimtrack.agent.schedule import preflight, render
    from claimtrack.cli import logs

    ws = workspace(ctx)
    text = render(kind, ws, push=push)
    if not logs.quiet():
        for warning in preflight(kind, ws):
            typer.echo(f"warning: {warning}", err=True)
    typer.echo(text, nl=False)


def doctor(ctx: typer.Context) -> None:
    """Say what this workspace can do now: store, LLM endpoint, sources, lm-eval, GPU, index, last run."""
    from claimtrack.agent.doctor import diagnose
    from claimtrack.config import load_settings

    checks = diagnose(workspace(ctx), load_settings())
    for check in checks:
        typer.echo(check.line())
    if any(c.ok is False for c in checks if c.name in ("store", "ledger")):  # nothing else works without these
        raise typer.Exit(1)


def bench_judge(
    ctx: typer.Context,
    scifact: Annotated[Path, typer.Option("--scifact", help="SciFact folder (claims_<split>.jsonl, corpus.jsonl).")],
    split: Annotated[str, typer.Option("--split", help="Which claims file: train, dev or test.")] = "train",
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Judge only the first N (claim, doc) pairs.")
    ] = None,
    confirm: Annotated[
        bool,
        typer.Option(
            "--confirm", help="Also confirm every pair: agreement (Cohen's kappa), macro-F1 before and after."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Benchmark the judge on SciFact: label accuracy, macro-F1, confusion matrix, LLM calls and tokens."""
    import tempfile

    from claimtrack.agent.bench_judge import LABELS, load_pairs, run_bench
    from claimtrack.agent.llm import make_llm
    from claimtrack.agent.prompts import load_prompt
    from claimtrack.config import load_settings
    from claimtrack.errors import InvalidArgument, WorkspaceNotFound
    from claimtrack.ledger import Ledger
    from claimtrack.workspace import Workspace

    settings = load_settings()
    if not settings.llm_configured:
        raise InvalidArgument("OPENAI_API_KEY/OPENAI_BASE_URL", "no LLM endpoint configured")
    pairs, corpus = load_pairs(scifact, split, limit)
    with tempfile.TemporaryDirectory(prefix="claimtrack-bench-") as scratch:
        try:
            ws = workspace(ctx)  # its ledger caches judgements, so a re-run costs nothing
        except WorkspaceNotFound:
            ws = Workspace(root=Path(scratch), state_dir=Path(scratch) / "state")
        with Ledger.open(ws) as ledger:
            llm = make_llm(settings, ledger=ledger, run_id="bench-scifact")
            assert llm is not None
            second = None
            if confirm:
                name = settings.confirm_model or llm.model
                confirmer = llm if name == llm.model else make_llm(settings, ledger=ledger, model=name, usage=llm.usage)
                assert confirmer is not None
                second = (confirmer, load_prompt(ws, "confirm"))
            bench = run_bench(
                ledger, llm, load_prompt(ws, "judge"), pairs, corpus, confirm=second, threshold=settings.judge_threshold
            )
            result = bench.as_dict(llm)
    if as_json:
        print_json(result)
        return
    typer.echo(
        f"SciFact {split}: {result['pairs']} pairs judged by {result['model']}"
        f" ({result['judge_errors']} judge errors, {result['endpoint_failures']} endpoint failures,"
        f" {result['cached']} cached)"
    )
    typer.echo(
        f"accuracy {result['accuracy']:.3f}   macro-F1 {result['macro_f1']:.3f}"
        f"   (anchors, abstract-level label F1: VeriSci 51.0 dev, MultiVerS 72.5 test)"
    )
    typer.echo(_confusion(LABELS, result["confusion"]))
    if "confirm" in result:
        c = result["confirm"]
        typer.echo(
            f"confirmation by {c['model']}: Cohen's kappa {_kappa(c['kappa'])} over the labels"
            f" (agreement {c['agreement']:.3f}), {_kappa(c['kappa_stances'])} over the stances (agreement"
            f" {c['agreement_stances']:.3f}); {c['judge_errors']} judge errors, {c['to_review']} credible pairs"
            " not confirmed (to review)"
        )
        for name, title in (("credible", "before confirmation (credible first judgements)"), ("confirmed", "after")):
            scores = c[name]
            typer.echo(f"{title}: accuracy {scores['accuracy']:.3f}   macro-F1 {scores['macro_f1']:.3f}")
            typer.echo(_confusion(LABELS, scores["confusion"]))
        for role, used in c["tokens"].items():
            if used:
                typer.echo(f"  {role}: {used['calls']} calls, {used['tokens_in']} tokens in, {used['tokens_out']} out")
    typer.echo(
        f"LLM: {result['calls']} calls ({result['failed_calls']} failed), {result['tokens_in']} tokens in,"
        f" {result['tokens_out']} out, {result['seconds']:.0f} s"
    )


def _kappa(value: float | None) -> str:
    return "undefined (one label throughout)" if value is None else f"{value:.3f}"


def _confusion(labels: tuple[str, ...], matrix: list[list[int]]) -> str:
    from claimtrack.cli.common import table

    rows = [[f"gold {g}", *map(str, counts)] for g, counts in zip(labels, matrix, strict=True)]
    return table(rows, ["", *(f"pred {p}" for p in labels)])
