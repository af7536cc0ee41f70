"""`make bench`: time and peak memory of generating the demo microdata and of a full build, then
the rounding benchmark. Each step runs in a child process so its peak memory is its own."""

from __future__ import annotations

import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def measure(label: str, args: list[str]) -> tuple[str, float, float]:
    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run([sys.executable, *args], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return label, seconds, max(peak, before) / 1024


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        rows = [
            measure("generate demo microdata", ["stats/demo/generate.py", f"{tmp}/data"]),
            measure("full build (demo, as of today)", ["build.py", "build", "--out", f"{tmp}/site"]),
            measure("full build again (same inputs)", ["build.py", "build", "--out", f"{tmp}/site"]),
        ]
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, "
          f"{len(__import__('os').sched_getaffinity(0))} cores, Python {platform.python_version()}")
    print(f"{'step':40} {'seconds':>8} {'peak MiB':>9}")
    for label, seconds, mib in rows:
        print(f"{label:40} {seconds:8.1f} {mib:9.0f}")
    print()
    print("charts (bench/bench_charts.py):")
    sys.stdout.flush()
    subprocess.run([sys.executable, "bench/bench_charts.py"], cwd=ROOT, check=True)
    print()
    print("rounding benchmark (bench/bench_rounding.py):")
    sys.stdout.flush()
    status = subprocess.run([sys.executable, "bench/bench_rounding.py"], cwd=ROOT).returncode
    for args, what in ((["bench/bench_scale.py"], "a register of 10^8 rows, out of core"),
                       (["bench/bench_scale.py", "--engine", "spark"], "the same register on Spark, local[2]"),
                       (["bench/bench_corpus.py"], "a corpus of 300 statistics")):
        print()
        print(f"{what} ({' '.join(args)}):")
        sys.stdout.flush()
        status |= subprocess.run([sys.executable, *args], cwd=ROOT).returncode
    for base in (3, 5):
        print()
        print(f"the benchmark table published by the build, base {base} (bench/bench_statistic.py):")
        sys.stdout.flush()
        status |= subprocess.run([sys.executable, "bench/bench_statistic.py", "--base", str(base)], cwd=ROOT).returncode
    return status


if __name__ == "__main__":
    sys.exit(main())
