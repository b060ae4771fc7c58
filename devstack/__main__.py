"""``python -m devstack kafka|fetch|run``: the local broker and the local stack."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from devstack.kafka import KAFKA_VERSION, LauncherError, LocalKafka, broker_answers
from devstack.kafka import fetch_jars

logger = logging.getLogger("devstack")


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen subcommand."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        if args.command == "fetch":
            print(fetch_jars(args.cache_dir))
            return 0
        if args.command == "run":
            from devstack.run import run

            return run(args.run_dir, source=args.source, speed=args.speed)
        return _run_kafka(args)
    except LauncherError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _run_kafka(args: argparse.Namespace) -> int:
    existing = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if existing:
        if not broker_answers(existing):
            raise LauncherError(f"KAFKA_BOOTSTRAP_SERVERS={existing} does not answer")
        print(existing, flush=True)
        logger.info("using the existing broker bootstrap=%s; starting nothing",
                    existing)
        return 0

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    broker = LocalKafka(port=args.port, data_dir=args.data_dir,
                        cache_dir=args.cache_dir)
    bootstrap = broker.start()
    try:
        if args.ready_file:
            args.ready_file.write_text(bootstrap + "\n")
        print(bootstrap, flush=True)
        logger.info("Apache Kafka %s (KRaft) running; send SIGTERM to stop",
                    KAFKA_VERSION)
        # A bounded wait, so the main thread wakes to run the signal handler
        # even where a blocked lock acquire is not interrupted by the signal.
        while not stop.wait(0.5):
            pass
    finally:
        logger.info("stopping kafka bootstrap=%s", bootstrap)
        broker.stop()
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devstack")
    sub = parser.add_subparsers(dest="command", required=True)
    kafka = sub.add_parser("kafka", help="run a local Apache Kafka broker (KRaft)")
    kafka.add_argument("--port", type=int, default=9092,
                       help="client port on 127.0.0.1 (0 picks a free one)")
    kafka.add_argument("--data-dir", type=Path, default=None,
                       help="keep the broker's data here (default: a temp dir)")
    kafka.add_argument("--cache-dir", type=Path, default=None,
                       help="where the broker jars are cached")
    kafka.add_argument("--ready-file", type=Path, default=None,
                       help="write the bootstrap address here once ready")
    fetch = sub.add_parser("fetch", help="download the broker jars into the cache")
    fetch.add_argument("--cache-dir", type=Path, default=None)
    run = sub.add_parser("run", help="run the whole stack locally, without Docker")
    run.add_argument("--source", choices=("auto", "live", "replay"), default="auto",
                     help="live polls SWPC; replay replays the bundled real flare "
                     "day; auto (default) goes live when SWPC answers")
    run.add_argument("--speed", default="120",
                     help="replay speed: realtime, a factor like 120, or max")
    run.add_argument("--run-dir", type=Path, default=Path("var/run"),
                     help="logs and broker data of the local run")
    return parser


if __name__ == "__main__":
    sys.exit(main())
