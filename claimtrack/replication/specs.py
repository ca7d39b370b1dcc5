"""Replication specs (`evals/specs/<id>.yaml`): which probe tests which claim, on which models, by which rule."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from claimtrack.errors import NotFound, Problem
from claimtrack.models import Claim, Slug
from claimtrack.store import Library, parse_file
from claimtrack.workspace import Workspace

PROBES = ("instruction-ablation", "cot-faithfulness", "nli-frequency", "calibration", "ood-variant")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MetricKind(StrEnum):
    CONDITION_GAP = "condition_gap"  # accuracy(condition a) - accuracy(condition b), same items
    INVARIANCE_RATE = "invariance_rate"  # share of perturbed-reasoning answers equal to the full-reasoning answer
    FREQUENCY_GAP = "frequency_gap"  # accuracy where frequency agrees with the label - where it disagrees
    ECE = "ece"  # expected calibration error of the top choice
    BRIER = "brier"  # multi-class Brier score


class Direction(StrEnum):
    GREATER = "greater"  # the claim predicts effect > margin
    LESS = "less"  # the claim predicts effect < -margin
    EQUIVALENT = "equivalent"  # the claim predicts |effect| <= margin


class ModelSpec(_Model):
    """A model to compare: a Hugging Face id pinned by revision, or a local folder."""

    id: str
    revision: str | None = None
    role: str  # "base", "instruct", "rl", ...: how the rationale names it


class Metric(_Model):
    kind: MetricKind
    a: str | None = None  # condition names, for condition_gap
    b: str | None = None
    bins: int = Field(default=10, ge=2, le=100)  # for ece

    @model_validator(mode="after")
    def _conditions(self) -> Metric:
        if self.kind == MetricKind.CONDITION_GAP and not (self.a and self.b):
            raise ValueError("condition_gap needs conditions a and b")
        return self


class Rule(_Model):
    """Maps effect = metric(models[1]) - metric(models[0]) and its stderr to a stance (see rule.decide)."""

    direction: Direction
    margin: float = Field(ge=0.0)
    z: float = Field(default=1.96, gt=0.0)
    min_items: int = Field(default=30, ge=1)  # fewer paired items than this: inconclusive, whatever the numbers
    meaning: str  # one sentence: what a positive effect means for the claim


class Spec(_Model):
    """One replication: a claim, a probe, the models, the conditions, the metric and the rule."""

    id: Slug
    claim: Slug
    probe: str
    description: str
    differs_from_paper: str  # how this eval-time probe differs from the paper's own experiment
    models: list[ModelSpec] = Field(min_length=2, max_length=2)
    conditions: list[str] = Field(min_length=1)
    metric: Metric
    rule: Rule
    limit: int | None = Field(default=None, gt=0)  # default items per task; --limit overrides
    seed: int = 1234
    max_gen_toks: int = Field(default=64, gt=0, le=1024)  # reasoning length, for generative stages

    @field_validator("probe")
    @classmethod
    def _probe(cls, value: str) -> str:
        if value not in PROBES:
            raise ValueError(f"'{value}' is not a probe (one of {', '.join(PROBES)})")
        return value

    @model_validator(mode="after")
    def _metric_conditions(self) -> Spec:
        for name in (self.metric.a, self.metric.b):
            if name is not None and name not in self.conditions:
                raise ValueError(f"metric names condition '{name}', not in conditions {self.conditions}")
        return self


def specs_dir(ws: Workspace) -> Path:
    return ws.content_dir("evals") / "specs"


def read_specs(ws: Workspace) -> tuple[dict[str, Spec], list[Problem]]:
    """Every spec file, parsed; problems are returned, not raised."""
    specs: dict[str, Spec] = {}
    problems: list[Problem] = []
    folder = specs_dir(ws)
    if not folder.is_dir():
        return specs, problems
    for path in sorted(folder.glob("*.yaml")):
        display = _display(ws, path)
        spec, found = parse_file(path, Spec, display)
        problems.extend(found)
        if spec is None:
            continue
        if spec.id != path.stem:
            problems.append(Problem(display, "id", f"'{spec.id}' does not match the file name '{path.stem}'"))
            continue
        specs[spec.id] = spec
    return specs, problems


def validate_specs(ws: Workspace, library: Library) -> list[Problem]:
    """Spec files that do not parse or name a missing probe folder, and claims naming missing specs.

    A spec whose claim is not in this workspace is inactive, not wrong: `claimtrack init` copies every
    spec into a workspace that starts with no claims.
    """
    from claimtrack.replication.tasks import probe_conditions, probe_dir

    specs, problems = read_specs(ws)
    for spec in specs.values():
        display = _display(ws, specs_dir(ws) / f"{spec.id}.yaml")
        if not probe_dir(ws, spec.probe).is_dir():
            problems.append(Problem(display, "probe", f"no task folder evals/tasks/{spec.probe}"))
            continue
        known = probe_conditions(ws, spec.probe)
        for index, condition in enumerate(spec.conditions):
            if condition not in known:
                problems.append(
                    Problem(
                        display,
                        f"conditions.{index}",
                        f"'{condition}' is not a condition of probe {spec.probe} ({', '.join(known)})",
                    )
                )
    for claim in library.claims.values():
        if claim.replication and claim.replication not in specs:
            problems.append(
                Problem(f"claims/{claim.id}.yaml", "replication", f"no spec evals/specs/{claim.replication}.yaml")
            )
        elif claim.replication and specs[claim.replication].claim != claim.id:
            problems.append(
                Problem(
                    f"claims/{claim.id}.yaml",
                    "replication",
                    f"spec '{claim.replication}' is for claim '{specs[claim.replication].claim}'",
                )
            )
    return problems


def spec_for(ws: Workspace, claim: Claim) -> Spec | None:
    """The spec that tests `claim`: the one its `replication:` field names, else one whose claim is it."""
    specs, problems = read_specs(ws)
    if claim.replication:
        if claim.replication in specs:
            return specs[claim.replication]
        bad = [p for p in problems if Path(p.file).stem == claim.replication]
        if bad:
            from claimtrack.errors import StoreInvalid

            raise StoreInvalid(bad)
        raise NotFound("replication spec", claim.replication, sorted(specs)[:3])
    return next((s for s in specs.values() if s.claim == claim.id), None)


def _display(ws: Workspace, path: Path) -> str:
    try:
        return str(path.relative_to(ws.root))
    except ValueError:
        try:
            return str(path.relative_to(path.parents[2]))
        except (ValueError, IndexError):
            return str(path)
