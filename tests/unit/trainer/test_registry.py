"""Gate logic, and the MLflow round trip (embedded SQLite) with checksum failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from flarecore.forecast import ESTIMATOR_FILE, ModelError, load_bundle, resolve_bundle
from trainer.registry import Registry, check_gates, flat_metrics
from trainer.settings import GateSettings, TrainerSettings
from trainer.training import train

SMALL = {"max_iter": 5, "min_samples_leaf": 20, "quiet_fraction": 0.5}


def test_gates_floor_and_champion() -> None:
    gates = GateSettings(tss_m_floor=0.2)
    assert check_gates(0.5, None, gates) == []
    assert check_gates(0.5, 0.5, gates) == []
    assert "below the floor" in check_gates(0.1, None, gates)[0]
    assert "worse than the champion" in check_gates(0.4, 0.45, gates)[0]
    assert check_gates(0.44, 0.45, GateSettings(tss_m_floor=0.2, tolerance=0.02)) == []
    assert check_gates(0.3, 0.9, GateSettings(not_worse_than_champion=False)) == []
    assert check_gates(None, None, gates)


def test_flat_metrics_keeps_numbers_only() -> None:
    report = {"model": {"ge_m": {"tss": 0.4, "far": None}, "ok": True}, "n": 3}
    assert flat_metrics(report) == {"model.ge_m.tss": 0.4, "n": 3.0}


@pytest.fixture(scope="module")
def trained(real_days, tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle")
    return train(real_days, out, params=SMALL)


def _settings(tmp_path: Path, floor: float) -> TrainerSettings:
    return TrainerSettings(
        tracking_uri=f"sqlite:///{tmp_path}/mlflow.db",
        artifact_root=tmp_path / "artifacts", announce=False,
        gates=GateSettings(tss_m_floor=floor))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_registry_round_trip_and_checksum_failure(trained, tmp_path) -> None:
    registry = Registry(_settings(tmp_path, floor=-1.0))
    version = registry.log(trained)
    decision = registry.promote(version, trained)
    assert decision.promoted and decision.champion_version is None

    uri = "models:/flare-forecaster@champion"
    directory = resolve_bundle(uri, registry.tracking_uri)
    loaded = load_bundle(directory)
    assert loaded.info.estimator_sha256 == trained.info.estimator_sha256

    # A second version is compared with the champion on the same rows.
    second = registry.log(trained)
    again = registry.promote(second, trained)
    assert again.champion_version == version
    assert again.promoted == (again.candidate_tss_m >= again.champion_tss_m)

    run_id = registry.client.get_model_version("flare-forecaster", version).run_id
    stored = next(p for p in (tmp_path / "artifacts").rglob(ESTIMATOR_FILE)
                  if run_id in str(p))
    stored.write_bytes(stored.read_bytes()[:-10] + b"corrupted!")
    fresh = resolve_bundle(f"models:/flare-forecaster/{version}", registry.tracking_uri)
    with pytest.raises(ModelError, match="checksum"):
        load_bundle(fresh)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_promotion_refused_below_floor(trained, tmp_path) -> None:
    registry = Registry(_settings(tmp_path, floor=1.0))
    version = registry.log(trained)
    decision = registry.promote(version, trained)
    assert not decision.promoted and "below the floor" in decision.reasons[0]
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException):
        registry.client.get_model_version_by_alias("flare-forecaster", "champion")
