"""Readers for every GOES XRS file format this system accepts.

Each reader turns one file into the same one-row-per-minute frame (see
:mod:`flarecore.readers.frame`) on the true (GOES-R) flux scale. The trainer reads
frames; the replayer walks records::

    from flarecore.readers import read_frame, iter_records, detect_format
"""

from __future__ import annotations

from flarecore.readers.formats import Format, detect_format
from flarecore.readers.reading import (
    expand_paths,
    iter_records,
    read_frame,
    read_reading,
)

__all__ = ["Format", "detect_format", "expand_paths", "iter_records", "read_frame",
           "read_reading"]
