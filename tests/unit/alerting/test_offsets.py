"""The committable offset is the lowest record some subscriber still works on."""

from __future__ import annotations

from aiokafka import TopicPartition

from alerting.offsets import OffsetTracker

TP = TopicPartition("flare.alerts", 0)


def test_commit_waits_for_every_subscriber() -> None:
    tracker = OffsetTracker()
    tracker.track(TP, 10, 2)
    tracker.track(TP, 11, 1)
    tracker.done(TP, 11)
    assert tracker.committable() == {TP: 10}
    tracker.done(TP, 10)
    assert tracker.committable() == {TP: 10}  # still one subscriber on 10
    tracker.done(TP, 10)
    assert tracker.committable() == {TP: 12}
    assert tracker.in_flight == 0


def test_unwanted_records_and_gaps_commit_past_them() -> None:
    tracker = OffsetTracker()
    tracker.track(TP, 5, 0)
    tracker.track(TP, 9, 0)  # offsets 6-8 were transaction markers
    assert tracker.committable() == {TP: 10}


def test_committed_offsets_are_not_repeated() -> None:
    tracker = OffsetTracker()
    tracker.track(TP, 0, 0)
    tracker.committed(tracker.committable())
    assert tracker.committable() == {}


def test_records_read_again_after_a_seek_are_ignored() -> None:
    tracker = OffsetTracker()
    assert tracker.track(TP, 3, 1)
    assert not tracker.track(TP, 3, 1)
    assert not tracker.track(TP, 2, 1)
    assert tracker.in_flight == 1


def test_forget_drops_revoked_partition() -> None:
    tracker = OffsetTracker()
    tracker.track(TP, 3, 1)
    tracker.forget({TP})
    tracker.done(TP, 3)  # a worker finishing late must not fail
    assert tracker.committable() == {} and tracker.in_flight == 0
    assert tracker.track(TP, 3, 1)
