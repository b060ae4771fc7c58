"""``python -m producers swpc | replay PATH... | download``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from datetime import date
from pathlib import Path

import httpx
from aiokafka.errors import KafkaError
from prometheus_client import start_http_server
from pydantic import ValidationError

from flarecore import logs
from flarecore.errors import FlareError
from flarecore.readers import expand_paths
from flarecore.records import MAX_RECORDS_PER_MESSAGE
from producers.metrics import ProducerMetrics
from producers.ncei import Downloader, Product, periods
from producers.publish import Publisher
from producers.replay import ReplaySummary, Speed, dry_run, replay
from producers.settings import ProducerSettings
from producers.swpc import SwpcPoller

logger = logging.getLogger("producers")

EXIT_OK, EXIT_FAILED, EXIT_MISUSE = 0, 1, 2


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, build settings, run the command; return the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    logs.configure("DEBUG" if args.verbose else "INFO")
    try:
        settings = ProducerSettings()
        speed = Speed.parse(args.speed) if args.command == "replay" else None
        if getattr(args, "records_per_message", None) is not None:
            settings = settings.model_copy(
                update={"records_per_message": args.records_per_message})
    except (ValidationError, ValueError) as exc:
        print(f"producers: bad configuration: {_one_line(exc)}", file=sys.stderr)
        return EXIT_MISUSE
    try:
        if args.command == "swpc":
            asyncio.run(_swpc(settings))
        elif args.command == "replay":
            return _replay(settings, args, speed or Speed())
        else:
            return asyncio.run(_download(settings, args))
    except (FlareError, KafkaError, OSError) as exc:
        logger.error("producers failed error=%s", _one_line(exc))
        return EXIT_FAILED
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m producers",
        description="Publish GOES XRS minutes to Kafka, or fetch NCEI archives.")
    parser.add_argument("--verbose", action="store_true", help="debug logs")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("swpc", help="poll SWPC's real-time JSON and publish")
    replay_cmd = commands.add_parser("replay", help="publish archive files in order")
    replay_cmd.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                            help="archive files, or folders of them")
    replay_cmd.add_argument("--speed", default="max",
                            help="realtime, xN (e.g. x60) or max (default)")
    replay_cmd.add_argument(
        "--records-per-message", type=_records_per_message, default=None,
        metavar="N", help="pack up to N records of a satellite per Kafka message "
        f"(1..{MAX_RECORDS_PER_MESSAGE}; default FLARE_PRODUCERS_RECORDS_PER_MESSAGE"
        ", 1); 60 makes a backfill several times cheaper for the stream worker")
    replay_cmd.add_argument("--dry-run", action="store_true",
                            help="read and validate only; print a JSON summary")
    download = commands.add_parser("download", help="fetch NCEI files into a cache")
    download.add_argument("--product", required=True, type=Product,
                          choices=list(Product))
    download.add_argument("--satellite", required=True, type=int)
    download.add_argument("--start", required=True, type=date.fromisoformat,
                          help="first day, YYYY-MM-DD")
    download.add_argument("--end", required=True, type=date.fromisoformat,
                          help="last day, YYYY-MM-DD (inclusive)")
    download.add_argument("--cache-dir", type=Path,
                          help="default FLARE_PRODUCERS_NCEI__CACHE_DIR")
    return parser


async def _swpc(settings: ProducerSettings) -> None:
    metrics = ProducerMetrics()
    if settings.metrics_port:
        start_http_server(settings.metrics_port, registry=metrics.registry)
        logger.info("metrics served port=%d", settings.metrics_port)
    logger.info("swpc poller starting primary=%s secondary=%s interval_s=%s "
                "kafka=%s topic=%s", settings.swpc.primary_url,
                settings.swpc.secondary_url, settings.swpc.poll_interval_s,
                settings.kafka.bootstrap_servers, settings.topics.records)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    publisher = _publisher(settings, "swpc")
    async with httpx.AsyncClient(follow_redirects=True) as client:
        poller = SwpcPoller(settings.swpc, settings.kafka, settings.topics,
                            publisher, client, metrics)
        await poller.run(stop)
    logger.info("swpc poller stopped pending=%d", poller.pending)


def _replay(settings: ProducerSettings, args: argparse.Namespace,
            speed: Speed) -> int:
    paths = expand_paths(args.paths)
    if args.dry_run:
        print(dry_run(paths).model_dump_json(indent=2))
        return EXIT_OK
    summary = asyncio.run(_publish_replay(settings, paths, speed))
    print(summary.model_dump_json(indent=2))
    return EXIT_OK


async def _publish_replay(settings: ProducerSettings, paths: list[Path],
                          speed: Speed) -> ReplaySummary:
    publisher = _publisher(settings, "replay")
    await publisher.start()
    try:
        return await replay(paths, publisher, speed, settings.batch_size)
    finally:
        await publisher.stop()


async def _download(settings: ProducerSettings, args: argparse.Namespace) -> int:
    ncei = settings.ncei
    if args.cache_dir is not None:
        ncei = ncei.model_copy(update={"cache_dir": args.cache_dir})
    wanted = periods(args.product, args.satellite, args.start, args.end)
    async with httpx.AsyncClient(follow_redirects=True) as client:
        summary = await Downloader(ncei, client).run(wanted)
    print(summary.model_dump_json(indent=2))
    return EXIT_FAILED if summary.failed else EXIT_OK


def _publisher(settings: ProducerSettings, role: str) -> Publisher:
    return Publisher(settings.kafka, settings.topics, settings.request_timeout_ms,
                     settings.batch_size, client_id=role,
                     records_per_message=settings.records_per_message)


def _records_per_message(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_RECORDS_PER_MESSAGE:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected an integer from 1 to {MAX_RECORDS_PER_MESSAGE}")
    return value


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


if __name__ == "__main__":
    sys.exit(main())
