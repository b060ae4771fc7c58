"""Peak-class probabilities from the distribution of a flare's growth.

The forecast asks for the class of the largest XRS-B flux in the next ``H``
minutes. Asked directly, a classifier learns it from the few dozen M flares of
an archive and mostly repeats the current class. Asked as **growth** -- how many
decades the flux will still climb, ``g = log10(peak) - log10(flux now)`` -- every
flare of every size teaches it: a B flare's rise into the C range looks much
like a C flare's rise into the M range. A classifier over growth bins
(:data:`GROWTH_EDGES_LOG10`) gives the distribution of ``g``; the class of the
peak is then read off by placing the class boundaries relative to the current
flux: ``P(peak >= M1) = P(g >= log10(M1) - log10(flux now))``.

:class:`GrowthForecast` is the fitted model as the stream app serves it: a
growth-bin classifier plus the bin edges, giving class probabilities A..X.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from flarecore.classes import A_FLOOR_WM2, CLASS_LETTERS

GROWTH_EDGES_LOG10: tuple[float, ...] = (-0.1, 0.0, 0.1, 0.2, 0.35, 0.5, 0.75,
                                         1.0, 1.5)
"""Bin edges of the growth in decades: bin 0 is ``g < -0.1``, bin ``k`` is
``[edge[k-1], edge[k])``, the last ``g >= 1.5``. Narrow where warnings are
decided (a C5 flux needs 0.3 decades to reach M1), wide beyond."""

SURVIVAL_SPAN_LOG10 = (0.5, 1.0)
"""The growth distribution's survival function is 1 this far below the first
edge and 0 this far above the last one (linear in between from edge to edge):
no flux falls half a decade below its own future maximum within the horizon,
and growth of 2.5 decades (C1 to X2.5) within it is beyond anything observed."""

CLASS_EDGES_LOG10 = tuple(np.log10(A_FLOOR_WM2) + np.arange(1, len(CLASS_LETTERS)))
"""log10 of the lower flux of classes B, C, M, X."""


def growth_bins(growth_log10: np.ndarray,
                edges_log10: tuple[float, ...] = GROWTH_EDGES_LOG10) -> np.ndarray:
    """The bin index of each growth (0 .. ``len(edges)``)."""
    return np.searchsorted(np.asarray(edges_log10), growth_log10, side="right")


def survival(bin_proba: np.ndarray, growth_log10: np.ndarray,
             edges_log10: tuple[float, ...] = GROWTH_EDGES_LOG10) -> np.ndarray:
    """``P(g >= growth)`` per row, from the probabilities of the growth bins.

    The survival function is known at the edges (the mass of the bins above) and
    taken linear between them; ``growth`` has one value per row.
    """
    n = bin_proba.shape[0]
    low, high = SURVIVAL_SPAN_LOG10
    knots = np.concatenate([[edges_log10[0] - low], edges_log10,
                            [edges_log10[-1] + high]])
    above = np.cumsum(bin_proba[:, ::-1], axis=1)[:, ::-1]  # P(bin >= j)
    values = np.concatenate([np.ones((n, 1)), above[:, 1:], np.zeros((n, 1))],
                            axis=1)
    at = np.clip(growth_log10, knots[0], knots[-1])
    k = np.clip(np.searchsorted(knots, at, side="right") - 1, 0, len(knots) - 2)
    share = (at - knots[k]) / (knots[k + 1] - knots[k])
    rows = np.arange(n)
    return np.asarray(values[rows, k] * (1 - share) + values[rows, k + 1] * share)


class GrowthForecast:
    """A fitted growth-bin classifier served as a peak-class classifier.

    Parameters
    ----------
    bins_estimator
        A fitted classifier over the feature rows whose classes are growth bins
        (:func:`growth_bins`).
    edges_log10
        The bin edges it was trained with.
    log_b_column
        Column of the features holding log10 of the current XRS-B flux.
    """

    def __init__(self, bins_estimator: Any, edges_log10: tuple[float, ...],
                 log_b_column: int) -> None:
        self.bins_estimator = bins_estimator
        self.edges_log10 = tuple(float(e) for e in edges_log10)
        self.log_b_column = log_b_column
        self.classes_ = np.arange(len(CLASS_LETTERS))
        self.n_features_in_ = int(bins_estimator.n_features_in_)

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Probabilities of the peak classes A..X, shape ``(n, 5)``."""
        return self.class_proba(self.bins_estimator.predict_proba(features), features)

    def bin_proba(self, raw: np.ndarray) -> np.ndarray:
        """Probabilities over every bin from the estimator's (bins it saw)."""
        proba = np.zeros((raw.shape[0], len(self.edges_log10) + 1))
        proba[:, np.asarray(self.bins_estimator.classes_, dtype=np.int64)] = raw
        return proba

    def class_proba(self, raw: np.ndarray, features: np.ndarray) -> np.ndarray:
        """Peak-class probabilities from the bins estimator's ``predict_proba``.

        A row without a current XRS-B flux has no growth reference: its
        probabilities are NaN.
        """
        bins = self.bin_proba(raw)
        log_b = features[:, self.log_b_column]
        at_least = [np.ones(len(log_b))]
        at_least += [survival(bins, np.nan_to_num(edge - log_b, nan=0.0),
                              self.edges_log10) for edge in CLASS_EDGES_LOG10]
        at_least.append(np.zeros(len(log_b)))
        cumulative = np.column_stack(at_least)
        proba = cumulative[:, :-1] - cumulative[:, 1:]
        proba[np.isnan(log_b)] = np.nan
        return proba
