"""A tiny causal LM built in the test session: a GPT-2 config with a few thousand parameters and a
word-level tokenizer trained on a small text with the `tokenizers` library. Real weights, real
tokenizer, real lm-eval; only small."""

from __future__ import annotations

import json
from pathlib import Path

TEXT = """Question: Say which category the word belongs to animal food job or country. Answer: animal food job country
Premise: There is a dog in the picture. Hypothesis: There is an animal. Does the premise entail the hypothesis? yes no
Problem: Tom has 12 marbles. He gets 3 more. How many marbles does Tom have? Let's think step by step. Therefore
the answer is 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 plus minus What is the capital of France Paris
Which number is the largest smallest rhymes with word. , ? ! : . ...
"""


def build_tiny_model(folder: Path, seed: int = 0) -> Path:
    """Save a GPT-2 model (~5k parameters) and its tokenizer to `folder`; returns the folder."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Whitespace(), pre_tokenizers.Digits(individual_digits=True)]
    )
    trainer = trainers.WordLevelTrainer(special_tokens=["[UNK]", "<|endoftext|>"], min_frequency=1)
    tok.train_from_iterator(TEXT.splitlines(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        eos_token="<|endoftext|>",
        bos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
    )
    fast.save_pretrained(folder)
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=len(fast), n_positions=512, n_embd=8, n_layer=1, n_head=2, bos_token_id=1, eos_token_id=1
    )
    model = GPT2LMHeadModel(config)
    model.save_pretrained(folder)
    (folder / "tiny.json").write_text(json.dumps({"params": sum(p.numel() for p in model.parameters())}))
    return folder


def tiny_pair(root: Path) -> tuple[Path, Path]:
    """Two tiny models with different initial weights: a stand-in 'base' and 'tuned' pair."""
    return build_tiny_model(root / "tiny-base", seed=0), build_tiny_model(root / "tiny-tuned", seed=1)


def copy_project_evals(root: Path) -> Path:
    """A workspace-owned copy of evals/ (specs and tasks), to edit without touching the checkout."""
    import shutil

    source = Path(__file__).resolve().parent.parent / "evals"
    shutil.copytree(source, root / "evals", ignore=shutil.ignore_patterns("__pycache__"))
    return root / "evals"


SLOW_MODEL_CODE = '''"""A tiny GPT-2 that sleeps before each forward pass while its hold file exists: slow
enough to run past a Slurm time limit, and fast again once the hold file is gone."""
import os
import time

from transformers import GPT2Config, GPT2LMHeadModel


class SlowGPT2(GPT2LMHeadModel):
    config_class = GPT2Config

    def forward(self, *args, **kwargs):
        if os.path.exists(self.config.hold_file):
            time.sleep(self.config.seconds_per_forward)
        return super().forward(*args, **kwargs)
'''


def build_slow_model(folder: Path, hold_file: Path, seconds_per_forward: float = 1.0) -> Path:
    """A tiny model that ships its own code (so it needs --trust-remote-code) and waits `seconds_per_forward`
    before each forward pass while `hold_file` exists."""
    build_tiny_model(folder, seed=2)
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModelForCausalLM": "modeling_slow.SlowGPT2"}
    config["hold_file"] = str(hold_file)
    config["seconds_per_forward"] = seconds_per_forward
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "modeling_slow.py").write_text(SLOW_MODEL_CODE)
    return folder
