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
