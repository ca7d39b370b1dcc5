"""Where log records go: one short line each on stderr, as chatty as -v/-q ask. Only the CLI root calls this.

Library modules log through `logging.getLogger(__name__)` and configure nothing, so a program that imports
claimtrack decides for itself. Records of the `claimtrack` loggers are shown: warnings by default (a long
wait before a retry, say), -v adds info (each request, each LLM call), -vv debug (cache hits), -q keeps
errors only. The openai client's own retry notices are shown from -v on, never its debug records, which
describe requests in full.
"""

from __future__ import annotations

import logging

import typer

_LEVELS = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG}


class _Stderr(logging.Handler):
    """Writes through click, so each line reaches the stderr in use now (CliRunner's in tests)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            typer.echo(f"{record.levelname.lower()}: {record.getMessage()}", err=True)
        except Exception:
            self.handleError(record)


def configure(verbosity: int) -> None:
    """-q is -1, the default 0, -v 1, -vv (and more) 2."""
    level = _LEVELS[max(-1, min(verbosity, 2))]
    for name, floor in (("claimtrack", level), ("openai", max(level, logging.INFO))):
        logger = logging.getLogger(name)
        for handler in [h for h in logger.handlers if isinstance(h, _Stderr)]:
            logger.removeHandler(handler)
        logger.addHandler(_Stderr())
        logger.setLevel(floor)


def quiet() -> bool:
    """Whether -q asked for errors only, so that progress lines are left out too."""
    return not logging.getLogger("claimtrack").isEnabledFor(logging.WARNING)
