"""Alerting: deliver the stream app's alerts to webhooks and Slack, losing none.

Run with ``python -m alerting run``; see ``docs/alerting.md``.
"""

from __future__ import annotations

from flarecore.errors import FlareError


class AlertingError(FlareError):
    """Base class of the errors this package raises on purpose."""


class ConfigError(AlertingError):
    """The subscriber configuration could not be accepted."""
