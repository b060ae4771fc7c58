"""Generic webhook: the alert as versioned JSON, signed with the subscriber's secret."""

from __future__ import annotations

import time

import httpx

from alerting import signing
from alerting.base import Sink
from flarecore.alerts import Alert


class WebhookSink(Sink):
    """POST each alert's JSON with an idempotency key, timestamp and signature."""

    async def send(self, alert: Alert, client: httpx.AsyncClient) -> None:
        """Deliver one alert; the signature is fresh on every attempt."""
        body = alert.to_bytes()
        await self.post(client, body, self.headers(alert, body))

    def headers(self, alert: Alert, body: bytes, now_s: float | None = None
                ) -> dict[str, str]:
        """The request headers for ``body``, signed at ``now_s`` (default: now)."""
        assert self.config.secret is not None  # checked by SubscriberConfig
        timestamp = str(int(time.time() if now_s is None else now_s))
        secret = self.config.secret.get_secret_value().encode()
        return {
            "Content-Type": "application/json",
            signing.IDEMPOTENCY_HEADER: alert.alert_id,
            signing.SCHEMA_HEADER: str(alert.schema_version),
            signing.TIMESTAMP_HEADER: timestamp,
            signing.SIGNATURE_HEADER: signing.sign(secret, timestamp, body),
        }
