"""Flare tracking after NOAA's event rules, on made-up series and on a real day."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from flarecore.records import minute_to_datetime
from flarecore.tracking import FlareEventKind, FlareTracker, flare_id_of
from tests.unit.stream_app.realday import flare_day_records

T0 = 27_000_000  # an arbitrary minute (2021-05-03)


def _run(tracker: FlareTracker, fluxes: list[float | None], start: int = T0
         ) -> list[tuple[str, int, str]]:
    events = []
    for offset, flux in enumerate(fluxes):
        for event in tracker.update(start + offset, flux):
            events.append((event.kind.value, event.minute - start,
                           event.flare.flare_id))
    return events


def test_tracker_start_is_first_of_four_steep_minutes_synthetic() -> None:
    tracker = FlareTracker(16)
    events = _run(tracker, [1.2e-6, 1.2e-6, 1.1e-6, 1.3e-6, 1.5e-6, 2e-6, 3e-6])
    assert events == [("start", 5, flare_id_of(16, T0 + 2))]
    assert tracker.active is not None
    assert tracker.active.start_flux_wm2 == pytest.approx(1.1e-6)
    assert tracker.active.peak_flux_wm2 == pytest.approx(3e-6)


def test_tracker_gentle_rise_is_no_flare_synthetic() -> None:
    # Monotonic, but 1.3e-6 / 1.0e-6 < 1.4: not steep enough.
    tracker = FlareTracker(16)
    assert _run(tracker, [1.0e-6, 1.1e-6, 1.2e-6, 1.3e-6, 1.35e-6]) == []


def test_tracker_gap_breaks_rise_synthetic() -> None:
    tracker = FlareTracker(16)
    assert _run(tracker, [1e-6, 1.3e-6, None, 1.6e-6, 2e-6]) == []
    # Skipping a minute number (no record at all) breaks it too.
    tracker = FlareTracker(16)
    for offset, flux in ((0, 1e-6), (1, 1.3e-6), (3, 1.6e-6), (4, 2e-6)):
        assert tracker.update(T0 + offset, flux) == []


def test_tracker_ignores_duplicate_and_late_minutes_synthetic() -> None:
    tracker = FlareTracker(16)
    _run(tracker, [1e-6, 1.2e-6])
    assert tracker.update(T0 + 1, 9e-6) == []
    assert tracker.update(T0, 9e-6) == []
    assert tracker.ignored == 2
    assert tracker.recent[-1] == (T0 + 1, 1.2e-6)


def test_tracker_peak_and_end_halfway_back_synthetic() -> None:
    tracker = FlareTracker(16)
    # Start 1e-6, peak 9e-6: ends at 5e-6, the peak is confirmed at 0.85 of it.
    fluxes = [1e-6, 2e-6, 4e-6, 8e-6, 9e-6, 8e-6, 7e-6, 5.5e-6, 4.9e-6, 4e-6]
    events = _run(tracker, fluxes)
    flare_id = flare_id_of(16, T0)
    assert events == [("start", 3, flare_id), ("peak", 6, flare_id),
                      ("end", 8, flare_id)]
    assert tracker.active is None


def test_tracker_new_rise_after_peak_starts_new_flare_synthetic() -> None:
    tracker = FlareTracker(16)
    # Decays from 8e-6 but not halfway (4.5e-6), then rises steeply again.
    fluxes = [1e-6, 2e-6, 4e-6, 8e-6, 6.5e-6, 5e-6, 5.5e-6, 6e-6, 7.5e-6]
    events = _run(tracker, fluxes)
    first, second = flare_id_of(16, T0), flare_id_of(16, T0 + 5)
    assert events == [("start", 3, first), ("peak", 4, first), ("end", 8, first),
                      ("start", 8, second)]
    assert tracker.active is not None and tracker.active.flare_id == second
    # The first flare ended the minute before the second began.


def test_tracker_m1_crossing_without_steep_rise_opens_flare_synthetic() -> None:
    tracker = FlareTracker(16)
    fluxes = [8e-6, 8.5e-6, 9e-6, 9.5e-6, 1.02e-5, 1.1e-5]
    events = _run(tracker, fluxes)
    assert events == [("start", 4, flare_id_of(16, T0 + 4))]
    assert tracker.active is not None
    assert tracker.active.how_started == "m1_crossing"
    assert tracker.active.start_flux_wm2 == pytest.approx(8e-6)


def test_tracker_state_round_trip_mid_flare_synthetic() -> None:
    fluxes = [1e-6, 2e-6, 4e-6, 8e-6, 9e-6, 8e-6, 7e-6, 5.5e-6, 4.9e-6, 4e-6]
    whole = _run(FlareTracker(16), fluxes)
    first = FlareTracker(16)
    head = _run(first, fluxes[:6])
    restored = FlareTracker.from_state(json.loads(json.dumps(first.to_state())))
    tail = _run(restored, fluxes[6:], start=T0 + 6)
    shifted = [(kind, minute + 6, flare) for kind, minute, flare in tail]
    assert head + shifted == whole


def test_tracker_real_day_starts_match_noaa_list() -> None:
    # NOAA's GOES-15 event list for 2014-01-28 (start times, UTC), 12 events.
    listed = ["00:31", "03:08", "04:02", "05:25", "06:48", "07:25", "11:34",
              "12:18", "12:33", "16:23", "19:00", "22:04"]
    tracker = FlareTracker(13)
    starts = []
    for record in flare_day_records():
        for event in tracker.update(record.minute, record.xrsb_flux_wm2):
            if event.kind is FlareEventKind.START:
                starts.append(minute_to_datetime(event.flare.start_minute))
    for hhmm in listed:
        wanted = datetime.fromisoformat(f"2014-01-28T{hhmm}:00+00:00")
        nearest = min(abs((s - wanted).total_seconds()) for s in starts)
        # GOES-13 here against GOES-15's list: a few minutes apart at most.
        assert nearest <= 5 * 60, hhmm
