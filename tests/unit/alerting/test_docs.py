"""The verification snippet in docs/alerting.md accepts what the webhook sends."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from alerting.settings import SubscriberConfig
from alerting.webhook import WebhookSink
from tests.unit.alerting.factory import synthetic_alert

DOC = Path(__file__).resolve().parents[3] / "docs" / "alerting.md"


def _snippet() -> Any:
    (code,) = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # the documented receiver code, run as written
    return namespace["verify_flare_webhook"]


def test_documented_receiver_check_accepts_sent_request_synthetic() -> None:
    verify_flare_webhook = _snippet()
    sink = WebhookSink(SubscriberConfig.model_validate({
        "name": "ops", "kind": "webhook", "url": "http://x.invalid", "secret": "k"}))
    alert = synthetic_alert()
    body = alert.to_bytes()
    headers = sink.headers(alert, body)
    verify_flare_webhook(b"k", headers, body)
    with pytest.raises(ValueError, match="bad signature"):
        verify_flare_webhook(b"k", headers, body + b" ")
    old = sink.headers(alert, body, now_s=1_000_000_000)
    with pytest.raises(ValueError, match="stale"):
        verify_flare_webhook(b"k", old, body)
