"""Side by side in one process: the worker's two hottest costs, each way.

Method (printed with the results): one month of real 2010 GOES-14 records
(legacy NGDC netCDF), with the engine's features of every minute computed once.
With the shipped model (``models/default``, ``OMP_NUM_THREADS=1``) and in
alternation, ``--repeats`` times each:

* model: scikit-learn's ``predict_proba`` of the shipped model's trees (the
  growth-bin classifier) against the compiled trees (``flarecore.trees``) over
  the month's feature rows in batches of ``--batch-size``; us per row. The two
  results are checked equal, bit for bit. Beside them, what the worker calls:
  ``Forecaster.predict_proba`` (compiled trees, then growth bins to classes).
* decode: the month packed as the replayer's batch messages (60 records), read
  back with ``decode_records``, with the cyclic garbage collector walking the
  whole heap (faust, scikit-learn and numba loaded, as in a worker) against the
  heap frozen (``gc.freeze``, as the worker does once its model is loaded);
  us per record.

Medians over the repeats, and their ratio; this machine is shared, so read the
spread (min-max) printed beside each median.

    python bench/hotpath.py --month 1 --repeats 7
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import faust  # noqa: E402, F401 - the worker's heap: faust is loaded there

from bench.common import LEGACY_2010, REPO, machine  # noqa: E402
from flarecore.engine import SatelliteEngine  # noqa: E402
from flarecore.forecast import load_bundle  # noqa: E402
from flarecore.readers import iter_records  # noqa: E402
from flarecore.records import XrsRecord, XrsRecordBatch, decode_records  # noqa: E402


def month_records(month: int) -> list[XrsRecord]:
    path = next(LEGACY_2010.glob(f"g14_xrs_1m_2010{month:02d}01_*.nc"))
    return [r for r in iter_records([path]) if isinstance(r, XrsRecord)]


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def summary(name: str, seconds: list[float], per: int) -> float:
    us = [s / per * 1e6 for s in seconds]
    middle = statistics.median(us)
    print(f"  {name:28} {middle:7.2f} us  (min {min(us):.2f}, max {max(us):.2f})")
    return middle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--month", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batch-size", type=int, default=5000)
    args = parser.parse_args()

    print(__doc__.split("    python bench")[0].strip())
    print(f"\nmachine: {machine()}")
    forecaster = load_bundle(REPO / "models" / "default")
    records = month_records(args.month)
    features = SatelliteEngine(records[0].satellite, None).process(records).features
    assert features is not None and forecaster._trees is not None
    batches = [features[i:i + args.batch_size]
               for i in range(0, len(features), args.batch_size)]
    messages = [XrsRecordBatch(records=records[i:i + 60]).to_bytes()
                for i in range(0, len(records), 60)]
    print(f"records={len(records)} feature_rows={len(features)} "
          f"batch={args.batch_size} objects_on_heap={len(gc.get_objects())}")

    trees = getattr(forecaster.estimator, "bins_estimator", forecaster.estimator)
    sklearn_s, compiled_s, served_s, walking_s, frozen_s = [], [], [], [], []
    for _ in range(args.repeats):
        sklearn_s.append(timed(lambda: [trees.predict_proba(b) for b in batches]))
        compiled_s.append(timed(lambda: [forecaster._trees.predict_proba(b)
                                         for b in batches]))
        served_s.append(timed(lambda: [forecaster.predict_proba(b)
                                       for b in batches]))
        walking_s.append(timed(lambda: [decode_records(m) for m in messages]))
        gc.freeze()
        frozen_s.append(timed(lambda: [decode_records(m) for m in messages]))
        gc.unfreeze()
    for batch in batches:
        assert (trees.predict_proba(batch)
                == forecaster._trees.predict_proba(batch)).all()

    print("model, per feature row (results equal bit for bit):")
    slow = summary("scikit-learn predict_proba", sklearn_s, len(features))
    fast = summary("compiled trees", compiled_s, len(features))
    print(f"  ratio {slow / fast:.2f}x")
    summary("served (trees + class proba)", served_s, len(features))
    print("decode of batch messages, per record:")
    slow = summary("collector walks the heap", walking_s, len(records))
    fast = summary("heap frozen", frozen_s, len(records))
    print(f"  ratio {slow / fast:.2f}x")
    print(f"machine after: {machine()}")


if __name__ == "__main__":
    main()
