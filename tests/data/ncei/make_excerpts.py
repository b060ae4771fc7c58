"""Cut the small real excerpts in this folder from ``/work/shared/data``.

Each excerpt keeps a contiguous run of records of one NOAA file, every variable
and attribute unchanged (opened raw: no masking, scaling or time decoding), so
the readers see the file's own layout. Run from the repository root:
``python tests/data/ncei/make_excerpts.py``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import xarray as xr

SHARED = Path("/work/shared/data/goes-xrs")
HERE = Path(__file__).parent
J2000_NOON_UNIX_S = 946_728_000.0

# (source, dimension, time variable, offset to Unix seconds, scale to seconds,
#  first and last UTC time kept, engine)
EXCERPTS = [
    ("goesr-l2-avg1m-g17-2021-10-28_29/sci_xrsf-l2-avg1m_g17_d20211028_v2-1-0.nc",
     "time", "time", J2000_NOON_UNIX_S, 1.0, "2021-10-28T14:30", "2021-10-28T16:29",
     "netcdf4"),
    ("goes13-15-l2-irrad-2s/sci_gxrs-l2-irrad_g13_d20140128_v0-0-0.nc",
     "time", "time", 0.0, 1.0, "2014-01-28T19:00", "2014-01-28T20:29:59", "netcdf4"),
    ("goes13-15-l2-irrad-2s/sci_gxrs-l2-irrad_g15_d20140128_v0-0-0.nc",
     "time", "time", 0.0, 1.0, "2014-01-28T19:00", "2014-01-28T20:29:59", "netcdf4"),
    ("ngdc-avg1m-monthly-2010/g14_xrs_1m_20100601_20100630.nc",
     "record", "time_tag", 0.0, 1e-3, "2010-06-12T00:00", "2010-06-12T01:59",
     "scipy"),
]
COPIES = [
    "goes13-15-l2-avg1m/sci_xrsf-l2-avg1m_g13_d20140128_v1-0-0.nc",
    "goes13-15-l2-avg1m/sci_xrsf-l2-avg1m_g14_d20100612_v1-0-0.nc",
    "format-samples-truncated/goes_13_leap_second.nc",
    "format-samples-truncated/sci_gxrs-l2-irrad_g13_d20170901_truncated.nc",
    "format-samples-truncated/sci_xrsf-l2-avg1m_g16_d20210101_truncated.nc",
    "ngdc-avg1m-monthly-2017/g15_xrs_1m_20170901_20170930_without_20170904-0908.csv.gz",
]


def _unix_s(iso: str) -> float:
    return float(np.datetime64(iso, "s").astype(np.int64))


def cut(source: str, dim: str, time_var: str, offset_s: float, to_s: float,
        first: str, last: str, engine: str) -> None:
    """Write records of ``source`` whose time is in [first, last] to HERE."""
    path = SHARED / source
    with xr.open_dataset(path, engine=engine, decode_cf=False, decode_times=False,
                         mask_and_scale=False) as ds:
        unix = ds[time_var].values.astype(np.float64) * to_s + offset_s
        keep = np.flatnonzero((unix >= _unix_s(first)) & (unix <= _unix_s(last)))
        part = ds.isel({dim: slice(int(keep[0]), int(keep[-1]) + 1)}).load()
    stem = path.name.removesuffix(".nc")
    span = f"{first[11:13]}{first[14:16]}-{last[11:13]}{last[14:16]}"
    target = HERE / f"{stem}_excerpt_{span}.nc"
    fmt = "NETCDF3_CLASSIC" if engine == "scipy" else "NETCDF4"
    part.to_netcdf(target, engine=engine, format=fmt)
    print(f"{target.name}: {len(keep)} records, {target.stat().st_size} bytes")


def main() -> None:
    for excerpt in EXCERPTS:
        cut(*excerpt)
    for name in COPIES:
        shutil.copyfile(SHARED / name, HERE / Path(name).name)


if __name__ == "__main__":
    main()
