"""Download NCEI GOES XRS archive files for a date range into a local cache.

Each day (or month, for the legacy product) has a directory on NCEI's server;
its listing names the file and its version. Files are fetched to ``*.part`` and
resumed with an HTTP ``Range`` request after an interruption, checked against
the announced size, read back with :mod:`flarecore.readers`, and recorded with
their SHA-256 in ``manifest.json`` so a cached file is verified before reuse.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from html.parser import HTMLParser
from pathlib import Path

import httpx
from pydantic import BaseModel, Field
from tqdm import tqdm

from flarecore.errors import InputError
from flarecore.readers import Format, detect_format
from producers import ProducerError
from producers.settings import NceiSettings

logger = logging.getLogger(__name__)

_CHUNK_BYTES = 1 << 16


class Product(StrEnum):
    """Downloadable NCEI products."""

    GOESR_AVG1M = "goesr-avg1m"
    GOES1315_AVG1M = "goes13-15-avg1m"
    GOES1315_IRRAD = "goes13-15-irrad"
    LEGACY_AVG1M = "legacy-avg1m"


_FORMATS = {
    Product.GOESR_AVG1M: Format.GOESR_AVG1M,
    Product.GOES1315_AVG1M: Format.GOES1315_AVG1M,
    Product.GOES1315_IRRAD: Format.GOES1315_IRRAD2S,
    Product.LEGACY_AVG1M: Format.LEGACY_NETCDF,
}


@dataclass(frozen=True)
class Period:
    """One file's worth of time: a day, or a month for the legacy product."""

    product: Product
    satellite: int
    start: date

    def directory(self, settings: NceiSettings) -> str:
        """The NCEI directory holding this period's file (ends with ``/``)."""
        sat, ym = f"{self.satellite:02d}", f"{self.start:%Y/%m}"
        base, goesr = settings.base_url.rstrip("/"), settings.goesr_base_url.rstrip("/")
        return {
            Product.GOESR_AVG1M:
                f"{goesr}/goes{sat}/l2/data/xrsf-l2-avg1m_science/{ym}/",
            Product.GOES1315_AVG1M:
                f"{base}/science/xrs/goes{sat}/xrsf-l2-avg1m_science/{ym}/",
            Product.GOES1315_IRRAD:
                f"{base}/science/xrs/goes{sat}/gxrs-l2-irrad_science/{ym}/",
            Product.LEGACY_AVG1M: f"{base}/avg/{ym}/goes{sat}/netcdf/",
        }[self.product]

    def file_pattern(self) -> re.Pattern[str]:
        """File names of this period in the listing (any version)."""
        sat, day = f"{self.satellite:02d}", f"{self.start:%Y%m%d}"
        return re.compile({
            Product.GOESR_AVG1M: rf"sci_xrsf-l2-avg1m_g{sat}_d{day}_v[\d-]+\.nc",
            Product.GOES1315_AVG1M: rf"sci_xrsf-l2-avg1m_g{sat}_d{day}_v[\d-]+\.nc",
            Product.GOES1315_IRRAD: rf"sci_gxrs-l2-irrad_g{sat}_d{day}_v[\d-]+\.nc",
            Product.LEGACY_AVG1M: rf"g{sat}_xrs_1m_{self.start:%Y%m}01_"
                                  rf"{self.start:%Y%m}\d\d\.nc",
        }[self.product])


class DownloadSummary(BaseModel):
    """What a download run did."""

    downloaded: list[str] = Field(default_factory=list)
    cached: list[str] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list)
    failed: dict[str, str] = Field(default_factory=dict)


def periods(product: Product, satellite: int, first: date, last: date) -> list[Period]:
    """Every day (or month) from ``first`` to ``last`` inclusive."""
    if product is Product.LEGACY_AVG1M:
        months, cursor = [], first.replace(day=1)
        while cursor <= last:
            months.append(Period(product, satellite, cursor))
            cursor = (cursor + timedelta(days=32)).replace(day=1)
        return months
    return [Period(product, satellite, first + timedelta(days=n))
            for n in range((last - first).days + 1)]


class Downloader:
    """Fetch periods into ``settings.cache_dir/<product>/gNN/``."""

    def __init__(self, settings: NceiSettings, client: httpx.AsyncClient,
                 progress: bool | None = None) -> None:
        self._settings = settings
        self._client = client
        self._progress = progress
        self._manifest_path = settings.cache_dir / "manifest.json"

    async def run(self, wanted: list[Period]) -> DownloadSummary:
        """Download every period, continuing past failures; report each outcome."""
        summary = DownloadSummary()
        manifest = self._load_manifest()
        for period in wanted:
            label = f"{period.product} g{period.satellite:02d} {period.start}"
            try:
                await self._one(period, label, manifest, summary)
            except (ProducerError, InputError, httpx.HTTPError, OSError) as exc:
                logger.error("download failed period=%s error=%s", label, exc)
                summary.failed[label] = str(exc)
            self._save_manifest(manifest)
        return summary

    async def _one(self, period: Period, label: str,
                   manifest: dict[str, dict[str, object]],
                   summary: DownloadSummary) -> None:
        directory = period.directory(self._settings)
        name = await self._find(directory, period)
        if name is None:
            logger.warning("no file at ncei period=%s directory=%s", label, directory)
            summary.missing.append(label)
            return
        target = self._target(period, name)
        key = str(target.relative_to(self._settings.cache_dir))
        if self._verified(target, manifest.get(key)):
            summary.cached.append(key)
            return
        size = await self._fetch(directory + name, target.with_suffix(".nc.part"))
        self._check(target.with_suffix(".nc.part"), period)
        target.with_suffix(".nc.part").replace(target)
        manifest[key] = {"url": directory + name, "size": size,
                         "sha256": _sha256(target)}
        logger.info("downloaded file=%s bytes=%d", key, size)
        summary.downloaded.append(key)

    async def _find(self, directory: str, period: Period) -> str | None:
        response = await self._retrying(lambda: self._client.get(
            directory, timeout=self._settings.timeout_s))
        if response.status_code == 404:
            return None
        response.raise_for_status()
        names = [n for n in _links(response.text) if period.file_pattern().fullmatch(n)]
        # The highest version wins: NCEI keeps older versions beside newer ones.
        return max(names, default=None)

    def _target(self, period: Period, name: str) -> Path:
        folder = self._settings.cache_dir / period.product.value / (
            f"g{period.satellite:02d}")
        folder.mkdir(parents=True, exist_ok=True)
        return folder / name

    def _verified(self, target: Path, entry: dict[str, object] | None) -> bool:
        if entry is None or not target.exists():
            return False
        if target.stat().st_size == entry.get("size") and _sha256(target) == entry.get(
                "sha256"):
            return True
        logger.warning("cached file changed, fetching again file=%s", target)
        return False

    async def _fetch(self, url: str, part: Path) -> int:
        """Download ``url`` into ``part``, resuming it; return the total size."""
        for attempt in range(1, self._settings.attempts + 1):
            try:
                return await self._stream(url, part)
            except (httpx.TransportError, ProducerError) as exc:
                if attempt == self._settings.attempts:
                    raise ProducerError(f"{url}: gave up after {attempt} attempts: "
                                        f"{exc}") from exc
                logger.warning("download interrupted, resuming url=%s attempt=%d "
                               "error=%r", url, attempt, exc)
                await asyncio.sleep(min(2.0 ** attempt, 30.0))
        raise AssertionError("unreachable")

    async def _stream(self, url: str, part: Path) -> int:
        have = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        async with self._client.stream("GET", url, headers=headers,
                                       timeout=self._settings.timeout_s) as response:
            if response.status_code == 416:
                part.unlink()  # our partial file is longer than theirs: start over
                raise ProducerError(f"{url}: range not satisfiable, restarting")
            response.raise_for_status()
            if response.status_code != 206:
                have = 0  # the server ignored Range and sends the whole file
            total = _total_size(response, have)
            with part.open("ab" if have else "wb") as sink, tqdm(
                    total=total, initial=have, unit="B", unit_scale=True,
                    desc=part.name.removesuffix(".part"),
                    disable=None if self._progress is None else not self._progress,
                    leave=False) as bar:
                async for chunk in response.aiter_bytes(_CHUNK_BYTES):
                    sink.write(chunk)
                    bar.update(len(chunk))
        size = part.stat().st_size
        if total is not None and size != total:
            raise ProducerError(f"{url}: got {size} bytes, server announced {total}")
        return size

    def _check(self, part: Path, period: Period) -> None:
        found = detect_format(part)
        if found is not _FORMATS[period.product]:
            part.unlink()
            raise ProducerError(f"{part}: is {found}, expected {period.product}")

    async def _retrying(self, call: Callable[[], Awaitable[httpx.Response]]
                        ) -> httpx.Response:
        for attempt in range(1, self._settings.attempts + 1):
            try:
                response = await call()
            except httpx.TransportError:
                if attempt == self._settings.attempts:
                    raise
                await asyncio.sleep(min(2.0 ** attempt, 30.0))
                continue
            if response.status_code < 500 or attempt == self._settings.attempts:
                return response
            await asyncio.sleep(min(2.0 ** attempt, 30.0))
        raise AssertionError("unreachable")

    def _load_manifest(self) -> dict[str, dict[str, object]]:
        if not self._manifest_path.exists():
            return {}
        loaded: dict[str, dict[str, object]] = json.loads(
            self._manifest_path.read_text())
        return loaded

    def _save_manifest(self, manifest: dict[str, dict[str, object]]) -> None:
        self._manifest_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self._manifest_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(manifest, indent=1, sort_keys=True))
        temporary.replace(self._manifest_path)


def _total_size(response: httpx.Response, have: int) -> int | None:
    content_range = response.headers.get("content-range", "")
    match = re.fullmatch(r"bytes \d+-\d+/(\d+)", content_range.strip())
    if match:
        return int(match.group(1))
    length = response.headers.get("content-length")
    return have + int(length) if length is not None else None


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.links += [v.rsplit("/", 1)[-1] for k, v in attrs if k == "href" and v]


def _links(html: str) -> list[str]:
    parser = _LinkParser()
    parser.feed(html)
    return parser.links


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
