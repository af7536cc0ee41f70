"""Generate the demo microdata: synthetic event-level records calibrated to SSB's published totals.

Every record is invented. The generator is calibrated so that the tables statpress computes from
these records reproduce the figures Statistics Norway published (the CSV files in `targets/`),
including the traps those figures hide (EU27/EFTA includes Norway, the 2015 row, Oceania, Oslo and
Viken as one county). A fixed seed makes every run byte-identical.

Usage: python stats/demo/generate.py [OUT_DIR]    (default: data/)
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import Bounds, LinearConstraint, milp

HERE = Path(__file__).resolve().parent
STATS = HERE.parent
ROOT = STATS.parent
sys.path.insert(0, str(ROOT))  # the generator checks its output with the build's own stages
TARGETS = HERE / "targets"
SEED = 20250313

# Larger shares of migrants for the countries that dominate Norwegian migration; the rest weigh 1.
COUNTRY_WEIGHTS = {
    "SWE": 6, "DNK": 4, "DEU": 4, "POL": 8, "LTU": 4, "GBR": 3, "USA": 3, "SOM": 2, "ERI": 2,
    "SYR": 3, "IRQ": 2, "AFG": 2, "PHL": 2, "THA": 2, "IND": 2, "CHN": 1.5, "UKR": 2, "RUS": 1.5,
}


# Few people from these countries are naturalised, so the fine tables have the small counts that
# rounding protects.
NAT_WEIGHTS = COUNTRY_WEIGHTS | {
    "LIE": 0.002, "LUX": 0.006, "MLT": 0.004, "ISL": 0.02, "FJI": 0.1, "NZL": 0.4, "TWN": 0.02,
    "JPN": 0.04, "CUB": 0.05, "DOM": 0.08, "GMB": 0.03, "KOR": 0.05, "ISR": 0.03, "CAN": 0.3,
}


@dataclass(frozen=True)
class Classifications:
    countries: pd.DataFrame
    municipalities: pd.DataFrame
    counties: pd.DataFrame


def read_classifications() -> Classifications:
    def read(name):
        return pd.read_csv(STATS / "classifications" / f"{name}.csv", dtype=str, keep_default_na=False)

    return Classifications(read("countries"), read("municipalities"), read("counties"))


def read_target(name: str) -> pd.DataFrame:
    frame = pd.read_csv(TARGETS / f"{name}.csv", dtype=str)
    return frame.set_index(frame.columns[0])


def round_half_up(value: float, decimals: int) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def largest_remainder(total: int, weights) -> np.ndarray:
    """Split an integer total in proportion to weights, exactly."""
    weights = np.asarray(weights, dtype=float)
    raw = total * weights / weights.sum()
    out = np.floor(raw).astype(np.int64)
    rest = total - out.sum()
    out[np.argsort(-(raw - out), kind="stable")[:rest]] += 1
    return out


# ---------------------------------------------------------------------------------------------
# places


class Places:
    """Municipalities with a fixed weight each, grouped by county, for drawing places."""

    def __init__(self, cls: Classifications, rng: np.random.Generator):
        self.counties = list(cls.counties["code"])
        munis = cls.municipalities
        self.by_county = {c: munis.loc[munis["county"] == c, "code"].to_numpy() for c in self.counties}
        self.weights = {}
        for county, codes in self.by_county.items():
            w = rng.lognormal(0.0, 1.0, size=len(codes))
            w[0] *= 5  # the first municipality of a county is its largest town here
            self.weights[county] = w / w.sum()

    def draw(self, rng, county: str, n: int) -> np.ndarray:
        return rng.choice(self.by_county[county], size=n, p=self.weights[county])

    def draw_other(self, rng, county: str, origins: np.ndarray) -> np.ndarray:
        """Destinations in the same county as the origins, never the origin itself."""
        out = self.draw(rng, county, len(origins))
        for _ in range(200):
            same = out == origins
            if not same.any():
                return out
            out[same] = self.draw(rng, county, int(same.sum()))
        codes = list(self.by_county[county])
        for i in np.flatnonzero(out == origins):
            out[i] = codes[(codes.index(origins[i]) + 1) % len(codes)]
        return out


def attach_places(rng, places: Places, county_counts: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Municipalities for records whose county counts are fixed, shuffled so they pair at random."""
    parts = [places.draw(rng, c, n) for c, n in county_counts.items() if n]
    munis = np.concatenate(parts) if parts else np.array([], dtype=object)
    return rng.permutation(munis)


def people(rng, n: int, mean_age: float) -> tuple[np.ndarray, np.ndarray]:
    sex = np.where(rng.random(n) < 0.53, "M", "F")
    age = np.clip(np.round(rng.gamma(4.0, mean_age / 4.0, size=n)), 0, 99).astype(np.int64)
    return sex, age


# ---------------------------------------------------------------------------------------------
# immigration and emigration


def country_counts_2023_2024(cls: Classifications) -> dict[tuple[int, str], dict[str, int]]:
    """Exact counts by citizenship for 2023 and 2024, from the published groups and countries."""
    by_cit = read_target("migration_by_citizenship_2024")
    years = read_target("migration_immigration_emigration_1972_2024")
    countries = cls.countries.set_index("code")
    groups = ["EU_EFTA", "EUROPE_OTHER", "AFRICA", "ASIA", "NORTH_AMERICA", "LATIN_AMERICA"]
    labels = dict(zip(
        ["EU27/EFTA", "European countries outside EU27/EFTA", "Africa", "Asia", "North America",
         "Latin America and the Caribbean"], groups))
    selected = {"Ukraine": "UKR", "Syria": "SYR", "India": "IND", "Poland": "POL",
                "Philippines": "PHL", "Romania": "ROU", "Sweden": "SWE", "Norway": "NOR"}
    group_imm24 = {labels[k]: int(by_cit.loc[k, "immigration_2024"]) for k in labels}
    group_emi24 = {labels[k]: int(by_cit.loc[k, "emigration_2024"]) for k in labels}
    group_net23 = {labels[k]: int(by_cit.loc[k, "net_immigration_2023"]) for k in labels}
    fixed24 = {c: (int(by_cit.loc[k, "immigration_2024"]), int(by_cit.loc[k, "emigration_2024"]))
               for k, c in selected.items()}
    net23 = {c: int(by_cit.loc[k, "net_immigration_2023"]) for k, c in selected.items()}
    total = {y: (int(years.loc[str(y), "immigration"]), int(years.loc[str(y), "emigration"])) for y in (2023, 2024)}
    fixed23 = {"NOR": (int(years.loc["2023", "norwegian_immigration"]), int(years.loc["2023", "norwegian_emigration"]))}

    # 2023 gives net figures only: emigration is split like 2024's, immigration = emigration + net.
    other_emi24 = total[2024][1] - sum(group_emi24.values())
    other_emi23 = round(other_emi24 * total[2023][1] / total[2024][1])
    other_net23 = (total[2023][0] - total[2023][1]) - sum(group_net23.values())
    listed_emi23 = largest_remainder(total[2023][1] - other_emi23, [group_emi24[g] for g in groups])
    group_emi23 = dict(zip(groups, listed_emi23))
    group_imm23 = {g: group_emi23[g] + group_net23[g] for g in groups}
    for c, net in net23.items():
        if c in fixed23:
            continue
        g = countries.loc[c, "group"]
        emi = round(fixed24[c][1] * group_emi23[g] / group_emi24[g])
        fixed23[c] = (emi + net, emi)

    result = {}
    for year, g_imm, g_emi, fixed, other in (
        (2024, group_imm24, group_emi24, fixed24,
         (total[2024][0] - sum(group_imm24.values()), other_emi24)),
        (2023, group_imm23, group_emi23, fixed23, (other_emi23 + other_net23, other_emi23)),
    ):
        for d, idx in (("in", 0), ("out", 1)):
            counts = {}
            for g in groups + ["OTHER"]:
                members = countries.index[countries["group"].isin(["OCEANIA", "STATELESS_UNKNOWN"])
                                          if g == "OTHER" else countries["group"] == g]
                free = [c for c in members if c not in fixed]
                target = other[idx] if g == "OTHER" else (g_imm if idx == 0 else g_emi)[g]
                rest = target - sum(fixed[c][idx] for c in members if c in fixed)
                if rest < 0:
                    raise ValueError(f"{year} {d} {g}: fixed countries exceed the group total")
                counts.update({c: fixed[c][idx] for c in members if c in fixed})
                counts.update(zip(free, largest_remainder(rest, [COUNTRY_WEIGHTS.get(c, 1) for c in free])))
            result[(year, d)] = counts
    return result


def migrations(rng, cls: Classifications, places: Places) -> pd.DataFrame:
    years = read_target("migration_immigration_emigration_1972_2024")
    county_target = read_target("migration_by_county_2024").iloc[1:]
    county_names = dict(zip(cls.counties["name"], cls.counties["code"]))
    county_2024 = {
        "in": {county_names[n]: int(v) for n, v in county_target["immigration"].items()},
        "out": {county_names[n]: int(v) for n, v in county_target["emigration"].items()},
    }
    exact = country_counts_2023_2024(cls)
    foreign = cls.countries.loc[cls.countries["type"] == "FOREIGN", "code"].to_numpy()
    foreign_w = np.array([COUNTRY_WEIGHTS.get(c, 1) for c in foreign], dtype=float)
    frames = []
    for year in range(1972, 2025):
        row = years.loc[str(year)]
        for d, total_col, nor_col in (("in", "immigration", "norwegian_immigration"),
                                      ("out", "emigration", "norwegian_emigration")):
            if (year, d) in exact:
                counts = exact[(year, d)]
            else:
                # Foreign = total − Norwegian; for 2015 this reads 27 384, not the published 25 844.
                n_foreign = int(row[total_col]) - int(row[nor_col])
                drift = np.exp(np.linspace(-1, 1, len(foreign)) * (year - 1998) / 40)
                counts = dict(zip(foreign, rng.multinomial(n_foreign, foreign_w * drift / (foreign_w * drift).sum())))
                counts["NOR"] = int(row[nor_col])
            cit = np.repeat(np.array(list(counts), dtype=object), list(counts.values()))
            n = len(cit)
            if year == 2024:
                county_counts = county_2024[d]
            else:
                shares = np.array([county_2024[d][c] for c in places.counties], dtype=float)
                county_counts = dict(zip(places.counties, rng.multinomial(n, shares / shares.sum())))
            munis = attach_places(rng, places, county_counts)
            sex, age = people(rng, n, 28.0)
            frames.append(pd.DataFrame({"year": year, "direction": d, "citizenship": cit,
                                        "municipality": munis, "sex": sex, "age": age}))
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------------------------------------
# moves between municipalities


def county_flows(cls: Classifications) -> np.ndarray:
    """A 2024 county-to-county flow matrix meeting every published county and region total."""
    target = read_target("migration_by_county_2024")
    internal = read_target("internal_migration_2024")
    counties = cls.counties.set_index("name").loc[target.index[1:]]
    codes = list(counties["code"])
    out_dom = target.iloc[1:]["out_migration_domestic"].to_numpy(dtype=np.int64)
    in_dom = target.iloc[1:]["in_migration_domestic"].to_numpy(dtype=np.int64)
    all_moves = int(target.iloc[0]["in_migration_domestic"])
    within_old = int(internal.loc["Within counties", "migrations"])
    between_regions = int(internal.loc["Between six regions (2020-)", "migrations"])
    between_counties = int(out_dom.sum())
    old = counties["county_2020"].to_numpy()
    region = counties["region"].to_numpy()
    k = len(codes)

    # Moves inside a 2024 county: Oslo is one municipality, so it has none.
    n_munis = np.array([len(cls.municipalities.query("county == @c")) for c in codes])
    diag_w = np.where(n_munis > 1, np.sqrt(n_munis) * out_dom, 0.0)
    diag = largest_remainder(all_moves - between_counties, diag_w)

    pairs = [(i, j) for i in range(k) for j in range(k) if i != j]
    m = len(pairs)
    seed = np.array([out_dom[i] * in_dom[j] / between_counties * (3.0 if region[i] == region[j] else 1.0)
                     for i, j in pairs])
    a_rows = []
    b = []
    for i in range(k):
        a_rows.append([1.0 if p[0] == i else 0.0 for p in pairs]); b.append(out_dom[i])
    for j in range(k):
        a_rows.append([1.0 if p[1] == j else 0.0 for p in pairs]); b.append(in_dom[j])
    # Oslo and Viken count as one county, and the six regions: both are sums over county pairs.
    a_rows.append([1.0 if old[i] == old[j] else 0.0 for i, j in pairs])
    b.append(within_old - diag.sum())
    a_rows.append([1.0 if region[i] == region[j] and old[i] != old[j] else 0.0 for i, j in pairs])
    b.append(all_moves - between_regions - within_old)
    a = np.hstack([np.array(a_rows), np.zeros((len(a_rows), m))])
    # |F − seed| ≤ u, minimise Σu: as close to a gravity model as the totals allow.
    eye = np.eye(m)
    dev = np.vstack([np.hstack([eye, -eye]), np.hstack([-eye, -eye])])
    constraints = [LinearConstraint(a, b, b),
                   LinearConstraint(dev, np.full(2 * m, -np.inf), np.concatenate([seed, -seed]))]
    res = milp(np.concatenate([np.zeros(m), np.ones(m)]), constraints=constraints,
               integrality=np.concatenate([np.ones(m), np.zeros(m)]),
               bounds=Bounds(np.zeros(2 * m), np.full(2 * m, np.inf)))
    if not res.success:
        raise RuntimeError(f"no county flow matrix meets the published totals: {res.message}")
    flows = np.diag(diag).astype(np.int64)
    for (i, j), v in zip(pairs, np.round(res.x[:m]).astype(np.int64)):
        flows[i, j] = v
    return flows, codes


def internal_moves(rng, cls: Classifications, places: Places) -> pd.DataFrame:
    flows, codes = county_flows(cls)
    totals = read_target("internal_migration_2015_2024")["moves_between_municipalities"]
    frames = []
    p = flows.flatten() / flows.sum()
    for year in range(2015, 2025):
        counts = flows.flatten() if year == 2024 else rng.multinomial(int(totals[str(year)]), p)
        for idx in np.flatnonzero(counts):
            i, j = divmod(int(idx), len(codes))
            n = int(counts[idx])
            origin = places.draw(rng, codes[i], n)
            dest = places.draw_other(rng, codes[j], origin) if i == j else places.draw(rng, codes[j], n)
            frames.append(pd.DataFrame({"year": year, "from_municipality": origin, "to_municipality": dest}))
    moves = pd.concat(frames, ignore_index=True)
    # Shuffle within each year so the file does not list moves grouped by county pair.
    order = np.lexsort((rng.random(len(moves)), moves["year"].to_numpy()))
    return moves.iloc[order].reset_index(drop=True)


def population() -> pd.DataFrame:
    """Mean population per year, chosen so each published rate per 1000 comes out as published."""
    yearly = read_target("internal_migration_2015_2024")
    latest = read_target("internal_migration_2024")
    rows = []
    for year, rec in yearly.iterrows():
        pairs = [(int(rec["moves_between_municipalities"]), float(rec["per_1000_mean_population"]))]
        if year == "2024":
            pairs += [(int(r["migrations"]), float(r["per_1000_mean_population"])) for _, r in latest.iterrows()]
        low = max(n * 1000 / (rate + 0.05) for n, rate in pairs)
        high = min(n * 1000 / (rate - 0.05) for n, rate in pairs)
        mean = round((low + high) / 2)
        assert all(round_half_up(n / mean * 1000, 1) == Decimal(str(rate)) for n, rate in pairs), year
        rows.append((int(year), mean))
    return pd.DataFrame(rows, columns=["year", "mean_population"])


# ---------------------------------------------------------------------------------------------
# naturalisations

NAT_GROUPS = {"Europe except Cyprus": "EUROPE", "Africa": "AFRICA", "Asia and Cyprus": "ASIA_CYPRUS",
              "North America": "NORTH_AMERICA", "Latin America and the Caribbean": "LATIN_AMERICA",
              "Stateless and unknown": "STATELESS_UNKNOWN"}
# Published facts: Oceania is the difference between the total and the listed rows, and 2013 follows
# from the corrected total for 2013–2022 (199 933) less 2014–2022.
OCEANIA = {"2023": 103, "2014-2023": 604}
CORRECTED_TOTAL_2013_2022 = 199_933
# The shape of the years 2014–2021 (their sum is fixed by the published period total).
YEAR_PROFILE = {2014: 15.3, 2015: 12.4, 2016: 13.1, 2017: 8.5, 2018: 13.4, 2019: 13.2, 2020: 20.8, 2021: 50.6}


def previous_year(now: int, change: float) -> int:
    """The integer last-year value whose change to `now` rounds to the published per cent."""
    guess = now / (1 + change / 100)
    for x in sorted(range(int(guess) - 50, int(guess) + 50), key=lambda x: abs(x - guess)):
        if x > 0 and round_half_up((now - x) / x * 100, 1) == Decimal(str(change)):
            return x
    raise ValueError(f"no previous-year value gives {change} % for {now}")


def naturalisation_counts() -> dict[str, dict[int, int]]:
    """Naturalisations by group and year, 2013–2023, meeting every published figure."""
    t = read_target("naturalisations_2023")
    groups = {code: (int(t.loc[label, "total_2023"]), int(t.loc[label, "total_2014_2023"]),
                     float(t.loc[label, "change_percent_2022_2023"])) for label, code in NAT_GROUPS.items()}
    total_2023, total_period = int(t.loc["Total", "total_2023"]), int(t.loc["Total", "total_2014_2023"])
    total_change = float(t.loc["Total", "change_percent_2022_2023"])
    result = {code: {2023: now, 2022: previous_year(now, change)} for code, (now, _, change) in groups.items()}
    listed_2022 = sum(r[2022] for r in result.values())
    total_2022 = previous_year(total_2023, total_change)
    result["OCEANIA"] = {2023: OCEANIA["2023"], 2022: total_2022 - listed_2022}
    period = {code: v[1] for code, v in groups.items()} | {"OCEANIA": OCEANIA["2014-2023"]}
    years = list(YEAR_PROFILE)
    for code, counts in result.items():
        rest = period[code] - counts[2023] - counts[2022]
        counts.update(zip(years, largest_remainder(rest, list(YEAR_PROFILE.values()))))
    total_2013 = CORRECTED_TOTAL_2013_2022 - (total_period - total_2023)
    share = {code: period[code] for code in result}
    for code, n in zip(result, largest_remainder(total_2013, list(share.values()))):
        result[code][2013] = int(n)
    assert sum(sum(c.values()) for c in result.values()) - total_2013 == total_period
    return result


def naturalisations(rng, cls: Classifications, places: Places) -> pd.DataFrame:
    countries = cls.countries[cls.countries["type"] == "FOREIGN"]
    imm = read_target("migration_by_county_2024").iloc[1:]["immigration"].to_numpy(dtype=float)
    frames = []
    for code, by_year in naturalisation_counts().items():
        members = countries.loc[countries["natgroup"] == code, "code"].to_numpy()
        w = np.array([NAT_WEIGHTS.get(c, 1) for c in members], dtype=float)
        for year in sorted(by_year):
            n = by_year[year]
            cit = np.repeat(members, rng.multinomial(n, w / w.sum()))
            county_counts = dict(zip(places.counties, rng.multinomial(n, imm / imm.sum())))
            munis = attach_places(rng, places, county_counts)
            sex, age = people(rng, n, 30.0)
            frames.append(pd.DataFrame({"year": year, "citizenship": rng.permutation(cit),
                                        "municipality": munis, "sex": sex, "age": age}))
    frame = pd.concat(frames, ignore_index=True)
    order = np.lexsort((rng.random(len(frame)), frame["year"].to_numpy()))
    return frame.iloc[order].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------


def calibrate_rounding(frame: pd.DataFrame, out: Path) -> pd.DataFrame:
    """Adjust naturalisations until the published, *rounded* figures equal SSB's.

    The build rounds small counts (base 3), which moves a few totals by one or two. Each round
    trip runs the build's own table and confidentiality stages on the records and adds or removes
    records in a large inner cell (never rounded) of each group that is off.
    """
    from statpress import confidentiality, content, tables
    from statpress.data import load_catalog

    settings = content.parse(ROOT / "content/naturalisations/statistic.toml", content.Metadata).confidentiality
    t = read_target("naturalisations_2023")
    target = {code: int(t.loc[label, "total_2023"]) for label, code in NAT_GROUPS.items()}
    target["OCEANIA"] = OCEANIA["2023"]
    countries = read_classifications().countries.set_index("code")["natgroup"]
    for _ in range(20):
        write(frame, data_file(out, "naturalisations"))
        catalog = load_catalog(ROOT)
        catalog.use("naturalisations", data_file(out, "naturalisations"))
        computed = tables.compute(catalog, "naturalisations", 2023)
        protected, _ = confidentiality.protect(computed, settings)
        table = next(x for x in protected if x.id == "by-sex-age")
        shown = {r.code: table.cell(r.id, "total").value for r in table.data_rows if r.dimension == "citizenship_natgroup"}
        off = {g: n - int(shown[g]) for g, n in target.items()}
        if not any(off.values()):
            return frame
        for group, delta in sorted(off.items()):
            if delta == 0:
                continue
            rows = frame[(frame["year"] == 2023) & (frame["citizenship"].map(countries) == group)]
            biggest = rows.groupby(["citizenship", "sex", "age"]).size().idxmax()
            cell = rows[(rows["citizenship"] == biggest[0]) & (rows["sex"] == biggest[1]) & (rows["age"] == biggest[2])]
            if delta > 0:
                frame = pd.concat([frame, cell.iloc[[0] * delta]], ignore_index=True)
            else:
                frame = frame.drop(cell.index[:-delta])
        frame = frame.sort_values("year", kind="stable").reset_index(drop=True)
    raise RuntimeError("could not calibrate the naturalisations to the published rounded figures")


# The register microdata go to Parquet, as a statistics office's data platform keeps them; the
# small population aggregate stays a CSV file, so the demo uses both formats the build reads.
FORMATS = {"migrations": "parquet", "internal_moves": "parquet", "naturalisations": "parquet", "population": "csv"}


def write(frame: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    if path.suffix == ".parquet":
        import duckdb

        con = duckdb.connect(config={"threads": 1})  # one thread: the same rows give the same file
        con.register("frame", frame)
        con.execute(f"COPY frame TO '{tmp.as_posix()}' (FORMAT parquet, COMPRESSION zstd)")
        con.close()
    else:
        frame.to_csv(tmp, index=False, lineterminator="\n")
    tmp.replace(path)


def data_file(out: Path, name: str) -> Path:
    return out / f"{name}.{FORMATS[name]}"


def generate(out: Path) -> dict[str, int]:
    out.mkdir(parents=True, exist_ok=True)
    cls = read_classifications()
    rng = np.random.default_rng(SEED)
    places = Places(cls, rng)
    datasets = {
        "migrations": migrations(rng, cls, places),
        "internal_moves": internal_moves(rng, cls, places),
        "naturalisations": naturalisations(rng, cls, places),
        "population": population(),
    }
    for name, frame in datasets.items():
        write(frame, data_file(out, name))
    datasets["naturalisations"] = calibrate_rounding(datasets["naturalisations"], out)
    write(datasets["naturalisations"], data_file(out, "naturalisations"))
    return {name: len(frame) for name, frame in datasets.items()}


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else STATS.parent / "data"
    start = time.perf_counter()
    rows = generate(out)
    for name, n in rows.items():
        print(f"{name}: {n} rows")
    print(f"demo microdata written to {out} in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
