"""Readers on real NOAA files (small copies and excerpts in tests/data/ncei)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flarecore.errors import InputError
from flarecore.quarantine import QuarantinedInput
from flarecore.readers import Format, detect_format, iter_records, read_frame
from flarecore.records import Quality, Source, XrsRecord

DATA = Path(__file__).parents[2] / "data" / "ncei"
GOESR = DATA / "sci_xrsf-l2-avg1m_g17_d20211028_v2-1-0_excerpt_1430-1629.nc"
GOESR_TRUNC = DATA / "sci_xrsf-l2-avg1m_g16_d20210101_truncated.nc"
SCI13 = DATA / "sci_xrsf-l2-avg1m_g13_d20140128_v1-0-0.nc"
SCI14 = DATA / "sci_xrsf-l2-avg1m_g14_d20100612_v1-0-0.nc"
IRRAD13 = DATA / "sci_gxrs-l2-irrad_g13_d20140128_v0-0-0_excerpt_1900-2029.nc"
IRRAD15 = DATA / "sci_gxrs-l2-irrad_g15_d20140128_v0-0-0_excerpt_1900-2029.nc"
LEAP = DATA / "goes_13_leap_second.nc"
LEGACY_NC = DATA / "g14_xrs_1m_20100601_20100630_excerpt_0000-0159.nc"
LEGACY_CSV = DATA / "g15_xrs_1m_20170901_20170930_without_20170904-0908.csv.gz"
COLUMNS = ["satellite", "time_utc", "xrsa_flux_wm2", "xrsb_flux_wm2", "xrsa_quality",
           "xrsb_quality", "source", "scale_corrected"]


def _at(frame: pd.DataFrame, iso: str) -> pd.Series:
    rows = frame[frame["time_utc"] == pd.Timestamp(iso, tz="UTC")]
    assert len(rows) == 1, iso
    return rows.iloc[0]


def _check_contract(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == COLUMNS
    assert frame["satellite"].dtype == np.int64
    assert str(frame["time_utc"].dtype) == "datetime64[ns, UTC]"
    assert frame["xrsb_flux_wm2"].dtype == np.float64
    assert frame["scale_corrected"].dtype == bool
    assert frame["time_utc"].is_monotonic_increasing
    assert not frame.duplicated(["satellite", "time_utc"]).any()
    assert (frame["time_utc"].dt.second == 0).all()
    assert set(frame["xrsb_quality"]) <= {q.value for q in Quality}
    assert not (frame["xrsb_flux_wm2"] <= 0).any()


@pytest.mark.parametrize(("path", "expected"), [
    (GOESR, Format.GOESR_AVG1M), (GOESR_TRUNC, Format.GOESR_AVG1M),
    (SCI13, Format.GOES1315_AVG1M), (IRRAD13, Format.GOES1315_IRRAD2S),
    (LEAP, Format.GOES1315_IRRAD2S), (LEGACY_NC, Format.LEGACY_NETCDF),
    (LEGACY_CSV, Format.LEGACY_CSV),
])
def test_detect_format_real_files(path: Path, expected: Format) -> None:
    assert detect_format(path) is expected
    _check_contract(read_frame(path))


def test_detect_format_unknown_names_file_and_formats(tmp_path: Path) -> None:
    odd = tmp_path / "notes.txt"
    odd.write_text("hello")
    with pytest.raises(InputError) as caught:
        detect_format(odd)
    assert str(odd) in str(caught.value)
    assert "SWPC xrays JSON" in str(caught.value)
    assert caught.value.reason == "unsupported_format"


def test_goesr_avg1m_x1_peak_true_scale() -> None:
    frame = read_frame(GOESR)
    peak = _at(frame, "2021-10-28T15:35")
    assert peak["satellite"] == 17
    assert peak["xrsb_flux_wm2"] == pytest.approx(1.0159e-4, rel=1e-3)
    assert frame["xrsb_flux_wm2"].idxmax() == peak.name
    assert peak["source"] == Source.GOESR_AVG1M.value
    assert not peak["scale_corrected"]
    assert len(frame) == 120


def test_goesr_avg1m_electron_contamination_bit() -> None:
    frame = read_frame(GOESR_TRUNC)
    # In this real excerpt XRS-A has flag 4 (electrons > 50 % of signal) on 91
    # of its 100 minutes; XRS-B is clean.
    assert (frame["xrsa_quality"] == Quality.ELECTRON_CONTAMINATION.value).sum() == 91
    assert (frame["xrsb_quality"] == Quality.GOOD.value).all()


def test_goes1315_avg1m_m49_peak() -> None:
    frame = read_frame(SCI13)
    peak = _at(frame, "2014-01-28T19:40")
    assert peak["satellite"] == 13
    assert peak["xrsb_flux_wm2"] == pytest.approx(8.24e-5, rel=1e-3)
    assert not peak["scale_corrected"]
    # flag 16 (correction invalid) on good data stays good; 17 (bad) is bad.
    assert (frame["xrsb_quality"] == Quality.GOOD.value).sum() == 1438
    assert (frame["xrsb_quality"] == Quality.BAD.value).sum() == 2


def test_irrad_2s_average_matches_ncei_avg1m() -> None:
    averaged = read_frame(IRRAD13).set_index("time_utc")["xrsb_flux_wm2"]
    science = read_frame(SCI13).set_index("time_utc")["xrsb_flux_wm2"]
    # The first excerpt minute lacks the sample before 19:00:00; skip it.
    inner = averaged.index[1:]
    ratio = averaged[inner] / science[inner]
    # Equal in nearly every minute; NCEI counts a sample differently in a few.
    assert np.allclose(ratio, 1.0, atol=1e-3), ratio.describe()
    assert (abs(ratio - 1.0) < 1e-6).mean() > 0.95


def test_irrad_2s_goes15_m49_peak() -> None:
    frame = read_frame(IRRAD15)
    peak = frame.loc[frame["xrsb_flux_wm2"].idxmax()]
    assert peak["satellite"] == 15
    assert peak["time_utc"] == pd.Timestamp("2014-01-28T19:40", tz="UTC")
    # 2-s maximum 7.07e-5; the minute's mean of 2-s samples is just below it.
    assert peak["xrsb_flux_wm2"] == pytest.approx(7.04e-5, rel=2e-3)
    assert peak["source"] == Source.GOES1315_IRRAD2S.value


def test_irrad_2s_leap_second_file_has_whole_minutes() -> None:
    frame = read_frame(LEAP)
    assert frame["time_utc"].iloc[0] == pd.Timestamp("2015-06-30T23:56", tz="UTC")
    assert (frame["satellite"] == 13).all()


def test_legacy_netcdf_scale_matches_science_file() -> None:
    legacy = _at(read_frame(LEGACY_NC), "2010-06-12T00:57")
    science = _at(read_frame(SCI14), "2010-06-12T00:57")
    # M2.0 on the old SWPC scale: 2.02e-5 in the file, 2.02e-5 / 0.7 true.
    assert legacy["xrsb_flux_wm2"] == pytest.approx(2.0214e-5 / 0.7, rel=1e-3)
    assert legacy["xrsb_flux_wm2"] == pytest.approx(science["xrsb_flux_wm2"], rel=0.01)
    assert legacy["scale_corrected"]
    assert legacy["source"] == Source.LEGACY_AVG1M_NC.value


def test_legacy_csv_x82_and_flags() -> None:
    frame = read_frame(LEGACY_CSV)
    peak = _at(frame, "2017-09-10T16:06")
    assert peak["xrsb_flux_wm2"] == pytest.approx(8.2810e-4 / 0.7, rel=1e-3)
    assert peak["scale_corrected"]
    assert len(frame) == 36000
    counts = frame["xrsb_quality"].value_counts().to_dict()
    # README: flags 0 on 34301 minutes, 1666 + 18 flagged (bad), 15 missing.
    assert counts == {"good": 34301, "bad": 1684, "missing": 15}
    assert frame["xrsb_flux_wm2"].isna().sum() == 1699


def test_legacy_csv_xrsa_scale() -> None:
    first = read_frame(LEGACY_CSV).iloc[0]
    assert first["xrsa_flux_wm2"] == pytest.approx(2.2729e-9 / 0.85, rel=1e-4)
    assert first["xrsb_flux_wm2"] == pytest.approx(2.1223e-7 / 0.7, rel=1e-4)


def test_legacy_csv_plain_and_gzip_agree(tmp_path: Path) -> None:
    plain = tmp_path / "g15_xrs_1m_20170901_20170930.csv"
    plain.write_bytes(gzip.decompress(LEGACY_CSV.read_bytes()))
    pd.testing.assert_frame_equal(read_frame(plain), read_frame(LEGACY_CSV))


def test_iter_records_yields_valid_records_in_time_order() -> None:
    items = list(iter_records([LEGACY_NC, IRRAD15]))
    records = [i for i in items if isinstance(i, XrsRecord)]
    assert len(records) == 120 + 90
    assert not [i for i in items if isinstance(i, QuarantinedInput)]
    times = [r.time_utc for r in records]
    assert times == sorted(times)
    assert {r.satellite for r in records} == {14, 15}


def test_irrad_2s_missing_xrsa_keeps_minute() -> None:
    # Real GOES-13 2017-09-01 excerpt: in 10 of 21 minutes the good XRS-A samples
    # average to <= 0 (below the detector's range) while XRS-B is good.
    path = DATA / "sci_gxrs-l2-irrad_g13_d20170901_truncated.nc"
    frame = read_frame(path)
    lone_b = frame[frame["xrsa_flux_wm2"].isna()]
    assert len(lone_b) == 10
    assert lone_b["xrsb_flux_wm2"].notna().all()
    assert (lone_b["xrsa_quality"] == Quality.MISSING.value).all()
    records = [r for r in iter_records([path]) if isinstance(r, XrsRecord)]
    assert len(records) == 21
    assert sum(r.xrsa_flux_wm2 is None for r in records) == 10
