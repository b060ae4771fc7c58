"""Logging set-up for every process's ``__main__``: one line per event, UTC times."""

from __future__ import annotations

import logging
import time


def configure(level: str = "INFO") -> None:
    """Send logs to stderr as ``time level logger message``, times in UTC."""
    formatter = logging.Formatter(
        "%(asctime)sZ %(levelname)s %(name)s %(message)s", "%Y-%m-%dT%H:%M:%S"
    )
    formatter.converter = time.gmtime
    handler = logging.StreamHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka reports each failed connection attempt at ERROR; our own retry
    # loops log what matters at the right level.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
