"""The per-satellite processing of the stream app, free of Kafka and faust.

One :class:`SatelliteEngine` per satellite turns batches of minute records into
the current class, forecasts, tracked flares and alert candidates; an
:class:`AlertDeduplicator` then merges what several satellites saw of one flare.
The stream app keeps both states in faust tables; the trainer's backtest runs them
in process over archive records::

    engine = SatelliteEngine(15, load_bundle(Path("models/default")))
    out = engine.process(records)           # records of satellite 15, any order
    out.minutes[-1].flare_class, out.alerts  # per-minute state, alert candidates
    dedup = AlertDeduplicator()
    published = [a for a in out.alerts if (a := dedup.admit(a)) is not None]

Input policy: a batch may come in any order and hold duplicates; it is sorted and
the last value of a repeated minute wins. Minutes at or before the last minute
already processed are ignored and counted (:attr:`EngineOutput.ignored`): the
engine never goes back in time, which also makes re-delivered records harmless.
Records of another satellite are counted in :attr:`EngineOutput.rejected`.

Alert rules (one alert per flare, or warning episode, per kind and level):

* **early warning** ``M`` (``X``): the forecast P(peak >= M1) (>= X1) reaches the
  model's threshold, with XRS-B at or above the model's warning floor and still
  below M1 (X1) (:class:`flarecore.forecast.Thresholds`). Its
  ``flare_id`` is the warning episode ``g{sat}-warnM-{first minute}``: the episode
  opens at the first minute at or above the threshold and closes after
  :data:`WARNING_QUIET_MINUTES` minutes below it, so one episode warns once;
* **threshold**: the first named level (M1, M5, X1, X10, X20) a tracked flare
  reaches, the highest one reached at that minute;
* **escalation**: each higher named level the flare reaches later;
* **peak** and **end**: for flares that reached M1, when the tracker confirms the
  peak and when the flux has fallen halfway back to the pre-flare level.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from flarecore.alerts import Alert, AlertKind, Forecast, alert_id
from flarecore.classes import (
    ALERT_LEVELS,
    CLASS_LETTERS,
    M1_WM2,
    X1_WM2,
    alert_level,
    flare_class,
    r_level,
)
from flarecore.features import LOOKBACK_MINUTES, MinuteGrid, compute
from flarecore.forecast import M_INDEX, X_INDEX, Forecaster
from flarecore.records import Quality, XrsRecord, minute_to_datetime
from flarecore.tracking import Flare, FlareEvent, FlareEventKind, FlareTracker

USABLE_QUALITIES = frozenset({Quality.GOOD, Quality.ELECTRON_CONTAMINATION})
"""Qualities whose flux counts. Electron contamination is kept: the flux is the
electron-corrected one, and at flare levels the X-rays dwarf any residual."""

WARNING_QUIET_MINUTES = 30
EMITTED_MEMORY = 512
"""How many alert ids an engine remembers to never repeat an alert."""
_LEVEL_ORDER = list(ALERT_LEVELS)
_WARNING_LEVELS = {"M": M1_WM2, "X": X1_WM2}
_Forecast = tuple[tuple[float, ...], float, float]
"""One minute's (P(A..X), P(>= M), P(X))."""


def usable_flux(flux_wm2: float | None, quality: Quality) -> float:
    """The flux when it counts, else NaN (missing, eclipse, bad)."""
    if flux_wm2 is None or quality not in USABLE_QUALITIES:
        return math.nan
    return flux_wm2


def grid_from_records(records: Iterable[XrsRecord]) -> MinuteGrid:
    """The minute grid of one satellite's records, as the engine sees them.

    The trainer builds its features with this too, so stream and batch agree.
    """
    rows = sorted(records, key=lambda r: r.minute)
    return MinuteGrid.from_points(
        np.array([r.minute for r in rows], dtype=np.int64),
        np.array([usable_flux(r.xrsa_flux_wm2, r.xrsa_quality) for r in rows]),
        np.array([usable_flux(r.xrsb_flux_wm2, r.xrsb_quality) for r in rows]),
    )


@dataclass(frozen=True)
class MinuteState:
    """What the engine knows after one minute of one satellite."""

    satellite: int
    minute: int
    xrsa_flux_wm2: float | None
    xrsb_flux_wm2: float | None
    flare_class: str | None
    r_level: int
    proba: tuple[float, ...] | None
    """P(peak class within the horizon) for A..X, None without a forecast."""
    p_ge_m: float | None
    p_ge_x: float | None
    active_flare_id: str | None

    @property
    def time_utc(self) -> datetime:
        return minute_to_datetime(self.minute)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able view, used by the HTTP views."""
        return {
            "satellite": self.satellite,
            "time_utc": self.time_utc.isoformat(),
            "xrsa_flux_wm2": self.xrsa_flux_wm2,
            "xrsb_flux_wm2": self.xrsb_flux_wm2,
            "flare_class": self.flare_class,
            "r_level": self.r_level,
            "proba": dict(zip(CLASS_LETTERS, self.proba)) if self.proba else None,
            "p_ge_m": self.p_ge_m,
            "p_ge_x": self.p_ge_x,
            "active_flare_id": self.active_flare_id,
        }


@dataclass
class EngineOutput:
    """The result of one :meth:`SatelliteEngine.process` call."""

    minutes: list[MinuteState] = field(default_factory=list)
    features: np.ndarray | None = None
    """Feature rows of :attr:`minutes`, in :data:`flarecore.features.FEATURE_NAMES`
    order (for backtests and the stream/batch equality test)."""
    alerts: list[Alert] = field(default_factory=list)
    flare_events: list[FlareEvent] = field(default_factory=list)
    ignored: int = 0
    rejected: int = 0


def _clean(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


class SatelliteEngine:
    """Features, forecast, flare tracking and alert candidates of one satellite.

    Parameters
    ----------
    satellite
        The GOES number whose records this engine takes.
    forecaster
        The model; None runs without forecasts (and without early warnings).
    clock
        Gives ``issued_utc`` of alerts; fix it for reproducible backtests.
    """

    def __init__(self, satellite: int, forecaster: Forecaster | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.satellite = satellite
        self.forecaster = forecaster
        self.clock = clock or (lambda: datetime.now(UTC))
        self.last_minute: int | None = None
        self.xrsa_wm2 = np.full(LOOKBACK_MINUTES, np.nan)
        self.xrsb_wm2 = np.full(LOOKBACK_MINUTES, np.nan)
        self.tracker = FlareTracker(satellite)
        self.flare_level: dict[str, str] = {}
        """Highest level alerted per open flare id."""
        self.warnings: dict[str, dict[str, Any]] = {}
        """Open warning episode per level M/X: ``{"id": ..., "quiet": n}``."""
        self.emitted: list[str] = []

    # -- batch processing -------------------------------------------------------

    def process(self, records: Sequence[XrsRecord]) -> EngineOutput:
        """Process a batch of this satellite's records (any order)."""
        out = EngineOutput()
        accepted = self._accept(records, out)
        if not accepted:
            return out
        # Per-record work is the cost of a replay (tens of thousands of minutes
        # a second): everything that can be is done once per batch, in numpy.
        minutes = sorted(accepted)
        rows = [accepted[m] for m in minutes]
        flux_a = np.array([usable_flux(r.xrsa_flux_wm2, r.xrsa_quality) for r in rows])
        flux_b = np.array([usable_flux(r.xrsb_flux_wm2, r.xrsb_quality) for r in rows])
        features = self._features(np.array(minutes, dtype=np.int64), flux_a, flux_b)
        out.features = features
        forecasts = self._forecasts(features)
        for minute, a, b, forecast in zip(minutes, _cleaned(flux_a), _cleaned(flux_b),
                                          forecasts):
            self._step(minute, a, b, forecast, out)
        return out

    def _accept(self, records: Sequence[XrsRecord],
                out: EngineOutput) -> dict[int, XrsRecord]:
        """Records of this satellite after the last minute, the last one per minute."""
        by_minute: dict[int, XrsRecord] = {}
        last = self.last_minute
        for record in records:
            minute = record.minute
            if record.satellite != self.satellite:
                out.rejected += 1
            elif last is not None and minute <= last:
                out.ignored += 1
            else:
                if minute in by_minute:
                    out.ignored += 1
                by_minute[minute] = record
        return by_minute

    def _features(self, minutes: np.ndarray, flux_a: np.ndarray,
                  flux_b: np.ndarray) -> np.ndarray:
        """Feature rows of the sorted accepted minutes, one gap-free segment at once."""
        rows: list[np.ndarray] = []
        for lo, hi in _segments(minutes):
            grid = self._grid(minutes[lo:hi], flux_a[lo:hi], flux_b[lo:hi])
            rows.append(compute(grid)[minutes[lo:hi] - grid.start_minute])
            self._keep_history(grid)
        return np.concatenate(rows)

    def _grid(self, minutes: np.ndarray, flux_a: np.ndarray,
              flux_b: np.ndarray) -> MinuteGrid:
        """History plus segment on one grid that starts a lookback before it."""
        start = int(minutes[0]) - (LOOKBACK_MINUTES - 1)
        size = int(minutes[-1]) - start + 1
        xrsa, xrsb = np.full(size, np.nan), np.full(size, np.nan)
        if self.last_minute is not None:
            hist_start = self.last_minute - LOOKBACK_MINUTES + 1
            lo = max(start, hist_start)
            if lo <= self.last_minute:
                xrsa[lo - start:self.last_minute - start + 1] = (
                    self.xrsa_wm2[lo - hist_start:])
                xrsb[lo - start:self.last_minute - start + 1] = (
                    self.xrsb_wm2[lo - hist_start:])
        xrsa[minutes - start] = flux_a
        xrsb[minutes - start] = flux_b
        return MinuteGrid(start, xrsa, xrsb)

    def _keep_history(self, grid: MinuteGrid) -> None:
        self.xrsa_wm2 = grid.xrsa_wm2[-LOOKBACK_MINUTES:].copy()
        self.xrsb_wm2 = grid.xrsb_wm2[-LOOKBACK_MINUTES:].copy()
        self.last_minute = grid.start_minute + len(grid) - 1

    def _forecasts(self, features: np.ndarray) -> list[_Forecast | None]:
        """One ``predict_proba`` call for the batch; None for minutes without XRS-B."""
        if self.forecaster is None:
            return [None] * len(features)
        usable = ~np.isnan(features[:, 0])  # log_b: the minute has XRS-B
        if not usable.any():
            return [None] * len(features)
        proba = self.forecaster.predict_proba(features[usable])
        rows = iter(zip(map(tuple, proba.tolist()),
                        proba[:, M_INDEX:].sum(axis=1).tolist(),
                        proba[:, X_INDEX].tolist()))
        return [next(rows) if ok else None for ok in usable.tolist()]

    # -- one minute -------------------------------------------------------------

    def _step(self, minute: int, flux_a: float | None, flux_b: float | None,
              forecast: _Forecast | None, out: EngineOutput) -> None:
        """Track, alert and describe one accepted minute."""
        proba, p_ge_m, p_ge_x = forecast or (None, None, None)
        state = MinuteState(
            satellite=self.satellite, minute=minute,
            xrsa_flux_wm2=flux_a, xrsb_flux_wm2=flux_b,
            flare_class=flare_class(flux_b) if flux_b is not None else None,
            r_level=r_level(flux_b) if flux_b is not None else 0,
            proba=proba, p_ge_m=p_ge_m, p_ge_x=p_ge_x, active_flare_id=None,
        )
        events = self.tracker.update(minute, flux_b)
        if events:
            out.flare_events += events
        if flux_b is not None:
            if self.tracker.active is not None:
                self._level_alerts(state, out)
            for event in events:
                self._event_alert(event, state, out)
            self._warning_alerts(state, out)
        active = self.tracker.active
        out.minutes.append(_with_flare(state, active.flare_id if active else None))

    def _level_alerts(self, state: MinuteState, out: EngineOutput) -> None:
        """Threshold or escalation when the open flare reaches a new level."""
        flare = self.tracker.active
        if flare is None or state.xrsb_flux_wm2 is None:
            return
        reached = alert_level(state.xrsb_flux_wm2)
        if reached is None:
            return
        before = self.flare_level.get(flare.flare_id)
        if before is not None and _LEVEL_ORDER.index(reached) <= (
            _LEVEL_ORDER.index(before)
        ):
            return
        self.flare_level[flare.flare_id] = reached
        kind = AlertKind.THRESHOLD if before is None else AlertKind.ESCALATION
        self._emit(kind, reached, flare.flare_id, flare, state, out)

    def _event_alert(self, event: FlareEvent, state: MinuteState,
                     out: EngineOutput) -> None:
        """Peak and end alerts of flares that reached a named level."""
        flare = event.flare
        if flare.flare_id not in self.flare_level:
            return
        if event.kind is FlareEventKind.PEAK:
            self._emit(AlertKind.PEAK, None, flare.flare_id, flare, state, out)
        elif event.kind is FlareEventKind.END:
            self._emit(AlertKind.END, None, flare.flare_id, flare, state, out)
            del self.flare_level[flare.flare_id]

    def _warning_alerts(self, state: MinuteState, out: EngineOutput) -> None:
        """Early warnings of >= M and >= X, once per warning episode."""
        if self.forecaster is None or state.p_ge_m is None:
            return
        thresholds = self.forecaster.info.thresholds
        flux = state.xrsb_flux_wm2
        assert flux is not None
        hot = {"M": thresholds.hot_m(state.p_ge_m, flux),
               "X": thresholds.hot_x(state.p_ge_x or 0.0, flux)}
        if not self.warnings and not hot["M"] and not hot["X"]:
            return  # the usual quiet minute: no episode to open, count or close
        for level in ("M", "X"):
            episode = self.warnings.get(level)
            if not hot[level]:
                if episode is not None:
                    episode["quiet"] += 1
                    if episode["quiet"] >= WARNING_QUIET_MINUTES:
                        del self.warnings[level]
                continue
            if episode is None:
                stamp = state.time_utc.strftime("%Y-%m-%dT%H:%MZ")
                episode = {"id": f"g{self.satellite}-warn{level}-{stamp}"}
                self.warnings[level] = episode
            episode["quiet"] = 0
            if flux < _WARNING_LEVELS[level]:
                self._emit(AlertKind.EARLY_WARNING, level, episode["id"],
                           self.tracker.active, state, out)

    def _emit(self, kind: AlertKind, level: str | None, flare_id: str,
              flare: Flare | None, state: MinuteState, out: EngineOutput) -> None:
        """Build the alert unless this flare already had it."""
        identifier = alert_id(flare_id, kind, level)
        if identifier in self.emitted:
            return
        self.emitted.append(identifier)
        del self.emitted[:-EMITTED_MEMORY]
        out.alerts.append(self._alert(identifier, kind, level, flare_id, flare,
                                      state))

    def _alert(self, identifier: str, kind: AlertKind, level: str | None,
               flare_id: str, flare: Flare | None, state: MinuteState) -> Alert:
        assert state.xrsb_flux_wm2 is not None
        with_flare = flare is not None and kind is not AlertKind.EARLY_WARNING
        return Alert(
            alert_id=identifier, kind=kind, level=level,
            r_level=state.r_level, flare_id=flare_id, satellites=[self.satellite],
            data_time_utc=state.time_utc, issued_utc=self.clock(),
            observed_flux_wm2=state.xrsb_flux_wm2,
            observed_class=state.flare_class or "",
            flare_start_utc=(minute_to_datetime(flare.start_minute)
                             if with_flare and flare else None),
            peak_flux_wm2=flare.peak_flux_wm2 if with_flare and flare else None,
            peak_time_utc=(minute_to_datetime(flare.peak_minute)
                           if with_flare and flare else None),
            forecast=self._forecast_of(state),
            message=_message(kind, level, flare_id, state),
        )

    def _forecast_of(self, state: MinuteState) -> Forecast | None:
        if self.forecaster is None or state.proba is None:
            return None
        info = self.forecaster.info
        return Forecast(
            p_ge_m=min(1.0, max(0.0, state.p_ge_m or 0.0)),
            p_ge_x=min(1.0, max(0.0, state.p_ge_x or 0.0)),
            expected_class=CLASS_LETTERS[int(np.argmax(state.proba))],
            horizon_minutes=info.horizon_minutes, model_version=info.version,
        )

    # -- state ------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """The engine's state as a small JSON-able dict (no model, no clock)."""
        return {
            "satellite": self.satellite,
            "last_minute": self.last_minute,
            "xrsa_wm2": [_clean(v) for v in self.xrsa_wm2],
            "xrsb_wm2": [_clean(v) for v in self.xrsb_wm2],
            "tracker": self.tracker.to_state(),
            "flare_level": dict(self.flare_level),
            "warnings": {k: dict(v) for k, v in self.warnings.items()},
            "emitted": list(self.emitted),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], forecaster: Forecaster | None = None,
                   clock: Callable[[], datetime] | None = None) -> SatelliteEngine:
        """Inverse of :meth:`to_state`."""
        engine = cls(int(state["satellite"]), forecaster, clock)
        engine.last_minute = state.get("last_minute")
        engine.xrsa_wm2 = _array(state["xrsa_wm2"])
        engine.xrsb_wm2 = _array(state["xrsb_wm2"])
        engine.tracker = FlareTracker.from_state(state["tracker"])
        engine.flare_level = dict(state.get("flare_level", {}))
        engine.warnings = {k: dict(v) for k, v in state.get("warnings", {}).items()}
        engine.emitted = list(state.get("emitted", []))
        return engine


def _array(values: list[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _segments(minutes: np.ndarray) -> list[tuple[int, int]]:
    """Index ranges of sorted minutes, split where a gap exceeds the lookback."""
    cuts = (np.flatnonzero(np.diff(minutes) > LOOKBACK_MINUTES) + 1).tolist()
    bounds = [0, *cuts, len(minutes)]
    return list(itertools.pairwise(bounds))


def _cleaned(flux_wm2: np.ndarray) -> list[float | None]:
    """Python floats, None for NaN (no usable value)."""
    return [None if math.isnan(v) else v for v in flux_wm2.tolist()]


def _with_flare(state: MinuteState, flare_id: str | None) -> MinuteState:
    if flare_id is None:
        return state
    return MinuteState(**{**state.__dict__, "active_flare_id": flare_id})


def _message(kind: AlertKind, level: str | None, flare_id: str,
             state: MinuteState) -> str:
    stamp = state.time_utc.strftime("%Y-%m-%d %H:%M UTC")
    what = {
        AlertKind.EARLY_WARNING: f"early warning: flare >= {level} expected",
        AlertKind.THRESHOLD: f"flare reached {level}",
        AlertKind.ESCALATION: f"flare escalated to {level}",
        AlertKind.PEAK: "flare peaked",
        AlertKind.END: "flare ended (all clear)",
    }[kind]
    return (f"{what}: GOES-{state.satellite} XRS-B {state.xrsb_flux_wm2:.2e} W/m2 "
            f"({state.flare_class}) at {stamp}, {flare_id}")


# -- cross-satellite deduplication ---------------------------------------------

DEDUP_TOLERANCE_MINUTES = 10
DEDUP_MEMORY_MINUTES = 24 * 60


@dataclass
class _Event:
    event_id: str
    family: str
    start: int
    last: int
    members: dict[str, str]
    """satellite (as text, for JSON) -> that satellite's flare or episode id"""


class AlertDeduplicator:
    """Merges alert candidates of several satellites into one alert per event.

    Candidates of different satellites belong to one event when they are of one
    family (flare alerts, M warnings, X warnings) and the candidate's flare (or
    episode) starts between ``DEDUP_TOLERANCE_MINUTES`` before the event's start
    and as long after its last alert. The event keeps the id of the first flare
    seen; each (event, kind, level) is published once, re-identified with
    :func:`flarecore.alerts.alert_id` of the event id and listing every satellite
    that saw it so far.
    """

    def __init__(self) -> None:
        self.events: list[_Event] = []
        self.emitted: dict[str, int] = {}
        """Published alert id -> its data minute, forgotten with the events."""

    def admit(self, alert: Alert) -> Alert | None:
        """The alert to publish for a candidate, or None when already published."""
        event = self._event_of(alert)
        published = alert.model_copy(update={
            "flare_id": event.event_id,
            "alert_id": alert_id(event.event_id, alert.kind, alert.level),
            "satellites": sorted(int(s) for s in event.members),
        })
        if published.alert_id in self.emitted:
            return None
        self.emitted[published.alert_id] = _minute(alert.data_time_utc)
        return published

    def mark_published(self, published: Alert) -> None:
        """Remember an alert already on the alerts topic (recovery after a crash)."""
        self.emitted[published.alert_id] = _minute(published.data_time_utc)

    def _event_of(self, alert: Alert) -> _Event:
        family = _family(alert)
        satellite = str(alert.satellites[0])
        start = _minute(alert.flare_start_utc or alert.data_time_utc)
        now = _minute(alert.data_time_utc)
        event = self._find(family, satellite, alert.flare_id, start)
        if event is None:
            event = _Event(alert.flare_id, family, start, now, {})
            self.events.append(event)
        event.members[satellite] = alert.flare_id
        event.last = max(event.last, now)
        self._forget_before(now - DEDUP_MEMORY_MINUTES)
        return event

    def _find(self, family: str, satellite: str, flare_id: str,
              start: int) -> _Event | None:
        for event in self.events:
            if event.family == family and event.members.get(satellite) == flare_id:
                return event
        for event in self.events:
            if (event.family == family and satellite not in event.members
                    and event.start - DEDUP_TOLERANCE_MINUTES <= start
                    <= event.last + DEDUP_TOLERANCE_MINUTES):
                return event
        return None

    def _forget_before(self, minute: int) -> None:
        self.events = [e for e in self.events if e.last >= minute]
        self.emitted = {k: m for k, m in self.emitted.items() if m >= minute}

    def to_state(self) -> dict[str, Any]:
        """JSON-able state. Emitted ids are kept for the events still remembered."""
        return {
            "events": [e.__dict__ for e in self.events],
            "emitted": dict(self.emitted),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> AlertDeduplicator:
        """Inverse of :meth:`to_state`."""
        dedup = cls()
        dedup.events = [_Event(**e) for e in state.get("events", [])]
        dedup.emitted = dict(state.get("emitted", {}))
        return dedup


def _family(alert: Alert) -> str:
    if alert.kind is AlertKind.EARLY_WARNING:
        return f"warn-{alert.level}"
    return "flare"


def _minute(time_utc: datetime) -> int:
    return int(time_utc.timestamp()) // 60
