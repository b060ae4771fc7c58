"""Profile a real stream worker (faust, Kafka and all) with cProfile.

Method (printed with the results): a records topic already holding a replay
(``bench/throughput.py --keep-topic`` prints its name) is read by a fresh
``stream_app`` worker of its own app id, started through this script, which adds
one faust task to the app: it waits for the first processed batch, profiles the
worker's event-loop thread for ``--seconds`` and dumps the statistics. The top
functions by cumulative and own time are printed, and the records handled
during the profile (cProfile slows Python code about 2x: read the shares, not
the rate).

    python bench/worker_profile.py --records-topic bench.records.xxxx --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def child() -> None:
    """Run the worker with a profiling task (inside the worker process)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import stream_app.__main__ as entry
    from stream_app.app import app
    from stream_app.tables import metrics

    profiler = cProfile.Profile()
    seconds = float(os.environ["PROFILE_SECONDS"])

    @app.task
    async def profile_records() -> None:
        while metrics.last_processed_s is None:
            await asyncio.sleep(0.05)
        before = _handled(metrics)
        profiler.enable()
        await asyncio.sleep(seconds)
        profiler.disable()
        profiler.dump_stats(os.environ["PROFILE_OUT"])
        Path(os.environ["PROFILE_OUT"] + ".count").write_text(
            str(_handled(metrics) - before))

    sys.argv = [sys.argv[0], "worker", "-l", "warn"]
    entry.main()


def _handled(metrics: object) -> float:
    total = 0.0
    for family in metrics.registry.collect():  # type: ignore[attr-defined]
        if family.name in ("flare_stream_records", "flare_stream_records_ignored",
                           "flare_stream_quarantined"):
            total += sum(s.value for s in family.samples if s.name.endswith("_total"))
    return total


def main() -> None:
    from bench.common import (create_topics, day_model, delete_topics, machine,
                              run_id, topics_for, worker_env)
    from flarecore.settings import KafkaSettings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records-topic", required=True)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()

    kafka = KafkaSettings()
    work = Path(tempfile.mkdtemp(prefix="bench-wprofile-"))
    run = run_id()
    topics = topics_for(run, records=args.records_topic)
    create_topics(kafka, topics)
    out = work / "worker.prof"
    env = worker_env(kafka, topics, run, day_model(work / "model"), work / "data",
                     FLARE_BATCH_SIZE=str(args.batch_size), PROFILE_OUT=str(out),
                     PROFILE_SECONDS=str(args.seconds), PROFILE_CHILD="1")
    print(__doc__.split("    python bench")[0].strip())
    print(f"\nmachine: {machine()}")
    with open(work / "worker.log", "ab") as log:
        process = subprocess.Popen([sys.executable, __file__], env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180 + args.seconds
        while not Path(str(out) + ".count").exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit((work / "worker.log").read_text()[-3000:])
            time.sleep(0.5)
    finally:
        process.terminate()
        process.wait(timeout=60)
        delete_topics(kafka, [topics.quarantine, topics.alerts,
                              topics.alerts_deadletter, topics.models,
                              f"bench-app-{run}"])
    handled = float(Path(str(out) + ".count").read_text())
    print(f"records handled while profiled: {handled:,.0f} in {args.seconds:.0f} s "
          f"({handled / args.seconds:,.0f}/s under cProfile)")
    for order in ("cumulative", "tottime"):
        text = io.StringIO()
        pstats.Stats(str(out), stream=text).sort_stats(order).print_stats(args.top)
        body = text.getvalue()
        print(f"\n--- cProfile by {order} ---")
        print(body[body.index("   ncalls"):].rstrip())


if __name__ == "__main__":
    child() if os.environ.get("PROFILE_CHILD") else main()
