import math

import pytest

from flarecore.classes import alert_level, class_letter, flare_class, r_level
from flarecore.classes import to_true_scale


@pytest.mark.parametrize(("flux_wm2", "expected"), [
    (9.9e-9, "A0.9"), (1e-8, "A1.0"), (1e-7, "B1.0"), (9.99e-7, "B9.9"),
    (1e-6, "C1.0"), (1e-5, "M1.0"), (4.29e-5, "M4.2"), (4.9e-5, "M4.9"),
    (5e-5, "M5.0"), (9.99e-5, "M9.9"), (1e-4, "X1.0"), (8.28e-4, "X8.2"),
    (2.8e-3, "X28.0"),
])
def test_flare_class_truncates_like_noaa(flux_wm2: float, expected: str) -> None:
    assert flare_class(flux_wm2) == expected


def test_class_letter_boundaries() -> None:
    assert [class_letter(f) for f in (5e-8, 1e-7, 1e-6, 1e-5, 1e-4)] == list("ABCMX")
    with pytest.raises(ValueError, match="NaN"):
        class_letter(math.nan)


@pytest.mark.parametrize(("flux_wm2", "level", "name"), [
    (9.9e-6, 0, None), (1e-5, 1, "M1"), (5e-5, 2, "M5"), (1e-4, 3, "X1"),
    (1e-3, 4, "X10"), (2e-3, 5, "X20"),
])
def test_r_level_and_alert_level(flux_wm2: float, level: int, name: str) -> None:
    assert r_level(flux_wm2) == level
    assert alert_level(flux_wm2) == name


def test_legacy_scale_factors_reach_true_scale() -> None:
    # 2014-01-28 M4.9 (SWPC, GOES-15) peaks at ~7.0e-5 on the true scale.
    xrsa, xrsb = to_true_scale(0.85e-6, 4.9e-5)
    assert xrsb == pytest.approx(7.0e-5)
    assert xrsa == pytest.approx(1e-6)
