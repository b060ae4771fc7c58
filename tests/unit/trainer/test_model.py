"""The forecast model: scikit-learn's conventions, the growth target, calibration.

scikit-learn's common checks are not run: they feed arbitrary labels and feature
counts, and this classifier's classes are always the five flare classes over the
flare features, with the growth to the peak as its target.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from flarecore.features import FEATURE_NAMES
from flarecore.growth import GrowthForecast
from trainer.dataset import build
from trainer.model import FlareClassifier, p_ge_m

SMALL = {"max_iter": 10, "min_samples_leaf": 20, "quiet_fraction": 0.5}


@pytest.fixture(scope="module")
def data(real_days):
    return build(real_days)


def test_conventions_params_clone_fit_returns_self(data) -> None:
    model = FlareClassifier(**SMALL)
    assert clone(model).get_params() == model.get_params()
    with pytest.raises(NotFittedError):
        model.predict_proba(data.features[:3])
    assert model.fit(data.features, data.labels, peak_wm2=data.peak_wm2) is model
    assert isinstance(model.estimator_, GrowthForecast)
    assert model.n_features_in_ == len(FEATURE_NAMES)
    assert list(model.classes_) == [0, 1, 2, 3, 4]
    assert model.get_params() == clone(model).get_params()  # fit changed no param


def test_same_seed_same_model_and_pickle_round_trip(data) -> None:
    first = FlareClassifier(**SMALL).fit(data.features, data.labels,
                                         peak_wm2=data.peak_wm2)
    second = FlareClassifier(**SMALL).fit(data.features, data.labels,
                                          peak_wm2=data.peak_wm2)
    proba = first.predict_proba(data.features)
    np.testing.assert_array_equal(proba, second.predict_proba(data.features))
    copy = pickle.loads(pickle.dumps(first))
    np.testing.assert_array_equal(proba, copy.predict_proba(data.features))


def test_class_probabilities_are_a_distribution_real(data) -> None:
    model = FlareClassifier(**SMALL).fit(data.features, data.labels,
                                         peak_wm2=data.peak_wm2)
    proba = model.predict_proba(data.features)
    assert proba.shape == (len(data), 5)
    assert (proba >= -1e-12).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # The next minutes' peak is at least the next minute: a flux above M1 now is
    # mostly forecast to stay at >= M (a peak decaying fast is the exception).
    at_m = data.xrsb_wm2 >= 1.2e-5
    assert np.median(p_ge_m(proba[at_m])) > 0.9


def test_probabilities_calibrated_in_sample_real(data) -> None:
    """Unweighted log-loss keeps the mean forecast at the observed frequency
    (balanced class weights pushed P(>=M) of every rise towards 1)."""
    model = FlareClassifier(**{**SMALL, "max_iter": 30}).fit(
        data.features, data.labels, peak_wm2=data.peak_wm2)
    p = p_ge_m(model.predict_proba(data.features))
    observed = (data.labels >= 3).mean()
    assert 0.05 < observed < 0.5
    assert p.mean() == pytest.approx(observed, abs=0.03)


def test_no_forecast_without_current_flux(data) -> None:
    model = FlareClassifier(**SMALL).fit(data.features, data.labels,
                                         peak_wm2=data.peak_wm2)
    row = data.features[:1].copy()
    row[0, FEATURE_NAMES.index("log_b")] = np.nan
    assert np.isnan(model.predict_proba(row)).all()
    assert model.predict(row)[0] == 0


def test_labels_alone_stand_in_for_the_peak(data) -> None:
    model = FlareClassifier(**SMALL).fit(data.features, data.labels)
    assert model.predict_proba(data.features).shape == (len(data), 5)
    with pytest.raises(ValueError, match="class indices"):
        FlareClassifier(**SMALL).fit(data.features, data.labels + 7)


def test_rejects_bad_inputs(data) -> None:
    with pytest.raises(ValueError, match="quiet_fraction"):
        FlareClassifier(quiet_fraction=0).fit(data.features, data.labels)
    with pytest.raises(ValueError, match="columns"):
        FlareClassifier(**SMALL).fit(data.features[:, :5], data.labels)
    with pytest.raises(ValueError, match="peak_wm2"):
        FlareClassifier(**SMALL).fit(data.features, data.labels,
                                     peak_wm2=data.peak_wm2[:-1])


def test_steady_rows_thinned_and_weighted_up(data) -> None:
    """With a quarter of the steady rows kept at 4x weight, the calibrated
    probabilities stay close to a fit on every row."""
    every = FlareClassifier(**{**SMALL, "quiet_fraction": 1.0}).fit(
        data.features, data.labels, peak_wm2=data.peak_wm2)
    thinned = FlareClassifier(**{**SMALL, "quiet_fraction": 0.25}).fit(
        data.features, data.labels, peak_wm2=data.peak_wm2)
    base_every = p_ge_m(every.predict_proba(data.features)).mean()
    base_thinned = p_ge_m(thinned.predict_proba(data.features)).mean()
    assert base_thinned == pytest.approx(base_every, rel=0.2)
