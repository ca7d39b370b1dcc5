"""lm-eval's progress as claimtrack's own: while lm-eval runs, its tqdm bars (and those of datasets and
transformers) are switched off and each stage is logged instead. stderr then carries one line per record, quiet
under -q, rather than bars whose early estimates mislead ("1/160 [00:56<2:29:15]" for a job done a minute
later)."""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)


@contextlib.contextmanager
def logged_progress(label: str) -> Iterator[None]:
    """Within the block, every tqdm bar an lm-eval module makes is silent and logs its stage at info (-v)
    instead; on leaving, the modules get their tqdm back and the other libraries' bars are on again as before."""
    import importlib

    import tqdm

    for name in ("lm_eval.api.task", "lm_eval.models.huggingface"):  # imported now, so the scan finds their bars
        importlib.import_module(name)

    class Logged(tqdm.tqdm):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
            total = kwargs.get("total")
            if total is None and args and hasattr(args[0], "__len__"):
                total = len(args[0])
            log.info(
                "lm-eval on %s: %s%s", label, kwargs.get("desc") or "preparing", f" ({total} items)" if total else ""
            )

    patched = [tqdm]  # `from tqdm import tqdm` inside a function (lm-eval's bootstrap) reads it from here
    patched += [
        module
        for name, module in list(sys.modules.items())
        if name.startswith("lm_eval") and getattr(module, "tqdm", None) is tqdm.tqdm
    ]
    with contextlib.ExitStack() as stack:
        original = tqdm.tqdm
        for module in patched:
            stack.callback(setattr, module, "tqdm", original)
            module.tqdm = Logged
        stack.enter_context(_other_bars_off())
        started = time.perf_counter()
        yield
        log.info("lm-eval on %s: done in %.1f s", label, time.perf_counter() - started)


@contextlib.contextmanager
def _other_bars_off() -> Iterator[None]:
    """The datasets and transformers bars (dataset maps, checkpoint loading), off for the block."""
    import datasets
    from transformers.utils import logging as hf_logging

    datasets_on = datasets.is_progress_bar_enabled()
    hf_on = hf_logging.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if datasets_on:
            datasets.enable_progress_bars()
        if hf_on:
            hf_logging.enable_progress_bar()
