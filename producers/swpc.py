"""The SWPC poller: fetch the real-time JSON, publish each minute exactly once.

Each cycle asks every feed (primary and secondary satellite) with a conditional
request, turns new minutes into records, and publishes what Kafka does not have
yet. Nothing stops the loop: HTTP errors, timeouts and bad replies back off and
retry; unpublished minutes wait in memory until the broker takes them.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from aiokafka.errors import KafkaError

from flarecore.quarantine import QuarantinedInput
from flarecore.readers.frame import Reading
from flarecore.readers.reading import records_of
from flarecore.readers.swpc import parse_swpc
from flarecore.records import XrsRecord, minute_to_datetime
from flarecore.settings import KafkaSettings, TopicSettings
from producers.metrics import ProducerMetrics
from producers.publish import Publisher, published_minutes
from producers.settings import SwpcSettings

logger = logging.getLogger(__name__)

STAGE = "swpc-poller"
_WHOLE_REPLY_REASONS = {"invalid_json", "not_an_array"}
_QUARANTINE_MEMORY = 200_000


@dataclass
class Feed:
    """One SWPC product: its regular URL, its start-up URL and cache validators."""

    name: str
    url: str
    startup_url: str | None
    filled: bool = False
    validators: dict[str, dict[str, str]] = field(default_factory=dict)

    def next_url(self) -> str:
        """The start-up (longer) window until it has been read once."""
        if self.filled or self.startup_url is None:
            return self.url
        return self.startup_url


def feeds_of(settings: SwpcSettings) -> list[Feed]:
    """The primary feed, and the secondary one when configured."""
    feeds = [Feed("primary", settings.primary_url, settings.primary_startup_url)]
    if settings.secondary_url:
        feeds.append(Feed("secondary", settings.secondary_url,
                          settings.secondary_startup_url))
    return feeds


class SwpcPoller:
    """Poll SWPC and publish every (satellite, minute) once."""

    def __init__(self, settings: SwpcSettings, kafka: KafkaSettings,
                 topics: TopicSettings, publisher: Publisher, client: httpx.AsyncClient,
                 metrics: ProducerMetrics,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._settings = settings
        self._kafka = kafka
        self._topics = topics
        self._publisher = publisher
        self._client = client
        self._metrics = metrics
        self._clock = clock
        self._feeds = feeds_of(settings)
        self._published: dict[int, set[int]] | None = None
        self._pending: dict[tuple[int, int], XrsRecord] = {}
        self._pending_quarantine: list[QuarantinedInput] = []
        self._quarantined_seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._flushing: asyncio.Task[bool] | None = None

    @property
    def pending(self) -> int:
        """Minutes read but not yet acknowledged by Kafka."""
        return len(self._pending)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set, backing off after failures."""
        failures = 0
        while not stop.is_set():
            healthy = await self._guarded_cycle()
            failures = 0 if healthy else failures + 1
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._delay(failures))
        await self._shutdown()

    async def cycle(self) -> bool:
        """One round: connect if needed, poll every feed, publish. True if all OK.

        Publishing runs as a task of its own: while Kafka is away its sends wait
        (the idempotent producer retries them), and polling goes on meanwhile.
        """
        connected = await self._connect()
        polled = [await self._poll(feed) for feed in self._feeds]
        flushed = await self._publish_step() if connected else False
        self._metrics.pending.set(len(self._pending))
        return connected and all(polled) and flushed

    async def _guarded_cycle(self) -> bool:
        try:
            return await self.cycle()
        except Exception:
            # The last line of defence: a bug must not stop the data flowing.
            logger.exception("unexpected error in poll cycle, will retry")
            return False

    async def _publish_step(self) -> bool:
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush())
        done, _ = await asyncio.wait({self._flushing},
                                     timeout=self._settings.publish_wait_s)
        if not done:
            logger.warning("kafka has not acknowledged yet, polling on pending=%d",
                           len(self._pending))
            return False
        task, self._flushing = self._flushing, None
        return task.result()

    async def _shutdown(self) -> None:
        if self._flushing is not None:
            with suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._flushing),
                                       self._settings.shutdown_grace_s)
        if self.pending:
            logger.error("stopping with unpublished minutes pending=%d",
                         self.pending)
        await self._publisher.stop(self._settings.shutdown_grace_s)

    def _delay(self, failures: int) -> float:
        if failures == 0:
            return self._settings.poll_interval_s
        backoff = self._settings.base_backoff_s * 2.0 ** (failures - 1)
        return float(min(backoff, self._settings.max_backoff_s))

    async def _connect(self) -> bool:
        """Start the producer and learn what Kafka already has, once per outage."""
        try:
            if not self._publisher.started:
                await self._publisher.start()
            if self._published is None:
                since = self._clock() - timedelta(hours=self._settings.dedupe_window_h)
                self._published = await published_minutes(
                    self._kafka, self._topics.records,
                    self._topics.records_partitions, since)
                logger.info("published minutes read from kafka topic=%s %s",
                            self._topics.records, _newest(self._published))
        except (KafkaError, OSError, TimeoutError) as exc:
            logger.warning("kafka unavailable, will retry error=%r pending=%d", exc,
                           len(self._pending))
            await self._publisher.stop()
            return False
        return True

    async def _poll(self, feed: Feed) -> bool:
        url = feed.next_url()
        response = await self._get(feed, url)
        if response is None:
            return False
        if response.status_code == 304:
            self._metrics.polls.labels(feed.name, "not_modified").inc()
            return True
        if response.status_code != 200:
            logger.warning("swpc http error url=%s status=%d", url,
                           response.status_code)
            self._metrics.polls.labels(feed.name, "http_error").inc()
            return False
        return self._accept(feed, url, response)

    async def _get(self, feed: Feed, url: str) -> httpx.Response | None:
        try:
            response = await self._client.get(
                url, headers=feed.validators.get(url, {}),
                timeout=self._settings.timeout_s)
        except httpx.TimeoutException as exc:
            logger.warning("swpc timeout url=%s error=%r", url, exc)
            self._metrics.polls.labels(feed.name, "timeout").inc()
            return None
        except httpx.HTTPError as exc:
            logger.warning("swpc unreachable url=%s error=%r", url, exc)
            self._metrics.polls.labels(feed.name, "transport_error").inc()
            return None
        self._metrics.http_status.labels(feed.name, str(response.status_code)).inc()
        return response

    def _accept(self, feed: Feed, url: str, response: httpx.Response) -> bool:
        reading = parse_swpc(response.content, url, STAGE, now=self._clock())
        self._queue_quarantine(reading.quarantined)
        if _whole_reply_rejected(reading):
            logger.warning("swpc reply rejected url=%s reason=%s", url,
                           reading.quarantined[0].reason)
            self._metrics.polls.labels(feed.name, "bad_reply").inc()
            return False
        # Remember validators only for a reply we could read, so that a broken
        # reply is fetched again in full rather than answered with 304.
        feed.validators[url] = _validators(response)
        if not feed.filled and url == feed.startup_url:
            logger.info("start-up window read feed=%s url=%s minutes=%d", feed.name,
                        url, len(reading.frame))
        feed.filled = True
        added = self._queue_records(reading)
        self._metrics.polls.labels(feed.name, "ok").inc()
        logger.debug("swpc poll url=%s minutes=%d new=%d", url, len(reading.frame),
                     added)
        return True

    def _queue_records(self, reading: Reading) -> int:
        # TODO(#3): a newest minute lacking a channel is published as is; holding
        # it back one poll would let a late channel in (never seen from SWPC).
        added = 0
        for item in records_of(reading.frame):
            if isinstance(item, QuarantinedInput):
                self._queue_quarantine([item])
                continue
            key = (item.satellite, item.minute)
            if key in self._pending or self._is_published(*key):
                continue
            self._pending[key] = item
            added += 1
        return added

    def _queue_quarantine(self, entries: list[QuarantinedInput]) -> None:
        """Queue each rejected input once, though overlapping polls repeat it."""
        # TODO(#3): remembered in memory only; a restart quarantines the objects
        # of its start-up window again (the quarantine topic's tail could say).
        for entry in entries:
            key = (entry.reason, entry.raw)
            if key in self._quarantined_seen:
                continue
            self._quarantined_seen[key] = None
            if len(self._quarantined_seen) > _QUARANTINE_MEMORY:
                self._quarantined_seen.popitem(last=False)
            self._pending_quarantine.append(entry)

    def _is_published(self, satellite: int, minute: int) -> bool:
        return self._published is not None and minute in self._published.get(
            satellite, set())

    async def _flush(self) -> bool:
        """Publish pending minutes in time order, then pending quarantine entries."""
        for key in [k for k in self._pending if self._is_published(*k)]:
            del self._pending[key]
        records = sorted(self._pending.values(), key=lambda r: (r.minute, r.satellite))
        items: list[XrsRecord | QuarantinedInput] = [*records,
                                                      *self._pending_quarantine]
        if not items:
            return True
        delivery = await self._publisher.send(items)
        self._settle(delivery.delivered)
        if delivery.error is not None:
            # Unacknowledged sends may still have landed: re-read Kafka first.
            logger.warning("publish failed, will retry error=%r pending=%d",
                           delivery.error, len(self._pending))
            self._published = None
            return False
        return True

    def _settle(self, delivered: list[XrsRecord | QuarantinedInput]) -> None:
        published = self._published if self._published is not None else {}
        quarantined_ids = set()
        for item in delivered:
            if isinstance(item, XrsRecord):
                self._pending.pop((item.satellite, item.minute), None)
                published.setdefault(item.satellite, set()).add(item.minute)
                self._metrics.published.labels(str(item.satellite)).inc()
                self._metrics.newest_minute.labels(str(item.satellite)).set(
                    max(published[item.satellite]) * 60)
            else:
                quarantined_ids.add(id(item))
                self._metrics.quarantined.labels(item.reason).inc()
                logger.warning("input quarantined source=%s reason=%s", item.source,
                               item.reason)
        self._pending_quarantine = [q for q in self._pending_quarantine
                                    if id(q) not in quarantined_ids]
        self._forget_old(published)

    def _forget_old(self, published: dict[int, set[int]]) -> None:
        """Drop minutes older than the window before each satellite's newest.

        Relative to the data, not the clock, so that replies of any age (and the
        recorded replies of the tests) are deduplicated alike.
        """
        window = int(self._settings.dedupe_window_h * 60)
        for satellite, minutes in published.items():
            if len(minutes) > window:
                floor = max(minutes) - window
                published[satellite] = {m for m in minutes if m >= floor}


def _whole_reply_rejected(reading: Reading) -> bool:
    return len(reading.frame) == 0 and any(
        q.reason in _WHOLE_REPLY_REASONS for q in reading.quarantined)


def _validators(response: httpx.Response) -> dict[str, str]:
    headers = {}
    if "etag" in response.headers:
        headers["If-None-Match"] = response.headers["etag"]
    if "last-modified" in response.headers:
        headers["If-Modified-Since"] = response.headers["last-modified"]
    return headers


def _newest(published: dict[int, set[int]]) -> str:
    parts = [f"satellite={s} newest={minute_to_datetime(max(m)):%FT%TZ} count={len(m)}"
             for s, m in sorted(published.items()) if m]
    return " ".join(parts) or "none"
