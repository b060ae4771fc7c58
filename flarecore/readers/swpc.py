"""SWPC ``xrays-*.json`` (plain or gzip): two objects per minute, one per channel.

Shared by the file reader and the live poller so both accept and reject alike.
Every object that cannot be used is quarantined with a reason; its minute is still
kept when the other channel is usable, with the rejected channel ``None`` and
quality ``bad`` (a channel absent from the reply is ``missing``). SWPC floors
corrected flux below 1e-9 W/m2 to 0.0: such a channel is quarantined as
``zero_flux`` and kept as ``bad``, in files and live alike.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from flarecore.quarantine import QuarantinedInput
from flarecore.readers.frame import (
    Columns,
    Reading,
    empty_frame,
    finish,
    sort_unique,
)
from flarecore.records import MAX_PLAUSIBLE_FLUX_WM2, Quality, Source

CHANNELS = {"0.05-0.4nm": "xrsa", "0.1-0.8nm": "xrsb"}
FUTURE_TOLERANCE = timedelta(minutes=2)
"""Clock skew allowed between SWPC and us before a time counts as future."""

_REQUIRED = ("time_tag", "satellite", "flux", "energy")


@dataclass
class _Channel:
    flux_wm2: float | None
    quality: str


class SwpcReject(Exception):
    """One object's reason for rejection."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def parse_swpc(raw: bytes, source: str, stage: str,
               now: datetime | None = None) -> Reading:
    """Parse one SWPC reply or file into a frame plus quarantined objects."""
    now = now or datetime.now(UTC)
    try:
        objects = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _whole_reply(raw, source, stage, "invalid_json",
                            f"not valid JSON ({exc}); expected an array of objects")
    if not isinstance(objects, list):
        return _whole_reply(raw, source, stage, "not_an_array",
                            f"top level is {type(objects).__name__}, expected array")
    return _minutes(objects, source, stage, now)


def _whole_reply(raw: bytes, source: str, stage: str, reason: str,
                 detail: str) -> Reading:
    entry = QuarantinedInput.of(raw, source=source, reason=reason, detail=detail,
                                stage=stage)
    return Reading(empty_frame(), [entry])


def _minutes(objects: list[Any], source: str, stage: str, now: datetime) -> Reading:
    quarantined: list[QuarantinedInput] = []
    minutes: dict[tuple[int, datetime], dict[str, _Channel]] = {}
    raw_by_minute: dict[tuple[int, datetime], list[Any]] = {}
    for index, obj in enumerate(objects):
        where = f"{source}#{index}"
        try:
            satellite, time_utc, channel, value = _accept(obj, now)
        except SwpcReject as reject:
            quarantined.append(_entry(obj, where, stage, reject))
            _mark_bad(obj, minutes, raw_by_minute, now)
            continue
        slot = minutes.setdefault((satellite, time_utc), {})
        raw_by_minute.setdefault((satellite, time_utc), []).append(obj)
        if channel in slot and slot[channel].flux_wm2 is not None:
            if slot[channel] != value:
                quarantined.append(_entry(obj, where, stage, SwpcReject(
                    "duplicate_channel",
                    f"second {channel} object for this minute differs; kept the first",
                )))
            continue
        slot[channel] = value
    quarantined += _incomplete(minutes, raw_by_minute, source, stage)
    return Reading(_frame(source, minutes).frame, quarantined)


def _accept(obj: Any, now: datetime) -> tuple[int, datetime, str, _Channel]:
    """Validate one channel object; raise :class:`SwpcReject` with the reason."""
    if not isinstance(obj, dict):
        raise SwpcReject("not_an_object", f"array item is {type(obj).__name__}")
    absent = [key for key in _REQUIRED if key not in obj or obj[key] is None]
    if absent:
        raise SwpcReject("missing_field", f"missing fields {absent}")
    satellite, channel, time_utc = _identity(obj, now)
    flux = _flux(obj["flux"])
    contaminated = obj.get("electron_contaminaton", obj.get("electron_contamination"))
    if contaminated is not None and not isinstance(contaminated, bool):
        raise SwpcReject("wrong_type", "electron_contaminaton is not a boolean")
    quality = Quality.ELECTRON_CONTAMINATION if contaminated else Quality.GOOD
    return satellite, time_utc, channel, _Channel(flux, quality.value)


def _identity(obj: dict[str, Any], now: datetime) -> tuple[int, str, datetime]:
    satellite = obj["satellite"]
    if isinstance(satellite, bool) or not isinstance(satellite, int):
        raise SwpcReject("wrong_type", f"satellite {satellite!r} is not an integer")
    if not 1 <= satellite <= 99:
        raise SwpcReject("bad_satellite", f"satellite {satellite} is not a GOES number")
    channel = CHANNELS.get(obj["energy"]) if isinstance(obj["energy"], str) else None
    if channel is None:
        raise SwpcReject("unknown_energy",
                         f"energy {obj['energy']!r}, expected one of {list(CHANNELS)}")
    return satellite, channel, _time(obj["time_tag"], now)


def _time(value: Any, now: datetime) -> datetime:
    if not isinstance(value, str):
        raise SwpcReject("wrong_type", f"time_tag {value!r} is not a string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise SwpcReject("bad_time", f"time_tag {value!r} is not ISO 8601") from exc
    if parsed.tzinfo is None:
        raise SwpcReject("bad_time", f"time_tag {value!r} has no time zone")
    parsed = parsed.astimezone(UTC)
    if parsed.second or parsed.microsecond:
        raise SwpcReject("bad_time", f"time_tag {value!r} is not a whole minute")
    if parsed > now + FUTURE_TOLERANCE:
        raise SwpcReject("future_time", f"time_tag {value!r} is after {now:%FT%TZ}")
    return parsed


def _flux(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SwpcReject("wrong_type", f"flux {value!r} is not a number")
    flux = float(value)
    if math.isnan(flux) or math.isinf(flux):
        raise SwpcReject("nan_flux", f"flux {value!r} is not finite")
    if flux < 0.0:
        raise SwpcReject("negative_flux", f"flux {value!r} is negative")
    if flux == 0.0:
        raise SwpcReject("zero_flux",
                         "flux 0.0 is SWPC's floor for corrected flux below 1e-9")
    if flux > MAX_PLAUSIBLE_FLUX_WM2:
        raise SwpcReject("absurd_flux", f"flux {value!r} W/m2 is beyond any flare")
    return flux


def _mark_bad(obj: Any, minutes: dict[tuple[int, datetime], dict[str, _Channel]],
              raw_by_minute: dict[tuple[int, datetime], list[Any]],
              now: datetime) -> None:
    """Keep a rejected channel's minute as ``bad`` when the minute itself is known."""
    try:
        satellite, channel, time_utc = _identity(obj, now)
    except (SwpcReject, KeyError, TypeError):
        return
    slot = minutes.setdefault((satellite, time_utc), {})
    raw_by_minute.setdefault((satellite, time_utc), []).append(obj)
    slot.setdefault(channel, _Channel(None, Quality.BAD.value))


def _incomplete(minutes: dict[tuple[int, datetime], dict[str, _Channel]],
                raw_by_minute: dict[tuple[int, datetime], list[Any]],
                source: str, stage: str) -> list[QuarantinedInput]:
    entries = []
    for key, slot in minutes.items():
        absent = [c for c in CHANNELS.values() if c not in slot]
        if absent:
            entries.append(QuarantinedInput.of(
                json.dumps(raw_by_minute[key]), source=source, stage=stage,
                reason="missing_channel",
                detail=f"satellite {key[0]} minute {key[1]:%FT%TZ} lacks {absent}; "
                       "kept the minute with that channel missing",
            ))
    return entries


def _frame(source: str, minutes: dict[tuple[int, datetime], dict[str, _Channel]]
           ) -> Reading:
    if not minutes:
        return Reading(empty_frame())
    keys = list(minutes)
    satellites = {satellite for satellite, _ in keys}
    missing = _Channel(None, Quality.MISSING.value)
    cells = {c: [minutes[k].get(c, missing) for k in keys] for c in CHANNELS.values()}
    time_ns = np.array([int(t.timestamp()) * 1_000_000_000 for _, t in keys],
                       dtype=np.int64)
    readings = []
    for satellite in sorted(satellites):
        mine = np.array([s == satellite for s, _ in keys])
        readings.append(finish(source, Columns(
            satellite, time_ns[mine], _fluxes(cells["xrsa"], mine),
            _fluxes(cells["xrsb"], mine), _qualities(cells["xrsa"], mine),
            _qualities(cells["xrsb"], mine), Source.SWPC_JSON, False,
            {"time_ns": time_ns[mine]},
        )))
    if len(readings) == 1:
        return readings[0]
    frame, _ = sort_unique(pd.concat([r.frame for r in readings], ignore_index=True))
    return Reading(frame)


def _fluxes(cells: list[_Channel], mine: np.ndarray) -> np.ndarray:
    values = [c.flux_wm2 if c.flux_wm2 is not None else np.nan for c in cells]
    flux: np.ndarray = np.asarray(values, dtype=np.float64)[mine]
    return flux


def _qualities(cells: list[_Channel], mine: np.ndarray) -> np.ndarray:
    quality: np.ndarray = np.asarray([c.quality for c in cells], dtype=object)[mine]
    return quality


def _entry(obj: Any, where: str, stage: str, reject: SwpcReject) -> QuarantinedInput:
    return QuarantinedInput.of(json.dumps(obj, default=str), source=where,
                               reason=reject.reason, detail=reject.detail, stage=stage)
