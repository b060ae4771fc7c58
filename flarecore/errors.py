"""Exceptions shared by every package."""

from __future__ import annotations


class FlareError(Exception):
    """Base class of every error this system raises on purpose."""


class InputError(FlareError):
    """An input record or file could not be accepted.

    Parameters
    ----------
    source
        Where the input came from: a URL, a file path, or ``topic[partition]@offset``.
    reason
        A short machine-friendly reason (``nan_flux``, ``missing_field``, ...), used
        as a metric label and in the quarantine topic.
    detail
        A sentence for people: what was wrong and what was expected.
    """

    def __init__(self, source: str, reason: str, detail: str) -> None:
        super().__init__(f"{source}: {reason}: {detail}")
        self.source = source
        self.reason = reason
        self.detail = detail
