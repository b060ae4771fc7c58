"""Readers for the NCEI netCDF products: GOES-R and GOES 13-15 science 1-minute
averages, GOES 13-15 2-second irradiances and the legacy NGDC monthly files."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from flarecore.errors import InputError
from flarecore.readers.frame import Columns, Reading, finish, positive_or_nan
from flarecore.records import Quality, Source

J2000_NOON_UNIX_S = 946_728_000.0
"""``seconds since 2000-01-01 12:00:00`` (leap seconds neglected) to Unix time."""

LEGACY_SCALE_XRSA = 0.85
LEGACY_SCALE_XRSB = 0.7
"""SWPC's GOES 8-15 scaling factors (file attribute ``NOAA_scaling_factors``)."""

IRRAD_SAMPLE_MID_S = 1.024
"""Half the 2.048 s integration: NCEI bins 2-s samples by their mid-time.

Checked on GOES-13 2014-01-28: binning ``time + 1.024 s`` reproduces NCEI's
``xrsb_flux_observed`` 1-minute averages to 1e-4 in every minute and its
``xrsb_num`` in 99 % of them; binning by ``time`` alone matches only 31 %.
"""

_ECLIPSE_SAMPLE_BITS = 4 | 8 | 16  # eclipsed by earth, by moon, by unknown


@contextmanager
def open_variables(path: Path) -> Iterator[xr.Dataset]:
    """Open a netCDF-3 or netCDF-4 file raw: no masking, scaling or time decoding."""
    with path.open("rb") as handle:
        engine = "scipy" if handle.read(3) == b"CDF" else "netcdf4"
    try:
        dataset = xr.open_dataset(path, engine=engine, decode_times=False,
                                  mask_and_scale=False, decode_cf=False)
    except (OSError, ValueError) as exc:
        raise InputError(str(path), "unreadable", f"cannot open netCDF: {exc}") from exc
    try:
        yield dataset
    finally:
        dataset.close()


def read_goesr_avg1m(path: Path) -> Reading:
    """GOES-R ``xrsf-l2-avg1m``: true scale, flags per the file's flag_masks."""
    with open_variables(path) as ds:
        flags = {c: _flags(ds[f"{c}_flag"]) for c in ("xrsa", "xrsb")}
        return _science_avg1m(path, ds, flags, _goesr_quality, Source.GOESR_AVG1M)


def read_goes1315_avg1m(path: Path) -> Reading:
    """GOES 13-15 reprocessed science ``avg1m``: already true scale."""
    with open_variables(path) as ds:
        flags = {c: _flags(ds[f"{c}_flag"]) for c in ("xrsa", "xrsb")}
        return _science_avg1m(path, ds, flags, _goes1315_quality,
                              Source.GOES1315_AVG1M)


def read_goes1315_irrad(path: Path) -> Reading:
    """GOES 13-15 ``gxrs-l2-irrad`` 2-s samples averaged to minutes like NCEI.

    A sample counts when its flag is 0 (good) and its flux is not the fill value;
    it belongs to the minute holding its mid-time. The minute's flux is the mean
    of its counted samples; a minute with none is eclipse when any sample was
    eclipsed, else bad.
    """
    # TODO(#3): the last minute of a day file holds only the samples whose
    # mid-time crosses midnight; reading the next day's file first would fix it.
    with open_variables(path) as ds:
        unix_s = ds["time"].values.astype(np.float64)
        fill_time = float(ds["time"].attrs.get("_FillValue", -9999.0))
        minute = np.floor((unix_s + IRRAD_SAMPLE_MID_S) / 60.0)
        minute[unix_s == fill_time] = np.nan
        channels = {c: _average_minutes(minute, ds[f"{c}_flux"], ds[f"{c}_flags"])
                    for c in ("a", "b")}
    index = channels["a"][0].index.union(channels["b"][0].index)
    flux = {c: channels[c][0].reindex(index).to_numpy() for c in ("a", "b")}
    quality = {c: channels[c][1].reindex(index).fillna(Quality.MISSING.value)
               .to_numpy(dtype=object) for c in ("a", "b")}
    time_ns = index.to_numpy(dtype=np.int64) * 60_000_000_000
    return finish(str(path), Columns(
        _satellite_from_name(path), time_ns, flux["a"], flux["b"], quality["a"],
        quality["b"], Source.GOES1315_IRRAD2S, False,
        {"minute_start_unix_s": index.to_numpy() * 60, "a_flux_mean": flux["a"],
         "b_flux_mean": flux["b"]},
    ))


def read_legacy_netcdf(path: Path) -> Reading:
    """Legacy NGDC monthly 1-minute netCDF-3, divided out of SWPC's old scale."""
    with open_variables(path) as ds:
        satellite = _satellite_from_attr(path, str(ds.attrs.get("satellite_id", "")))
        time_ms = ds["time_tag"].values.astype(np.float64)
        raw = {name: ds[name].values for name in
               ("time_tag", "A_AVG", "A_QUAL_FLAG", "B_AVG", "B_QUAL_FLAG")}
    return legacy_columns(path, satellite, time_ms, raw, Source.LEGACY_AVG1M_NC)


def legacy_columns(path: Path, satellite: int, time_ms: np.ndarray,
                   raw: dict[str, np.ndarray], source: Source) -> Reading:
    """Shared by the legacy netCDF and CSV readers (same product, same flags).

    Flags are documented only as "non-zero indicates a quality issue"; every
    flagged minute in NCEI's files has flux -99999. Missing flux with flag 0 or
    99999 (the flag's own missing value) is missing; with any other flag, bad.
    """
    time_ns = np.where(np.isfinite(time_ms), np.round(time_ms), -1).astype(np.int64)
    time_ns = np.where(time_ns >= 0, time_ns * 1_000_000, -1)
    fluxes, qualities = {}, {}
    for channel, scale in (("A", LEGACY_SCALE_XRSA), ("B", LEGACY_SCALE_XRSB)):
        flux = positive_or_nan(raw[f"{channel}_AVG"]) / scale
        flag = np.nan_to_num(raw[f"{channel}_QUAL_FLAG"].astype(np.float64), nan=1.0)
        fluxes[channel] = flux
        qualities[channel] = np.select(
            [np.isnan(flux) & ((flag == 0) | (flag == 99999)), flag != 0],
            [Quality.MISSING.value, Quality.BAD.value], Quality.GOOD.value,
        ).astype(object)
    return finish(str(path), Columns(
        satellite, time_ns, fluxes["A"], fluxes["B"], qualities["A"],
        qualities["B"], source, True, raw,
    ))


def _science_avg1m(path: Path, ds: xr.Dataset, flags: dict[str, np.ndarray],
                   decode: Any, source: Source) -> Reading:
    seconds = ds["time"].values.astype(np.float64)
    fill = float(ds["time"].attrs.get("_FillValue", -9999.0))
    unix_ms = np.round((seconds + J2000_NOON_UNIX_S) * 1000.0)
    time_ns = np.where(seconds == fill, -1, unix_ms * 1_000_000).astype(np.int64)
    flux = {c: positive_or_nan(ds[f"{c}_flux"].values) for c in ("xrsa", "xrsb")}
    quality = {c: decode(flags[c], flux[c]) for c in ("xrsa", "xrsb")}
    raw = {"time": seconds, "xrsa_flux": ds["xrsa_flux"].values,
           "xrsa_flag": flags["xrsa"], "xrsb_flux": ds["xrsb_flux"].values,
           "xrsb_flag": flags["xrsb"]}
    return finish(str(path), Columns(
        _satellite_from_attr(path, str(ds.attrs.get("platform", ""))), time_ns,
        flux["xrsa"], flux["xrsb"], quality["xrsa"], quality["xrsb"], source,
        False, raw,
    ))


def _flags(variable: xr.DataArray) -> np.ndarray:
    """Flags as int64, -1 where fill; some files store them as float32."""
    values = variable.values.astype(np.float64)
    fill = float(variable.attrs.get("_FillValue", np.nan))
    bad = ~np.isfinite(values) | (values == fill)
    return np.where(bad, -1, values).astype(np.int64)


def _goesr_quality(flag: np.ndarray, flux: np.ndarray) -> np.ndarray:
    """GOES-R: bit 0 eclipse, bit 1 bad data, bit 2 electrons > 50 % of signal.

    The electron-correction state (bits 3-5) describes the correction, not the
    minute, and is not mapped.
    """
    return np.select(
        [(flag < 0) & np.isnan(flux), flag < 0, (flag & 1) != 0, (flag & 2) != 0,
         np.isnan(flux), (flag & 4) != 0],
        [Quality.MISSING.value, Quality.BAD.value, Quality.ECLIPSE.value,
         Quality.BAD.value, Quality.MISSING.value,
         Quality.ELECTRON_CONTAMINATION.value],
        Quality.GOOD.value,
    ).astype(object)


def _goes1315_quality(flag: np.ndarray, flux: np.ndarray) -> np.ndarray:
    """GOES 13-15 science: bit 0 bad data, bit 1 eclipse, bit 2 temperature recovery.

    Bits 3-6 give the electron-correction state; NCEI sets "correction invalid"
    on nearly every minute of good data, so it is not mapped.
    """
    return np.select(
        [(flag < 0) & np.isnan(flux), flag < 0, (flag & 2) != 0,
         (flag & 5) != 0, np.isnan(flux)],
        [Quality.MISSING.value, Quality.BAD.value, Quality.ECLIPSE.value,
         Quality.BAD.value, Quality.MISSING.value],
        Quality.GOOD.value,
    ).astype(object)


def _average_minutes(minute: np.ndarray, flux_var: xr.DataArray,
                     flags_var: xr.DataArray) -> tuple[pd.Series, pd.Series]:
    flux = flux_var.values.astype(np.float64)
    fill = float(flux_var.attrs.get("_FillValue", -99999.0))
    flags = _flags(flags_var)
    samples = pd.DataFrame({"minute": minute, "flux": flux, "flags": flags})
    samples = samples[np.isfinite(minute)]
    counted = (samples["flags"] == 0) & (samples["flux"] != fill) & np.isfinite(
        samples["flux"])
    by_minute = samples.assign(
        good=samples["flux"].where(counted),
        eclipse=(samples["flags"] > 0) & ((samples["flags"] & _ECLIPSE_SAMPLE_BITS)
                                          != 0),
    ).groupby(samples["minute"].astype(np.int64))
    mean = by_minute["good"].mean()
    eclipse = by_minute["eclipse"].any()
    mean_flux = positive_or_nan(mean.to_numpy())
    quality = np.select(
        [np.isfinite(mean_flux), mean.notna(), eclipse.to_numpy()],
        [Quality.GOOD.value, Quality.MISSING.value, Quality.ECLIPSE.value],
        Quality.BAD.value,
    )
    return (pd.Series(mean_flux, index=mean.index),
            pd.Series(quality, index=mean.index, dtype=object))


def _satellite_from_attr(path: Path, text: str) -> int:
    match = re.search(r"(\d{1,2})\s*$", text.strip())
    if match:
        return int(match.group(1))
    return _satellite_from_name(path)


def _satellite_from_name(path: Path) -> int:
    """GOES number from names like ``..._g15_...``, ``g14_xrs_...``, ``goes_13_...``."""
    match = re.search(r"(?:^|_)g(?:oes_)?(\d{2})_", path.name)
    if not match:
        raise InputError(str(path), "unknown_satellite",
                         "satellite not in the file's attributes nor its name "
                         "(expected e.g. '_g15_' or 'g15_xrs_')")
    return int(match.group(1))
