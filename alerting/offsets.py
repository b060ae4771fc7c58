"""Which offsets may be committed: those every matching subscriber has finished."""

from __future__ import annotations

from aiokafka import TopicPartition


class OffsetTracker:
    """Count, per record, the subscribers still working on it.

    The committable offset of a partition is its lowest unfinished record, or one
    past the last record read when all are finished. Offsets need not be
    contiguous (transaction markers, compaction), so no arithmetic on them.
    """

    def __init__(self) -> None:
        self._remaining: dict[TopicPartition, dict[int, int]] = {}
        self._next: dict[TopicPartition, int] = {}
        self._committed: dict[TopicPartition, int] = {}

    def track(self, tp: TopicPartition, offset: int, subscribers: int) -> bool:
        """Start tracking a record; False if it was already read (after a seek)."""
        if offset < self._next.get(tp, 0):
            return False
        self._next[tp] = offset + 1
        if subscribers > 0:
            self._remaining.setdefault(tp, {})[offset] = subscribers
        return True

    def done(self, tp: TopicPartition, offset: int) -> None:
        """One subscriber finished the record (delivered or dead-lettered)."""
        remaining = self._remaining.get(tp, {})
        if offset not in remaining:
            return  # partition forgotten after a rebalance
        remaining[offset] -= 1
        if remaining[offset] == 0:
            del remaining[offset]

    def committable(self) -> dict[TopicPartition, int]:
        """Offsets to commit that differ from the last :meth:`committed` ones."""
        offsets = {}
        for tp, next_offset in self._next.items():
            remaining = self._remaining.get(tp)
            offset = min(remaining) if remaining else next_offset
            if self._committed.get(tp) != offset:
                offsets[tp] = offset
        return offsets

    def committed(self, offsets: dict[TopicPartition, int]) -> None:
        """Record a successful commit."""
        self._committed.update(offsets)

    def forget(self, partitions: set[TopicPartition]) -> None:
        """Drop revoked partitions: their new owner re-reads what we did not commit."""
        for tp in partitions:
            self._remaining.pop(tp, None)
            self._next.pop(tp, None)
            self._committed.pop(tp, None)

    @property
    def in_flight(self) -> int:
        """Records some subscriber is still working on."""
        return sum(len(r) for r in self._remaining.values())
