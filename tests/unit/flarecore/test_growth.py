"""Class probabilities from growth-bin probabilities (made-up distributions)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier

from flarecore.growth import (
    GROWTH_EDGES_LOG10,
    GrowthForecast,
    growth_bins,
    survival,
)

N_BINS = len(GROWTH_EDGES_LOG10) + 1


def test_growth_bins_edges() -> None:
    growth = np.array([-0.5, -0.1, -0.01, 0.0, 0.34, 0.35, 1.49, 1.5, 9.0])
    assert growth_bins(growth).tolist() == [0, 1, 1, 2, 4, 5, 8, 9, 9]


def test_survival_at_edges_is_the_mass_above_made_up() -> None:
    proba = np.full((1, N_BINS), 1 / N_BINS)
    for k, edge in enumerate(GROWTH_EDGES_LOG10):
        above = (N_BINS - k - 1) / N_BINS
        assert survival(proba, np.array([edge]))[0] == pytest.approx(above)
    assert survival(proba, np.array([-5.0]))[0] == 1.0
    assert survival(proba, np.array([5.0]))[0] == 0.0


def test_survival_is_monotone_made_up() -> None:
    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(N_BINS), size=20)
    grid = np.linspace(-1, 3, 200)
    values = np.array([survival(proba, np.full(20, g)) for g in grid])
    assert (np.diff(values, axis=0) <= 1e-12).all()


def _forecast(bin_proba: np.ndarray) -> GrowthForecast:
    """A made-up fitted model that always gives ``bin_proba``."""
    rows = np.zeros((N_BINS * 10, 1))
    labels = np.repeat(np.arange(N_BINS), 10)
    dummy = DummyClassifier(strategy="prior").fit(rows, labels)
    dummy.class_prior_ = bin_proba
    return GrowthForecast(dummy, GROWTH_EDGES_LOG10, log_b_column=0)


def test_class_proba_places_class_edges_relative_to_flux_made_up() -> None:
    # All mass in [0.2, 0.35): growth between 1.6x and 2.2x, spread evenly.
    mass = np.zeros(N_BINS)
    mass[growth_bins(np.array([0.25]))[0]] = 1.0
    model = _forecast(mass)
    flux = np.log10(np.array([[1e-7], [7e-6], [3e-6], [5e-5], [5.6e-6]]))
    proba = model.predict_proba(flux)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert proba[0].argmax() == 1           # B1 x 2: B
    assert proba[1, 3] == pytest.approx(1.0)  # C7 x 1.6 or more: M
    assert proba[2, 3] == 0.0                 # C3 x 2.2 at most: still C
    assert proba[3, 3] + proba[3, 4] == pytest.approx(1.0)  # M5: M or X
    # C5.6 needs 0.25 decades: half of the bin's mass lies above that.
    assert proba[4, 3] == pytest.approx((0.35 - np.log10(1e-5 / 5.6e-6)) / 0.15)


def test_class_proba_nan_without_flux() -> None:
    model = _forecast(np.full(N_BINS, 1 / N_BINS))
    assert np.isnan(model.predict_proba(np.array([[np.nan]]))).all()
