"""The rounding benchmark's table published by the build, as a statistic (issue #11).

The register table of bench_rounding.py (356 municipalities in 15 counties × 2 sexes × 10 age
groups × 5 years, every margin: 73 656 published cells over 35 600 inner cells) declared as an
ordinary statistic: a frequency-table dataset, rows Total / county / municipality and one count
column per crossing of sex, age group and year (with their totals). The build's own tables and
confidentiality stages compute and protect it; this script reports their time and the extra
memory they need, and compares the rounding with SmallCountRounding's (SSB's R package) results
on the same table where ../shared/peers/smallcountrounding/ holds them.

    python bench/bench_statistic.py [--base 3]

Exits 1 when a target is missed: protected in under 5 s with under 1 GB of extra memory, and no
worse than PLSrounding (RMSE and max change) where its results are at hand.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_rounding import AGES, SEXES, YEARS, register_table  # noqa: E402
from statpress import confidentiality, tables  # noqa: E402
from statpress.data import load_catalog  # noqa: E402

PEERS = ROOT.parent / "shared" / "peers" / "smallcountrounding"
TARGET_SECONDS, TARGET_EXTRA_MIB = 5.0, 1024
YEAR = 2020 + YEARS - 1
SEX_CODES = ["M", "F"][:SEXES]
AGE_CODES = [f"A{a:02d}" for a in range(AGES)]
YEAR_CODES = [str(2020 + y) for y in range(YEARS)]


@dataclass(frozen=True)
class Settings:
    base: int = 3
    max_round: int | None = None
    seed: int = 123


def column_id(sex: str, age: str, year: str) -> str:
    return "_".join(["c", sex.lower(), age.lower(), year.lower()])


def columns() -> list[tuple[str, str, str]]:
    """Every crossing of sex, age and year with their totals ('Total' where summed over)."""
    return list(itertools.product(["Total"] + SEX_CODES, ["Total"] + AGE_CODES, ["Total"] + YEAR_CODES))


def write_project(root: Path, frame: pd.DataFrame, hierarchy: dict[str, str]) -> Path:
    """A project folder with the register table as a statistic 'register'."""
    stats = root / "stats"
    (stats / "register").mkdir(parents=True, exist_ok=True)
    (root / "data").mkdir(exist_ok=True)
    frame.to_csv(root / "data" / "register.csv", index=False)
    counties = sorted(set(hierarchy.values()))
    pd.DataFrame({"code": counties, "name": [f"County {c}" for c in counties]}).to_csv(
        stats / "counties.csv", index=False)
    muns = sorted(hierarchy)
    pd.DataFrame({"code": muns, "name": [f"Municipality {m}" for m in muns],
                  "county": [hierarchy[m] for m in muns]}).to_csv(stats / "municipalities.csv", index=False)
    (stats / "datasets.toml").write_text(f'''
[classifications.municipalities]
file = "municipalities.csv"
links = {{ county = "counties" }}

[classifications.counties]
file = "counties.csv"

[datasets.register]
file = "data/register.csv"
description = "The register table of the rounding benchmark: persons per municipality, sex, age group and year"
frequency = "count"

[datasets.register.columns]
municipality = {{ type = "code", classification = "municipalities" }}
sex = {{ type = "code", values = {SEX_CODES!r} }}
age = {{ type = "code", values = {AGE_CODES!r} }}
year = {{ type = "integer", min = 2000, max = 2100 }}
count = {{ type = "integer", min = 0 }}
'''.replace("'", '"'), encoding="utf-8")
    lines = ['[[tables]]', 'id = "register"', 'title = "Persons by municipality, sex, age and year"',
             'dataset = "register"', "", "[[tables.rows]]", 'label = "Total"', "",
             "[[tables.rows]]", 'by = "county"', 'classification = "counties"', "",
             "[[tables.rows]]", 'by = "municipality"', 'classification = "municipalities"', ""]
    for sex, age, year in columns():
        conditions = [f"{name} == '{code}'" for name, code in (("sex", sex), ("age", age)) if code != "Total"]
        conditions += [f"year == {year}"] if year != "Total" else []
        lines += ["[[tables.columns]]", f'id = "{column_id(sex, age, year)}"', f'label = "{sex} {age} {year}"']
        lines += [f'where = "{" and ".join(conditions)}"'] if conditions else []
        lines.append("")
    (stats / "register" / "tables.toml").write_text("\n".join(lines), encoding="utf-8")
    return root


def protect(root: Path, settings: Settings):
    """The build's tables and confidentiality stages on the statistic; (original, protected, summary)."""
    computed = tables.compute(load_catalog(root), "register", YEAR)
    protected, summaries = confidentiality.protect(computed, settings)
    return computed.tables[0], protected[0], summaries["register"]


def published_cells(table) -> pd.DataFrame:
    """The table's cells keyed as PLSrounding names them: municipality (or county, or Total), sex, age, year."""
    records = []
    for row in table.data_rows:
        place = "Total" if row.code is None else row.code
        for sex, age, year in columns():
            records.append((place, sex, age, year, table.cell(row.id, column_id(sex, age, year)).value))
    return pd.DataFrame(records, columns=["municipality", "sex", "age", "year", "value"])


def rss_mib(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def compare_with_peer(original, protected, base: int):
    """(RMSE, max change) of the build and of PLSrounding on the same published cells; None without the peer's file."""
    path = PEERS / f"scr_register_b{base}_publish.csv.gz"
    if not path.exists():
        return None
    peer = pd.read_csv(path, dtype={"municipality": str, "sex": str, "age": str, "year": str})
    ours = published_cells(original).rename(columns={"value": "ours_original"})
    ours["ours_rounded"] = published_cells(protected)["value"]
    both = ours.merge(peer, on=["municipality", "sex", "age", "year"], how="inner", validate="one_to_one")
    if len(both) != len(ours) or not (both["ours_original"] == both["original"]).all():
        raise SystemExit(f"{path}: not the same table as the build's (did the benchmark's table change?)")
    def quality(rounded):
        change = (rounded - both["original"]).to_numpy(dtype=float)
        return float(np.sqrt(np.mean(change ** 2))), int(np.abs(change).max())
    return quality(both["ours_rounded"]), quality(both["rounded"]), len(both)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", type=int, default=3)
    args = ap.parse_args(argv)
    frame, hierarchy = register_table()
    with tempfile.TemporaryDirectory() as tmp:
        root = write_project(Path(tmp), frame, hierarchy)
        load_catalog(root).check("register")  # warm: reading and checking 35 600 rows is not what is measured
        before = rss_mib("VmRSS")
        start = time.perf_counter()
        original, protected, summary = protect(root, Settings(base=args.base))
        seconds = time.perf_counter() - start
        extra = rss_mib("VmHWM") - before
    print(f"published cells: {original.values.size} ({len(original.data_rows)} rows × "
          f"{len(original.measures)} columns), distinct {summary.cells}, inner cells {summary.inner_cells}")
    print(f"tables + protection seconds: {seconds:.2f}  (rounding alone {summary.seconds:.2f})")
    print(f"extra peak memory: {extra:.0f} MiB")
    print(f"max change {summary.max_abs_change}, RMSE {summary.rmse:.4f} (over distinct published cells)")
    ok = seconds < TARGET_SECONDS and extra < TARGET_EXTRA_MIB
    peer = compare_with_peer(original, protected, args.base)
    if peer is None:
        print(f"PLSrounding: no results at hand for base {args.base} ({PEERS})")
    else:
        (rmse, change), (peer_rmse, peer_change), cells = peer
        print(f"over the {cells} cells as PLSrounding lists them: statpress RMSE {rmse:.4f}, max change {change}; "
              f"PLSrounding RMSE {peer_rmse:.4f}, max change {peer_change}")
        ok = ok and rmse <= peer_rmse and change <= peer_change
    print(f"target (< {TARGET_SECONDS:.0f} s, < {TARGET_EXTRA_MIB} MiB extra, no worse than PLSrounding): "
          f"{'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
