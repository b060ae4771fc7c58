"""The ``stdout`` sink of the local run: one readable line per alert."""

from __future__ import annotations

import sys

import httpx

from alerting.base import Sink, summary_line
from flarecore.alerts import Alert


class StdoutSink(Sink):
    """Print each alert as one line and flush, so a terminal sees it at once."""

    async def send(self, alert: Alert, client: httpx.AsyncClient) -> None:
        """Print the alert's summary line."""
        print(f"ALERT {summary_line(alert)}", file=sys.stdout, flush=True)
