"""CLI start-up: wall time of `cait --help` and of `cait collect` with nothing to do.

Each command runs N times in a fresh process (`python -m cli`, from this checkout) against a
new SQLite database with no source and no article; the median and the fastest run are
printed beside the targets (issue 18: ≤ 0.3 s and ≤ 1 s), with the median CPU time of the
process (user + system: the machine is shared, and wall time moves with its load) and the
load average. Run it from another checkout for its baseline.

Run: .venv/bin/python -m bench.startup_bench [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run of `cait ARGS` in a fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cli", *args], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAIT_")}
        env.update({"DATABASE_URL": f"sqlite:///{Path(tmp) / 'cait.db'}",
                    "CAIT_DATA_DIR": tmp})
        timed(["init"], env)
        timed(["collect"], env)  # untimed: a version that trains its model on first use does
        print(f"{'':34}{'median s':>10}{'fastest s':>11}{'CPU s':>8}   target")
        for label, command, target in [("cait --help", ["--help"], "<= 0.3 s"),
                                       ("cait collect (nothing to do)", ["collect"], "<= 1 s")]:
            runs = [timed(command, env) for _ in range(args.runs)]
            times = [wall for wall, _ in runs]
            cpu = statistics.median(c for _, c in runs)
            load = " ".join(f"{x:.2f}" for x in os.getloadavg())
            print(f"{label:34}{statistics.median(times):10.2f}{min(times):11.2f}{cpu:8.2f}   "
                  f"{target}   load {load}")


if __name__ == "__main__":
    main()
