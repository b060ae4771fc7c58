"""Label construction: the class of the peak in (t, t+H], edges and gaps."""

from __future__ import annotations

import numpy as np

from flarecore.features import FEATURE_NAMES, MinuteGrid
from trainer.archive import Segment
from trainer.dataset import build, class_indices, future_peak, label_segment


def _segment(xrsb: list[float]) -> Segment:
    flux = np.asarray(xrsb, dtype=float)
    return Segment(15, MinuteGrid(1000, flux / 10, flux))


def test_future_peak_excludes_now_and_includes_horizon_end_synthetic() -> None:
    flux = np.array([9e-5, 1e-7, 1e-7, 2e-5, 1e-7, 1e-7])
    peak, observed = future_peak(flux, 3)
    # t=0 looks at minutes 1..3: its own X-level minute does not count.
    assert peak[0] == 2e-5
    assert peak[3] == 1e-7
    assert observed[0] == 1.0


def test_future_peak_end_of_data_is_unobserved_synthetic() -> None:
    flux = np.full(10, 1e-7)
    _, observed = future_peak(flux, 4)
    assert observed[5] == 1.0
    assert observed[6] == 0.75
    assert observed[8] == 0.25
    assert observed[9] == 0.0


def test_label_segment_drops_end_of_data_and_gaps_synthetic() -> None:
    flux = [1e-7] * 20 + [np.nan] * 5 + [1e-7] * 15
    data = label_segment(_segment(flux), horizon_minutes=4)
    kept = set((data.minutes - 1000).tolist())
    # Window of t=19 is minutes 20-23, all missing; t=18 sees 1 of 4: dropped.
    assert 19 not in kept and 18 not in kept
    # t=17 sees 2 of 4 (not more than half): dropped; t=16 sees 3 of 4: kept.
    assert 17 not in kept and 16 in kept
    # In the gap: no flux of its own, no forecast, no row (t=23 would see
    # 25-27, 3 of 4); t=24 is the first minute after it.
    assert not kept & set(range(20, 25)) and 25 in kept
    # Last minutes: the window runs past the data.
    assert 36 in kept and 37 not in kept and 39 not in kept
    assert data.features.shape == (len(data), len(FEATURE_NAMES))


def test_label_segment_class_of_peak_synthetic() -> None:
    flux = [1e-7] * 10 + [3e-6, 2e-5, 1.5e-4] + [1e-7] * 10
    data = label_segment(_segment(flux), horizon_minutes=2)
    label = dict(zip((data.minutes - 1000).tolist(), data.labels.tolist()))
    assert label[8] == 2   # sees 1e-7, 3e-6: C
    assert label[9] == 3   # sees 3e-6, 2e-5: M
    assert label[10] == 4  # sees 2e-5, 1.5e-4: X
    assert label[12] == 1  # after the peak: B
    assert data.peak_wm2[list(label).index(9)] == 2e-5


def test_class_indices_boundaries() -> None:
    flux = np.array([5e-9, 1e-8, 9.99e-8, 1e-7, 1e-6, 1e-5, 9.9e-5, 1e-4, 2e-3])
    assert class_indices(flux).tolist() == [0, 0, 0, 1, 2, 3, 3, 4, 4]


def test_build_records_files_and_minutes(real_days) -> None:
    data = build(real_days[:1])
    record = data.record
    assert record["files"][0]["sha256"] and record["files"][0]["rows"] == 1440
    assert record["labelled_minutes"] == len(data)
    assert sum(record["class_counts"].values()) == len(data)
    # The last minutes of the day have no future in this file: never labelled.
    assert len(data) < 1440
    assert record["class_counts"]["M"] > 0
