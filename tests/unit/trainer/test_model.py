"""The classifier follows scikit-learn's estimator conventions (common checks)."""

from __future__ import annotations

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from trainer.model import FlareClassifier


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
@parametrize_with_checks([FlareClassifier(max_iter=10, min_samples_leaf=1,
                                          quiet_fraction=1.0, l2_regularization=0.0)])
def test_sklearn_common_checks(estimator, check) -> None:
    # The defaults' 1000-row leaves cannot fit the checks' tiny toy sets.
    check(estimator)
