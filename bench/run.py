"""`make bench`: time and peak memory of generating the demo microdata and of the demo's builds, then
the charts, rounding, scale and corpus benchmarks. Each step runs in a child process so its peak
memory is its own.

The demo's targets (issue #12) are judged on a fresh copy of the project, as a new clone has it
after `make build` set it up: the tracked files, the generated data and the engine's bytecode, no
`.cache/` and no site. Its first build is the cold one (≤ 3 s, the whole command), its second the
rebuild with nothing changed (≤ 0.3 s)."""

from __future__ import annotations

import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


DEMO_TARGETS = {"cold": 3.0, "no change": 0.3}


def measure(label: str, args: list[str], cwd: Path = ROOT) -> tuple[str, float, float, float]:
    """Seconds, processor seconds (user and system, of the step and every process it started) and
    peak MiB of one step."""
    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return label, seconds, cpu, max(after.ru_maxrss, before.ru_maxrss) / 1024


def fresh_copy(folder: Path) -> Path:
    """The project as a fresh clone has it once `make build` set it up: its tracked files (as they
    are in the working tree), the generated data and the engine's bytecode; no caches, no site."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout
    for rel in filter(None, listed.decode().split("\0")):
        if (ROOT / rel).is_file():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, folder / rel)
    shutil.copytree(ROOT / "data", folder / "data")
    subprocess.run([sys.executable, "-m", "compileall", "-q", "statpress"], cwd=folder, check=True)
    return folder


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        # first: a child's peak memory is reported as the largest of any child's so far
        project = fresh_copy(Path(tmp) / "project")
        demo = [measure("demo, cold (a fresh copy, data generated)", ["build.py", "build"], project),
                measure("demo, no change (the same build again)", ["build.py", "build"], project)]
        rows = [measure("generate demo microdata", ["stats/demo/generate.py", f"{tmp}/data"]),
                measure("full build (demo, as of today)", ["build.py", "build", "--out", f"{tmp}/site"]),
                measure("full build again (same inputs)", ["build.py", "build", "--out", f"{tmp}/site"])]
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, "
          f"{len(os.sched_getaffinity(0))} cores, Python {platform.python_version()}")
    print(f"{'step':40} {'seconds':>8} {'CPU s':>6} {'peak MiB':>9}")
    for label, seconds, cpu, mib in rows:
        print(f"{label:40} {seconds:8.1f} {cpu:6.1f} {mib:9.0f}")
    print()
    status = 0
    print("the demo's targets (issue #12), whole commands on a fresh copy of the project:")
    for (label, seconds, cpu, mib), target in zip(demo, DEMO_TARGETS.values()):
        met = seconds <= target
        status |= not met
        print(f"{label:44} {seconds:6.2f} s  CPU {cpu:5.2f} s  peak {mib:5.0f} MiB  "
              f"(target ≤ {target} s: {'met' if met else 'NOT met'})")
    print()
    print("charts (bench/bench_charts.py):")
    sys.stdout.flush()
    subprocess.run([sys.executable, "bench/bench_charts.py"], cwd=ROOT, check=True)
    print()
    print("rounding benchmark (bench/bench_rounding.py):")
    sys.stdout.flush()
    status |= subprocess.run([sys.executable, "bench/bench_rounding.py"], cwd=ROOT).returncode
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
