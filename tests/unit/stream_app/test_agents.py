"""The records agent's batch handling, without a broker."""

from __future__ import annotations

import logging

import pytest

from stream_app import agents


async def test_failed_batch_is_retried_until_done(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    # faust acks the batch once the agent's loop body ends: giving up would lose it.
    calls: list[list[object]] = []

    async def flaky(events: list[object]) -> None:
        calls.append(events)
        if len(calls) < 3:
            raise ConnectionError("broker unreachable")

    monkeypatch.setattr(agents, "process_batch", flaky)
    monkeypatch.setattr(agents, "RETRY_BASE_S", 0.001)
    before = agents.metrics.batch_retries._value.get()
    batch = [object(), object()]

    with caplog.at_level(logging.WARNING, logger="stream_app.agents"):
        await agents.process_until_done(batch)  # type: ignore[arg-type]

    assert calls == [batch, batch, batch]
    assert agents.metrics.batch_retries._value.get() - before == 2
    assert "batch failed, retrying records=2 attempt=2" in caplog.text
