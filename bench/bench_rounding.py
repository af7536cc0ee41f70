"""Benchmark of small-count rounding on a realistic register table.

356 municipalities in 15 counties × 2 sexes × 10 age groups × 5 years, about
15 % small inner cells (1 or 2), every margin published (municipality →
county → Total crossed with sex, age, year), base 3.

    python bench/bench_rounding.py [--repeat N] [--seed N]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from statpress.adhoc import model_matrix  # noqa: E402
from statpress.confidentiality import check_protected, pls_round  # noqa: E402

MUNICIPALITIES, COUNTIES, SEXES, AGES, YEARS = 356, 15, 2, 10, 5
TARGET_SECONDS, TARGET_MAX_CHANGE, TARGET_RMSE = 2.0, 8, 0.7


def make_data(seed: int = 2024):
    rng = np.random.default_rng(seed)
    muns = [f"K{m:04d}" for m in range(MUNICIPALITIES)]
    county_of = {m: f"F{rng.integers(COUNTIES) if i >= COUNTIES else i:02d}" for i, m in enumerate(muns)}
    grid = pd.MultiIndex.from_product(
        [muns, ["M", "F"][:SEXES], [f"A{a:02d}" for a in range(AGES)], [str(2020 + y) for y in range(YEARS)]],
        names=["municipality", "sex", "age", "year"],
    ).to_frame(index=False)
    n = len(grid)
    kind = rng.random(n)
    big = 3 + rng.negative_binomial(2, 0.05, size=n)  # mean about 41, long right tail
    count = np.where(kind < 0.15, rng.integers(1, 3, size=n), np.where(kind < 0.20, 0, big))
    grid["count"] = count.astype(np.int64)
    hierarchy = {m: c for m, c in county_of.items()}
    return grid, hierarchy


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=123)
    args = ap.parse_args(argv)

    frame, hierarchy = make_data()
    t = time.perf_counter()
    X, y, cells = model_matrix(frame, [["municipality", "sex", "age", "year"]], {"municipality": hierarchy},
                               freq="count", source="bench")
    build_seconds = time.perf_counter() - t
    small = float(np.mean((y >= 1) & (y <= 2)))

    runs = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        result = pls_round(X, y, base=3, seed=args.seed)
        runs.append(time.perf_counter() - t)
    s = result.summary
    problems = check_protected(X, result.inner, 3, published=result.published_after)
    best = min(runs)

    print(f"python: {platform.python_version()}  numpy: {np.__version__}  scipy: {scipy.__version__}  "
          f"pandas: {pd.__version__}  cpus: {__import__('os').cpu_count()}")
    print(f"inner cells: {s.inner_cells}  (small 1-2: {small:.1%})")
    print(f"model matrix seconds: {build_seconds:.3f}")
    print(f"seconds: {best:.3f}  (runs: {', '.join(f'{r:.3f}' for r in runs)})")
    print(f"cells: {s.cells}")
    print(f"candidates: {s.candidates}")
    print(f"cells changed: {s.changed}")
    print(f"max absolute change: {s.max_abs_change}")
    print(f"rmse: {s.rmse:.4f}")
    print(f"grand total before: {s.total_before}  after: {s.total_after}")
    print(f"protected: {'yes' if not problems else problems[:3]}")
    ok = best < TARGET_SECONDS and s.max_abs_change <= TARGET_MAX_CHANGE and s.rmse <= TARGET_RMSE and not problems
    print(f"target (< {TARGET_SECONDS} s, max change <= {TARGET_MAX_CHANGE}, rmse <= {TARGET_RMSE}): "
          f"{'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
