"""The records agent's batch handling, without a broker."""

from __future__ import annotations

import logging

import pytest

from flarecore.settings import KafkaSettings
from stream_app import agents, gaps
from stream_app.gaps import Gap, ReadEvent, ReadMessage, gap_before


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


def _event(partition: int, offset: int) -> ReadEvent:
    return ReadEvent(value=b"{}", message=ReadMessage(
        topic="records", partition=partition, offset=offset, timestamp=0.0,
        key=b"13"))


def test_batch_splits_per_partition_at_offset_jumps() -> None:
    # Each run is checked against its partition's last processed offset, so a
    # jump inside a batch is found as surely as one before it.
    batch = [_event(0, 5), _event(1, 9), _event(0, 6), _event(0, 9), _event(1, 10),
             _event(0, 10)]

    runs = agents._runs(batch)  # type: ignore[arg-type]

    assert [[(e.message.partition, e.message.offset) for e in run] for run in runs] == [
        [(0, 5), (0, 6)], [(0, 9), (0, 10)], [(1, 9), (1, 10)]]


@pytest.mark.parametrize(("last", "offset", "expected"), [
    (None, 40, None),  # nothing processed yet in this partition
    (39, 40, None),  # the next offset
    (45, 40, None),  # a re-delivery after a restart or a retried batch
    (29, 40, Gap("records", 2, 30, 40)),
])
def test_gap_before_is_only_offsets_never_processed(
        last: int | None, offset: int, expected: Gap | None) -> None:
    assert gap_before(last, "records", 2, offset) == expected


class _SilentConsumer:
    """A made-up consumer whose partition never yields a record."""

    def __init__(self, **_: object) -> None:
        self.stopped = False

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self.stopped = True

    def assign(self, _: object) -> None:
        return None

    def seek(self, _: object, __: int) -> None:
        return None

    async def position(self, _: object) -> int:
        return 30

    async def getmany(self, *_: object, **__: object) -> dict[object, list[object]]:
        return {}


async def test_gap_read_that_gets_nothing_fails_instead_of_waiting_forever(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Raised, the batch is retried with backoff (process_until_done), not hung.
    monkeypatch.setattr(gaps, "AIOKafkaConsumer", _SilentConsumer)
    monkeypatch.setattr(gaps, "STALL_S", 0.05)
    monkeypatch.setattr(gaps, "FETCH_TIMEOUT_MS", 1)

    with pytest.raises(gaps.GapReadStalled, match=r"records\[2\] gave nothing"):
        async for _ in gaps.read_gap(KafkaSettings(), Gap("records", 2, 30, 40), 10):
            pass
