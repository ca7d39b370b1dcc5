"""lm-eval's progress as claimtrack's own: while lm-eval runs, its tqdm bars (and those of datasets and
transformers) are switched off, and each stage, like each note it prints, is logged instead. stderr then
carries one line per record, quiet under -q, rather than bars whose early estimates mislead ("1/160
[00:56<2:29:15]" for a job done a minute later)."""

from __future__ import annotations

import contextlib
import io
import logging
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from claimtrack import imports

log = logging.getLogger(__name__)


@contextlib.contextmanager
def logged_progress(label: str) -> Iterator[None]:
    """Within the block, every tqdm bar an lm-eval module makes is silent and logs its stage at info (-v)
    instead; on leaving, the modules get their tqdm back and the other libraries' bars are on again as before."""
    import importlib

    with imports.LOCK:  # torch, transformers and tqdm come with them (claimtrack/imports.py)
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
        # lm-eval print()s notes ("Determined largest batch size: 64"): log them too, and keep stdout for
        # claimtrack's own output (--json)
        stack.enter_context(contextlib.redirect_stdout(_Lines(lambda line: log.info("lm-eval on %s: %s", label, line))))
        started = time.perf_counter()
        yield
        log.info("lm-eval on %s: done in %.1f s", label, time.perf_counter() - started)


class _Lines(io.TextIOBase):
    """A text stream that hands each complete, non-blank line to `emit`."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self.emit = emit
        self.pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        *lines, self.pending = (self.pending + text).split("\n")
        for line in lines:
            if line.strip():
                self.emit(line.strip())
        return len(text)


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
