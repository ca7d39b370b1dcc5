"""Replication specs are validated like claims: `file: field: message`, exit 2."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from claimtrack.errors import NotFound
from claimtrack.replication.specs import PROBES, read_specs, spec_for
from claimtrack.store import Store
from claimtrack.workspace import Workspace
from tests.conftest import ROOT, invoke
from tests.replication_helpers import copy_project_evals

LINKS = {
    "it-output-format-not-task": "instruction-ablation",
    "finetuning-makes-cot-performative": "cot-faithfulness",
    "nli-finetuning-amplifies-frequency-bias": "nli-frequency",
    "binary-reward-hurts-calibration": "calibration",
    "grpo-template-matching-n-minus-1": "ood-variant",
}


def test_project_specs_parse_and_link_the_five_claims() -> None:
    ws = Workspace.at(ROOT)
    specs, problems = read_specs(ws)
    assert problems == []
    assert sorted(specs) == sorted(PROBES)
    library = Store(ws).load()
    for claim_id, spec_id in LINKS.items():
        claim = library.claim(claim_id)
        assert claim.replication == spec_id
        spec = spec_for(ws, claim)
        assert spec is not None and spec.claim == claim_id and spec.probe == spec_id
        assert len(spec.models) == 2 and spec.models[0].role == "base"


def test_validate_accepts_the_repository(repo_workspace: Path) -> None:
    result = invoke("--workspace", str(repo_workspace), "validate")
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda t: t.replace("kind: ece", "kind: ecee"), "evals/specs/calibration.yaml: metric.kind: Input should be"),
        (lambda t: t + "colour: blue\n", "evals/specs/calibration.yaml: colour: unknown field"),
        (
            lambda t: t.replace("probe: calibration", "probe: calibrate"),
            "evals/specs/calibration.yaml: probe: 'calibrate' is not a probe",
        ),
        (
            lambda t: t.replace("margin: 0.02", "margin: -1"),
            "evals/specs/calibration.yaml: rule.margin: Input should be greater than or equal to 0",
        ),
        (
            lambda t: t.replace("id: calibration", "id: calibrated"),
            "evals/specs/calibration.yaml: id: 'calibrated' does not match the file name",
        ),
        (
            lambda t: t.replace("conditions: [mc]", "conditions: [multiple-choice]"),
            "evals/specs/calibration.yaml: conditions.0: "
            "'multiple-choice' is not a condition of probe calibration (mc)",
        ),
    ],
)
def test_bad_spec_is_one_line_with_file_and_field(
    repo_workspace: Path, edit: Callable[[str], str], expected: str
) -> None:
    evals = copy_project_evals(repo_workspace)
    path = evals / "specs" / "calibration.yaml"
    path.write_text(edit(path.read_text()))
    result = invoke("--workspace", str(repo_workspace), "validate")
    assert result.exit_code == 2
    assert expected in result.stdout + result.stderr


def test_metric_condition_must_be_a_listed_condition(repo_workspace: Path) -> None:
    evals = copy_project_evals(repo_workspace)
    path = evals / "specs" / "ood-variant.yaml"
    path.write_text(path.read_text().replace("  b: variant", "  b: reworded"))
    result = invoke("--workspace", str(repo_workspace), "validate")
    assert result.exit_code == 2
    assert "evals/specs/ood-variant.yaml: metric names condition 'reworded'" in result.stdout + result.stderr


def test_claim_naming_a_missing_spec_is_a_problem(repo_workspace: Path) -> None:
    claim = repo_workspace / "claims" / "binary-reward-hurts-calibration.yaml"
    claim.write_text(claim.read_text().replace("replication: calibration", "replication: calibrationn"))
    result = invoke("--workspace", str(repo_workspace), "validate")
    assert result.exit_code == 2
    assert (
        "claims/binary-reward-hurts-calibration.yaml: replication: no spec evals/specs/calibrationn.yaml"
        in result.stdout + result.stderr
    )
    ws = Workspace.at(repo_workspace)
    with pytest.raises(NotFound):
        spec_for(ws, Store(ws).read().claims["binary-reward-hurts-calibration"])


def test_spec_for_a_claim_without_one_is_none(repo_workspace: Path) -> None:
    ws = Workspace.at(repo_workspace)
    library = Store(ws).load()
    unlinked = next(c for c in library.claims.values() if c.id not in LINKS)
    assert spec_for(ws, unlinked) is None


def test_a_fresh_workspace_with_copied_specs_validates(tmp_path: Path) -> None:
    """`claimtrack init` copies every spec into a workspace with no claims: inactive specs are not errors."""
    root = tmp_path / "fresh"
    assert invoke("init", str(root)).exit_code == 0
    assert (root / "evals" / "specs" / "calibration.yaml").is_file()
    result = invoke("--workspace", str(root), "validate")
    assert result.exit_code == 0, result.stdout + result.stderr
