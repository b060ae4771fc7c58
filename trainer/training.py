"""The fit pipeline: dataset, grouped cross-validation, final model, bundle."""

from __future__ import annotations

import logging
import platform
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from sklearn.base import clone

from flarecore.classes import M1_WM2, X1_WM2
from flarecore.features import FEATURE_NAMES
from flarecore.forecast import BundleInfo, save_bundle
from trainer.baselines import RiseRateRule
from trainer.dataset import Dataset, build
from trainer.evaluation import (
    CrossValidation,
    cross_validate,
    event_evaluator,
    fit_on,
    tuned_thresholds,
)
from trainer.model import FlareClassifier

logger = logging.getLogger(__name__)


@dataclass
class TrainingResult:
    """A fitted model with its cross-validated report and the bundle it became."""

    model: FlareClassifier
    dataset: Dataset
    cv: CrossValidation
    info: BundleInfo
    bundle_dir: Path


def train(paths: list[Path], out_dir: Path, horizon_minutes: int = 30,
          params: dict[str, Any] | None = None, n_splits: int = 3,
          inner_splits: int = 2, random_state: int = 0) -> TrainingResult:
    """Build the dataset, cross-validate, fit on everything and save the bundle."""
    started = time.monotonic()
    dataset = build(paths, horizon_minutes)
    stages = {"dataset": time.monotonic() - started}
    estimator = FlareClassifier(random_state=random_state, **(params or {}))
    cv = cross_validate(estimator, dataset, n_splits, inner_splits, random_state)
    stages["cross_validation"] = time.monotonic() - started - sum(stages.values())
    # The outer folds' out-of-fold probabilities cover every row from a model that
    # did not see its day: the honest basis for the final model's thresholds.
    chosen = tuned_thresholds(dataset, cv.proba)
    rule = RiseRateRule().tuned(dataset, event_evaluator(dataset, M1_WM2),
                                event_evaluator(dataset, X1_WM2))
    model = fit_on(clone(estimator).set_params(**chosen), dataset)
    stages["final_fit"] = time.monotonic() - started - sum(stages.values())
    logger.info("fit stages %s", " ".join(f"{k}_s={v:.1f}" for k, v in stages.items()))
    info = _info(model, dataset, cv, chosen, estimator, n_splits, random_state,
                 time.monotonic() - started)
    info.training["rise_rate_rule"] = rule.model_dump()
    info = save_bundle(out_dir, model.estimator_, info)
    logger.info("model saved dir=%s version=%s thresholds=%s seconds=%.0f", out_dir,
                info.version, chosen, time.monotonic() - started)
    return TrainingResult(model, dataset, cv, info, out_dir)


def versions() -> dict[str, str]:
    """Library versions a bundle depends on."""
    import joblib
    import pandas

    return {"python": platform.python_version(), "scikit-learn": sklearn.__version__,
            "numpy": np.__version__, "pandas": pandas.__version__,
            "joblib": joblib.__version__}


def _info(model: FlareClassifier, dataset: Dataset, cv: CrossValidation,
          chosen: dict[str, float], estimator: FlareClassifier, n_splits: int,
          random_state: int, seconds: float) -> BundleInfo:
    now = datetime.now(UTC)
    return BundleInfo(
        version=now.strftime("%Y%m%dT%H%M%SZ"), created_utc=now,
        horizon_minutes=dataset.horizon_minutes, feature_names=list(FEATURE_NAMES),
        thresholds=model.thresholds,
        estimator_sha256="", training={
            "estimator": "flarecore.growth.GrowthForecast over a sklearn "
                         "HistGradientBoostingClassifier of growth bins, via "
                         "trainer.model.FlareClassifier",
            "params": estimator.get_params(),
            "cv": {"n_splits": n_splits, "group": "utc_day",
                   "random_state": random_state},
            "dataset": dataset.record, "versions": versions(),
            "fit_seconds": round(seconds, 1),
            "classes_seen": [int(c) for c in model.classes_],
        },
        metrics={"cross_validated": cv.report},
    )


REPRODUCTION_FILE = "reproduce.json"
REPRODUCTION_PARAMS = {"max_iter": 20, "min_samples_leaf": 20, "quiet_fraction": 0.5}
REPRODUCTION_DATA = (
    "tests/data/ncei/sci_xrsf-l2-avg1m_g13_d20140128_v1-0-0.nc",
    "tests/data/ncei/sci_xrsf-l2-avg1m_g14_d20100612_v1-0-0.nc",
    "tests/data/ncei/sci_xrsf-l2-avg1m_g17_d20211028_v2-1-0_excerpt_1430-1629.nc",
)
"""Real files in the repository on which the pipeline's reproducibility is
recorded: the full training takes ~15 minutes, this ~10 seconds."""


def record_reproduction(bundle_dir: Path, repo_root: Path, random_state: int = 0
                        ) -> dict[str, Any]:
    """Train the same pipeline on :data:`REPRODUCTION_DATA` and record its metrics
    next to the bundle, for the test that retrains and compares."""
    import json
    import tempfile

    paths = [repo_root / p for p in REPRODUCTION_DATA]
    with tempfile.TemporaryDirectory() as tmp:
        result = train(paths, Path(tmp), params=REPRODUCTION_PARAMS,
                       random_state=random_state)
    record = {"files": list(REPRODUCTION_DATA), "params": REPRODUCTION_PARAMS,
              "random_state": random_state,
              "thresholds": result.info.thresholds.model_dump(),
              "cross_validated": result.info.metrics["cross_validated"]}
    (bundle_dir / REPRODUCTION_FILE).write_text(json.dumps(record, indent=2) + "\n")
    return record
