"""``/predict``'s body validation and forecasts, without a server."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from flarecore.forecast import Forecaster
from stream_app.predict import PredictRequest, predict
from tests.unit.stream_app.realday import fit_day_model, flare_day_records


@pytest.fixture(scope="module")
def forecaster(tmp_path_factory: pytest.TempPathFactory) -> Forecaster:
    return fit_day_model(tmp_path_factory.mktemp("model"))


def _body(first: int, last: int) -> dict[str, object]:
    records = flare_day_records()[first:last + 1]
    return {"histories": [{"satellite": 13, "minutes": [
        {"time_utc": r.time_utc.isoformat(), "xrsa_flux_wm2": r.xrsa_flux_wm2,
         "xrsb_flux_wm2": r.xrsb_flux_wm2} for r in records]}]}


def test_predict_equals_engine_features_real_day(forecaster: Forecaster) -> None:
    from flarecore.engine import SatelliteEngine

    request = PredictRequest.model_validate(_body(1021, 1140))
    (result,) = predict(forecaster, request)
    # The stream engine at the same minute with the same 120-minute history.
    out = SatelliteEngine(13, forecaster).process(flare_day_records()[1021:1141])
    assert result["time_utc"] == "2014-01-28T19:00:00+00:00"
    assert result["proba"] == pytest.approx(
        dict(zip("ABCMX", out.minutes[-1].proba or ())), abs=1e-9)
    assert result["observed_class"] == out.minutes[-1].flare_class
    assert result["model_version"] == "test-day-1"


def test_predict_many_histories_any_order_real_day(forecaster: Forecaster) -> None:
    first, second = _body(1000, 1140), _body(300, 400)
    minutes = first["histories"][0]["minutes"]  # type: ignore[index]
    minutes.reverse()
    request = PredictRequest.model_validate(
        {"histories": first["histories"] + second["histories"]})  # type: ignore[operator]
    results = predict(forecaster, request)
    assert [r["time_utc"] for r in results] == ["2014-01-28T19:00:00+00:00",
                                                "2014-01-28T06:40:00+00:00"]


@pytest.mark.parametrize("body", [
    {"histories": []},
    {"histories": [{"minutes": []}]},
    {"histories": [{"minutes": [{"time_utc": "2014-01-28T19:00:00",
                                 "xrsb_flux_wm2": 1e-6}]}]},
    {"histories": [{"minutes": [{"time_utc": "2014-01-28T19:00:30Z",
                                 "xrsb_flux_wm2": 1e-6}]}]},
    {"histories": [{"minutes": [{"time_utc": "2014-01-28T19:00:00Z",
                                 "xrsb_flux_wm2": 0.0}]}]},
    {"histories": [{"minutes": [{"time_utc": "2014-01-28T19:00:00Z",
                                 "xrsb_flux_wm2": 1e-6, "extra": 1}]}]},
], ids=["no-history", "no-minutes", "naive-time", "not-whole-minute",
        "zero-flux", "unknown-field"])
def test_predict_request_rejects_bad_bodies_synthetic(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        PredictRequest.model_validate(body)


def test_predict_request_size_limits_synthetic() -> None:
    minute = {"time_utc": "2014-01-28T19:00:00Z", "xrsb_flux_wm2": 1e-6}
    request = PredictRequest.model_validate(
        {"histories": [{"minutes": [minute] * 5}] * 3})
    assert request.too_large(max_histories=3, max_minutes=5) is None
    assert "3 histories" in (request.too_large(2, 5) or "")
    assert "histories[0] has 5 minutes" in (request.too_large(3, 4) or "")


def test_model_bundle_fixture_round_trips(tmp_path: Path) -> None:
    loaded = fit_day_model(tmp_path, version="v-x")
    assert loaded.version == "v-x" and loaded.info.horizon_minutes == 60
