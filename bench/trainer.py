"""Measure one full training (``python -m trainer fit``): wall time and peak memory.

Method (printed with the results): ``python -m trainer fit --no-register`` runs as
a subprocess on the named file set (default: the training set under
``../shared/data``) and writes its bundle to a temporary directory. This script
polls ``/proc`` every 0.1 s and sums the resident set size (VmRSS) of the child and
all its descendants; the peak of that sum is the reported memory. Wall time is
from the start of the subprocess to its exit, interpreter start-up and file reading
included. The child's own log gives the time of each stage (dataset, cross-
validation, final fit), printed alongside. With ``--runs N`` the median is given;
with ``--threads 1 2`` each run trains once per ``FLARE_TRAINER_THREADS`` value,
interleaved, and the ratios to the first value are printed.

    .venv/bin/python bench/trainer.py                  # one run, minutes
    .venv/bin/python bench/trainer.py --threads 1 2    # OpenMP threads side by side
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_STAGES = re.compile(r"fit stages (.*)$")


def tree_rss_kib(root: int) -> int:
    """VmRSS of ``root`` and every descendant, in KiB (0 for vanished ones)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: split after the last ')'.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        total += _rss_kib(pid)
    return total


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def one_run(data_set: str, extra: list[str], threads: int
            ) -> tuple[float, int, str]:
    """Wall seconds, peak tree RSS (KiB) and the stage line of one training."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "trainer", "fit", "--no-register",
                   "--set", data_set, "--out", str(Path(tmp) / "bundle"), *extra]
        log = Path(tmp) / "fit.log"
        started = time.monotonic()
        with open(log, "w") as handle:
            env = os.environ | {"FLARE_TRAINER_THREADS": str(threads)}
            child = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL,
                                     stderr=handle, env=env)
            peak = 0
            while child.poll() is None:
                peak = max(peak, tree_rss_kib(child.pid))
                time.sleep(0.1)
        seconds = time.monotonic() - started
        text = log.read_text()
        if child.returncode != 0:
            raise SystemExit(f"trainer fit exited {child.returncode}:\n{text[-2000:]}")
    stages = [m.group(1) for line in text.splitlines()
              if (m := _STAGES.search(line))]
    return seconds, peak, stages[-1] if stages else "(no stage line)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--set", default="training", help="trainer file set")
    parser.add_argument("--threads", type=int, nargs="+", default=[1],
                        help="FLARE_TRAINER_THREADS values, measured in turn")
    parser.add_argument("extra", nargs="*", help="more arguments for trainer fit")
    args = parser.parse_args()

    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"machine: nproc={os.cpu_count()} python={platform.python_version()} "
          f"loadavg(1,5,15) at start={load}")
    print("method: python -m trainer fit --no-register --set "
          f"{args.set} in a subprocess; wall clock start to exit; peak = max over "
          "0.1 s polls of the summed VmRSS of the process tree (/proc)")
    results: dict[int, tuple[list[float], list[int]]] = {}
    for run in range(args.runs):
        # Interleaved, so that a change of machine load hits every setting alike.
        for threads in args.threads:
            seconds, peak_kib, stages = one_run(args.set, args.extra, threads)
            times, peaks = results.setdefault(threads, ([], []))
            times.append(seconds)
            peaks.append(peak_kib)
            print(f"run {run + 1} threads={threads}: wall_s={seconds:.1f} "
                  f"peak_rss_mib={peak_kib / 1024:.0f} stages: {stages}", flush=True)
    base = statistics.median(results[args.threads[0]][0])
    for threads, (times, peaks) in results.items():
        median = statistics.median(times)
        print(f"median of {args.runs} threads={threads}: wall_s={median:.1f} "
              f"peak_rss_mib={statistics.median(peaks) / 1024:.0f} "
              f"ratio_to_threads={args.threads[0]}: {median / base:.2f}")
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"loadavg(1,5,15) at end={load}")


if __name__ == "__main__":
    main()
