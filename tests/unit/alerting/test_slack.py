"""Slack messages read at a glance and link follow-ups to the flare's first alert."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx

from alerting.settings import SubscriberConfig
from alerting.slack import SlackSink
from flarecore.alerts import AlertKind
from tests.unit.alerting.factory import synthetic_alert

CONFIG = SubscriberConfig.model_validate({
    "name": "slack-ops", "kind": "slack",
    "url": "https://hooks.slack.invalid/services/T/B/X",
})


def _text(payload: dict[str, object]) -> str:
    return json.dumps(payload, ensure_ascii=False)


def test_slack_payload_has_the_facts_at_a_glance_synthetic() -> None:
    alert = synthetic_alert(AlertKind.THRESHOLD, "X1", observed_flux_wm2=1.34e-4,
                            satellites=[18],
                            data_time_utc=datetime(2026, 5, 14, 12, 3, tzinfo=UTC),
                            flare_start_utc=datetime(2026, 5, 14, 11, 55, tzinfo=UTC))
    payload = SlackSink(CONFIG).payload(alert)
    text = _text(payload)
    assert payload["text"].startswith(":rotating_light: X1 threshold crossed: X1.3")
    for fact in ["*Class*\\nX1.3", "1.34e-04 W/m²", "*R level*\\nR3",
                 "8 min after flare start", "GOES-18", "2026-05-14 12:03:00 UTC",
                 alert.flare_id]:
        assert fact in text


def test_slack_early_warning_shows_forecast_lead_synthetic() -> None:
    alert = synthetic_alert(AlertKind.EARLY_WARNING, "M")
    text = _text(SlackSink(CONFIG).payload(alert))
    assert "peak within 30 min (P>=M 70%, P>=X 10%)" in text


async def test_slack_escalation_links_to_first_alert_synthetic() -> None:
    posted: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        posted.append(json.loads(request.content))
        return httpx.Response(200, text="ok")

    sink = SlackSink(CONFIG)
    first = synthetic_alert(AlertKind.THRESHOLD, "M1", flare_id="f-42")
    later = synthetic_alert(AlertKind.ESCALATION, "M5", flare_id="f-42")
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        await sink.send(first, client)
        await sink.send(later, client)
    link = _text(posted[1]["blocks"][2])  # type: ignore[index]
    assert "Follow-up of flare `f-42`" in link
    assert first.alert_id in link and "M1 threshold crossed" in link


def test_slack_follow_up_without_first_alert_names_flare_start_synthetic() -> None:
    alert = synthetic_alert(AlertKind.PEAK, None, flare_id="f-7",
                            flare_start_utc=datetime(2026, 5, 14, 11, 55, tzinfo=UTC))
    link = SlackSink(CONFIG).link_text(alert)
    assert "Follow-up of flare `f-7`, flare started 2026-05-14 11:55:00 UTC" in link
