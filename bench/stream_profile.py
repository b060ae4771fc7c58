"""Profile the stream path in process: decode, engine (with state round trip), encode.

Method (printed with the results): one month of real 2010 GOES-14 records
(legacy NGDC netCDF) is serialised as the producers publish it, then processed
the way the worker's records agent does, without Kafka or faust: per batch of
``--batch-size`` records, ``XrsRecord.from_bytes`` per value, the engine
restored from its table state (``SatelliteEngine.from_state``), ``process``, the
state saved again (``to_state``) and JSON-encoded as faust's changelog does,
and each alert candidate serialised. Each stage is timed separately (µs per
record); then the whole path runs under cProfile and the top functions by
cumulative and own time are printed. The model is the stream tests' real-day
logistic regression (``OMP_NUM_THREADS=1`` as in the worker).

    python bench/stream_profile.py --month 1 --batch-size 500
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
# Run as a plain script from a checkout: make the repository importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import LEGACY_2010, day_model, machine  # noqa: E402
from flarecore.engine import SatelliteEngine  # noqa: E402
from flarecore.forecast import Forecaster, load_bundle  # noqa: E402
from flarecore.readers import iter_records  # noqa: E402
from flarecore.records import XrsRecord  # noqa: E402


def month_values(month: int) -> list[bytes]:
    """The month's GOES-14 records as Kafka values."""
    path = next(LEGACY_2010.glob(f"g14_xrs_1m_2010{month:02d}01_*.nc"))
    return [r.to_bytes() for r in iter_records([path]) if isinstance(r, XrsRecord)]


def run_path(values: list[bytes], forecaster: Forecaster,
             batch_size: int) -> dict[str, float]:
    """The agent's per-batch work; seconds spent per stage."""
    spent = dict.fromkeys(("decode", "restore", "process", "save", "encode_alerts"),
                          0.0)
    state = None
    for start in range(0, len(values), batch_size):
        t0 = time.perf_counter()
        records = [XrsRecord.from_bytes(v) for v in values[start:start + batch_size]]
        t1 = time.perf_counter()
        engine = (SatelliteEngine.from_state(state, forecaster) if state
                  else SatelliteEngine(records[0].satellite, forecaster))
        t2 = time.perf_counter()
        out = engine.process(records)
        t3 = time.perf_counter()
        state = engine.to_state()
        json.dumps(state)
        t4 = time.perf_counter()
        for alert in out.alerts:
            alert.to_bytes()
        t5 = time.perf_counter()
        for name, a, b in (("decode", t0, t1), ("restore", t1, t2),
                           ("process", t2, t3), ("save", t3, t4),
                           ("encode_alerts", t4, t5)):
            spent[name] += b - a
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--month", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--model-dir", type=Path, default=None,
                        help="bundle to serve, e.g. models/default (default: the "
                        "stream tests' real-day model)")
    args = parser.parse_args()

    model = args.model_dir or day_model(
        Path(tempfile.mkdtemp(prefix="bench-profile-")) / "model")
    forecaster = load_bundle(model)
    values = month_values(args.month)
    print(__doc__.split("    python bench")[0].strip())
    print(f"\nmachine: {machine()}")
    print(f"records={len(values)} month=2010-{args.month:02d} batch={args.batch_size}"
          f" model={model}")

    spent = run_path(values, forecaster, args.batch_size)
    total = sum(spent.values())
    for name, seconds in spent.items():
        print(f"  {name:14} {seconds / len(values) * 1e6:7.1f} us/record "
              f"{100 * seconds / total:5.1f}%")
    print(f"  {'total':14} {total / len(values) * 1e6:7.1f} us/record = "
          f"{len(values) / total:,.0f} records/s (one core, no Kafka, no faust)")

    profiler = cProfile.Profile()
    profiler.enable()
    run_path(values, forecaster, args.batch_size)
    profiler.disable()
    for order in ("cumulative", "tottime"):
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats(order).print_stats(args.top)
        body = text.getvalue()
        print(f"\n--- cProfile by {order} ---")
        print(body[body.index("   ncalls"):].rstrip())


if __name__ == "__main__":
    main()
