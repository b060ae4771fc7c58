from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from flarecore.features import FEATURE_NAMES
from flarecore.forecast import BundleInfo, ModelError, Thresholds, load_bundle
from flarecore.forecast import save_bundle


def _info() -> BundleInfo:
    return BundleInfo(version="test-1", created_utc=datetime.now(UTC),
                      horizon_minutes=30, feature_names=list(FEATURE_NAMES),
                      thresholds=Thresholds(p_ge_m=0.3, p_ge_x=0.2),
                      estimator_sha256="")


def _fitted_on_synthetic_data() -> HistGradientBoostingClassifier:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, len(FEATURE_NAMES)))
    labels = np.where(features[:, 0] > 0, 3, 1)  # classes B and M only
    return HistGradientBoostingClassifier(max_iter=5).fit(features, labels)


def test_bundle_round_trip_maps_missing_classes_to_zero(tmp_path: Path) -> None:
    save_bundle(tmp_path, _fitted_on_synthetic_data(), _info())
    model = load_bundle(tmp_path)

    proba = model.predict_proba(np.zeros((3, len(FEATURE_NAMES))))
    assert proba.shape == (3, 5)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (proba[:, [0, 2, 4]] == 0).all()
    np.testing.assert_allclose(model.p_ge_m(proba), proba[:, 3])


def test_bundle_with_corrupted_estimator_is_refused(tmp_path: Path) -> None:
    save_bundle(tmp_path, _fitted_on_synthetic_data(), _info())
    with open(tmp_path / "estimator.joblib", "ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(ModelError, match="checksum"):
        load_bundle(tmp_path)


def test_bundle_for_other_features_is_refused(tmp_path: Path) -> None:
    info = _info().model_copy(update={"feature_names": ["something_else"]})
    save_bundle(tmp_path, _fitted_on_synthetic_data(), info)
    with pytest.raises(ModelError, match="other features"):
        load_bundle(tmp_path)
