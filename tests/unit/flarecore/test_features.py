import numpy as np
import pytest

from flarecore.features import FEATURE_NAMES, LOOKBACK_MINUTES, MinuteGrid, compute


def _synthetic_flare_series(n: int = 600) -> tuple[np.ndarray, np.ndarray]:
    """A made-up B-level background with one impulsive rise, and a data gap."""
    minutes = np.arange(n)
    xrsb = 2e-7 * (1 + 0.05 * np.sin(minutes / 17.0))
    xrsb += 3e-5 * np.exp(-0.5 * ((minutes - 300) / 6.0) ** 2)
    xrsa = xrsb / 20
    xrsb[200:205] = np.nan
    return xrsa, xrsb


def test_window_features_equal_batch_features_synthetic() -> None:
    xrsa, xrsb = _synthetic_flare_series()
    batch = compute(MinuteGrid(1000, xrsa, xrsb))

    for end in (LOOKBACK_MINUTES + 5, 203, 290, 300, 599):
        start = end - LOOKBACK_MINUTES + 1
        window = compute(MinuteGrid(1000 + start, xrsa[start:end + 1],
                                    xrsb[start:end + 1]))
        np.testing.assert_array_equal(window[-1], batch[end])


def test_features_shape_and_names() -> None:
    xrsa, xrsb = _synthetic_flare_series(200)
    result = compute(MinuteGrid(0, xrsa, xrsb))
    assert result.shape == (200, len(FEATURE_NAMES))
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)
    assert compute(MinuteGrid(0, np.empty(0), np.empty(0))).shape == (
        0, len(FEATURE_NAMES))


def test_rise_and_gap_features_synthetic() -> None:
    xrsa, xrsb = _synthetic_flare_series()
    result = compute(MinuteGrid(0, xrsa, xrsb))
    col = {name: i for i, name in enumerate(FEATURE_NAMES)}

    assert result[300, col["rise_minutes"]] >= 10
    assert result[300, col["dlog_b_10"]] > 0.5
    assert result[310, col["rise_minutes"]] == 0
    assert result[203, col["flagged_now"]] == 1
    assert np.isnan(result[203, col["log_b"]])
    assert result[210, col["minutes_since_missing"]] == 6
    assert result[250, col["missing_frac_60"]] == pytest.approx(5 / 60)


def test_from_points_fills_gaps_with_nan() -> None:
    grid = MinuteGrid.from_points(np.array([10, 11, 14]), np.array([1.0, 2.0, 3.0]),
                                  np.array([4.0, 5.0, 6.0]))
    assert grid.start_minute == 10 and len(grid) == 5
    assert np.isnan(grid.xrsb_wm2[2]) and grid.xrsb_wm2[4] == 6.0


def test_acceleration_and_minutes_to_m1_synthetic() -> None:
    """A made-up XRS-B growing 0.02, 0.02, then 0.1 decades a minute from C5."""
    log_b = np.full(130, np.log10(5e-6))
    log_b[-3:] += np.cumsum([0.02, 0.02, 0.1])
    xrsb = 10**log_b
    result = compute(MinuteGrid(0, xrsb / 20, xrsb))
    col = {name: i for i, name in enumerate(FEATURE_NAMES)}
    last = result[-1]

    assert last[col["accel_log_b"]] == pytest.approx(0.1 - (0.02 + 0.02) / 2)
    to_m1 = (-5.0 - log_b[-1]) / 0.1
    assert last[col["minutes_to_m1"]] == pytest.approx(to_m1)
    assert result[-5, col["minutes_to_m1"]] == 999.0  # flat: not approaching
    assert result[-5, col["accel_log_b"]] == pytest.approx(0.0)


def test_minutes_to_m1_at_or_above_m1_and_in_gaps_synthetic() -> None:
    xrsb = np.full(130, 2e-5)
    xrsb[-1] = 3e-5
    xrsb[60] = np.nan
    result = compute(MinuteGrid(0, xrsb / 20, xrsb))
    column = FEATURE_NAMES.index("minutes_to_m1")
    assert result[-1, column] == 0.0
    assert np.isnan(result[61, column])  # the minute before is missing
