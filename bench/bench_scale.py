"""Out-of-core: a statistic's tables from a register of 10⁸ rows (issue #12).

Generates `bench/data/register-100m.parquet` once (git-ignored; about 1 GB): 100 million records
of year (2015–2024), municipality (the 356 of stats/classifications), sex and age (0–99), drawn
deterministically by DuckDB. Then, in a child process, the build's data and tables stages check
every record and compute four tables (by county, by municipality, by age group, by sex and year)
through the DuckDB engine with a memory limit (or Spark: `--engine spark`, in local[2] unless
STATPRESS_SPARK_MASTER says otherwise), and report seconds, peak resident memory and the cells the
engine handed back (the aggregates: all that would leave a cluster).

    python bench/bench_scale.py [--rows N] [--memory-limit 1GB] [--engine duckdb|spark]

Exits 1 when a target is missed: tables in ≤ 15 s with peak RSS ≤ 2 GB (the DuckDB targets; a
Spark run in local mode is reported, not judged: on a cluster its time is the cluster's).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data"
TARGET_SECONDS, TARGET_PEAK_MIB = 15.0, 2048
YEAR = 2024


def generate(path: Path, rows: int) -> None:
    import duckdb

    codes = [line.split(",")[0] for line in (ROOT / "stats/classifications/municipalities.csv").read_text().splitlines()[1:]]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    con = duckdb.connect(config={"memory_limit": "2GB"})
    con.execute("CREATE TEMP TABLE m AS SELECT * FROM (SELECT unnest(?) AS code, generate_subscripts(?, 1) - 1 AS i)",
                [codes, codes])
    # a multiplicative hash of the row number stands for randomness: the same file every time
    con.execute(f"""
        COPY (
          SELECT 2015 + (h % 10)::BIGINT AS year, m.code AS municipality,
                 CASE WHEN (h // 10) % 2 = 0 THEN 'M' ELSE 'F' END AS sex,
                 ((h // 20) % 100)::BIGINT AS age
          FROM (SELECT hash(range) AS h FROM range({rows})) r
          JOIN m ON m.i = ((r.h // 2000) % {len(codes)})
        ) TO '{tmp.as_posix()}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000000)""")
    tmp.replace(path)


def project(root: Path, data: Path, engine: str = "duckdb") -> Path:
    (root / "stats" / "register").mkdir(parents=True)
    for name in ("municipalities", "counties", "regions", "age_groups"):
        (root / "stats" / f"{name}.csv").write_text(
            (ROOT / "stats/classifications" / f"{name}.csv").read_text(encoding="utf-8"), encoding="utf-8")
    (root / "stats" / "datasets.toml").write_text(textwrap.dedent(f"""
        [classifications.municipalities]
        file = "municipalities.csv"
        links = {{ county = "counties" }}
        [classifications.counties]
        file = "counties.csv"
        links = {{ region = "regions" }}
        [classifications.regions]
        file = "regions.csv"
        [classifications.age_groups]
        file = "age_groups.csv"
        [datasets.register]
        file = "{data.as_posix()}"
        engine = "{engine}"
        description = "10^8 generated register records"
        [datasets.register.columns]
        year = {{ type = "integer", min = 1900, max = 2100 }}
        municipality = {{ type = "code", classification = "municipalities" }}
        sex = {{ type = "code", values = ["M", "F"] }}
        age = {{ type = "integer", min = 0, max = 125, bands = {{ age_group = "age_groups" }} }}
        """), encoding="utf-8")
    columns = "".join(f'[[tables.columns]]\nid = "y{y}"\nlabel = "{y}"\nwhere = "year == {y}"\n'
                      for y in range(YEAR - 9, YEAR + 1))
    tables = ""
    for table_id, rows in [("by-county", 'by = "county"\nclassification = "counties"'),
                           ("by-municipality", 'by = "municipality"\nclassification = "municipalities"'),
                           ("by-age", 'by = "age_group"\nclassification = "age_groups"'),
                           ("by-sex", 'label = "Males"\nid = "m"\nwhere = "sex == \'M\'"\n[[tables.rows]]\n'
                                      'label = "Females"\nid = "f"\nwhere = "sex == \'F\'"')]:
        tables += (f'[[tables]]\nid = "{table_id}"\ntitle = "Persons"\ndataset = "register"\n'
                   f'[[tables.rows]]\nlabel = "Total"\n[[tables.rows]]\n{rows}\n{columns}\n')
    (root / "stats" / "register" / "tables.toml").write_text(tables, encoding="utf-8")
    return root


def peak_mib(pid: str = "self") -> float:
    return next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                if line.startswith("VmHWM:")) / 1024


def child(root: str, memory_limit: str, engine: str) -> None:
    """In a fresh process: time the data and tables stages, report peak RSS."""
    sys.path.insert(0, str(ROOT))
    from statpress.data import load_catalog
    from statpress.engines import DuckDB
    from statpress.tables import compute

    catalog = load_catalog(Path(root), DuckDB(memory_limit=memory_limit))
    engine_ = catalog.engine("register")
    handed: list[tuple[int, int]] = []  # (rows, columns) of each aggregate the engine handed back

    def aggregate(*args, _aggregate=engine_.aggregate):
        frame = _aggregate(*args)
        handed.append(frame.shape)
        return frame

    engine_.aggregate = aggregate
    started = 0.0
    if engine == "spark":  # the session starts once per process, and is timed on its own
        start = time.perf_counter()
        catalog.engine("register").spark(catalog.source("register"))
        started = time.perf_counter() - start
    start = time.perf_counter()
    catalog.check("register")  # one scan: every value against its rule
    checked = time.perf_counter() - start
    computed = compute(catalog, "register", YEAR)  # a second scan: the aggregate
    seconds = time.perf_counter() - start
    peak = peak_mib()
    if engine == "spark" and hasattr(catalog.engine("register")._spark, "sparkContext"):
        # local mode: the JVM is a child process, and the microdata pass through it, not Python
        jvm = catalog.engine("register")._spark.sparkContext._gateway.proc.pid
        peak += peak_mib(str(jvm))
    total = computed.tables[0].cell("total", f"y{YEAR}").value
    print(json.dumps({"seconds": seconds, "check_seconds": checked, "session_seconds": started, "peak_mib": peak, "total": total,
                      "cells": sum(t.values.size for t in computed.tables),
                      "transferred_rows": sum(r for r, _ in handed),
                      "transferred_cells": sum(r * c for r, c in handed)}))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000_000)
    ap.add_argument("--memory-limit", default="1GB", help="DuckDB's memory limit (it spills to disk beyond)")
    ap.add_argument("--engine", choices=["duckdb", "spark"], default="duckdb",
                    help="the engine that reads the register (Spark: local[2] unless STATPRESS_SPARK_MASTER is set)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.child, args.memory_limit, args.engine)
        return 0
    data = DATA / f"register-{args.rows}.parquet"
    if not data.exists():
        start = time.perf_counter()
        generate(data, args.rows)
        print(f"generated {args.rows:,} rows into {data} ({data.stat().st_size / 2**20:.0f} MiB) "
              f"in {time.perf_counter() - start:.0f} s")
    with tempfile.TemporaryDirectory() as tmp:
        project(Path(tmp), data, args.engine)
        out = subprocess.run([sys.executable, __file__, "--child", tmp, "--memory-limit", args.memory_limit,
                              "--engine", args.engine], check=True, capture_output=True, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    print(f"rows: {args.rows:,}  tables: 4, cells: {result['cells']}  (total {YEAR}: {result['total']:,.0f})")
    print(f"engine: {args.engine}; aggregate handed back: {result['transferred_rows']:,} rows, "
          f"{result['transferred_cells']:,} cells")
    if args.engine == "spark":
        print(f"Spark session started in {result['session_seconds']:.1f} s (not counted below)")
    limit = f"DuckDB memory limit {args.memory_limit}" if args.engine == "duckdb" else "Python and the Spark JVM"
    print(f"check every record + compute the tables: {result['seconds']:.1f} s (the check {result['check_seconds']:.1f} s), "
          f"peak RSS {result['peak_mib']:.0f} MiB ({limit}); load average {os.getloadavg()[0]:.1f}")
    if args.engine == "spark":
        return 0
    ok = result["seconds"] <= TARGET_SECONDS and result["peak_mib"] <= TARGET_PEAK_MIB
    print(f"target (<= {TARGET_SECONDS:.0f} s, <= {TARGET_PEAK_MIB} MiB): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
