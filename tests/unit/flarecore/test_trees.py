"""Compiled trees give scikit-learn's probabilities bit for bit, or stand aside."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from flarecore.engine import SatelliteEngine
from flarecore.forecast import load_bundle
from flarecore.trees import CompiledTrees
from tests.unit.stream_app.realday import flare_day_records

SHIPPED = Path(__file__).resolve().parents[3] / "models" / "default"


def test_shipped_model_compiled_equals_scikit_learn_on_a_real_day() -> None:
    forecaster = load_bundle(SHIPPED)
    features = SatelliteEngine(13, None).process(flare_day_records()).features
    assert features is not None and np.isnan(features).any()  # gaps reach NaN paths

    trees = forecaster.estimator.bins_estimator  # the shipped GrowthForecast's
    compiled = CompiledTrees.of(trees)

    assert compiled is not None
    assert np.array_equal(compiled.predict_proba(features),
                          trees.predict_proba(features))
    # The forecaster serves through them: the same class probabilities (NaN for
    # the minutes without XRS-B).
    assert np.array_equal(forecaster.predict_proba(features),
                          forecaster.estimator.predict_proba(features),
                          equal_nan=True)


def test_binary_classifier_with_missing_values_is_exact() -> None:
    # A made-up series: two classes, NaNs learnt on both sides.
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3000, 4))
    y = (x[:, 0] + np.sin(3 * x[:, 1]) > 0).astype(int)
    x[rng.random(x.shape) < 0.2] = np.nan
    estimator = HistGradientBoostingClassifier(max_iter=40, random_state=0).fit(x, y)
    rows = rng.normal(size=(500, 4))
    rows[rng.random(rows.shape) < 0.3] = np.nan

    compiled = CompiledTrees.of(estimator)

    assert compiled is not None
    assert np.array_equal(compiled.predict_proba(rows), estimator.predict_proba(rows))
    with pytest.raises(ValueError, match="expected"):
        compiled.predict_proba(rows[:, :3])


def test_other_estimators_and_categorical_splits_are_left_to_scikit_learn() -> None:
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(400, 3)), rng.integers(0, 2, 400)
    assert CompiledTrees.of(LogisticRegression().fit(x, y)) is None
    x[:, 2] = rng.integers(0, 4, 400)
    categorical = HistGradientBoostingClassifier(
        max_iter=5, categorical_features=[2]).fit(x, y)
    assert CompiledTrees.of(categorical) is None
