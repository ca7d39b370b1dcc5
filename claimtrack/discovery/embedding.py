"""Offline MiniLM embeddings for Chroma: the encoder of claimtrack.discovery.encoder as a Chroma embedding function.

Registered in chromadb's embedding-function registry under NAME, with a config holding only portable
knobs (no file path: the model is found through the installed package), so a collection reopens in any
process that has imported this module.
"""

from __future__ import annotations

import json
from typing import Any

from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

from claimtrack.discovery.encoder import encoder

NAME = "claimtrack-minilm-l6-v2"


@register_embedding_function
class MiniLMEmbedding(EmbeddingFunction[Documents]):
    """all-MiniLM-L6-v2 sentence embeddings (384 dims, unit length), computed offline."""

    def __init__(self, quantize: bool = True, max_tokens: int = 256, batch_size: int = 32):
        self.quantize = quantize
        self.max_tokens = max_tokens
        self.batch_size = batch_size

    def __call__(self, input: Documents) -> Embeddings:
        import numpy as np

        vectors = encoder(self.quantize, self.max_tokens).encode(list(input), self.batch_size)
        return [np.asarray(v, dtype=np.float32) for v in vectors]

    @staticmethod
    def name() -> str:
        return NAME

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "ip", "l2"]

    def get_config(self) -> dict[str, Any]:
        return {"quantize": self.quantize, "max_tokens": self.max_tokens, "batch_size": self.batch_size}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMEmbedding:
        return MiniLMEmbedding(
            quantize=bool(config.get("quantize", True)),
            max_tokens=int(config.get("max_tokens", 256)),
            batch_size=int(config.get("batch_size", 32)),
        )

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        unknown = set(config) - {"quantize", "max_tokens", "batch_size"}
        if unknown:
            raise ValueError(f"unknown {NAME} settings: {sorted(unknown)}")

    def validate_config_update(self, old_config: dict[str, Any], new_config: dict[str, Any]) -> None:
        if json.dumps(old_config, sort_keys=True) != json.dumps(new_config, sort_keys=True):
            raise ValueError(f"{NAME}: a collection's embedding settings cannot change (re-index instead)")
