"""Retries: a flaky receiver is retried, a refusing one is given up quickly."""

from __future__ import annotations

import time

import httpx
import pytest
from prometheus_client import REGISTRY

from alerting.console import StdoutSink
from alerting.delivery import deliver
from alerting.settings import SubscriberConfig
from alerting.webhook import WebhookSink
from tests.unit.alerting.factory import synthetic_alert


def _sink(name: str, attempts: int = 4) -> WebhookSink:
    return WebhookSink(SubscriberConfig.model_validate({
        "name": name, "kind": "webhook", "url": "http://receiver.invalid/hook",
        "secret": "s", "retry": {"attempts": attempts, "base_backoff_s": 0.001,
                                 "max_backoff_s": 0.01},
    }))


def _answers(*statuses: int, retry_after: str = "0") -> httpx.MockTransport:
    remaining = list(statuses)

    def handler(request: httpx.Request) -> httpx.Response:
        status = remaining.pop(0) if remaining else 200
        return httpx.Response(status, headers={"Retry-After": retry_after})

    return httpx.MockTransport(handler)


async def _deliver(sink: WebhookSink, transport: httpx.MockTransport):  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(transport=transport) as client:
        return await deliver(sink, synthetic_alert(), client)


async def test_deliver_retries_until_receiver_recovers_synthetic() -> None:
    labels = {"subscriber": "flaky-unit", "result": "retryable"}
    # The registry is process-wide: other tests may have counted for this name.
    before = REGISTRY.get_sample_value("flare_alerting_attempts_total", labels) or 0
    outcome = await _deliver(_sink("flaky-unit"), _answers(500, 503, 500))
    assert outcome.delivered and outcome.attempts == 4
    after = REGISTRY.get_sample_value("flare_alerting_attempts_total", labels)
    assert after == before + 3


async def test_deliver_gives_up_after_last_attempt_synthetic() -> None:
    outcome = await _deliver(_sink("down", attempts=3), _answers(500, 500, 500, 500))
    assert not outcome.delivered and outcome.attempts == 3
    assert outcome.error is not None and "HTTP 500" in outcome.error


async def test_deliver_does_not_retry_permanent_refusal_synthetic() -> None:
    outcome = await _deliver(_sink("gone"), _answers(410))
    assert not outcome.delivered and outcome.attempts == 1


async def test_deliver_waits_for_retry_after_synthetic() -> None:
    started = time.monotonic()
    outcome = await _deliver(_sink("busy"), _answers(429, retry_after="1"))
    assert outcome.delivered and time.monotonic() - started >= 1.0


async def test_deliver_turns_sink_bug_into_dead_letter_synthetic() -> None:
    class Broken(StdoutSink):
        async def send(self, alert, client):  # type: ignore[no-untyped-def]
            raise KeyError("bug")

    sink = Broken(SubscriberConfig(name="broken", kind="stdout"))  # type: ignore[arg-type]
    async with httpx.AsyncClient() as client:
        outcome = await deliver(sink, synthetic_alert(), client)
    assert not outcome.delivered and "KeyError" in (outcome.error or "")


async def test_stdout_sink_prints_one_line_synthetic(
        capsys: pytest.CaptureFixture[str]) -> None:
    sink = StdoutSink(SubscriberConfig(name="console", kind="stdout"))  # type: ignore[arg-type]
    alert = synthetic_alert()
    async with httpx.AsyncClient() as client:
        outcome = await deliver(sink, alert, client)
    out = capsys.readouterr().out
    assert outcome.delivered and out.count("\n") == 1
    assert out.startswith("ALERT ") and alert.alert_id in out
