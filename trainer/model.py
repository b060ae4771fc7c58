"""The gradient-boosting flare classifier and its early-warning thresholds.

:class:`FlareClassifier` follows scikit-learn's estimator conventions: ``__init__``
only stores hyperparameters, ``fit`` validates and returns ``self``, learned
attributes end in ``_``. The two warning thresholds are hyperparameters too; they
are tuned on out-of-fold predictions of the training data
(:func:`tune_threshold`) and set with ``set_params``, never on test data.

HistGradientBoostingClassifier is used because it handles the NaNs of data gaps
natively and trains on ~10^6 minutes in seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data

from flarecore.forecast import M_INDEX, X_INDEX
from trainer.metrics import EventMetrics

TARGET_EARLY_FRACTION = 0.7
TARGET_FALSE_WARNING_RATIO = 0.3
"""The early-warning target: warn early of >= 70 % of M events with a
false-warning ratio (false / (false + true) warnings) of at most 0.3."""


class FlareClassifier(ClassifierMixin, BaseEstimator):
    """Peak-class classifier (0=A ... 4=X) with warning thresholds on P(>=M), P(>=X).

    Parameters
    ----------
    max_iter, learning_rate, max_leaf_nodes, l2_regularization, min_samples_leaf
        Passed to :class:`~sklearn.ensemble.HistGradientBoostingClassifier`. The
        large leaves and L2 keep the few hundred M minutes from being carved into
        tiny leaves that fire on quiet B-level minutes (seen with the defaults).
    class_weight
        ``"balanced"`` (every class weighs the same in total) or None.
    quiet_fraction
        Share of A/B-labelled rows kept for fitting (drawn at random). Quiet minutes
        are ~95 % of the data and nearly all alike; keeping a tenth makes
        fitting several times faster with no loss on the rare classes.
    threshold_m, threshold_x
        Warn of >= M (>= X) when P(>= M) (P(>= X)) is at or above this.
    random_state
        Seed of the quiet-row draw and of the boosting.
    """

    def __init__(self, max_iter: int = 100, learning_rate: float = 0.1,
                 max_leaf_nodes: int = 15, l2_regularization: float = 10.0,
                 min_samples_leaf: int = 1000, class_weight: str | None = "balanced",
                 quiet_fraction: float = 0.1, threshold_m: float = 0.5,
                 threshold_x: float = 0.5, random_state: int | None = 0) -> None:
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.l2_regularization = l2_regularization
        self.min_samples_leaf = min_samples_leaf
        self.class_weight = class_weight
        self.quiet_fraction = quiet_fraction
        self.threshold_m = threshold_m
        self.threshold_x = threshold_x
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> FlareClassifier:
        """Fit the boosting model on feature rows ``X`` and class indices ``y``."""
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan")
        if not 0 < self.quiet_fraction <= 1:
            raise ValueError(f"quiet_fraction={self.quiet_fraction} is not in (0, 1]")
        y = np.asarray(y)
        rows = self._rows_kept(y)
        self.estimator_ = HistGradientBoostingClassifier(
            max_iter=self.max_iter, learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            l2_regularization=self.l2_regularization,
            min_samples_leaf=self.min_samples_leaf, class_weight=self.class_weight,
            early_stopping=False, random_state=self.random_state,
        ).fit(X[rows], y[rows])
        self.classes_ = self.estimator_.classes_
        self.n_iter_ = self.estimator_.n_iter_
        return self

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # data gaps are NaN features
        return tags

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities of each class in ``classes_``."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan")
        return np.asarray(self.estimator_.predict_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class."""
        check_is_fitted(self)
        return np.asarray(self.classes_[np.argmax(self.predict_proba(X), axis=1)])

    def warn(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Boolean warnings of >= M and of >= X at the tuned thresholds."""
        full = full_proba(self.predict_proba(X), self.classes_)
        return p_ge_m(full) >= self.threshold_m, p_ge_x(full) >= self.threshold_x

    def _rows_kept(self, y: np.ndarray) -> np.ndarray:
        quiet = np.isin(y, (0, 1))  # class indices of A and B
        if self.quiet_fraction >= 1 or not quiet.any():
            return np.arange(y.size)
        rng = check_random_state(self.random_state)
        keep = ~quiet | (rng.random_sample(y.size) < self.quiet_fraction)
        return np.flatnonzero(keep)


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


CANDIDATE_THRESHOLDS = np.unique(np.concatenate([
    np.linspace(0.05, 0.95, 19), 1 - np.logspace(-4, np.log10(0.05), 13)]))
"""Thresholds tried when tuning: a coarse grid, dense near 1 because balanced
class weights push the probabilities of rare classes up."""


def tune_threshold(probability: np.ndarray,
                   evaluate: Callable[[np.ndarray], EventMetrics]) -> float:
    """The threshold with the best early-warning trade-off on training data.

    ``evaluate`` turns a boolean per row (forecast at or above the threshold) into
    event metrics. If some thresholds meet the target (early warning for
    >= 70 % of events at a false-warning ratio <= 0.3) the one warning most events
    wins; otherwise the one maximising early fraction minus false-warning ratio
    (ties: the higher threshold).
    """
    scored = [(float(t), *_tradeoff(evaluate(probability >= t)))
              for t in CANDIDATE_THRESHOLDS]
    return best_tradeoff(scored)


def best_tradeoff(scored: list[tuple[float, float, float]]) -> float:
    """Pick from ``(value, early fraction, false-warning ratio)`` triples."""
    meeting = [s for s in scored if s[1] >= TARGET_EARLY_FRACTION
               and s[2] <= TARGET_FALSE_WARNING_RATIO]
    if meeting:
        return max(meeting, key=lambda s: (s[1], s[0]))[0]
    return max(scored, key=lambda s: (s[1] - s[2], s[0]))[0]


def _tradeoff(metrics: EventMetrics) -> tuple[float, float]:
    ratio = metrics.false_warning_ratio
    return metrics.warned_early_fraction or 0.0, 0.0 if ratio is None else ratio
