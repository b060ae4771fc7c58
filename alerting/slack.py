"""Slack incoming webhook: a message a person reads at a glance.

Incoming webhooks cannot reply in a thread (they return no message ``ts``), so
every message names its flare id, and follow-ups (escalation, peak, end) say which
first alert they belong to.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

import httpx

from alerting.base import (
    Sink,
    forecast_text,
    headline,
    lead_text,
    satellites_text,
    shows_forecast,
    summary_line,
    utc_text,
)
from flarecore.alerts import Alert, AlertKind
from flarecore.classes import flare_class

_EMOJI = {
    AlertKind.EARLY_WARNING: ":warning:",
    AlertKind.THRESHOLD: ":rotating_light:",
    AlertKind.ESCALATION: ":arrow_double_up:",
    AlertKind.PEAK: ":chart_with_upwards_trend:",
    AlertKind.END: ":white_check_mark:",
}
_FOLLOW_UPS = (AlertKind.ESCALATION, AlertKind.PEAK, AlertKind.END)
# TODO(#6): the first alert of each flare is remembered in memory only; after a
# restart a follow-up names the flare start instead of linking the first alert.
_REMEMBERED_FLARES = 1024


class SlackSink(Sink):
    """Post Block Kit messages; remember each flare's first alert to link to it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._first_alerts: OrderedDict[str, Alert] = OrderedDict()

    async def send(self, alert: Alert, client: httpx.AsyncClient) -> None:
        """Deliver one alert as a Slack message."""
        body = json.dumps(self.payload(alert)).encode()
        await self.post(client, body, {"Content-Type": "application/json"})
        self._remember(alert)

    def payload(self, alert: Alert) -> dict[str, Any]:
        """The Slack message: fallback text, header, facts and the flare link."""
        title = (f"{_EMOJI[alert.kind]} {headline(alert)}: {alert.observed_class} "
                 f"(R{alert.r_level}) {satellites_text(alert)}")
        return {
            "text": f"{title} - {summary_line(alert)}",
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
                {"type": "section", "fields": _fields(alert)},
                {"type": "context", "elements": [
                    {"type": "mrkdwn", "text": self.link_text(alert)}]},
            ],
        }

    def link_text(self, alert: Alert) -> str:
        """Which flare this is, and for follow-ups which first alert it continues."""
        ids = f"flare `{alert.flare_id}` · alert `{alert.alert_id}`"
        if alert.kind not in _FOLLOW_UPS:
            return f"{alert.message} · {ids}"
        first = self._first_alerts.get(alert.flare_id)
        if first is not None:
            origin = (f"first alerted {utc_text(first.issued_utc)} "
                      f"({headline(first)}, alert `{first.alert_id}`)")
        else:
            origin = f"flare started {utc_text(alert.flare_start_utc)}"
        return f":link: Follow-up of flare `{alert.flare_id}`, {origin} · {ids}"

    def _remember(self, alert: Alert) -> None:
        if alert.flare_id in self._first_alerts:
            return
        self._first_alerts[alert.flare_id] = alert
        if len(self._first_alerts) > _REMEMBERED_FLARES:
            self._first_alerts.popitem(last=False)


def _fields(alert: Alert) -> list[dict[str, str]]:
    facts = [
        ("Class", alert.observed_class),
        ("Flux", f"{alert.observed_flux_wm2:.2e} W/m²"),
        ("R level", f"R{alert.r_level}"),
        ("Lead", lead_text(alert)),
        ("Satellite", satellites_text(alert)),
        ("Data time", utc_text(alert.data_time_utc)),
        ("Issued", utc_text(alert.issued_utc)),
        ("Flare start", utc_text(alert.flare_start_utc)),
    ]
    if alert.peak_flux_wm2 is not None:
        at = f" at {utc_text(alert.peak_time_utc)}" if alert.peak_time_utc else ""
        facts.append(("Peak", f"{flare_class(alert.peak_flux_wm2)}{at}"))
    if shows_forecast(alert):
        facts.append(("Forecast", forecast_text(alert)))  # Slack allows 10 fields
    return [{"type": "mrkdwn", "text": f"*{name}*\n{value}"} for name, value in facts]
