"""How fast this machine runs at the moment, as one number a benchmark prints beside its timings.

The virtual machine the benchmarks run on gives the same build 1.5-1.7 times its time in a slow
hour as in a fast one, minutes apart (docs/benchmarks.md). A benchmark's seconds mean little
without saying which hour they were taken in, so each benchmark times a fixed piece of work of
the kind a build does (the interpreter running Python, zlib compressing) before and after its
builds. Its objects are more than a processor's caches hold: a tight loop ran as fast in the slow
minutes as in the fast ones (docs/scaling.md). It follows the hour roughly, not run by run: a hint
of which hour a run had, not a factor to correct its times by. docs/benchmarks.md records it
beside the runs."""

from __future__ import annotations

import json
import time
import zlib


def fixed_work() -> int:
    """A build's kind of work, always the same: Python objects made (about 60 MB of them, more than
    a processor's caches hold), serialised and compressed."""
    records = [{"code": f"{i:06d}", "label": f"Municipality {i}", "value": i * 7 % 1000} for i in range(150_000)]
    text = json.dumps(records, sort_keys=True).encode()
    return sum(len(zlib.compress(text, level)) for level in (1, 6))


def fixed_work_seconds(repeats: int = 3) -> float:
    """Seconds of `fixed_work`, the fastest of `repeats` (the least disturbed by other processes)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fixed_work()
        best = min(best, time.perf_counter() - start)
    return best


def describe(when: str) -> str:
    """One line for a benchmark's report: the fixed work's seconds now."""
    return f"machine speed {when}: the fixed work of bench/speed.py took {fixed_work_seconds():.2f} s"


if __name__ == "__main__":
    print(describe("now"))
