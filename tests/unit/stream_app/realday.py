"""The real flare day the stream app is tested on, and a tiny model fitted to it.

GOES-13 science 1-minute averages of 2014-01-28 (NOAA NCEI, SWPC scaling
removed): 13 runs of XRS-B >= 1e-5, 6 SWPC-listed M flares. The model is a small
logistic regression fitted to this same day: a test fixture that makes
the forecast path real, not a forecaster of any skill.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from flarecore.classes import class_index
from flarecore.features import FEATURE_NAMES, compute
from flarecore.forecast import BundleInfo, Forecaster, Thresholds, save_bundle
from flarecore.records import Quality, Source, XrsRecord

DATA = Path(__file__).resolve().parents[2] / "data"
FLARE_DAY = DATA / "goes13-15-l2-avg1m" / "sci_xrsf-l2-avg1m_g13_d20140128_v1-0-0.nc"
GOES15_DAY = DATA / "goes15-irrad-2s-to-1m" / "g15_xrs_1m_20140128_from_2s.csv"
"""The same day seen by GOES-15: 1-minute means of its real 2-s science data."""
HORIZON_MINUTES = 60


def _quality(flag: float, flux: float) -> Quality:
    """GOES-13/15 avg1m flags: bits 0-2 are bad data, eclipse, temperature."""
    if np.isnan(flux):
        return Quality.MISSING
    bits = int(flag) & 7
    if bits & 2:
        return Quality.ECLIPSE
    return Quality.BAD if bits else Quality.GOOD


def flare_day_records(path: Path = FLARE_DAY) -> list[XrsRecord]:
    """The day's minutes as XrsRecords (satellite from the file name)."""
    import xarray as xr

    satellite = int(path.name.split("_g")[1][:2])
    with xr.open_dataset(path) as ds:
        times = ds["time"].values.astype("datetime64[s]").astype(np.int64)
        columns = {k: ds[k].values.astype(np.float64) for k in
                   ("xrsa_flux", "xrsb_flux", "xrsa_flag", "xrsb_flag")}
    records = []
    for i, seconds in enumerate(times):
        a, b = columns["xrsa_flux"][i], columns["xrsb_flux"][i]
        qa, qb = _quality(columns["xrsa_flag"][i], a), _quality(columns["xrsb_flag"][i], b)
        records.append(XrsRecord(
            satellite=satellite,
            time_utc=datetime.fromtimestamp(int(seconds), UTC),
            xrsa_flux_wm2=None if np.isnan(a) else float(a),
            xrsb_flux_wm2=None if np.isnan(b) else float(b),
            xrsa_quality=qa, xrsb_quality=qb,
            source=Source.GOES1315_AVG1M, scale_corrected=True,
        ))
    return records


def goes15_day_records(path: Path = GOES15_DAY) -> list[XrsRecord]:
    """GOES-15's minutes of the same day (the 2-s data averaged per minute)."""
    import csv

    records = []
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            a, b = (float(row[k]) if row[k] else None
                    for k in ("xrsa_flux_wm2", "xrsb_flux_wm2"))
            records.append(XrsRecord(
                satellite=15,
                time_utc=datetime.fromisoformat(row["time_utc"]),
                xrsa_flux_wm2=a, xrsb_flux_wm2=b,
                xrsa_quality=Quality.GOOD if a else Quality.MISSING,
                xrsb_quality=Quality.GOOD if b else Quality.MISSING,
                source=Source.GOES1315_IRRAD2S, scale_corrected=True,
            ))
    return records


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
                  p_ge_m: float = 0.5, p_ge_x: float = 0.5) -> Forecaster:
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
        thresholds=Thresholds(p_ge_m=p_ge_m, p_ge_x=p_ge_x), estimator_sha256="",
        training={"data": FLARE_DAY.name, "note": "test fixture, in-sample"},
    )
    save_bundle(directory, estimator, info)
    return load_bundle(directory)
