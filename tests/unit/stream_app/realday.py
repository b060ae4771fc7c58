"""The real flare day the stream app is tested on, and a tiny model fitted to it.

GOES-13 science 1-minute averages of 2014-01-28 (NOAA NCEI, SWPC scaling
removed; the producers' copy in ``tests/data/ncei``): 13 runs of XRS-B >= 1e-5,
6 SWPC-listed M flares. The model is a small logistic regression fitted to this
same day: a test fixture that makes the forecast path real, not a forecaster of
any skill.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from flarecore.classes import class_index
from flarecore.features import FEATURE_NAMES, compute
from flarecore.forecast import BundleInfo, Forecaster, Thresholds, save_bundle
from flarecore.readers import iter_records
from flarecore.records import XrsRecord

DATA = Path(__file__).resolve().parents[2] / "data"
FLARE_DAY = DATA / "ncei" / "sci_xrsf-l2-avg1m_g13_d20140128_v1-0-0.nc"
GOES15_DAY = (DATA / "goes13-15-l2-irrad-2s"
              / "sci_gxrs-l2-irrad_g15_d20140128_v0-0-0.nc")
"""The same day seen by GOES-15: its real 2-s science data, averaged per minute
by the shared reader."""
HORIZON_MINUTES = 60


def _records(path: Path) -> list[XrsRecord]:
    records = [r for r in iter_records([path]) if isinstance(r, XrsRecord)]
    assert len(records) == 1440, path
    return records


def flare_day_records(path: Path = FLARE_DAY) -> list[XrsRecord]:
    """GOES-13's minutes of 2014-01-28, read by :mod:`flarecore.readers`."""
    return _records(path)


def goes15_day_records(path: Path = GOES15_DAY) -> list[XrsRecord]:
    """GOES-15's minutes of the same day (its 2-s data averaged per minute)."""
    return _records(path)


def peak_class_labels(xrsb_wm2: np.ndarray) -> np.ndarray:
    """Class index of the highest XRS-B in the next HORIZON_MINUTES minutes."""
    padded = np.concatenate([xrsb_wm2, np.full(HORIZON_MINUTES, np.nan)])
    labels = np.zeros(len(xrsb_wm2), dtype=int)
    for i in range(len(xrsb_wm2)):
        window = padded[i + 1:i + 1 + HORIZON_MINUTES]
        peak = np.nanmax(window) if np.isfinite(window).any() else xrsb_wm2[i]
        labels[i] = class_index(float(np.nan_to_num(peak, nan=1e-9)))
    return labels


def fit_day_model(directory: Path, version: str = "test-day-1",
                  p_ge_m: float = 0.5, p_ge_x: float = 0.5,
                  floor_m_wm2: float = 0.0) -> Forecaster:
    """Fit the tiny model on the flare day and save it as a bundle."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from flarecore.engine import grid_from_records
    from flarecore.forecast import load_bundle

    grid = grid_from_records(flare_day_records())
    features = compute(grid)
    labels = peak_class_labels(grid.xrsb_wm2)
    # A linear model: cheap per call, so one-record batches stay fast in tests.
    estimator = make_pipeline(SimpleImputer(keep_empty_features=True),
                              StandardScaler(), LogisticRegression(max_iter=2000))
    estimator.fit(features, labels)
    info = BundleInfo(
        version=version, created_utc=datetime.now(UTC),
        horizon_minutes=HORIZON_MINUTES, feature_names=list(FEATURE_NAMES),
        thresholds=Thresholds(p_ge_m=p_ge_m, p_ge_x=p_ge_x,
                              floor_m_wm2=floor_m_wm2), estimator_sha256="",
        training={"data": FLARE_DAY.name, "note": "test fixture, in-sample"},
    )
    save_bundle(directory, estimator, info)
    return load_bundle(directory)
