"""Shared inputs of the trainer's unit tests: small real files copied in the repo."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2] / "data" / "ncei"
REAL_FLARE_DAY = DATA / "sci_xrsf-l2-avg1m_g13_d20140128_v1-0-0.nc"
"""GOES-13 science 1-minute, 2014-01-28: 13 runs >= M1 (M4.9 peak)."""
REAL_M_DAY = DATA / "sci_xrsf-l2-avg1m_g14_d20100612_v1-0-0.nc"
REAL_X_EXCERPT = DATA / "sci_xrsf-l2-avg1m_g17_d20211028_v2-1-0_excerpt_1430-1629.nc"
REAL_QUIET = DATA / "sci_xrsf-l2-avg1m_g16_d20210101_truncated.nc"


@pytest.fixture(scope="session")
def real_days() -> list[Path]:
    """Three real 1-minute files of three different days (two with M flares)."""
    return [REAL_FLARE_DAY, REAL_M_DAY, REAL_X_EXCERPT]
