"""The backtest's picture of one flare day: both channels, class bands, alerts."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; a backtest never opens a window

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from flarecore.alerts import Alert, AlertKind  # noqa: E402
from flarecore.classes import CLASS_LETTERS  # noqa: E402
from flarecore.engine import MinuteState  # noqa: E402

_MARKERS = {AlertKind.THRESHOLD: ("^", "tab:red"),
            AlertKind.ESCALATION: ("^", "darkred"),
            AlertKind.PEAK: ("v", "black"), AlertKind.END: ("o", "grey")}


def plot_day(day: datetime, table: pd.DataFrame, states: list[MinuteState],
             alerts: list[Alert], path: Path) -> None:
    """Write one day's PNG: log flux of XRS-A/B per satellite, alerts marked."""
    end = day + timedelta(days=1)
    rows = table[(table["time_utc"] >= day) & (table["time_utc"] < end)]
    fig, (ax, axp) = plt.subplots(2, 1, figsize=(11, 6.5), sharex=True,
                                  height_ratios=(3, 1))
    for satellite, part in rows.groupby("satellite"):
        ax.plot(part["time_utc"], part["xrsb_flux_wm2"], lw=1,
                label=f"GOES-{satellite} XRS-B 0.1-0.8 nm")
        ax.plot(part["time_utc"], part["xrsa_flux_wm2"], lw=0.7, alpha=0.7,
                label=f"GOES-{satellite} XRS-A 0.05-0.4 nm")
    _bands(ax)
    _alerts(ax, axp, [a for a in alerts if day <= a.data_time_utc < end])
    _probability(axp, [s for s in states if day <= s.time_utc < end])
    ax.set_yscale("log")
    ax.set_ylabel("flux (W m$^{-2}$, true scale)")
    ax.set_title(f"{day:%Y-%m-%d} UTC")
    ax.legend(loc="upper left", fontsize=7)
    axp.set_xlabel("time (UTC)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _bands(ax: plt.Axes) -> None:
    for index, letter in enumerate(CLASS_LETTERS):
        level = 1e-8 * 10**index
        ax.axhline(level, color="grey", lw=0.5, ls=":")
        ax.annotate(letter, (1.003, level * 2), xycoords=("axes fraction", "data"),
                    fontsize=8, color="grey")
    ax.set_ylim(1e-9, 1e-2)


def _alerts(ax: plt.Axes, axp: plt.Axes, alerts: list[Alert]) -> None:
    warned = False
    for alert in alerts:
        if alert.kind is AlertKind.EARLY_WARNING:
            color = "tab:orange" if alert.level == "M" else "tab:purple"
            label = None if warned else "early warning (M orange, X purple)"
            for axis in (ax, axp):
                axis.axvline(alert.data_time_utc, color=color, lw=1.2, label=label)
            warned = True
            continue
        marker, color = _MARKERS[alert.kind]
        ax.scatter([alert.data_time_utc], [alert.observed_flux_wm2], marker=marker,
                   color=color, zorder=5, s=30)


def _probability(axp: plt.Axes, states: list[MinuteState]) -> None:
    shown = [s for s in states if s.p_ge_m is not None]
    if shown:
        times = [s.time_utc for s in shown]
        axp.plot(times, [s.p_ge_m for s in shown], lw=0.8, label="P(>=M)")
        axp.plot(times, [s.p_ge_x for s in shown], lw=0.8, label="P(>=X)")
    axp.set_ylim(0, 1.02)
    axp.set_ylabel("forecast")
    axp.legend(loc="upper left", fontsize=7)
