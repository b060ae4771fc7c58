"""The gradient-boosting flare forecast and its early-warning thresholds.

:class:`FlareClassifier` follows scikit-learn's estimator conventions: ``__init__``
only stores hyperparameters, ``fit`` validates and returns ``self``, learned
attributes end in ``_``. What it learns is the distribution of the flux's growth
to its peak within the horizon (:mod:`flarecore.growth`), from which the peak
class probabilities follow. The warning thresholds and floors are
hyperparameters too; they are tuned on out-of-fold predictions of the training
data (:func:`tune_warning`) and set with ``set_params``, never on test data.

HistGradientBoostingClassifier is used because it handles the NaNs of data gaps
natively and trains on ~10^6 minutes in seconds.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data

from flarecore.classes import CLASS_LETTERS
from flarecore.features import FEATURE_NAMES
from flarecore.forecast import M_INDEX, X_INDEX, Thresholds
from flarecore.growth import GROWTH_EDGES_LOG10, GrowthForecast, growth_bins
from trainer.metrics import EventMetrics

TARGET_EARLY_FRACTION = 0.7
TARGET_FALSE_WARNING_RATIO = 0.3
"""The early-warning target: warn early of >= 70 % of M events with a
false-warning ratio (false / (false + true) warnings) of at most 0.3."""

LOG_B_COLUMN = FEATURE_NAMES.index("log_b")
STEADY_GROWTH_LOG10 = 0.05
"""Rows growing less than this to their peak are the steady majority that
``quiet_fraction`` thins out."""
REFERENCE_FLOOR_LOG10 = np.log10(2e-9)
"""No growth is learnt from an XRS-B below this: it is not the Sun but the
floor value the legacy products hold during eclipses (1e-9 on SWPC's scale,
hundreds of minutes around 07 UTC in GOES-14's spring 2010), and its "growth"
to the next real minute would be two decades."""


class FlareClassifier(ClassifierMixin, BaseEstimator):
    """Peak-class forecast (0=A ... 4=X) learnt as the flux's growth to its peak.

    Parameters
    ----------
    max_iter, learning_rate, max_leaf_nodes, l2_regularization, min_samples_leaf
        Passed to :class:`~sklearn.ensemble.HistGradientBoostingClassifier` over
        the growth bins of :data:`flarecore.growth.GROWTH_EDGES_LOG10`.
    class_weight
        None (the default: probabilities stay calibrated, which the alerts show
        to people and the Brier skill scores) or ``"balanced"`` (every growth
        bin weighs the same in total).
    quiet_fraction
        Share of the steady rows (growth below :data:`STEADY_GROWTH_LOG10`) kept
        for fitting, drawn at random and weighted up by its inverse so the
        probabilities stay calibrated. They are most of the data and nearly
        alike; a tenth makes fitting several times faster.
    threshold_m, threshold_x
        Warn of >= M (>= X) when P(>= M) (P(>= X)) is at or above this ...
    floor_m_wm2, floor_x_wm2
        ... and XRS-B is at or above this.
    random_state
        Seed of the quiet-row draw and of the boosting.
    """

    def __init__(self, max_iter: int = 50, learning_rate: float = 0.15,
                 max_leaf_nodes: int = 15, l2_regularization: float = 1.0,
                 min_samples_leaf: int = 200, class_weight: str | None = None,
                 quiet_fraction: float = 0.1, threshold_m: float = 0.5,
                 threshold_x: float = 0.5, floor_m_wm2: float = 0.0,
                 floor_x_wm2: float = 0.0, random_state: int | None = 0) -> None:
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.l2_regularization = l2_regularization
        self.min_samples_leaf = min_samples_leaf
        self.class_weight = class_weight
        self.quiet_fraction = quiet_fraction
        self.threshold_m = threshold_m
        self.threshold_x = threshold_x
        self.floor_m_wm2 = floor_m_wm2
        self.floor_x_wm2 = floor_x_wm2
        self.random_state = random_state

    def fit(self, X: Any, y: Any, peak_wm2: Any = None) -> FlareClassifier:
        """Fit on feature rows ``X`` (:data:`flarecore.features.FEATURE_NAMES`).

        ``y`` is the peak class index of each row; ``peak_wm2`` the peak flux it
        is the class of. Without it, each row's peak is taken at the geometric
        middle of its class (growth known to within half a decade).
        """
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan")
        if X.shape[1] != len(FEATURE_NAMES):
            raise ValueError(f"X has {X.shape[1]} columns: expected the "
                             f"{len(FEATURE_NAMES)} flare features")
        if not 0 < self.quiet_fraction <= 1:
            raise ValueError(f"quiet_fraction={self.quiet_fraction} is not in (0, 1]")
        peak_log10 = _peak_log10(np.asarray(y), peak_wm2)
        growth = peak_log10 - X[:, LOG_B_COLUMN]
        rows, weights = self._rows_kept(growth, X[:, LOG_B_COLUMN])
        bins = HistGradientBoostingClassifier(
            max_iter=self.max_iter, learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            l2_regularization=self.l2_regularization,
            min_samples_leaf=self.min_samples_leaf, class_weight=self.class_weight,
            early_stopping=False, random_state=self.random_state,
        ).fit(X[rows], growth_bins(growth[rows]), sample_weight=weights)
        self.estimator_ = GrowthForecast(bins, GROWTH_EDGES_LOG10, LOG_B_COLUMN)
        self.classes_ = self.estimator_.classes_
        self.n_iter_ = bins.n_iter_
        return self

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # data gaps are NaN features
        return tags

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities of each peak class A..X; NaN for rows without XRS-B."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan")
        return np.asarray(self.estimator_.predict_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class (A for rows without XRS-B)."""
        proba = np.nan_to_num(self.predict_proba(X), nan=0.0)
        return np.asarray(self.classes_[np.argmax(proba, axis=1)])

    @property
    def thresholds(self) -> Thresholds:
        """The warning rule of these hyperparameters, as bundles store it."""
        return Thresholds(p_ge_m=self.threshold_m, p_ge_x=self.threshold_x,
                          floor_m_wm2=self.floor_m_wm2, floor_x_wm2=self.floor_x_wm2)

    def warn(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Boolean warnings of >= M and of >= X (hot minutes, before episodes)."""
        full = self.predict_proba(X)
        flux = 10 ** np.asarray(X, dtype=np.float64)[:, LOG_B_COLUMN]
        rule = self.thresholds
        return rule.hot_m(p_ge_m(full), flux), rule.hot_x(p_ge_x(full), flux)

    def _rows_kept(self, growth: np.ndarray, log_b: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
        """Rows to fit on and their weights: steady rows thinned, weighted up."""
        known = np.isfinite(growth) & (np.nan_to_num(log_b, nan=-np.inf)
                                       >= REFERENCE_FLOOR_LOG10)
        steady = known & (growth < STEADY_GROWTH_LOG10)
        if self.quiet_fraction >= 1:
            rows = np.flatnonzero(known)
            return rows, np.ones(rows.size)
        rng = check_random_state(self.random_state)
        drawn = rng.random_sample(growth.size) < self.quiet_fraction
        rows = np.flatnonzero(known & (~steady | drawn))
        return rows, np.where(steady[rows], 1.0 / self.quiet_fraction, 1.0)


def _peak_log10(labels: np.ndarray, peak_wm2: Any) -> np.ndarray:
    if peak_wm2 is not None:
        peak = np.asarray(peak_wm2, dtype=np.float64)
        if peak.shape != labels.shape:
            raise ValueError(f"peak_wm2 has shape {peak.shape}, y {labels.shape}")
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(peak > 0, np.log10(peak), np.nan)
    if not np.isin(labels, np.arange(len(CLASS_LETTERS))).all():
        raise ValueError("y must hold class indices 0..4 (A..X)")
    return np.log10(1e-8) + labels.astype(np.float64) + 0.5


def full_proba(proba: np.ndarray, classes: np.ndarray, n_classes: int = 5
               ) -> np.ndarray:
    """Probabilities over all classes 0..4 (0 for classes not seen in training)."""
    full = np.zeros((proba.shape[0], n_classes))
    full[:, np.asarray(classes, dtype=np.int64)] = proba
    return full


def p_ge_m(full: np.ndarray) -> np.ndarray:
    """P(peak >= M) from :func:`full_proba`'s result."""
    return np.asarray(full[:, M_INDEX:].sum(axis=1))


def p_ge_x(full: np.ndarray) -> np.ndarray:
    """P(peak >= X) from :func:`full_proba`'s result."""
    return np.asarray(full[:, X_INDEX])


CANDIDATE_THRESHOLDS = np.unique(np.round(np.concatenate([
    np.linspace(0.05, 0.95, 19), 1 - np.logspace(-4, np.log10(0.05), 13)]), 6))
"""Thresholds tried when tuning: a coarse grid, denser near 1 (rounded, so a
bundle records 0.4, not 0.39999999999999997)."""

CANDIDATE_FLOORS_M_WM2 = (0.0, 1e-6, 2e-6, 3e-6, 5e-6)
CANDIDATE_FLOORS_X_WM2 = (0.0, 3e-6, 1e-5, 2e-5)
"""Warning floors (XRS-B, W m^-2) tried when tuning: none, then C1 .. C5 for M
and C3 .. M2 for X."""


def tune_warning(probability: np.ndarray, xrsb_wm2: np.ndarray,
                 floors_wm2: tuple[float, ...],
                 evaluate: Callable[[np.ndarray], EventMetrics]) -> tuple[float, float]:
    """The (threshold, floor) with the best early-warning trade-off on training
    data.

    ``evaluate`` turns a boolean per row (a hot minute) into event metrics. If
    some pairs meet the target (early warning for >= 70 % of events at a
    false-warning ratio <= 0.3) the one warning most events wins; otherwise the
    one maximising early fraction minus false-warning ratio. Ties go to the
    higher threshold, then the higher floor: the quieter rule.
    """
    flux = np.nan_to_num(xrsb_wm2)
    scored = []
    for floor, threshold in itertools.product(floors_wm2, CANDIDATE_THRESHOLDS):
        hot = (probability >= threshold) & (flux >= floor)
        scored.append(((float(threshold), float(floor)),
                       *_tradeoff(evaluate(hot))))
    return best_tradeoff(scored)


def best_tradeoff(scored: list[tuple[Any, float, float]]) -> Any:
    """Pick from ``(value, early fraction, false-warning ratio)`` triples."""
    meeting = [s for s in scored if s[1] >= TARGET_EARLY_FRACTION
               and s[2] <= TARGET_FALSE_WARNING_RATIO]
    if meeting:
        return max(meeting, key=lambda s: (s[1], s[0]))[0]
    return max(scored, key=lambda s: (s[1] - s[2], s[0]))[0]


def _tradeoff(metrics: EventMetrics) -> tuple[float, float]:
    ratio = metrics.false_warning_ratio
    return metrics.warned_early_fraction or 0.0, 0.0 if ratio is None else ratio
