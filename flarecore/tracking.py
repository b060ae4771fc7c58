"""Per-satellite flare tracking after NOAA's GOES X-ray event rules.

NOAA's rules, on XRS-B (0.1-0.8 nm) one-minute fluxes:

* **start**: the first of 4 consecutive minutes of steep monotonic rise: each
  minute greater than the one before, and the last at least 1.4 times the first;
* **peak**: the highest flux of the flare;
* **end**: the flux has fallen halfway back from the peak to the pre-flare level
  (the flux at the start minute).

Additions of this system, so that no M crossing goes untracked:

* a flare still rising or decaying when a new steep rise begins after its peak
  ends there, and the new rise starts a new flare (NOAA closes overlapping
  events the same way);
* an upward crossing of M1 with no flare open (a rise too gradual for the
  steepness rule, or a data gap during the rise) opens a flare at the crossing
  minute, with the lowest flux of the last :data:`RECENT_MINUTES` minutes as its
  pre-flare level.

Input policy (explicit, never an exception): minutes must come in increasing
order; a minute at or before the last one seen is ignored and counted
(:attr:`FlareTracker.ignored`). A minute without a usable flux (``None``:
missing or flagged) breaks a rise, so a start needs 4 truly consecutive good
minutes; during a flare such minutes are skipped, and the flare goes on with the
next good one.

The tracker's whole state is a small dict (:meth:`FlareTracker.to_state`), so a
faust table can hold it and a restarted worker resumes exactly.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from flarecore.classes import M1_WM2
from flarecore.records import minute_to_datetime

RISE_MINUTES = 4
RISE_FACTOR = 1.4
PEAK_DROP_FRACTION = 0.85
"""The peak is confirmed once the flux is this fraction of it or lower."""
RECENT_MINUTES = 30
"""How many recent good minutes the tracker keeps for fallback pre-flare levels."""


class FlareEventKind(StrEnum):
    """A change in a flare's life."""

    START = "start"
    PEAK = "peak"
    END = "end"


@dataclass
class Flare:
    """A flare in progress (or just ended) on one satellite. Fluxes in W m^-2."""

    flare_id: str
    satellite: int
    start_minute: int
    start_flux_wm2: float
    peak_minute: int
    peak_flux_wm2: float
    peak_confirmed: bool = False
    end_minute: int | None = None
    how_started: str = "noaa_rise"
    """``noaa_rise`` (the 4-minute rule) or ``m1_crossing`` (the fallback)."""

    @property
    def end_level_wm2(self) -> float:
        """The flux at which the flare ends: halfway from peak to pre-flare."""
        return self.start_flux_wm2 + (self.peak_flux_wm2 - self.start_flux_wm2) / 2


@dataclass(frozen=True)
class FlareEvent:
    """What happened to a flare, reported at the minute it became known."""

    kind: FlareEventKind
    flare: Flare
    minute: int


def flare_id_of(satellite: int, start_minute: int) -> str:
    """Deterministic flare id: ``g15-2014-01-28T19:00Z``."""
    start = minute_to_datetime(start_minute).strftime("%Y-%m-%dT%H:%MZ")
    return f"g{satellite}-{start}"


@dataclass
class FlareTracker:
    """The flare state machine of one satellite."""

    satellite: int
    last_minute: int | None = None
    active: Flare | None = None
    recent: list[tuple[int, float]] = field(default_factory=list)
    """Recent good minutes ``(minute, flux)``, oldest first."""
    ignored: int = 0
    """Minutes ignored as duplicate or out of order."""

    def update(self, minute: int, flux_wm2: float | None) -> list[FlareEvent]:
        """Feed one minute's XRS-B flux (None: no usable value); returns events."""
        if self.last_minute is not None and minute <= self.last_minute:
            self.ignored += 1
            return []
        self.last_minute = minute
        if flux_wm2 is None:
            return []
        previous = self.recent[-1] if self.recent else None
        self._remember(minute, flux_wm2)

        events: list[FlareEvent] = []
        rise_start = self._rise_start()
        if self.active is not None:
            events += self._follow(self.active, minute, flux_wm2, rise_start)
        if self.active is None:
            events += self._maybe_start(minute, flux_wm2, previous, rise_start)
        return events

    def _remember(self, minute: int, flux_wm2: float) -> None:
        self.recent.append((minute, flux_wm2))
        oldest = minute - RECENT_MINUTES + 1
        while self.recent and self.recent[0][0] < oldest:
            self.recent.pop(0)

    def _rise_start(self) -> tuple[int, float] | None:
        """The first minute of a steep 4-minute rise ending now, if there is one."""
        window = self.recent[-RISE_MINUTES:]
        if len(window) < RISE_MINUTES:
            return None
        if window[-1][0] - window[0][0] != RISE_MINUTES - 1:
            return None  # a gap or a flagged minute inside: not consecutive
        fluxes = [flux for _, flux in window]
        rising = all(b > a for a, b in itertools.pairwise(fluxes))
        if rising and fluxes[-1] >= RISE_FACTOR * fluxes[0]:
            return window[0]
        return None

    def _follow(self, flare: Flare, minute: int, flux_wm2: float,
                rise_start: tuple[int, float] | None) -> list[FlareEvent]:
        """Advance the open flare: new rise after the peak, new peak, peak, end."""
        if rise_start is not None and rise_start[0] > flare.peak_minute:
            # A fresh steep rise after the peak: the old flare ends, a new starts.
            events = self._close(flare, rise_start[0] - 1, minute)
            self.active = None
            return events
        if flux_wm2 > flare.peak_flux_wm2:
            flare.peak_flux_wm2, flare.peak_minute = flux_wm2, minute
            flare.peak_confirmed = False
            return []
        events = []
        if not flare.peak_confirmed and flux_wm2 <= (
            PEAK_DROP_FRACTION * flare.peak_flux_wm2
        ):
            flare.peak_confirmed = True
            events.append(FlareEvent(FlareEventKind.PEAK, flare, minute))
        if flux_wm2 <= flare.end_level_wm2:
            events += self._close(flare, minute, minute)
            self.active = None
        return events

    def _close(self, flare: Flare, end_minute: int, now: int) -> list[FlareEvent]:
        events = []
        if not flare.peak_confirmed:
            flare.peak_confirmed = True
            events.append(FlareEvent(FlareEventKind.PEAK, flare, now))
        flare.end_minute = end_minute
        events.append(FlareEvent(FlareEventKind.END, flare, now))
        return events

    def _maybe_start(self, minute: int, flux_wm2: float,
                     previous: tuple[int, float] | None,
                     rise_start: tuple[int, float] | None) -> list[FlareEvent]:
        if rise_start is not None:
            start_minute, start_flux = rise_start
            how = "noaa_rise"
        elif flux_wm2 >= M1_WM2 and (previous is None or previous[1] < M1_WM2):
            start_minute = minute
            start_flux = min(flux for _, flux in self.recent)
            how = "m1_crossing"
        else:
            return []
        flare = Flare(
            flare_id=flare_id_of(self.satellite, start_minute),
            satellite=self.satellite, start_minute=start_minute,
            start_flux_wm2=start_flux, peak_minute=start_minute,
            peak_flux_wm2=start_flux, how_started=how,
        )
        self.active = flare
        # Catch up on the rise minutes already seen (peak so far is now).
        for seen_minute, seen_flux in self.recent:
            if seen_minute >= start_minute and seen_flux > flare.peak_flux_wm2:
                flare.peak_flux_wm2, flare.peak_minute = seen_flux, seen_minute
        return [FlareEvent(FlareEventKind.START, flare, minute)]

    def to_state(self) -> dict[str, Any]:
        """The tracker as a JSON-able dict."""
        return {
            "satellite": self.satellite,
            "last_minute": self.last_minute,
            "active": asdict(self.active) if self.active else None,
            "recent": [list(item) for item in self.recent],
            "ignored": self.ignored,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> FlareTracker:
        """Inverse of :meth:`to_state`."""
        active = state.get("active")
        return cls(
            satellite=int(state["satellite"]),
            last_minute=state.get("last_minute"),
            active=Flare(**active) if active else None,
            recent=[(int(m), float(f)) for m, f in state.get("recent", [])],
            ignored=int(state.get("ignored", 0)),
        )
