"""``producers download`` against a real HTTP server on loopback serving real files.

The server's tree mimics NCEI's layout; the files are the real NOAA files (or
real excerpts) of tests/data/ncei under their NCEI names.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
from datetime import date
from pathlib import Path

import httpx
import pytest

from producers.ncei import Downloader, DownloadSummary, Period, Product, periods
from producers.settings import NceiSettings
from tests.unit.producers.loopback import Server, serve_files

DATA = Path(__file__).parents[2] / "data" / "ncei"
SCI13 = "sci_xrsf-l2-avg1m_g13_d20140128_v1-0-0.nc"
SCI13_DIR = "science/xrs/goes13/xrsf-l2-avg1m_science/2014/01"
LEGACY = "g14_xrs_1m_20100601_20100630.nc"
LEGACY_DIR = "avg/2010/06/goes14/netcdf"


@pytest.fixture
def ncei_tree(tmp_path: Path) -> Path:
    root = tmp_path / "ncei"
    (root / SCI13_DIR).mkdir(parents=True)
    shutil.copyfile(DATA / SCI13, root / SCI13_DIR / SCI13)
    (root / LEGACY_DIR).mkdir(parents=True)
    # A real excerpt of the June 2010 GOES-14 file, served under the file's name.
    shutil.copyfile(DATA / "g14_xrs_1m_20100601_20100630_excerpt_0000-0159.nc",
                    root / LEGACY_DIR / LEGACY)
    return root


def _settings(server: Server, cache: Path) -> NceiSettings:
    return NceiSettings(base_url=server.base_url, goesr_base_url=server.base_url,
                        cache_dir=cache, timeout_s=10, attempts=2)


def _run(settings: NceiSettings, wanted: list[Period]) -> DownloadSummary:
    async def go() -> DownloadSummary:
        async with httpx.AsyncClient() as client:
            return await Downloader(settings, client, progress=False).run(wanted)
    return asyncio.run(go())


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_periods_days_and_months() -> None:
    days = periods(Product.GOES1315_AVG1M, 13, date(2014, 1, 30), date(2014, 2, 2))
    assert [p.start.isoformat() for p in days] == [
        "2014-01-30", "2014-01-31", "2014-02-01", "2014-02-02"]
    months = periods(Product.LEGACY_AVG1M, 14, date(2010, 11, 15), date(2011, 1, 3))
    assert [p.start.isoformat() for p in months] == [
        "2010-11-01", "2010-12-01", "2011-01-01"]


def test_download_day_and_missing_day(ncei_tree: Path, tmp_path: Path) -> None:
    wanted = periods(Product.GOES1315_AVG1M, 13, date(2014, 1, 28), date(2014, 1, 29))
    with serve_files(ncei_tree) as server:
        summary = _run(_settings(server, tmp_path / "cache"), wanted)
    target = tmp_path / "cache" / "goes13-15-avg1m" / "g13" / SCI13
    assert summary.downloaded == [f"goes13-15-avg1m/g13/{SCI13}"]
    assert summary.missing == ["goes13-15-avg1m g13 2014-01-29"]
    assert not summary.failed
    assert _sha(target) == _sha(DATA / SCI13)
    assert (tmp_path / "cache" / "manifest.json").exists()


def test_download_cached_file_not_fetched_again(ncei_tree: Path,
                                                tmp_path: Path) -> None:
    wanted = periods(Product.LEGACY_AVG1M, 14, date(2010, 6, 12), date(2010, 6, 12))
    with serve_files(ncei_tree) as server:
        first = _run(_settings(server, tmp_path / "cache"), wanted)
        second = _run(_settings(server, tmp_path / "cache"), wanted)
        file_gets = [r for r in server.requests if r.path.endswith(".nc")]
    assert first.downloaded == [f"legacy-avg1m/g14/{LEGACY}"]
    assert second.cached == [f"legacy-avg1m/g14/{LEGACY}"]
    assert len(file_gets) == 1


def test_download_resumes_partial_file_with_range(ncei_tree: Path,
                                                  tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    part = cache / "goes13-15-avg1m" / "g13" / f"{SCI13}.part"
    part.parent.mkdir(parents=True)
    part.write_bytes((DATA / SCI13).read_bytes()[:300_000])
    wanted = periods(Product.GOES1315_AVG1M, 13, date(2014, 1, 28), date(2014, 1, 28))
    with serve_files(ncei_tree) as server:
        summary = _run(_settings(server, cache), wanted)
        ranges = [r.headers.get("Range") for r in server.requests
                  if r.path.endswith(".nc")]
    assert ranges == ["bytes=300000-"]
    assert summary.downloaded
    assert _sha(part.with_suffix("")) == _sha(DATA / SCI13)
    assert not part.exists()


def test_download_refetches_corrupted_cache(ncei_tree: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    wanted = periods(Product.GOES1315_AVG1M, 13, date(2014, 1, 28), date(2014, 1, 28))
    with serve_files(ncei_tree) as server:
        _run(_settings(server, cache), wanted)
        target = cache / "goes13-15-avg1m" / "g13" / SCI13
        damaged = bytearray(target.read_bytes())
        damaged[5000] ^= 0xFF
        target.write_bytes(bytes(damaged))
        summary = _run(_settings(server, cache), wanted)
    assert summary.downloaded == [f"goes13-15-avg1m/g13/{SCI13}"]
    assert _sha(target) == _sha(DATA / SCI13)


def test_download_wrong_content_fails(ncei_tree: Path, tmp_path: Path) -> None:
    # The server's file under the GOES-13 name is really the legacy excerpt.
    shutil.copyfile(ncei_tree / LEGACY_DIR / LEGACY, ncei_tree / SCI13_DIR / SCI13)
    wanted = periods(Product.GOES1315_AVG1M, 13, date(2014, 1, 28), date(2014, 1, 28))
    with serve_files(ncei_tree) as server:
        summary = _run(_settings(server, tmp_path / "cache"), wanted)
    assert list(summary.failed) == ["goes13-15-avg1m g13 2014-01-28"]
    assert "expected goes13-15-avg1m" in summary.failed[
        "goes13-15-avg1m g13 2014-01-28"]
    assert not (tmp_path / "cache" / "goes13-15-avg1m" / "g13" / SCI13).exists()
