"""The two reference forecasts every model is compared with, in the same run.

Persistence says the peak of the next ``H`` minutes is the current class. The
rise-rate rule warns when the flux is already high and climbing fast
(``flux >= level`` and ``log10`` growth over 3 minutes >= ``rise``), the way a duty
forecaster reads a light curve; its ``rise`` is tuned on training data only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from pydantic import BaseModel, ConfigDict

from flarecore.classes import C1_WM2, M5_WM2
from flarecore.features import FEATURE_NAMES
from trainer.dataset import Dataset, class_indices
from trainer.metrics import EventMetrics
from trainer.model import best_tradeoff

_RISE_COLUMN = FEATURE_NAMES.index("dlog_b_3")
RISE_CANDIDATES = tuple(np.round(np.arange(0.02, 0.42, 0.02), 2).tolist())


def persistence(dataset: Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Predicted class, >= M and >= X forecasts of persistence (missing = A)."""
    current = class_indices(np.nan_to_num(dataset.xrsb_wm2, nan=0.0))
    return current, current >= 3, current >= 4


class RiseRateRule(BaseModel):
    """Warn of >= M at flux >= C5 rising fast, of >= X at flux >= M5 rising fast."""

    model_config = ConfigDict(frozen=True)

    level_m_wm2: float = 5 * C1_WM2
    rise_m_log10: float = 0.1
    level_x_wm2: float = M5_WM2
    rise_x_log10: float = 0.1

    def warn(self, dataset: Dataset) -> tuple[np.ndarray, np.ndarray]:
        """Boolean >= M and >= X warnings of each row."""
        flux = np.nan_to_num(dataset.xrsb_wm2, nan=0.0)
        rise = np.nan_to_num(dataset.features[:, _RISE_COLUMN], nan=-np.inf)
        warn_m = (flux >= self.level_m_wm2) & (rise >= self.rise_m_log10)
        warn_x = (flux >= self.level_x_wm2) & (rise >= self.rise_x_log10)
        return warn_m, warn_x

    def predicted_class(self, dataset: Dataset) -> np.ndarray:
        """Persistence, raised to M (X) where the rule warns of >= M (>= X)."""
        current, _, _ = persistence(dataset)
        warn_m, warn_x = self.warn(dataset)
        return np.maximum(current, np.where(warn_x, 4, np.where(warn_m, 3, 0)))

    def tuned(self, dataset: Dataset,
              evaluate_m: Callable[[np.ndarray], EventMetrics],
              evaluate_x: Callable[[np.ndarray], EventMetrics]) -> RiseRateRule:
        """A copy with the rise thresholds tuned on ``dataset`` (training data)."""
        rise_m = _tune(lambda r: self.model_copy(update={"rise_m_log10": r})
                       .warn(dataset)[0], evaluate_m, self.rise_m_log10)
        rise_x = _tune(lambda r: self.model_copy(update={"rise_x_log10": r})
                       .warn(dataset)[1], evaluate_x, self.rise_x_log10)
        return self.model_copy(update={"rise_m_log10": rise_m, "rise_x_log10": rise_x})


def _tune(warn_for: Callable[[float], np.ndarray],
          evaluate: Callable[[np.ndarray], EventMetrics], default: float) -> float:
    """The model thresholds' objective (:func:`trainer.model.best_tradeoff`); the
    higher value wins ties, so ``rise`` is negated while comparing."""
    scored = []
    for rise in RISE_CANDIDATES:
        metrics = evaluate(warn_for(rise))
        if metrics.events == 0:
            return default
        ratio = metrics.false_warning_ratio
        scored.append((-rise, metrics.warned_early_fraction or 0.0,
                       0.0 if ratio is None else ratio))
    return -best_tradeoff(scored)
