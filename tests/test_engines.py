"""Datasets in every format the engine reads, aggregated in the engine, and bad files named."""

from __future__ import annotations

import gzip
from contextlib import closing
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from statpress.data import load_catalog
from statpress.engines import Derived, DuckDB, Source
from statpress.errors import BuildError
from statpress.tables import compute

DATASETS = """
[classifications.places]
file = "places.csv"
links = {{ region = "regions" }}
[classifications.regions]
file = "regions.csv"
[datasets.events]
file = "{file}"
description = "test events"
[datasets.events.columns]
year = {{ type = "integer", min = 2000 }}
place = {{ type = "code", classification = "places" }}
sex = {{ type = "code", values = ["M", "F"] }}
"""
ROWS = [(2021, "p1", "M"), (2021, "p1", "F"), (2021, "p2", "F"), (2021, "p3", "M"), (2020, "p3", "M")]
TABLES = """
[[tables]]
id = "t"
title = "Events"
dataset = "events"
[[tables.rows]]
label = "Total"
[[tables.rows]]
by = "region"
classification = "regions"
[[tables.columns]]
id = "now"
where = "year == {year}"
[[tables.columns]]
id = "women"
where = "year == {year} and sex == 'F'"
"""


def make(root: Path, file: str) -> Path:
    (root / "stats" / "s").mkdir(parents=True)
    (root / "stats" / "datasets.toml").write_text(DATASETS.format(file=file), encoding="utf-8")
    (root / "stats" / "places.csv").write_text("code,name,region\np1,P1,N\np2,P2,N\np3,P3,S\n", encoding="utf-8")
    (root / "stats" / "regions.csv").write_text("code,name\nN,North\nS,South\n", encoding="utf-8")
    (root / "stats" / "s" / "tables.toml").write_text(TABLES, encoding="utf-8")
    return root


def write_parquet(path: Path, rows, columns="year BIGINT, place VARCHAR, sex VARCHAR", partition: str = ""):
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t ({columns})")
    con.executemany(f"INSERT INTO t VALUES ({', '.join('?' * len(rows[0]))})", rows)
    options = f", PARTITION_BY ({partition})" if partition else ""
    con.execute(f"COPY t TO '{path.as_posix()}' (FORMAT parquet{options})")


def csv_text(rows) -> str:
    return "year,place,sex\n" + "".join(f"{y},{p},{s}\n" for y, p, s in rows)


def figures(root: Path) -> dict:
    t = compute(load_catalog(root), "s", 2021).tables[0]
    return {r.id: (t.cell(r.id, "now").value, t.cell(r.id, "women").value) for r in t.data_rows}


EXPECTED = {"total": (4, 2), "region:N": (3, 2), "region:S": (1, 0)}


def test_parquet_file(tmp_path):
    write_parquet(tmp_path / "events.parquet", ROWS)
    assert figures(make(tmp_path, "events.parquet")) == EXPECTED


def test_hive_partitioned_parquet_folder(tmp_path):
    write_parquet(tmp_path / "events", ROWS, partition="year")
    assert sorted(p.name for p in (tmp_path / "events").iterdir()) == ["year=2020", "year=2021"]
    assert figures(make(tmp_path, "events")) == EXPECTED


def test_csv_and_gzipped_csv(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "events.csv").write_text(csv_text(ROWS), encoding="utf-8")
    assert figures(make(tmp_path / "a", "events.csv")) == EXPECTED
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "events.csv.gz").write_bytes(gzip.compress(csv_text(ROWS).encode()))
    assert figures(make(tmp_path / "b", "events.csv.gz")) == EXPECTED


def test_the_engine_groups_and_the_microdata_stay_in_it(tmp_path):
    """The aggregate the tables read has one row per crossing, not per record."""
    write_parquet(tmp_path / "events.parquet", ROWS * 1000)
    frame = load_catalog(make(tmp_path, "events.parquet")).aggregate("events", ["region", "sex", "year"], [])
    assert len(frame) == 4 and frame["_n"].sum() == 5000  # N-M, N-F, S-M in 2021; S-M in 2020
    assert list(frame.columns) == ["region", "sex", "year", "_n"]


def test_keys_mapped_from_one_column_each_keep_their_own_codes(tmp_path):
    """Every key mapped from the same column comes from one join (engines.DuckDB.mapping_table);
    a code one mapping lacks is a null in that key alone, as a join with that mapping would give."""
    write_parquet(tmp_path / "events.parquet", ROWS)
    source = Source("events", tmp_path / "events.parquet", {"year": "integer", "place": "code", "sex": "code"})
    keys = [Derived("a", "place", mapping=(("p1", "x"), ("p2", "y"))),
            Derived("b", "place", mapping=(("p2", "u"), ("p3", "v"))), "year"]
    with closing(DuckDB(threads=1)) as engine:
        frame = engine.aggregate(source, keys, [], None)
    found = {(None if pd.isna(a) else a, None if pd.isna(b) else b, year): n
             for a, b, year, n in frame.itertuples(index=False)}
    assert found == {("x", None, 2021): 2, ("y", "u", 2021): 1, (None, "v", 2021): 1, (None, "v", 2020): 1}
    # each comes as a categorical of what it maps to (engines.grouped), its nulls nulls
    assert [list(frame[k].cat.categories) for k in ("a", "b")] == [["x", "y"], ["u", "v"]]


def test_a_code_listed_twice_in_a_column_s_values_is_named(tmp_path):
    """A column's listed codes are its categories, in order (engines.grouped): a code given twice
    stops the build at datasets.toml, naming the column and the code."""
    root = make(tmp_path, "events.parquet")
    path = root / "stats" / "datasets.toml"
    path.write_text(path.read_text(encoding="utf-8").replace('values = ["M", "F"]', 'values = ["M", "F", "M"]'),
                    encoding="utf-8")
    with pytest.raises(BuildError) as err:
        load_catalog(root)
    assert "datasets.toml" in str(err.value) and "datasets.events.columns.sex.values" in str(err.value)
    assert "'M' is listed twice" in str(err.value)


def error(root: Path) -> str:
    with pytest.raises(BuildError) as err:
        load_catalog(root).check("events")
    return str(err.value)


def test_a_key_of_known_codes_comes_as_a_categorical_of_them(tmp_path):
    """A code column whose codes the source lists (checked before any aggregate) comes from
    DuckDB as a categorical of those codes, in their order, with the counts a plain key has;
    a code never met is a category all the same, and a column without listed codes stays text."""
    write_parquet(tmp_path / "events.parquet", ROWS)
    columns = {"year": "integer", "place": "code", "sex": "code"}
    plain = Source("events", tmp_path / "events.parquet", columns)
    coded = Source("events", tmp_path / "events.parquet", columns, codes={"sex": ("M", "F", "X")})
    with closing(DuckDB(threads=1)) as engine:
        frames = [engine.aggregate(source, ["sex", "place"], [], None) for source in (plain, coded)]
    assert isinstance(frames[1]["sex"].dtype, pd.CategoricalDtype)
    assert list(frames[1]["sex"].cat.categories) == ["M", "F", "X"]
    assert not isinstance(frames[0]["sex"].dtype, pd.CategoricalDtype)
    assert not isinstance(frames[1]["place"].dtype, pd.CategoricalDtype)

    def counts(frame):
        return {(str(sex), place): n for sex, place, n in frame.itertuples(index=False)}
    assert counts(frames[1]) == counts(frames[0]) == {("M", "p1"): 1, ("F", "p1"): 1, ("F", "p2"): 1, ("M", "p3"): 2}


def test_a_parquet_file_without_a_declared_column(tmp_path):
    write_parquet(tmp_path / "events.parquet", [(2021, "p1")], columns="year BIGINT, place VARCHAR")
    message = error(make(tmp_path, "events.parquet"))
    assert "events.parquet: missing column 'sex'" in message


def test_a_parquet_column_of_the_wrong_type(tmp_path):
    write_parquet(tmp_path / "events.parquet", [("2021", "p1", "M")], columns="year VARCHAR, place VARCHAR, sex VARCHAR")
    message = error(make(tmp_path, "events.parquet"))
    assert "events.parquet: column 'year' holds VARCHAR; expected whole numbers" in message


def test_a_partitioned_folder_without_its_partition_column(tmp_path):
    write_parquet(tmp_path / "events", ROWS, partition="year")
    for part in (tmp_path / "events").iterdir():  # the partition folders renamed: no 'year=' any more
        part.rename(part.with_name(part.name.split("=")[1]))
    message = error(make(tmp_path, "events"))
    assert "events: missing column 'year'" in message


@pytest.mark.parametrize("damage", ["truncated", "not parquet"])
def test_a_corrupt_parquet_file(tmp_path, damage):
    write_parquet(tmp_path / "events.parquet", ROWS)
    path = tmp_path / "events.parquet"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"year,place,sex\n" + data[20:])
    message = error(make(tmp_path, "events.parquet"))
    assert "events.parquet: not a readable Parquet file" in message
    assert "Traceback" not in message


def test_an_unknown_code_in_parquet_names_the_row(tmp_path):
    write_parquet(tmp_path / "events.parquet", ROWS + [(2021, "p9", "M")])
    message = error(make(tmp_path, "events.parquet"))
    assert "column 'place': expected a code of classification 'places', got 'p9' on row 6" in message


def test_a_value_out_of_range_in_a_gzipped_csv_names_the_line(tmp_path):
    (tmp_path / "events.csv.gz").write_bytes(gzip.compress(csv_text(ROWS + [(1999, "p1", "M")]).encode()))
    message = error(make(tmp_path, "events.csv.gz"))
    assert "events.csv.gz, column 'year': expected a number of at least 2000, got '1999' on line 7" in message


def test_a_truncated_gzipped_csv(tmp_path):
    data = gzip.compress(csv_text(ROWS * 200).encode())
    (tmp_path / "events.csv.gz").write_bytes(data[: len(data) - 40])
    message = error(make(tmp_path, "events.csv.gz"))
    assert "events.csv.gz" in message and "truncated" in message


def test_a_build_closes_the_engines_it_opened(project, monkeypatch):
    """The command line ends without tearing the interpreter down (build.py), so nothing may rely
    on it: a DuckDB left open would leave what it spilled to disk in the working folder (`.tmp/`)."""
    from conftest import build_site
    from statpress import data, pipeline

    opened, load = [], data.load_catalog

    def load_catalog(*args, **kwargs):
        opened.append(load(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(pipeline.data, "load_catalog", load_catalog)
    build_site(project, project / "site")
    (project / "stats" / "naturalisations" / "tables.toml").write_text("[[tables]]\nid = 1\n", encoding="utf-8")
    with pytest.raises(BuildError):
        build_site(project, project / "site")  # a build that stops once the data are open
    for catalog in opened:
        engine = catalog.engines.made["duckdb"]  # each build computed tables with DuckDB
        with pytest.raises(duckdb.ConnectionException):
            engine.con.execute("SELECT 1")


def test_ctrl_c_in_a_query_stays_ctrl_c(tmp_path, interrupt_soon):
    """DuckDB stops a query on Ctrl+C and raises an error of its own instead: the engine gives the
    build back its KeyboardInterrupt ("interrupted", exit 130), not a traceback or a data error."""
    source = Source("events", tmp_path / "events.csv", {"year": "integer"})
    with closing(DuckDB(threads=1)) as engine, pytest.raises(KeyboardInterrupt):
        engine.run(source, "SELECT count(*) FROM range(100000000000) AS t(x) WHERE x % 7 = 3")
