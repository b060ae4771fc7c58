"""The shipped default model loads, and retraining reproduces recorded metrics."""

from __future__ import annotations

import json

import numpy as np
import pytest

from flarecore.features import FEATURE_NAMES
from flarecore.forecast import load_bundle
from trainer.sets import DEFAULT_DATA_ROOT
from trainer.settings import DEFAULT_MODEL_DIR, REPO_ROOT
from trainer.training import REPRODUCTION_FILE, train


def test_default_model_loads_and_forecasts(real_days) -> None:
    from trainer.dataset import build

    forecaster = load_bundle(DEFAULT_MODEL_DIR)
    assert forecaster.info.feature_names == list(FEATURE_NAMES)
    assert (DEFAULT_MODEL_DIR / "estimator.joblib").stat().st_size < 5_000_000
    data = build(real_days[:1])
    proba = forecaster.predict_proba(data.features)
    assert np.allclose(proba.sum(axis=1), 1)
    record = forecaster.info.training["dataset"]
    assert record["files"] and all(f["sha256"] for f in record["files"])
    assert "cross_validated" in forecaster.info.metrics


def test_retraining_reproduces_recorded_metrics(tmp_path) -> None:
    recorded = json.loads((DEFAULT_MODEL_DIR / REPRODUCTION_FILE).read_text())
    paths = [REPO_ROOT / p for p in recorded["files"]]
    result = train(paths, tmp_path, params=recorded["params"],
                   random_state=recorded["random_state"])
    again = json.loads(json.dumps(result.info.metrics["cross_validated"]))
    assert_same_numbers(again, recorded["cross_validated"])
    assert result.info.thresholds.model_dump() == recorded["thresholds"]


@pytest.mark.slow
@pytest.mark.timeout(1800)  # about 3 minutes alone; far more on a loaded machine
@pytest.mark.skipif(not DEFAULT_DATA_ROOT.is_dir(),
                    reason=f"{DEFAULT_DATA_ROOT} (the shared real archive) is absent")
def test_full_retraining_reproduces_default_model_metrics(tmp_path) -> None:
    # Minutes of CPU: the whole training set, as the shipped model was made.
    from trainer.sets import resolve

    info = load_bundle(DEFAULT_MODEL_DIR).info
    result = train(resolve("training"), tmp_path, info.horizon_minutes,
                   params=_model_params(info.training["params"]),
                   random_state=info.training["cv"]["random_state"])
    recorded = info.training["dataset"]
    again = result.info.training["dataset"]
    assert [f["sha256"] for f in again["files"]] == [
        f["sha256"] for f in recorded["files"]]
    assert again["labelled_minutes"] == recorded["labelled_minutes"]
    assert result.info.thresholds == info.thresholds
    assert_same_numbers(json.loads(json.dumps(result.info.metrics)), info.metrics)


def assert_same_numbers(actual: object, expected: object, path: str = "") -> None:
    """Equal structure and counts; floats equal to 1e-9 (a parallel sum's order
    may differ between machines with other core counts)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and actual.keys() == expected.keys(), path
        for key in expected:
            assert_same_numbers(actual[key], expected[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), path
        for index, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_same_numbers(a, e, f"{path}[{index}]")
    elif isinstance(expected, float):
        assert actual == pytest.approx(expected, rel=1e-9, abs=1e-12), path
    else:
        assert actual == expected, path


def _model_params(params: dict[str, object]) -> dict[str, object]:
    """Hyperparameters as recorded, minus the thresholds and floors that training
    tunes and the seed, which ``train`` takes on its own."""
    return {k: v for k, v in params.items()
            if not k.startswith(("threshold_", "floor_")) and k != "random_state"}
