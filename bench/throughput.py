"""Stream throughput: one worker with features and model vs a raw aiokafka loop.

Method (printed with the results): the 2010 legacy year of GOES-14 and GOES-15
(NGDC monthly 1-minute netCDF, real data) is replayed once with
``python -m producers replay --speed max --records-per-message N`` (default
60: a backfill's records packed per satellite, as the replayer offers; 1 is
one message per minute, as the live poller publishes) into a fresh
4-partition records topic on the real broker. Then, for each of N runs, side by
side on the same topic:

* ceiling: a raw aiokafka consumer (no group) reads every partition from the
  beginning to the end offsets, touching each value and doing nothing else;
  its records/s is the topic's records over that time;
* decode: the same loop plus ``flarecore.records.decode_records`` per value
  (what the worker must do at least);
* bare faust: ``bench/faust_bare.py``, a faust agent over the same topic with
  the same batching that only counts events (the faust ceiling; records/s =
  events/s times the topic's records per message);
* worker: a fresh ``python -m stream_app worker`` (its own app id, so its own
  group starting at the earliest offset, own changelogs and alerts topic) with
  the shipped gradient-boosting model (``models/default``), batches of
  ``FLARE_BATCH_SIZE``. Its ``/metrics`` (records processed + ignored +
  quarantined) is polled every 0.2 s; records/s = records handled between the
  first poll that sees any and the poll that sees them all, over that time.
  Worker start-up (group join, model load) is excluded. The worker's RSS is
  sampled at each tenth of the way (memory flatness).

Numbers are medians over the runs; the ratio worker/ceiling is per run.

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 python bench/throughput.py --runs 3
    python bench/throughput.py --months 2 --runs 3   # a subset: Jan-Feb 2010
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import sys
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

# Run as a plain script from a checkout: make the repository importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    LEGACY_2010,
    REPO,
    Worker,
    create_topics,
    delete_topics,
    free_port,
    machine,
    median,
    replay,
    run_id,
    service_env,
    topics_for,
    worker_env,
)
from flarecore.records import decode_records  # noqa: E402
from flarecore.settings import KafkaSettings, TopicSettings  # noqa: E402


@dataclass
class WorkerRun:
    records: int
    seconds: float
    rss_kib: list[int] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.records / self.seconds


def flatness(rss_kib: list[int], total: int) -> str:
    """RSS at the end of the first tenth vs the end, and the slope after it.

    Samples are taken at each tenth of the records; the first tenth is warm-up
    (tables, model, caches fill), so the slope is fitted over the rest.
    """
    if len(rss_kib) < 4:
        return f"too few samples: {rss_kib}"
    tail = [k / 1024 for k in rss_kib[1:]]
    xs = [i * total / (len(rss_kib) - 1) / 1e5 for i in range(1, len(rss_kib))]
    mean_x, mean_y = sum(xs) / len(xs), sum(tail) / len(tail)
    slope = (sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, tail))
             / sum((x - mean_x) ** 2 for x in xs))
    return (f"start={rss_kib[0] / 1024:.0f} MiB first_tenth={tail[0]:.0f} MiB "
            f"last={tail[-1]:.0f} MiB slope={slope:+.2f} MiB/100k records "
            f"samples={[round(v) for v in tail]}")


def year_paths(months: int | None) -> list[Path]:
    """The 2010 monthly files of both satellites, optionally the first months."""
    paths = sorted(LEGACY_2010.glob("g1[45]_xrs_1m_2010*.nc"))
    if months is None:
        return paths
    wanted = {f"2010{m:02d}01" for m in range(1, months + 1)}
    return [p for p in paths if p.name.split("_")[3] in wanted]


async def end_offsets(kafka: KafkaSettings, topic: str,
                      partitions: int) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(**kafka.aiokafka_kwargs(), group_id=None)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        return await consumer.end_offsets(tps)
    finally:
        await consumer.stop()


async def raw_consume(kafka: KafkaSettings, topic: str, partitions: int,
                      decode: bool) -> tuple[int, float]:
    """Read the whole topic once; (messages, or records if decoding; seconds)."""
    consumer = AIOKafkaConsumer(
        **kafka.aiokafka_kwargs(), group_id=None, enable_auto_commit=False,
        auto_offset_reset="earliest", max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        # Explicit offsets: seek_to_beginning right after assign() can lose to
        # the assignment's own reset to "latest", and the loop then waits forever.
        for tp, begin in (await consumer.beginning_offsets(tps)).items():
            consumer.seek(tp, begin)
        count, total_bytes = 0, 0
        started = time.perf_counter()
        remaining = {tp for tp in tps if ends[tp] > 0}
        while remaining:
            batches = await consumer.getmany(timeout_ms=500, max_records=20000)
            for tp, messages in batches.items():
                for message in messages:
                    value = message.value or b""
                    total_bytes += len(value)
                    if decode:
                        count += len(decode_records(value)[0])
                if not decode:
                    count += len(messages)
                if messages and messages[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
        return count, time.perf_counter() - started
    finally:
        await consumer.stop()


def timed_consume(kafka: KafkaSettings, topic: str, partitions: int,
                  decode: bool) -> tuple[int, float]:
    """``raw_consume``, retried once if it stalls.

    A raw read of the year takes seconds; a stall (as seek_to_beginning once
    caused) costs a retry, not the run.
    """
    for attempt in (1, 2):
        try:
            return asyncio.run(asyncio.wait_for(
                raw_consume(kafka, topic, partitions, decode), timeout=120))
        except TimeoutError:
            print(f"raw read stalled (attempt {attempt}, decode={decode})")
    raise SystemExit("raw read stalled twice")


def worker_run(kafka: KafkaSettings, topics: TopicSettings, total: int,
               model_dir: Path, work: Path, batch_size: int,
               repo: Path = REPO, within_s: float = 0.5) -> WorkerRun:
    """One fresh worker (of the code in ``repo``) over the whole topic."""
    run = run_id()
    own = topics_for(run, records=topics.records,
                     partitions=topics.records_partitions)
    create_topics(kafka, own)
    env = worker_env(kafka, own, run, model_dir, work / f"data-{run}",
                     FLARE_BATCH_SIZE=str(batch_size),
                     FLARE_BATCH_WITHIN_S=str(within_s))
    worker = Worker(env, work / f"worker-{run}.log", repo)
    worker.start()
    try:
        worker.wait_until(lambda: worker.handled() > 0, "first records",
                          timeout_s=180, poll_s=0.05)
        first_s, first = time.perf_counter(), worker.handled()
        rss = [worker.rss_kib()]
        next_mark = first + (total - first) / 10
        handled = first
        while handled < total:
            time.sleep(0.2)
            if worker.process is not None and worker.process.poll() is not None:
                raise SystemExit(f"worker exited; log:\n{worker.tail()}")
            handled = worker.handled()
            if handled >= next_mark:
                rss.append(worker.rss_kib())
                next_mark += (total - first) / 10
        seconds = time.perf_counter() - first_s
        rss.append(worker.rss_kib())
        return WorkerRun(int(total - first), seconds, rss)
    finally:
        worker.stop()
        delete_topics(kafka, [own.quarantine, own.alerts, own.alerts_deadletter,
                              own.models, f"bench-app-{run}"])


def bare_faust_run(kafka: KafkaSettings, topics: TopicSettings, total: int,
                   work: Path, batch_size: int, per_message: float) -> WorkerRun:
    """The bare faust agent of ``bench/faust_bare.py`` over the whole topic.

    ``total`` is in messages; the run's rate in records (``per_message`` each).
    """
    run = run_id()
    env = service_env(kafka, topics, BARE_APP_ID=f"bench-bare-{run}",
                      BARE_TOPIC=topics.records,
                      BARE_PARTITIONS=str(topics.records_partitions),
                      BARE_DATA_DIR=str(work / f"bare-{run}"),
                      BARE_WEB_PORT=str(free_port()),
                      BARE_BATCH_SIZE=str(batch_size))
    env["FLARE_WEB_PORT"] = env["BARE_WEB_PORT"]  # Worker reads its URL from it
    log = work / f"bare-{run}.log"
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("faust_bare.py")),
             "worker", "-l", "warn"], cwd=work, env=env, stdout=out,
            stderr=subprocess.STDOUT)
    bare = Worker(env, log)
    bare.process = process
    count = lambda: float(bare.get("/count").json()["events"])  # noqa: E731
    try:
        bare.wait_until(lambda: count() > 0, "first events", 180, poll_s=0.05)
        first_s, first = time.perf_counter(), count()
        bare.wait_until(lambda: count() >= total, "all events", 600, poll_s=0.1)
        return WorkerRun(int((total - first) * per_message),
                         time.perf_counter() - first_s)
    finally:
        bare.stop()
        delete_topics(kafka, [f"bench-bare-{run}"])


def publish(kafka: KafkaSettings, topics: TopicSettings, paths: list[Path],
            work: Path, records_per_message: int) -> tuple[int, float]:
    """Replay the files at full speed; (messages on the topic, seconds)."""
    create_topics(kafka, topics)
    started = time.perf_counter()
    log = work / "replay.log"
    env = service_env(kafka, topics,
                      FLARE_PRODUCERS_RECORDS_PER_MESSAGE=str(records_per_message))
    process = replay(env, paths, "max", log)
    if process.wait() != 0:
        raise SystemExit(f"replay failed:\n{log.read_text()[-3000:]}")
    seconds = time.perf_counter() - started
    ends = asyncio.run(end_offsets(kafka, topics.records, topics.records_partitions))
    return sum(ends.values()), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--months", type=int, default=None,
                        help="only the first N months of 2010 (default: the year)")
    parser.add_argument("--records-topic", default=None,
                        help="reuse a topic already holding the replay")
    parser.add_argument("--keep-topic", action="store_true")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--model-dir", type=Path, default=REPO / "models" / "default",
                        help="bundle to serve (default: the shipped model)")
    parser.add_argument("--baseline-repo", type=Path, default=None,
                        help="also time a worker of this checkout (e.g. `git "
                        "archive <commit> | tar -x -C DIR`), serving its own "
                        "models/default, in each run: before/after")
    parser.add_argument("--within", type=float, default=0.5,
                        help="the workers' FLARE_BATCH_WITHIN_S (batch wait)")
    parser.add_argument("--records-per-message", type=int, default=60,
                        help="the replay's packing (1: one message per minute)")
    parser.add_argument("--skip-bare", action="store_true",
                        help="leave out the bare faust agent")
    args = parser.parse_args()

    kafka = KafkaSettings()
    work = Path(tempfile.mkdtemp(prefix="bench-throughput-"))
    model_dir = args.model_dir
    topics = topics_for(run_id(), records=args.records_topic)
    paths = year_paths(args.months)
    print(__doc__.split("    KAFKA_")[0].strip())
    print(f"\nmachine: {machine()}")
    span = f"first {args.months} months" if args.months else "whole year"
    print(f"files: {len(paths)} ({span})"
          f" topic={topics.records} partitions={topics.records_partitions}"
          f" batch_size={args.batch_size} within_s={args.within} model={model_dir}"
          f" records_per_message={args.records_per_message}")

    if args.records_topic:
        ends = asyncio.run(end_offsets(kafka, topics.records,
                                       topics.records_partitions))
        messages, replay_s = sum(ends.values()), float("nan")
    else:
        messages, replay_s = publish(kafka, topics, paths, work,
                                     args.records_per_message)
    total, _ = timed_consume(kafka, topics.records, topics.records_partitions,
                             decode=True)
    per_message = total / messages
    print(f"records on topic: {total} in {messages} messages ({per_message:.1f} "
          f"per message; replay --speed max took {replay_s:.1f} s, "
          f"{total / replay_s:.0f} records/s)")

    results: dict[str, list[float]] = {"ceiling": [], "decode": [], "bare_faust": [],
                                       "baseline": [], "worker": [], "ratio": []}
    rss_runs: list[list[int]] = []
    try:
        for number in range(1, args.runs + 1):
            count, seconds = timed_consume(kafka, topics.records,
                                           topics.records_partitions, decode=False)
            ceiling = total / seconds
            count_d, seconds_d = timed_consume(kafka, topics.records,
                                               topics.records_partitions, decode=True)
            bare = (WorkerRun(0, float("nan")) if args.skip_bare else
                    bare_faust_run(kafka, topics, messages, work, args.batch_size,
                                   per_message))
            # A baseline checkout serves its own shipped model: models change
            # with the features their code computes.
            base = (WorkerRun(0, float("nan")) if args.baseline_repo is None else
                    worker_run(kafka, topics, total,
                               args.baseline_repo / "models" / "default", work,
                               args.batch_size, args.baseline_repo, args.within))
            run = worker_run(kafka, topics, total, model_dir, work, args.batch_size,
                             within_s=args.within)
            results["bare_faust"].append(bare.rate)
            results["baseline"].append(base.rate)
            results["ceiling"].append(ceiling)
            results["decode"].append(count_d / seconds_d)
            results["worker"].append(run.rate)
            results["ratio"].append(run.rate / ceiling)
            rss_runs.append(run.rss_kib)
            print(f"run {number}: ceiling={ceiling:,.0f}/s ({count} messages in "
                  f"{seconds:.2f} s)"
                  f" decode={count_d / seconds_d:,.0f}/s"
                  f" bare_faust={bare.rate:,.0f}/s"
                  f" baseline_worker={base.rate:,.0f}/s"
                  f" worker={run.rate:,.0f}/s ({run.records} in {run.seconds:.1f} s)"
                  f" ratio={run.rate / ceiling:.3f}"
                  f" rss_mib={[round(k / 1024) for k in run.rss_kib]}"
                  f" load1={machine().split('loadavg(1,5,15)=')[1].split()[0]}")
    finally:
        if not args.keep_topic and not args.records_topic:
            delete_topics(kafka, [topics.records, topics.quarantine, topics.alerts,
                                  topics.alerts_deadletter, topics.models])
        shutil.rmtree(work, ignore_errors=True)

    summary = {name: round(median(values), 4 if name == "ratio" else 0)
               for name, values in results.items()}
    print(f"\nmedian of {args.runs} runs: ceiling={summary['ceiling']:,.0f}/s "
          f"decode={summary['decode']:,.0f}/s "
          f"bare_faust={summary['bare_faust']:,.0f}/s "
          f"baseline_worker={summary['baseline']:,.0f}/s "
          f"worker={summary['worker']:,.0f}/s "
          f"worker/ceiling={summary['ratio']:.3f} (target worker >= 20,000/s)")
    for number, rss in enumerate(rss_runs, 1):
        print(f"worker RSS run {number}: {flatness(rss, total)}")
    print(f"machine after: {machine()}")
    print(json.dumps({"records": total, **summary}))


if __name__ == "__main__":
    main()
