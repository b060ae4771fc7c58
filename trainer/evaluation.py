"""Honest evaluation: grouped cross-validation, minute and event metrics, baselines.

Folds are whole UTC days (``StratifiedGroupKFold`` on the day, stratified on the
label where the rare classes allow), so neighbouring minutes of one flare never
sit on both sides. Inside each training part, a second grouped split gives
out-of-fold probabilities on which the warning thresholds are tuned; the test
part never influences them.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import StratifiedGroupKFold

from flarecore.classes import M1_WM2, X1_WM2
from trainer.baselines import RiseRateRule, persistence
from trainer.dataset import Dataset
from trainer.metrics import (
    EventMetrics,
    class_f1,
    crossings,
    dense_series,
    event_metrics,
    skill,
    warning_alerts,
)
from trainer.model import (
    CANDIDATE_FLOORS_M_WM2,
    CANDIDATE_FLOORS_X_WM2,
    FlareClassifier,
    full_proba,
    p_ge_m,
    p_ge_x,
    tune_warning,
)

logger = logging.getLogger(__name__)

Evaluator = Callable[[np.ndarray], EventMetrics]


@dataclass
class CrossValidation:
    """Out-of-fold forecasts of every row and the report built from them."""

    proba: np.ndarray
    warn_m: np.ndarray
    warn_x: np.ndarray
    fold: np.ndarray
    thresholds: list[dict[str, float]]
    report: dict[str, Any]


def day_folds(dataset: Dataset, n_splits: int, random_state: int | None
              ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train/test row indices with every UTC day wholly on one side."""
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True,
                                    random_state=random_state)
    with warnings.catch_warnings():
        # Classes rarer than n_splits (X) cannot be stratified; sklearn says so.
        warnings.filterwarnings("ignore", message="The least populated class")
        return list(splitter.split(dataset.features, dataset.labels, dataset.days))


def event_evaluator(dataset: Dataset, level_wm2: float) -> Evaluator:
    """A function from a forecast-above-threshold flag per row to event metrics.

    Warnings follow the stream engine's episode rule (:func:`warning_alerts`).
    """
    sats = np.unique(dataset.satellites)
    rows = {int(s): np.flatnonzero(dataset.satellites == s) for s in sats}
    events = {s: crossings(dense_series(s, dataset.minutes[r], dataset.xrsb_wm2[r]),
                           level_wm2) for s, r in rows.items()}

    def evaluate(hot: np.ndarray) -> EventMetrics:
        alerts = {s: warning_alerts(dataset.minutes[r], hot[r], dataset.xrsb_wm2[r],
                                    level_wm2) for s, r in rows.items()}
        return event_metrics(events, alerts, dataset.horizon_minutes)

    return evaluate


def thresholds_for(estimator: FlareClassifier, train: Dataset, inner_splits: int,
                   random_state: int | None) -> dict[str, float]:
    """Warning thresholds tuned on out-of-fold probabilities within ``train``."""
    proba = out_of_fold(estimator, train, inner_splits, random_state)
    return tuned_thresholds(train, proba)


def tuned_thresholds(train: Dataset, proba: np.ndarray) -> dict[str, float]:
    """Thresholds and floors of the M and X warnings from out-of-fold
    probabilities of ``train`` (the estimator's parameter names)."""
    threshold_m, floor_m = tune_warning(p_ge_m(proba), train.xrsb_wm2,
                                        CANDIDATE_FLOORS_M_WM2,
                                        event_evaluator(train, M1_WM2))
    threshold_x, floor_x = tune_warning(p_ge_x(proba), train.xrsb_wm2,
                                        CANDIDATE_FLOORS_X_WM2,
                                        event_evaluator(train, X1_WM2))
    return {"threshold_m": threshold_m, "floor_m_wm2": floor_m,
            "threshold_x": threshold_x, "floor_x_wm2": floor_x}


def fit_on(estimator: FlareClassifier, dataset: Dataset) -> FlareClassifier:
    """A clone of ``estimator`` fitted on every row of ``dataset``."""
    return clone(estimator).fit(dataset.features, dataset.labels,
                                peak_wm2=dataset.peak_wm2)


def out_of_fold(estimator: FlareClassifier, dataset: Dataset, n_splits: int,
                random_state: int | None) -> np.ndarray:
    """Probabilities over classes 0..4 of each row, from a model not fitted on its
    day."""
    proba = np.zeros((len(dataset), 5))
    for train, test in day_folds(dataset, n_splits, random_state):
        model = fit_on(estimator, dataset.subset(train))
        proba[test] = full_proba(model.predict_proba(dataset.features[test]),
                                 model.classes_)
    return proba


def cross_validate(estimator: FlareClassifier, dataset: Dataset, n_splits: int = 3,
                   inner_splits: int = 2, random_state: int | None = 0
                   ) -> CrossValidation:
    """Grouped CV of the model and both baselines, thresholds tuned per fold."""
    n = len(dataset)
    proba = np.zeros((n, 5))
    warn_m, warn_x = np.zeros(n, bool), np.zeros(n, bool)
    rise_m, rise_x = np.zeros(n, bool), np.zeros(n, bool)
    fold = np.full(n, -1)
    climatology = np.zeros((n, 2))
    thresholds, rules = [], []
    for k, (train_rows, test_rows) in enumerate(day_folds(dataset, n_splits,
                                                          random_state)):
        train, test = dataset.subset(train_rows), dataset.subset(test_rows)
        chosen = thresholds_for(estimator, train, inner_splits, random_state)
        model = fit_on(clone(estimator).set_params(**chosen), train)
        proba[test_rows] = full_proba(model.predict_proba(test.features),
                                      model.classes_)
        # From the probabilities just computed: predicting twice was ~10 % of fit.
        warning = model.thresholds
        warn_m[test_rows] = warning.hot_m(p_ge_m(proba[test_rows]), test.xrsb_wm2)
        warn_x[test_rows] = warning.hot_x(p_ge_x(proba[test_rows]), test.xrsb_wm2)
        rule = RiseRateRule().tuned(train, event_evaluator(train, M1_WM2),
                                    event_evaluator(train, X1_WM2))
        rise_m[test_rows], rise_x[test_rows] = rule.warn(test)
        climatology[test_rows] = [(train.labels >= 3).mean(),
                                  (train.labels >= 4).mean()]
        fold[test_rows] = k
        thresholds.append(chosen)
        rules.append(rule.model_dump())
        logger.info("cv fold=%d train_rows=%d test_rows=%d thresholds=%s", k,
                    len(train), len(test), chosen)
    report = compare(dataset, proba, warn_m, warn_x, (rise_m, rise_x), climatology)
    report["folds"] = {"n_splits": n_splits, "group": "utc_day",
                       "thresholds": thresholds, "rise_rate_rules": rules}
    return CrossValidation(proba, warn_m, warn_x, fold, thresholds, report)


def compare(dataset: Dataset, proba: np.ndarray, warn_m: np.ndarray,
            warn_x: np.ndarray, rise: tuple[np.ndarray, np.ndarray],
            climatology: np.ndarray | None = None) -> dict[str, Any]:
    """Minute and event metrics of the model and both baselines on ``dataset``."""
    if climatology is None:
        climatology = np.tile([(dataset.labels >= 3).mean(),
                               (dataset.labels >= 4).mean()], (len(dataset), 1))
    current, persist_m, persist_x = persistence(dataset)
    rise_class = np.maximum(current, np.where(rise[1], 4, np.where(rise[0], 3, 0)))
    return {
        "model": forecast_report(dataset, proba.argmax(axis=1), warn_m, warn_x,
                                 p_ge_m(proba), p_ge_x(proba), climatology),
        "baselines": {
            "persistence": forecast_report(dataset, current, persist_m, persist_x,
                                           persist_m.astype(float),
                                           persist_x.astype(float), climatology),
            "rise_rate": forecast_report(dataset, rise_class, rise[0], rise[1],
                                         rise[0].astype(float), rise[1].astype(float),
                                         climatology),
        },
    }


def forecast_report(dataset: Dataset, predicted: np.ndarray, warn_m: np.ndarray,
                    warn_x: np.ndarray, prob_m: np.ndarray, prob_x: np.ndarray,
                    climatology: np.ndarray) -> dict[str, Any]:
    """Per-class F1, skill scores for >= M and >= X, and event metrics."""
    truth_m, truth_x = dataset.labels >= 3, dataset.labels >= 4
    report: dict[str, Any] = {
        "class_f1": class_f1(dataset.labels, predicted),
        "ge_m": _brier(skill(truth_m, warn_m), truth_m, prob_m, climatology[:, 0]),
        "ge_x": _brier(skill(truth_x, warn_x), truth_x, prob_x, climatology[:, 1]),
    }
    report["m1"] = event_evaluator(dataset, M1_WM2)(warn_m).model_dump()
    report["x1"] = event_evaluator(dataset, X1_WM2)(warn_x).model_dump()
    return report


def _brier(scores: Any, truth: np.ndarray, probability: np.ndarray,
           climatology: np.ndarray) -> dict[str, Any]:
    """Skill scores plus Brier skill against the training base rate per row."""
    reference = float(np.mean((climatology - truth) ** 2))
    error = float(np.mean((probability - truth) ** 2))
    result = scores.model_dump()
    result["brier_skill"] = 1 - error / reference if reference else None
    return result
