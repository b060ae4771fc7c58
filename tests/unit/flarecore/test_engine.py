"""The per-satellite engine and the cross-satellite deduplicator on the real day."""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from flarecore.alerts import Alert, AlertKind
from flarecore.engine import (
    AlertDeduplicator,
    EngineOutput,
    MinuteState,
    SatelliteEngine,
    grid_from_records,
)
from flarecore.features import compute
from flarecore.forecast import Forecaster
from flarecore.records import Quality, XrsRecord
from tests.unit.stream_app.realday import (
    fit_day_model,
    flare_day_records,
    goes15_day_records,
)

FIXED = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def forecaster(tmp_path_factory: pytest.TempPathFactory) -> Forecaster:
    return fit_day_model(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="module")
def day() -> list[XrsRecord]:
    return flare_day_records()


def _engine(forecaster: Forecaster | None, satellite: int = 13) -> SatelliteEngine:
    return SatelliteEngine(satellite, forecaster, clock=lambda: FIXED)


def _run(engine: SatelliteEngine, records: list[XrsRecord],
         batch: int) -> EngineOutput:
    total = EngineOutput()
    features = []
    for i in range(0, len(records), batch):
        out = engine.process(records[i:i + batch])
        total.minutes += out.minutes
        total.alerts += out.alerts
        total.ignored += out.ignored
        if out.features is not None:
            features.append(out.features)
    total.features = np.concatenate(features) if features else None
    return total


def _summary(alerts: list[Alert]) -> list[tuple[str, str | None, str, str]]:
    return [(a.kind.value, a.level, a.data_time_utc.strftime("%H:%M"), a.flare_id)
            for a in alerts]


def _assert_same_minutes(got: list[MinuteState], want: list[MinuteState]) -> None:
    """Equal minutes; probabilities to rounding (BLAS sums depend on batch shape)."""
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert replace(a, proba=None, p_ge_m=None, p_ge_x=None) == replace(
            b, proba=None, p_ge_m=None, p_ge_x=None)
        assert (a.proba is None) == (b.proba is None)
        if a.proba is not None:
            np.testing.assert_allclose(a.proba, b.proba, atol=1e-9)


def test_engine_alerts_every_m_flare_once_real_day(
        forecaster: Forecaster, day: list[XrsRecord]) -> None:
    out = _run(_engine(forecaster), day, 60)
    ids = [a.alert_id for a in out.alerts]
    assert len(ids) == len(set(ids))

    # Every upward crossing of 1e-5 in the data falls inside a flare that got
    # exactly one threshold alert, at or before that crossing.
    flux = np.array([r.xrsb_flux_wm2 or np.nan for r in day])
    crossings = np.where((flux[1:] >= 1e-5) & ~(flux[:-1] >= 1e-5))[0] + 1
    thresholds = [a for a in out.alerts if a.kind is AlertKind.THRESHOLD]
    per_flare = Counter(a.flare_id for a in thresholds)
    assert set(per_flare.values()) == {1}
    for index in crossings:
        crossing = day[index].time_utc
        assert any(a.flare_start_utc <= crossing and a.data_time_utc <= crossing
                   for a in thresholds), crossing

    ends = {a.flare_id for a in out.alerts if a.kind is AlertKind.END}
    peaks = {a.flare_id for a in out.alerts if a.kind is AlertKind.PEAK}
    assert ends == peaks == set(per_flare)
    escalated = {(a.flare_id, a.level) for a in out.alerts
                 if a.kind is AlertKind.ESCALATION}
    # The three flares above M5 on GOES-13's science scale (peaks 6.3e-5,
    # 5.7e-5, 8.2e-5).
    assert {level for _, level in escalated} == {"M5"}
    assert {f[4:20] for f, _ in escalated} == {"2014-01-28T07:24", "2014-01-28T15:25",
                                               "2014-01-28T19:00"}


def test_engine_early_warnings_precede_the_crossing_real_day(
        forecaster: Forecaster, day: list[XrsRecord]) -> None:
    out = _run(_engine(forecaster), day, 60)
    warnings = [a for a in out.alerts if a.kind is AlertKind.EARLY_WARNING]
    assert warnings
    for warning in warnings:
        assert warning.observed_flux_wm2 < 1e-5
        assert warning.forecast is not None
        assert warning.forecast.p_ge_m >= forecaster.info.thresholds.p_ge_m
        assert warning.flare_id.startswith("g13-warnM-")


def test_engine_batch_size_does_not_change_results_real_day(
        forecaster: Forecaster, day: list[XrsRecord]) -> None:
    whole = _run(_engine(forecaster), day, len(day))
    for batch in (1, 7, 500):
        other = _run(_engine(forecaster), day, batch)
        assert _summary(other.alerts) == _summary(whole.alerts)
        _assert_same_minutes(other.minutes, whole.minutes)


def test_engine_features_equal_batch_features_real_day(
        day: list[XrsRecord]) -> None:
    # The trainer computes over the whole day at once; the engine sees it in
    # batches of 37 minutes with only its lookback kept in between.
    batch = compute(grid_from_records(day))
    stream = _run(_engine(None), day, 37).features
    assert stream is not None
    np.testing.assert_array_equal(stream, batch)


def test_engine_state_round_trip_resumes_exactly_real_day(
        forecaster: Forecaster, day: list[XrsRecord]) -> None:
    whole = _run(_engine(forecaster), day, 50)
    first = _engine(forecaster)
    head = _run(first, day[:1170], 50)  # stops inside the 19:00 flare
    state = json.loads(json.dumps(first.to_state()))
    second = SatelliteEngine.from_state(state, forecaster, clock=lambda: FIXED)
    tail = _run(second, day[1170:], 50)
    assert _summary(head.alerts + tail.alerts) == _summary(whole.alerts)
    _assert_same_minutes(head.minutes + tail.minutes, whole.minutes)


def test_engine_shuffled_duplicated_and_replayed_records_real_day(
        forecaster: Forecaster, day: list[XrsRecord]) -> None:
    whole = _run(_engine(forecaster), day, 60)
    engine = _engine(forecaster)
    rng = random.Random(4)
    alerts = []
    for i in range(0, len(day), 60):
        batch = day[i:i + 60] + day[i:i + 3]  # duplicates
        rng.shuffle(batch)
        alerts += engine.process(batch).alerts
        # A re-delivered earlier batch (a consumer restart) changes nothing.
        replay = engine.process(day[max(0, i - 30):i + 60])
        assert replay.alerts == [] and replay.minutes == []
    assert _summary(alerts) == _summary(whole.alerts)


def test_engine_flagged_and_missing_minutes_real_day(
        forecaster: Forecaster, day: list[XrsRecord]) -> None:
    # Flag 10 minutes inside the 07:24 flare's rise and drop 5 more.
    flagged = [r.model_copy(update={"xrsb_quality": Quality.BAD})
               if 445 <= i < 450 else r for i, r in enumerate(day)]
    holed = [r for i, r in enumerate(flagged) if not 440 <= i < 445]
    out = _run(_engine(forecaster), holed, 60)
    assert len(out.minutes) == len(day) - 5
    bad = [m for m in out.minutes if m.time_utc.hour == 7 and 25 <= m.time_utc.minute
           < 30]
    assert all(m.flare_class is None and m.proba is None for m in bad)
    thresholds = {a.flare_id for a in out.alerts if a.kind is AlertKind.THRESHOLD}
    assert any(f.startswith("g13-2014-01-28T07:") for f in thresholds)


def test_engine_other_satellite_is_rejected_real_day(
        forecaster: Forecaster, day: list[XrsRecord]) -> None:
    out = _engine(forecaster, satellite=15).process(day[:10])
    assert out.rejected == 10 and out.minutes == []


def test_engine_one_model_call_per_batch_real_day(
        forecaster: Forecaster, day: list[XrsRecord]) -> None:
    calls = []

    class Counting(Forecaster):
        def predict_proba(self, features: np.ndarray) -> np.ndarray:
            calls.append(len(features))
            return super().predict_proba(features)

    counting = Counting(forecaster.estimator, forecaster.info)
    engine = _engine(counting)
    engine.process(day[:300])
    engine.process(day[300:310])
    assert calls == [300, 10]


def test_engine_current_class_and_r_level_real_day(
        forecaster: Forecaster, day: list[XrsRecord]) -> None:
    out = _run(_engine(forecaster), day, 1440)
    by_time = {m.time_utc.strftime("%H:%M"): m for m in out.minutes}
    peak = by_time["19:40"]
    assert peak.xrsb_flux_wm2 == pytest.approx(8.24e-5, rel=1e-2)
    assert peak.flare_class == "M8.2" and peak.r_level == 2
    assert peak.active_flare_id == "g13-2014-01-28T19:00Z"
    assert sum(peak.proba or ()) == pytest.approx(1.0)


def test_dedup_two_satellites_alert_once_real_day(
        forecaster: Forecaster, day: list[XrsRecord]) -> None:
    g13 = _run(_engine(forecaster, 13), day, 60).alerts
    g15 = _run(_engine(forecaster, 15), goes15_day_records(), 60).alerts
    dedup = AlertDeduplicator()
    merged = sorted(g13 + g15, key=lambda a: (a.data_time_utc, a.satellites))
    published = [p for a in merged if (p := dedup.admit(a)) is not None]

    ids = [p.alert_id for p in published]
    assert len(ids) == len(set(ids))
    # The 19:00 flare: both satellites track it, one threshold alert results.
    big = [p for p in published if p.kind is AlertKind.THRESHOLD
           and p.flare_start_utc and p.flare_start_utc.hour == 19]
    assert len(big) == 1
    assert len(published) < len(g13) + len(g15)
    assert any(p.satellites == [13, 15] for p in published)

    # Replaying every candidate (a restart) publishes nothing new.
    restored = AlertDeduplicator.from_state(json.loads(json.dumps(dedup.to_state())))
    assert [a for a in merged if restored.admit(a) is not None] == []


def test_dedup_same_satellite_flares_stay_apart_real_day(
        forecaster: Forecaster, day: list[XrsRecord]) -> None:
    # 12:18 and 12:38 are two flares of GOES-13, 20 minutes apart: two events.
    alerts = _run(_engine(forecaster), day, 60).alerts
    dedup = AlertDeduplicator()
    published = [p for a in alerts if (p := dedup.admit(a)) is not None]
    assert [p.alert_id for p in published] != []
    assert {p.flare_id for p in published} == {a.flare_id for a in alerts}


def test_engine_x_warning_once_per_episode_real_day(
        tmp_path: Path, day: list[XrsRecord]) -> None:
    # A threshold of 0 keeps the X episode open all day: one X warning.
    always = fit_day_model(tmp_path, p_ge_x=0.0)
    out = _run(_engine(always), day, 100)
    warnings = [a for a in out.alerts
                if a.kind is AlertKind.EARLY_WARNING and a.level == "X"]
    assert [a.data_time_utc.strftime("%H:%M") for a in warnings] == ["00:00"]
    assert warnings[0].flare_id == "g13-warnX-2014-01-28T00:00Z"


def test_engine_warning_floor_keeps_warnings_above_it_real_day(
        tmp_path: Path, day: list[XrsRecord]) -> None:
    # P(>=M) >= 0 everywhere: without a floor one episode opens at midnight; with
    # a C5 floor the episodes open only at minutes at or above C5 and below M1.
    always = fit_day_model(tmp_path / "always", p_ge_m=0.0)
    floored = fit_day_model(tmp_path / "floored", p_ge_m=0.0, floor_m_wm2=5e-6)
    first = _run(_engine(always), day, 100)
    second = _run(_engine(floored), day, 100)

    def warnings(out: EngineOutput) -> list[Alert]:
        return [a for a in out.alerts
                if a.kind is AlertKind.EARLY_WARNING and a.level == "M"]

    assert [a.data_time_utc.strftime("%H:%M") for a in warnings(first)] == ["00:00"]
    assert warnings(second)
    for warning in warnings(second):
        assert 5e-6 <= warning.observed_flux_wm2 < 1e-5


def test_engine_escalates_through_x_levels_synthetic() -> None:
    # A made-up flare: quiet C1, a steep rise to X2.5, a decay. It ends at
    # 1.2e-4, below halfway from 1e-6 to the peak.
    base = flare_day_records()[0]
    fluxes = [1e-6] * 10 + [2e-6, 8e-6, 3e-5, 9e-5, 2.5e-4, 2e-4, 1.2e-4, 9e-5,
                            6e-5, 4e-5, 2e-5]
    records = [base.model_copy(update={
        "time_utc": base.time_utc + timedelta(minutes=i), "xrsb_flux_wm2": f})
        for i, f in enumerate(fluxes)]
    out = _run(_engine(None), records, 5)
    summary = [(a.kind.value, a.level, a.data_time_utc.strftime("%H:%M"))
               for a in out.alerts]
    assert summary == [("threshold", "M1", "00:12"), ("escalation", "M5", "00:13"),
                       ("escalation", "X1", "00:14"), ("peak", None, "00:15"),
                       ("end", None, "00:16")]
    x1 = out.alerts[2]
    assert x1.r_level == 3 and x1.observed_class == "X2.5" and x1.forecast is None
    assert x1.flare_start_utc == base.time_utc + timedelta(minutes=9)
