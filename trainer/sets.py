"""The named sets of real archive files the trainer uses, relative to a data root.

The default data root is ``../shared/data`` next to the repository (see
``docs/trainer.md``); ``--data-root`` or explicit paths override it. September
2017 (with the X8.2 flare) is kept out of training and threshold tuning: it is the
unseen test.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_DATA_ROOT = Path(__file__).resolve().parent.parent.parent / "shared" / "data"

_LEGACY_2010 = "goes-xrs/ngdc-avg1m-monthly-2010"
_LEGACY_2017 = "goes-xrs/ngdc-avg1m-monthly-2017"

TRAINING = (
    f"{_LEGACY_2010}/*.nc",
    f"{_LEGACY_2017}/g1[35]_xrs_1m_20170701_20170731.nc",
    "goes-xrs/goes13-15-l2-avg1m/sci_xrsf-l2-avg1m_g13_d20140128_v1-0-0.nc",
    "goes-xrs/goes13-15-l2-irrad-2s/sci_gxrs-l2-irrad_g15_d20140128_v0-0-0.nc",
    "goes-xrs/goes13-15-l2-irrad-2s/sci_gxrs-l2-irrad_g1[35]_d20131109_v0-0-0.nc",
    "goes-xrs/goesr-l2-avg1m/sci_xrsf-l2-avg1m_g16_d20200601_v2-2-0.nc",
    "goes-xrs/goesr-l2-avg1m-g17-2021-10-28_29/*.nc",
)
"""Every real 1-minute-capable record except the unseen set. The 2010-06-12
science files are left out: the legacy 2010 files already hold that day for
GOES-14, and one satellite-minute must come from one file."""

UNSEEN = (f"{_LEGACY_2017}/g15_xrs_1m_20170901_20170930_without_20170904-0908.csv.gz",)
"""September 2017, GOES-15: never used for training, tuning or gating."""

YEAR_2010 = (f"{_LEGACY_2010}/*.nc",)

NAMED = {"training": TRAINING, "unseen": UNSEEN, "2010": YEAR_2010}


def resolve(name: str, root: Path = DEFAULT_DATA_ROOT) -> list[Path]:
    """The files of a named set under ``root``; fails if a pattern matches none."""
    files: list[Path] = []
    for pattern in NAMED[name]:
        found = sorted(root.glob(pattern))
        if not found:
            raise FileNotFoundError(f"{root}/{pattern}: no file (data root wrong?)")
        files += found
    return files
