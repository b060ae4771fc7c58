"""Skill scores, crossings, early-warning alerts and event metrics."""

from __future__ import annotations

import numpy as np

from trainer.metrics import (Series, brier_skill, crossings, event_metrics, skill,
                             warning_alerts)


def test_skill_scores_known_table() -> None:
    observed = np.array([1] * 10 + [0] * 90, bool)
    forecast = np.array([1] * 8 + [0] * 2 + [1] * 9 + [0] * 81, bool)
    scores = skill(observed, forecast)
    assert (scores.hits, scores.misses, scores.false_alarms) == (8, 2, 9)
    assert scores.pod == 0.8
    assert abs(scores.far - 9 / 17) < 1e-12
    assert abs(scores.tss - (0.8 - 0.1)) < 1e-12
    expected_hss = 2 * (8 * 81 - 9 * 2) / ((8 + 2) * (2 + 81) + (8 + 9) * (9 + 81))
    assert abs(scores.hss - expected_hss) < 1e-12


def test_brier_skill_against_climatology() -> None:
    observed = np.array([1, 0, 0, 0])
    assert brier_skill(observed, observed.astype(float)) == 1.0
    assert abs(brier_skill(observed, np.full(4, 0.25))) < 1e-12


def test_crossings_need_thirty_minutes_below_synthetic() -> None:
    flux = np.full(200, 1e-6)
    flux[50:60] = 2e-5    # first crossing at 50
    flux[70:75] = 2e-5    # only 10 minutes below since: same event
    flux[120:125] = 2e-5  # 45 minutes below: new event at 120
    series = Series(15, np.arange(200), flux)
    assert crossings(series, 1e-5).tolist() == [50, 120]


def test_crossings_ignore_return_after_data_gap_synthetic() -> None:
    flux = np.full(200, 1e-6)
    flux[100:130] = np.nan      # a gap is not "below"
    flux[130:135] = 2e-5
    series = Series(15, np.arange(200), flux)
    assert crossings(series, 1e-5).tolist() == []


def test_event_metrics_leads_and_false_warnings_synthetic() -> None:
    events = {15: np.array([100, 300, 500])}
    # 100: warned 12 min before; 300: warning after the crossing only;
    # 500: warned 40 min before (outside H=30): not early; 700: false.
    warnings = {15: np.array([88, 301, 460, 700])}
    result = event_metrics(events, warnings, horizon_minutes=30)
    assert result.events == 3 and result.warned_early == 1
    assert result.lead_minutes_median == 0.0
    assert result.lead_minutes_p75 == 6.0
    # 88 -> 100 true; 301, 460 (next crossing 500 > 490), 700 false.
    assert (result.true_warnings, result.false_warnings) == (1, 3)
    assert result.false_warning_ratio == 0.75


def test_event_metrics_other_satellite_does_not_count_synthetic() -> None:
    result = event_metrics({15: np.array([100])}, {13: np.array([95])}, 30)
    assert result.warned_early == 0 and result.false_warnings == 1


def test_warning_alerts_one_per_episode_and_only_below_level_synthetic() -> None:
    minutes = np.arange(100)
    flux = np.full(100, 1e-6)
    flux[20:30] = 2e-5
    hot = np.zeros(100, bool)
    hot[10:12] = True       # opens an episode: alert at 10
    hot[20:25] = True       # same episode (fewer than 30 cold minutes)
    hot[70:72] = True       # 45 cold minutes later: a new episode, alert at 70
    alerts = warning_alerts(minutes, hot, flux, 1e-5, quiet_minutes=30)
    assert alerts.tolist() == [10, 70]


def test_warning_alerts_episode_opened_above_level_alerts_when_below_synthetic(
) -> None:
    minutes = np.arange(60)
    flux = np.full(60, 2e-5)
    flux[40:] = 1e-6
    hot = np.zeros(60, bool)
    hot[30:45] = True
    assert warning_alerts(minutes, hot, flux, 1e-5).tolist() == [40]
