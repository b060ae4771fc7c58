"""The GOES X-ray flux scale: flare classes, NOAA radio blackout levels, scale factors.

All fluxes are XRS-B (0.1-0.8 nm) in W m^-2 on the true (GOES-R) scale unless a name
says otherwise.
"""

from __future__ import annotations

import math

CLASS_LETTERS = ("A", "B", "C", "M", "X")
"""Flare classes in increasing order; index ``i`` starts at ``1e-8 * 10**i`` W m^-2."""

A_FLOOR_WM2 = 1e-8
C1_WM2 = 1e-6
M1_WM2 = 1e-5
M5_WM2 = 5e-5
X1_WM2 = 1e-4
X10_WM2 = 1e-3
X20_WM2 = 2e-3

R_LEVELS_WM2 = {1: M1_WM2, 2: M5_WM2, 3: X1_WM2, 4: X10_WM2, 5: X20_WM2}
"""NOAA radio blackout scale: R level -> the XRS-B flux that starts it."""

ALERT_LEVELS = {"M1": M1_WM2, "M5": M5_WM2, "X1": X1_WM2, "X10": X10_WM2,
                "X20": X20_WM2}
"""Named threshold levels, in increasing order, with their XRS-B flux."""

LEGACY_SCALE_XRSA = 0.85
LEGACY_SCALE_XRSB = 0.7
"""SWPC scaling factors of GOES 8-15 operational data: divide by them to get true
flux."""


def class_index(flux_wm2: float) -> int:
    """Index into :data:`CLASS_LETTERS` of an XRS-B flux (A=0 ... X=4).

    Fluxes below A1 count as A; NaN raises ``ValueError``.
    """
    if math.isnan(flux_wm2):
        raise ValueError("flux is NaN: no class")
    if flux_wm2 < A_FLOOR_WM2:
        return 0
    index = math.floor(math.log10(flux_wm2) + 1e-9) + 8
    return max(0, min(index, len(CLASS_LETTERS) - 1))


def class_letter(flux_wm2: float) -> str:
    """Class letter (A, B, C, M, X) of an XRS-B flux."""
    return CLASS_LETTERS[class_index(flux_wm2)]


def flare_class(flux_wm2: float) -> str:
    """NOAA class with magnitude, truncated to one decimal (``4.29e-5`` -> ``M4.2``).

    X-class magnitudes keep going past 9.9 (``2.8e-3`` -> ``X28.0``), as NOAA does.
    """
    index = class_index(flux_wm2)
    base = A_FLOOR_WM2 * 10**index
    # The small epsilon keeps 5e-5 / 1e-5 = 4.999... from truncating to M4.9.
    magnitude = math.floor(flux_wm2 / base * 10 + 1e-6) / 10
    return f"{CLASS_LETTERS[index]}{magnitude:.1f}"


def r_level(flux_wm2: float) -> int:
    """NOAA radio blackout level (0 = none, 1..5 = R1..R5) of an XRS-B flux."""
    level = 0
    for candidate, threshold in R_LEVELS_WM2.items():
        if flux_wm2 >= threshold:
            level = candidate
    return level


def alert_level(flux_wm2: float) -> str | None:
    """The highest named alert level (M1, M5, X1, X10, X20) reached, or None."""
    reached = None
    for name, threshold in ALERT_LEVELS.items():
        if flux_wm2 >= threshold:
            reached = name
    return reached


def to_true_scale(xrsa_wm2: float, xrsb_wm2: float) -> tuple[float, float]:
    """Remove the SWPC scaling factors of GOES 8-15 operational fluxes."""
    return xrsa_wm2 / LEGACY_SCALE_XRSA, xrsb_wm2 / LEGACY_SCALE_XRSB
