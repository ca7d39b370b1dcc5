"""Test isolation: no network beyond loopback, no user environment, offline model hubs."""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from typer.testing import Result

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SEEDS = FIXTURES / "seeds"
SEED_LINE_IDS = {
    "000_f074887dd58bdfc2.txt": "confounds-surface-vs-cause",
    "001_75f292b1da5f1b43.txt": "surface-vs-regime",
    "002_0842b44deafc3763.txt": "finetuning-cot-shortcuts",
    "003_1a324a15511df874.txt": "finetuning-semantic-inference",
}

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["ANONYMIZED_TELEMETRY"] = "False"  # chromadb
# Subprocesses (`python -m claimtrack`) import this checkout even when it is not installed.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))

_USER_ENV = (
    "CLAIMTRACK_HOME",
    "CLAIMTRACK_STATE_DIR",
    "CLAIMTRACK_ARXIV_URL",
    "CLAIMTRACK_S2_URL",
    "CLAIMTRACK_OPENALEX_URL",
    "CLAIMTRACK_ARXIV_HTML_URL",
    "CLAIMTRACK_ARXIV_PDF_URL",
    "CLAIMTRACK_LLM_MODEL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "S2_API_KEY",
    "CHROMA_HOST",
)


def _is_loopback(host: object) -> bool:
    if not isinstance(host, str):
        return True  # AF_UNIX paths and the like
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse any connection or name lookup beyond loopback, and hide the user's settings."""
    for name in _USER_ENV:
        monkeypatch.delenv(name, raising=False)
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def guarded_connect(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else address
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(host):
            raise OSError(f"test network guard: refused connection to {host}")
        return real_connect(self, address)

    def guarded_getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        if host is not None and not _is_loopback(host):
            raise socket.gaierror(socket.EAI_NONAME, f"test network guard: no lookup of {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)


@pytest.fixture
def empty_workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "claims" / "lines").mkdir(parents=True)
    return root


@pytest.fixture
def repo_workspace(tmp_path: Path) -> Path:
    """A copy of the committed store, to read and edit without touching the checkout."""
    root = tmp_path / "repo-ws"
    shutil.copytree(ROOT / "claims", root / "claims")
    return root


def claims_workspace(root: Path, *claim_ids: str) -> Path:
    """A workspace at `root` holding copies of the committed claims named."""
    (root / "claims").mkdir(parents=True)
    for claim_id in claim_ids:
        shutil.copy(ROOT / "claims" / f"{claim_id}.yaml", root / "claims")
    return root


def invoke(*args: str, input: str | None = None) -> Result:
    """Run the CLI in-process with Typer's CliRunner; stderr is kept apart from stdout."""
    from typer.testing import CliRunner

    from claimtrack.cli import app

    return CliRunner().invoke(app, list(args), input=input, catch_exceptions=False)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two tiny GPT-2s (base, tuned) built once per session for lm-eval runs."""
    from tests.replication_helpers import tiny_pair

    return tiny_pair(tmp_path_factory.mktemp("tiny-models"))
