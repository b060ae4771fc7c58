"""The webhook request: JSON body, idempotency key, timestamp, valid signature."""

from __future__ import annotations

import json

import httpx
import pytest

from alerting.base import DeliveryError
from alerting.settings import SubscriberConfig
from alerting.signing import verify
from alerting.webhook import WebhookSink
from flarecore.alerts import Alert
from tests.unit.alerting.factory import synthetic_alert

CONFIG = SubscriberConfig.model_validate({
    "name": "ops", "kind": "webhook", "url": "http://receiver.invalid/hook",
    "secret": "s3cret",
})


async def _send(handler: httpx.MockTransport, alert: Alert) -> None:
    async with httpx.AsyncClient(transport=handler) as client:
        await WebhookSink(CONFIG).send(alert, client)


async def test_webhook_request_is_signed_versioned_json_synthetic() -> None:
    seen: list[httpx.Request] = []
    alert = synthetic_alert()

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    await _send(httpx.MockTransport(handler), alert)
    (request,) = seen
    headers = request.headers
    assert headers["Idempotency-Key"] == alert.alert_id
    assert headers["X-Flare-Schema-Version"] == "1"
    assert json.loads(request.content)["schema_version"] == 1
    assert Alert.from_bytes(request.content) == alert
    verify(b"s3cret", headers["X-Flare-Timestamp"], request.content,
           headers["X-Flare-Signature"])


@pytest.mark.parametrize(("status", "retryable"), [
    (500, True), (503, True), (429, True), (408, True),
    (400, False), (401, False), (404, False), (410, False),
])
async def test_webhook_status_classification_synthetic(status: int,
                                                       retryable: bool) -> None:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(status, headers={"Retry-After": "3"}))
    with pytest.raises(DeliveryError) as caught:
        await _send(transport, synthetic_alert())
    assert caught.value.retryable is retryable
    assert caught.value.retry_after_s == 3.0
    assert f"HTTP {status}" in caught.value.detail


async def test_webhook_transport_error_hides_url_synthetic() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    with pytest.raises(DeliveryError) as caught:
        await _send(httpx.MockTransport(handler), synthetic_alert())
    assert caught.value.retryable
    assert "receiver.invalid" not in caught.value.detail
