"""``python -m alerting run | replay-deadletter [--subscriber NAME]``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from aiokafka.errors import KafkaError
from prometheus_client import start_http_server
from pydantic import ValidationError

from alerting import AlertingError, replay
from alerting.service import AlertingService
from alerting.settings import AlertingSettings, SubscriberConfig
from flarecore import logs
from flarecore.topics import TopicSpec, ensure_topics

logger = logging.getLogger("alerting")

EXIT_OK, EXIT_FAILED, EXIT_MISUSE = 0, 1, 2


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, build settings, run the command; return the exit code."""
    args = _parser().parse_args(argv)
    logs.configure("DEBUG" if args.verbose else "INFO")
    # httpx logs every request with its URL at INFO, and webhook URLs are secrets.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        settings, subscribers = _configure(args)
        if args.command == "replay-deadletter":
            subscribers = replay.select(subscribers, args.subscriber)
    except (ValidationError, AlertingError) as exc:
        print(f"alerting: bad configuration: {_one_line(exc, args.verbose)}",
              file=sys.stderr)
        return EXIT_MISUSE
    try:
        if args.command == "run":
            asyncio.run(_run(settings, subscribers))
        else:
            asyncio.run(_replay(settings, subscribers))
    except (AlertingError, KafkaError, OSError) as exc:
        logger.error("alerting failed error=%s", _one_line(exc, args.verbose))
        return EXIT_FAILED
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m alerting",
        description="Deliver flare alerts to webhooks and Slack.")
    parser.add_argument("--config", type=Path, help="subscriber file (.yaml/.toml); "
                        "default FLARE_ALERTING_CONFIG_FILE")
    parser.add_argument("--verbose", action="store_true", help="debug logs")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="consume alerts and deliver them")
    replay_cmd = commands.add_parser(
        "replay-deadletter", help="re-deliver dead letters to subscribers")
    replay_cmd.add_argument("--subscriber", action="append", metavar="NAME",
                            help="only this subscriber (repeatable); default all")
    return parser


def _configure(args: argparse.Namespace
               ) -> tuple[AlertingSettings, list[SubscriberConfig]]:
    settings = AlertingSettings()
    if args.config is not None:
        settings = settings.model_copy(update={"config_file": args.config})
    return settings, settings.all_subscribers()


async def _run(settings: AlertingSettings, subscribers: list[SubscriberConfig]) -> None:
    await _ensure_topics(settings)
    if settings.metrics_port:
        start_http_server(settings.metrics_port)
        logger.info("metrics served port=%d", settings.metrics_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await AlertingService(settings, subscribers).run(stop)


async def _replay(settings: AlertingSettings, subscribers: list[SubscriberConfig]
                  ) -> None:
    await _ensure_topics(settings)
    reports = await replay.replay(settings, subscribers)
    if any(r.failed_again for r in reports):
        raise AlertingError("some dead letters failed again: " + ", ".join(
            f"{r.subscriber}={r.failed_again}" for r in reports if r.failed_again))


async def _ensure_topics(settings: AlertingSettings) -> None:
    topics = settings.topics
    await ensure_topics(settings.kafka, [
        TopicSpec(topics.alerts, topics.alerts_partitions),
        TopicSpec(topics.alerts_deadletter, 1),
    ])


def _one_line(exc: Exception, verbose: bool) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if verbose else " ".join(text.split())[:600]


if __name__ == "__main__":
    sys.exit(main())
