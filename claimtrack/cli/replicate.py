"""`claimtrack replicate`: run a claim's lm-eval probe as a cached job and record its evidence."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

import typer

from claimtrack.cli.common import print_json, workspace

if TYPE_CHECKING:
    from claimtrack.replication.api import ReplicationOutcome
    from claimtrack.replication.board import JobLine
    from claimtrack.workspace import Workspace


def register(app: typer.Typer) -> None:
    app.command(name="replicate")(replicate)


def replicate(
    ctx: typer.Context,
    claim_id: Annotated[
        str | None, typer.Argument(metavar="CLAIM_ID", help="The claim whose replication spec to run.")
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            help=(
                "Model to evaluate (HF id[@revision] or a folder); repeat: base first, tuned second. "
                "Default: the spec's models, or offline Gemma 3 270M when the hub is unreachable."
            ),
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Items per task (default: the spec's, else all).")] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda or cuda:N.")] = "cpu",
    batch_size: Annotated[str, typer.Option("--batch-size", help="lm-eval batch size: a number or auto.")] = "auto",
    executor: Annotated[
        str, typer.Option(help="local (here, now) or slurm (submit through submitit; collect later).")
    ] = "local",
    collect: Annotated[
        bool, typer.Option("--collect", help="Collect finished Slurm jobs and record their evidence.")
    ] = False,
    list_jobs: Annotated[
        bool,
        typer.Option("--jobs", help="Collect what has come back, then list every job and where it stands."),
    ] = False,
    retry: Annotated[
        str | None,
        typer.Option("--retry", metavar="JOB", help="Run a failed job again (on Slurm: its unfinished models)."),
    ] = None,
    trust_remote_code: Annotated[
        bool, typer.Option("--trust-remote-code", help="Allow models that ship their own Python code.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
) -> None:
    """Run a claim's replication probe (lm-eval) and record one evidence item with the rule's verdict.

    The same job (spec, tasks, data, models, limit, seed, device) twice runs lm-eval once.
    """
    from claimtrack.errors import InvalidArgument
    from claimtrack.replication.api import collect as collect_jobs
    from claimtrack.replication.api import replicate as run
    from claimtrack.replication.api import retry as rerun
    from claimtrack.replication.errors import ReplicationFailed

    ws = workspace(ctx)
    modes = [name for name, on in (("--collect", collect), ("--jobs", list_jobs), ("--retry", retry)) if on]
    if len(modes) > 1:
        raise InvalidArgument(modes[1], f"cannot be combined with {modes[0]}")
    if modes and claim_id is not None:
        raise InvalidArgument("CLAIM_ID", f"{modes[0]} takes no claim id")
    if list_jobs:
        _list_jobs(ws, as_json)
        return
    if collect:
        outcomes = collect_jobs(ws)
    elif retry is not None:
        outcomes = [rerun(ws, retry)]
    elif claim_id is None:
        raise InvalidArgument("CLAIM_ID", "missing (or pass --collect, --jobs or --retry JOB)")
    else:
        with _stages_shown():
            outcome = run(
                ws,
                claim_id,
                models=model,
                limit=limit,
                device=device,
                batch_size=batch_size,
                executor=executor,
                trust_remote_code=trust_remote_code,
            )
        outcomes = [outcome]
    if as_json:
        print_json([_as_dict(o) for o in outcomes])
    else:
        if collect and not outcomes:
            typer.echo("no submitted job has finished")
        for outcome in outcomes:
            typer.echo(_line(outcome))
    failed = [o for o in outcomes if o.error]
    if failed:
        raise ReplicationFailed(f"replication: {failed[0].error or 'failed'}")


@contextlib.contextmanager
def _stages_shown() -> Iterator[None]:
    """lm-eval's stages (replication/progress.py logs them at info) as this command's progress lines: shown by
    default, as `run` shows its steps, and hidden under -q."""
    from claimtrack.cli import logs

    stages = logging.getLogger("claimtrack.replication.progress")
    level = stages.level
    if not logs.quiet() and not stages.isEnabledFor(logging.INFO):
        stages.setLevel(logging.INFO)
    try:
        yield
    finally:
        stages.setLevel(level)


def _list_jobs(ws: Workspace, as_json: bool) -> None:
    from claimtrack.replication.api import collect
    from claimtrack.replication.board import job_lines

    collect(ws)  # failures show in the list, with their reason
    lines = job_lines(ws)
    if as_json:
        print_json([line.as_dict() for line in lines])
        return
    if not lines:
        typer.echo("no replication jobs yet")
    for line in lines:
        where = f" {line.external_id}" if line.external_id else ""
        head = f"{line.job_id}  {line.state:<7}  {line.claim_id}  {line.executor}{where}  {line.submitted_at}"
        typer.echo(head)
        typer.echo(f"    models: {', '.join(line.models)}")
        if line.tasks and line.state != "done":
            typer.echo("    tasks: " + ", ".join(_task(line, t) for t in line.tasks))
        for why in {w.reason: w for w in line.waiting.values() if w.meaning}.values():
            typer.echo(f"    {why.reason}: {why.meaning}")
        if line.cache_hits:
            typer.echo(f"    {line.cache_hits} lm-eval requests answered from the request cache")
        if line.state == "failed":
            typer.echo(f"    {line.reason or 'failed'}: {line.error}")
            typer.echo(f"    retry: {line.retry}")


def _task(line: JobLine, task: str) -> str:
    """'slurm:12_0 running', or 'slurm:12_1 pending (JobArrayTaskLimit)' with Slurm's reason for the wait."""
    why = line.waiting.get(task)
    return f"{task} {line.tasks[task]}" + (f" ({why.reason})" if why else "")


def _as_dict(outcome: ReplicationOutcome) -> dict:
    evidence = outcome.evidence.model_dump(mode="json", exclude_none=True) if outcome.evidence else None
    return {
        "job_id": outcome.job_id,
        "state": outcome.state,
        "cached": outcome.cached,
        "error": outcome.error,
        "note": outcome.note,
        "metrics": outcome.metrics,
        "evidence": evidence,
    }


def _line(outcome: ReplicationOutcome) -> str:
    if outcome.error:
        return f"{outcome.job_id}: failed"
    if outcome.state == "submitted":
        return f"{outcome.job_id}: submitted ({outcome.note})"
    m = outcome.metrics
    head = f"{outcome.job_id}: {'cached' if outcome.cached else 'done'}"
    if m.get("cache_hits"):
        head += f" ({m['cache_hits']} lm-eval requests answered from the request cache)"
    if outcome.evidence is not None:
        effect = f"effect {m['effect']:+.3f} +/- {m['stderr']:.3f} ({m['metric']}, n={m['n_items']})"
        return f"{head}; {outcome.evidence.stance.value}: {effect}"
    values = ", ".join(
        f"{k} {v:.3f}"
        for k, v in m.items()
        if isinstance(v, float) and k.startswith(m["metric"]) and not k.endswith("stderr")
    )
    return f"{head}; {values}; {outcome.note}"
