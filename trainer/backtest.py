"""Backtest: archive files through the stream app's own per-record logic.

The files are read with :mod:`flarecore.readers`, turned into records, and fed
day by day to one :class:`flarecore.engine.SatelliteEngine` per satellite, in
process and with no broker: the alerts are exactly the candidates the stream app
would publish. Event metrics use those early-warning alerts (per satellite, see
:mod:`trainer.metrics`); minute-level skill uses the same model on the same
features. Both baselines are scored on the same minutes. Writes
``report.json``, one PNG per flare day and ``summary.md``.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flarecore.alerts import Alert, AlertKind
from flarecore.classes import M1_WM2, X1_WM2
from flarecore.engine import MinuteState, SatelliteEngine
from flarecore.forecast import Forecaster, load_bundle, resolve_bundle
from flarecore.readers.reading import records_of
from flarecore.records import XrsRecord
from trainer.archive import read_files, segments
from trainer.baselines import RiseRateRule, persistence
from trainer.dataset import concatenate, label_segment
from trainer.metrics import crossings, dense_series, event_metrics, skill
from trainer.plots import plot_day

logger = logging.getLogger(__name__)

REPORT_EVENT_KEYS = ("events", "warned_early", "lead_minutes_median",
                     "lead_minutes_p25", "lead_minutes_p75", "false_warnings",
                     "false_warning_ratio")


def run_backtest(paths: list[Path], model: str, out_dir: Path,
                 horizon_minutes: int | None = None,
                 tracking_uri: str | None = None) -> dict[str, Any]:
    """Replay ``paths`` through the engine with ``model``; write, return the report."""
    forecaster = load_bundle(resolve_bundle(model, tracking_uri))
    horizon = horizon_minutes or forecaster.info.horizon_minutes
    table, files = read_files(paths)
    states, alerts = replay(table, forecaster)
    events = _events(table)
    report = {
        "model": {"ref": model, "version": forecaster.version,
                  "thresholds": forecaster.info.thresholds.model_dump()},
        "files": [f.model_dump() for f in files],
        "horizon_minutes": horizon,
        **_model_metrics(events, alerts, table, forecaster, horizon),
        "baselines": _baselines(events, table, forecaster, horizon),
        "alerts": _alert_counts(alerts),
        "generated_utc": datetime.now(UTC).isoformat(),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    report["plots"] = _plots(table, states, alerts, events, out_dir)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out_dir / "summary.md").write_text(summary_markdown(report))
    logger.info("backtest written dir=%s m1=%s x1=%s", out_dir,
                report["m1"], report["x1"])
    return report


def replay(table: pd.DataFrame, forecaster: Forecaster
           ) -> tuple[list[MinuteState], list[Alert]]:
    """Per-minute states and alert candidates of every satellite in ``table``."""
    states: list[MinuteState] = []
    alerts: list[Alert] = []
    for satellite, rows in table.groupby("satellite", sort=True):
        # A fixed clock: a backtest's alerts must not depend on when it ran.
        engine = SatelliteEngine(int(satellite), forecaster,
                                 clock=lambda: datetime(2000, 1, 1, tzinfo=UTC))
        for batch in _daily_batches(rows):
            out = engine.process(batch)
            states += out.minutes
            alerts += out.alerts
        logger.info("replayed satellite=%s minutes=%d alerts=%d", satellite,
                    len(rows), len(alerts))
    return states, alerts


def _daily_batches(rows: pd.DataFrame) -> Iterator[list[XrsRecord]]:
    day = rows["time_utc"].dt.floor("D")
    for _, part in rows.groupby(day, sort=True):
        yield [r for r in records_of(part) if isinstance(r, XrsRecord)]


def _events(table: pd.DataFrame) -> dict[str, dict[int, np.ndarray]]:
    """Crossing minutes per level and satellite, from the usable XRS-B flux."""
    result: dict[str, dict[int, np.ndarray]] = {"m1": {}, "x1": {}}
    for segment in segments(table):
        series = dense_series(segment.satellite, segment.grid.minutes,
                              segment.grid.xrsb_wm2)
        for key, level in (("m1", M1_WM2), ("x1", X1_WM2)):
            found = crossings(series, level)
            previous = result[key].get(segment.satellite, np.empty(0, np.int64))
            result[key][segment.satellite] = np.concatenate([previous, found])
    return result


def _warning_minutes(alerts: list[Alert], level: str) -> dict[int, np.ndarray]:
    found: dict[int, list[int]] = defaultdict(list)
    for alert in alerts:
        if alert.kind is AlertKind.EARLY_WARNING and alert.level == level:
            minute = int(alert.data_time_utc.timestamp()) // 60
            found[alert.satellites[0]].append(minute)
    return {s: np.array(sorted(m), dtype=np.int64) for s, m in found.items()}


def _model_metrics(events: dict[str, dict[int, np.ndarray]], alerts: list[Alert],
                   table: pd.DataFrame, forecaster: Forecaster, horizon: int
                   ) -> dict[str, Any]:
    dataset = _dataset(table, horizon)
    proba = forecaster.predict_proba(dataset.features) if len(dataset) else np.zeros(
        (0, 5))
    warn = forecaster.info.thresholds.hot_m(forecaster.p_ge_m(proba), dataset.xrsb_wm2)
    scores = skill(dataset.labels >= 3, warn)
    return {
        "m1": _event_part(event_metrics(events["m1"], _warning_minutes(alerts, "M"),
                                        horizon)),
        "x1": _event_part(event_metrics(events["x1"], _warning_minutes(alerts, "X"),
                                        horizon)),
        "tss_m": scores.tss, "hss_m": scores.hss, "minutes": len(dataset),
    }


def _baselines(events: dict[str, dict[int, np.ndarray]], table: pd.DataFrame,
               forecaster: Forecaster, horizon: int) -> dict[str, Any]:
    """Persistence and the rise-rate rule on the same minutes, alerting as the
    engine does (one alert per episode, only while below the level)."""
    from trainer.metrics import warning_alerts

    dataset = _dataset(table, horizon)
    rule = RiseRateRule(**forecaster.info.training.get("rise_rate_rule", {}))
    _, persist_m, persist_x = persistence(dataset)
    result = {}
    for name, (warn_m, warn_x) in {"persistence": (persist_m, persist_x),
                                   "rise_rate": rule.warn(dataset)}.items():
        parts: dict[str, Any] = {}
        for key, level, warn in (("m1", M1_WM2, warn_m), ("x1", X1_WM2, warn_x)):
            alerts = {}
            for satellite in np.unique(dataset.satellites):
                rows = dataset.satellites == satellite
                alerts[int(satellite)] = warning_alerts(
                    dataset.minutes[rows], warn[rows], dataset.xrsb_wm2[rows], level)
            parts[key] = _event_part(event_metrics(events[key], alerts, horizon))
        scores = skill(dataset.labels >= 3, warn_m)
        result[name] = {**parts, "tss_m": scores.tss, "hss_m": scores.hss}
    result["rise_rate"]["rule"] = rule.model_dump()
    return result


def _dataset(table: pd.DataFrame, horizon: int) -> Any:
    return concatenate([label_segment(s, horizon) for s in segments(table)], horizon)


def _event_part(metrics: Any) -> dict[str, Any]:
    data = metrics.model_dump()
    return {key: data[key] for key in REPORT_EVENT_KEYS} | {
        "true_warnings": data["true_warnings"]}


def _alert_counts(alerts: list[Alert]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for alert in alerts:
        counts[f"{alert.kind.value}:{alert.level or '-'}"] += 1
    return dict(sorted(counts.items()))


def _plots(table: pd.DataFrame, states: list[MinuteState], alerts: list[Alert],
           events: dict[str, dict[int, np.ndarray]], out_dir: Path) -> list[str]:
    """One PNG per UTC day with an M crossing or any minute at or above M1."""
    high = table.loc[table["xrsb_flux_wm2"] >= M1_WM2, "time_utc"].dt.floor("D")
    crossing_days = {pd.Timestamp(int(m) * 60, unit="s", tz="UTC").floor("D")
                     for per in events["m1"].values() for m in per}
    names = []
    for day in sorted(set(high) | crossing_days):
        name = f"flare-day-{day:%Y-%m-%d}.png"
        plot_day(day.to_pydatetime(), table, states, alerts, out_dir / name)
        names.append(name)
    return names


def summary_markdown(report: dict[str, Any]) -> str:
    """A short human summary: model vs baselines, event and minute metrics."""
    lines = [
        f"# Backtest of model {report['model']['version']}", "",
        f"Files: {len(report['files'])}; labelled minutes: {report['minutes']}; "
        f"horizon {report['horizon_minutes']} min; thresholds "
        f"P(>=M) {report['model']['thresholds']['p_ge_m']:.4g} from XRS-B "
        f"{report['model']['thresholds'].get('floor_m_wm2', 0):.1e} W/m2, "
        f"P(>=X) {report['model']['thresholds']['p_ge_x']:.4g} from "
        f"{report['model']['thresholds'].get('floor_x_wm2', 0):.1e} W/m2.", "",
        "| forecast | M events | warned early | lead median (p25-p75) min | "
        "false warnings | false-warning ratio | X events | X warned early | "
        "X false | TSS(>=M) | HSS(>=M) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = [("model (engine alerts)", report)] + list(report["baselines"].items())
    for name, part in rows:
        m, x = part["m1"], part["x1"]
        lines.append(
            f"| {name} | {m['events']} | {m['warned_early']} | "
            f"{_num(m['lead_minutes_median'])} ({_num(m['lead_minutes_p25'])}-"
            f"{_num(m['lead_minutes_p75'])}) | {m['false_warnings']} | "
            f"{_num(m['false_warning_ratio'])} | {x['events']} | {x['warned_early']} | "
            f"{x['false_warnings']} | {_num(part['tss_m'])} | {_num(part['hss_m'])} |")
    lines += ["", f"Plots: {', '.join(report['plots']) or 'none (no flare day)'}.",
              "", "Metric definitions: docs/trainer.md.", ""]
    return "\n".join(lines)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"
