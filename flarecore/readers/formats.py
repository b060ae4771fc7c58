"""Recognise a file's format from its content (and, for gzip, its name)."""

from __future__ import annotations

import gzip
from enum import StrEnum
from pathlib import Path

from flarecore.errors import InputError

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_NETCDF3_MAGIC = b"CDF"
_GZIP_MAGIC = b"\x1f\x8b"


class Format(StrEnum):
    """The accepted file formats."""

    GOESR_AVG1M = "goesr-avg1m-netcdf"
    GOES1315_AVG1M = "goes13-15-avg1m-netcdf"
    GOES1315_IRRAD2S = "goes13-15-irrad-2s-netcdf"
    LEGACY_NETCDF = "legacy-avg1m-netcdf"
    LEGACY_CSV = "legacy-avg1m-csv"
    SWPC_JSON = "swpc-json"


ACCEPTED = (
    "GOES-R xrsf-l2-avg1m netCDF, GOES 13-15 science avg1m netCDF, GOES 13-15 "
    "gxrs-l2-irrad 2-second netCDF, legacy NGDC avg1m monthly netCDF or CSV "
    "(.csv/.csv.gz), SWPC xrays JSON (.json/.json.gz)"
)


def unsupported(path: Path, detail: str) -> InputError:
    """The error for a file that is none of the accepted formats."""
    return InputError(str(path), "unsupported_format",
                      f"{detail}; accepted formats: {ACCEPTED}")


def head_bytes(path: Path, size: int = 4096) -> bytes:
    """The first ``size`` bytes of the file, decompressed if it is gzip."""
    try:
        with path.open("rb") as raw:
            start = raw.read(2)
            raw.seek(0)
            if start == _GZIP_MAGIC:
                with gzip.open(raw) as unzipped:
                    return unzipped.read(size)
            return raw.read(size)
    except (OSError, EOFError) as exc:
        raise InputError(str(path), "unreadable", f"cannot read file: {exc}") from exc


def detect_format(path: str | Path) -> Format:
    """The format of ``path``; raises :class:`InputError` for anything else."""
    path = Path(path)
    head = head_bytes(path)
    if head.startswith((_HDF5_MAGIC, _NETCDF3_MAGIC)):
        return _netcdf_format(path)
    text = head.lstrip().decode("utf-8", errors="replace")
    if text.startswith("["):
        return Format.SWPC_JSON
    if text.startswith("File name:") or "\ndata:" in text or "GOES Space" in text:
        return Format.LEGACY_CSV
    raise unsupported(path, "content is neither netCDF, SWPC JSON nor legacy CSV")


def _netcdf_format(path: Path) -> Format:
    from flarecore.readers.netcdf import open_variables

    with open_variables(path) as variables:
        names = set(variables.variables)
        if {"time_tag", "A_AVG", "B_AVG"} <= names:
            return Format.LEGACY_NETCDF
        if {"time", "a_flux", "b_flux", "a_flags", "b_flags"} <= names:
            return Format.GOES1315_IRRAD2S
        if {"time", "xrsa_flux", "xrsb_flux", "xrsa_flag", "xrsb_flag"} <= names:
            meanings = str(variables["xrsb_flag"].attrs.get("flag_meanings", ""))
            if meanings.startswith("good_data eclipse"):
                return Format.GOESR_AVG1M
            if meanings.startswith("good_data bad_data"):
                return Format.GOES1315_AVG1M
    raise unsupported(path, "netCDF file without the variables of an accepted product")
