"""Grouped cross-validation and the thresholds tuned inside training folds."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.dataset import Dataset, build
from trainer.evaluation import day_folds, event_evaluator
from trainer.model import CANDIDATE_THRESHOLDS, FlareClassifier, best_tradeoff


def _days_dataset(n_days: int) -> Dataset:
    """Real flux values from one file, spread over many days (minute index only)."""
    minutes = np.arange(n_days * 1440, dtype=np.int64) + 20_000 * 1440
    rng = np.random.default_rng(0)
    labels = rng.choice(5, size=minutes.size, p=[0.3, 0.5, 0.15, 0.049, 0.001])
    return Dataset(np.zeros((minutes.size, 3)), labels, minutes,
                   np.full(minutes.size, 15), np.full(minutes.size, 1e-6), 30)


def test_day_folds_never_split_a_day_synthetic() -> None:
    data = _days_dataset(30)
    folds = day_folds(data, n_splits=3, random_state=0)
    assert len(folds) == 3
    tested = np.concatenate([test for _, test in folds])
    assert np.array_equal(np.sort(tested), np.arange(len(data)))
    for train, test in folds:
        assert not set(data.days[train]) & set(data.days[test])


def test_day_folds_on_real_days_keep_each_flare_day_whole(real_days) -> None:
    data = build(real_days)
    for train, test in day_folds(data, n_splits=3, random_state=1):
        assert not set(data.days[train]) & set(data.days[test])
        assert len(set(data.days[test])) == 1


def test_best_tradeoff_prefers_target_then_balance() -> None:
    # (threshold, early fraction, false ratio)
    assert best_tradeoff([(0.5, 0.9, 0.6), (0.7, 0.75, 0.25), (0.9, 0.72, 0.1)]) == 0.7
    assert best_tradeoff([(0.5, 0.9, 0.8), (0.7, 0.6, 0.4), (0.9, 0.1, 0.0)]) == 0.7


def test_event_evaluator_real_flare_day(real_days) -> None:
    data = build(real_days[:1])
    evaluate = event_evaluator(data, 1e-5)
    silent = evaluate(np.zeros(len(data), bool))
    assert silent.events >= 5 and silent.warned_early == 0
    assert silent.false_warning_ratio is None
    always = evaluate(np.ones(len(data), bool))
    assert always.true_warnings + always.false_warnings >= 1


def test_classifier_fit_predict_real(real_days) -> None:
    data = build(real_days)
    model = FlareClassifier(max_iter=5, min_samples_leaf=20, quiet_fraction=0.5)
    assert model.fit(data.features, data.labels) is model
    proba = model.predict_proba(data.features)
    assert proba.shape == (len(data), len(model.classes_))
    assert np.allclose(proba.sum(axis=1), 1)
    warn_m, warn_x = model.warn(data.features)
    assert warn_m.shape == warn_x.shape == (len(data),)
    assert CANDIDATE_THRESHOLDS.min() > 0 and CANDIDATE_THRESHOLDS.max() < 1


def test_classifier_rejects_bad_quiet_fraction(real_days) -> None:
    data = build(real_days[:1])
    with pytest.raises(ValueError, match="quiet_fraction"):
        FlareClassifier(quiet_fraction=0).fit(data.features, data.labels)
