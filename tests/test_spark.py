"""The Spark engine computes the demo's tables exactly as DuckDB does, and its failures are named.

Spark runs in local mode (`local[2]`), one session for the whole test run (`spark_session` in
conftest.py). The demo statistics are computed once with every dataset read by Spark (site.toml's
`engine = "spark"`), compared with DuckDB's cell for cell, and the site built from them is
compared with the DuckDB site byte for byte.
"""

from __future__ import annotations

import shutil
import sys

import duckdb
import numpy as np
import pandas as pd
import pytest

from statpress import cache, calendar, content, data, pipeline, publish, tables
from statpress.errors import BuildError
from tests.conftest import DEMO_NOW, ROOT, copy_project, digest, edit

DATASET = '[datasets.population]\nfile = "data/population.csv"\n'


@pytest.fixture(scope="module")
def spark_project(tmp_path_factory, spark_session):
    return spark_copy(tmp_path_factory.mktemp("spark") / "project")


def spark_copy(dest):
    """A copy of the demo whose site.toml sends every dataset to Spark."""
    project = copy_project(dest)
    site = project / "site.toml"
    site.write_text('engine = "spark"\n' + site.read_text(encoding="utf-8"), encoding="utf-8")
    return project


@pytest.fixture(scope="module")
def computed(spark_project):
    return compute_demo(spark_project)[0]


def compute_demo(spark_project):
    """Each demo statistic's due release computed by DuckDB and by Spark, and the Spark catalogue.
    The Spark tables, protected, go into the copy's table cache, from which the page test builds
    its site. Spark runs where the environment says (tests/test_spark_connect.py: Spark Connect)."""
    duck, spark = data.load_catalog(ROOT), data.load_catalog(spark_project)
    assert {spark.engine_name(n) for n in spark.spec.datasets} == {"spark"}
    assert {duck.engine_name(n) for n in duck.spec.datasets} == {"duckdb"}
    table_cache = cache.PickleCache(spark_project / ".cache" / "tables")
    out = {}
    for s in content.load_all(spark_project / "content"):
        release = calendar.due(s, DEMO_NOW)
        if release is None or not tables.load_specs(spark_project / "stats", s.id)[1].tables:
            continue
        out[s.id] = (tables.compute(duck, s.id, release.period), tables.compute(spark, s.id, release.period))
        publish.store_release(table_cache, publish.release_key(s, spark, release.period),
                               *publish.protect(s, out[s.id][1]))
    return out, spark


def test_every_table_of_the_demo_equals_duckdb_cell_for_cell(computed):
    assert_same_tables(computed)


def assert_same_tables(computed):
    assert set(computed) == {"migration", "naturalisations"}
    for statistic, (duck, spark) in computed.items():
        # the aggregates the tables are computed from: every crossing, count and dtype
        assert sorted(duck.frames) == sorted(spark.frames)
        for name in duck.frames:
            pd.testing.assert_frame_equal(duck.frames[name], spark.frames[name], check_exact=True)
        assert [t.id for t in duck.tables] == [t.id for t in spark.tables]
        for a, b in zip(duck.tables, spark.tables):
            assert a.rows == b.rows and a.measures == b.measures, f"{statistic}/{a.id}"
            np.testing.assert_array_equal(a.values, b.values, err_msg=f"{statistic}/{a.id}")
            np.testing.assert_array_equal(a.status, b.status, err_msg=f"{statistic}/{a.id}")
        # the inner cells of every published count, which the protection model is built from
        assert [(c.table, c.row, c.column, c.dataset, c.inner.tolist()) for c in duck.cells] == \
               [(c.table, c.row, c.column, c.dataset, c.inner.tolist()) for c in spark.cells]


def test_the_site_built_from_spark_tables_equals_the_duckdb_site(computed, spark_project, demo_site, tmp_path):
    assert_same_site(spark_project, demo_site, tmp_path / "site")


def assert_same_site(spark_project, demo_site, out):
    """The site built from the Spark tables in the copy's cache is the DuckDB site, byte for byte."""
    tables_cache = spark_project / ".cache" / "tables"
    before = sorted(p.name for p in tables_cache.iterdir())
    pipeline.build(pipeline.BuildOptions(spark_project, out, DEMO_NOW, allow_withdraw=True))
    # the build found every release's tables under a key naming the Spark engine: it computed none
    assert sorted(p.name for p in tables_cache.iterdir()) == before
    spark_files, duck_files = digest(out), digest(demo_site)
    assert sorted(spark_files) == sorted(duck_files)
    different = [f for f in duck_files if spark_files[f] != duck_files[f]]
    assert different == []


def test_the_cache_key_names_the_engine(spark_project):
    """Tables computed by DuckDB are never served to a Spark build (nor the reverse)."""
    s = next(s for s in content.load_all(ROOT / "content") if s.id == "naturalisations")
    period = calendar.due(s, DEMO_NOW).period
    assert publish.release_key(s, data.load_catalog(spark_project), period) != \
           publish.release_key(s, data.load_catalog(spark_project, default="duckdb"), period)


# ----------------------------------------------------------------------------------------------
# bad input: a clear message naming the dataset and the setting, and site/ untouched


@pytest.fixture
def broken(tmp_path, demo_site, spark_session):
    """A project copy and a built site to fail over: (project, site)."""
    project = copy_project(tmp_path / "project")
    site = tmp_path / "site"
    shutil.copytree(demo_site, site)
    return project, site


def spark_population(project, settings: str) -> None:
    """Dataset `population` read by Spark from where `settings` (TOML lines) says."""
    edit(project / "stats" / "datasets.toml", DATASET, f'[datasets.population]\nengine = "spark"\n{settings}\n')


def failed_build(project, site) -> str:
    before = digest(site)
    with pytest.raises(BuildError) as err:
        pipeline.build(pipeline.BuildOptions(project, site, DEMO_NOW, allow_withdraw=True))
    assert digest(site) == before
    return str(err.value)


def test_spark_not_installed(broken, monkeypatch):
    project, site = broken
    spark_population(project, 'file = "data/population.csv"')
    monkeypatch.setitem(sys.modules, "pyspark", None)  # `import pyspark` now fails as if absent
    message = failed_build(project, site)
    assert "datasets.toml: datasets.population.file: dataset 'population' asks for engine = \"spark\"" in message
    assert "PySpark is not installed" in message and "engine = \"duckdb\"" in message


def test_a_missing_path_on_the_cluster(broken, tmp_path):
    project, site = broken
    missing = (tmp_path / "nowhere" / "population.parquet").as_uri()
    spark_population(project, f'file = "{missing}"')
    message = failed_build(project, site)
    assert f"datasets.population.file: dataset 'population' ({missing}): no such path on the cluster" in message
    assert "check datasets.population.file" in message and "STATPRESS_SPARK_MASTER" in message


def test_a_missing_table_in_the_catalogue(broken):
    project, site = broken
    spark_population(project, 'table = "registers.population"')
    message = failed_build(project, site)
    assert "datasets.population.table: dataset 'population' (registers.population): no such table" in message
    assert "TABLE_OR_VIEW_NOT_FOUND" in message and "check datasets.population.table" in message


def test_a_schema_that_differs_from_datasets_toml(broken):
    project, site = broken
    path = project / "data" / "population.parquet"
    duckdb.connect().execute(f"COPY (SELECT 2024 AS year, '5550203' AS mean_population) TO '{path}' (FORMAT parquet)")
    spark_population(project, 'file = "data/population.parquet"')
    message = failed_build(project, site)
    assert "datasets.population.file: dataset 'population'" in message
    assert "column 'mean_population' holds string; expected whole numbers, as " \
           "datasets.population.columns.mean_population declares" in message


def test_a_column_missing_on_the_cluster(broken):
    project, site = broken
    path = project / "data" / "population.parquet"
    duckdb.connect().execute(f"COPY (SELECT 2024 AS year) TO '{path}' (FORMAT parquet)")
    spark_population(project, 'file = "data/population.parquet"')
    message = failed_build(project, site)
    assert "dataset 'population'" in message and "has no column 'mean_population'" in message


class Unreachable:
    """A Spark session whose JVM went away: py4j raises this on every call to a lost gateway."""

    def __getattr__(self, name):
        from py4j.protocol import Py4JNetworkError

        raise Py4JNetworkError("Answer from Java side is empty")


def test_a_lost_connection(broken, monkeypatch):
    project, site = broken
    spark_population(project, 'file = "data/population.csv"')
    monkeypatch.setattr("statpress.spark.session_from_environment", lambda: Unreachable())
    message = failed_build(project, site)
    assert "datasets.population.file: dataset 'population'" in message
    assert "lost the connection to Spark (Py4JNetworkError: Answer from Java side is empty)" in message
    assert "check STATPRESS_SPARK_REMOTE or STATPRESS_SPARK_MASTER" in message


def test_a_broken_value_is_named_by_its_line_as_with_duckdb(broken):
    """The rules run on the cluster too: a value outside its range is found, with its line."""
    project, site = broken
    text = (project / "data" / "population.csv").read_text(encoding="utf-8").splitlines()
    year, _ = text[3].split(",")
    text[3] = f"{year},-5"
    (project / "data" / "population.csv").unlink()  # a link to the repository's file: replace it
    (project / "data" / "population.csv").write_text("\n".join(text) + "\n", encoding="utf-8")
    spark_population(project, 'file = "data/population.csv"')
    message = failed_build(project, site)
    assert "population.csv, column 'mean_population': expected" in message and "'-5' on line 4" in message


def test_a_cluster_path_needs_the_spark_engine(project):
    edit(project / "stats" / "datasets.toml", DATASET, '[datasets.population]\nfile = "hdfs://registers/population"\n')
    with pytest.raises(BuildError) as err:
        data.load_catalog(project).source("population")
    assert "datasets.population.file: 'hdfs://registers/population' is on a cluster, which only the Spark " \
           "engine reads: set engine = \"spark\"" in str(err.value)


def test_aggregated_ahead_published_from_the_cache(broken, demo_site, monkeypatch):
    """`build.py check --now <08:00>` ahead computes on the cluster; the 08:00 build reads the
    cache and asks the cluster for no aggregate (here it would fail if it did)."""
    from statpress.spark import SparkEngine

    project, site = broken
    spark_population(project, 'file = "data/population.csv"')
    pipeline.build(pipeline.BuildOptions(project, tmp_site := project / "unused", DEMO_NOW, allow_withdraw=True),
                   write=False)
    assert not tmp_site.exists()

    def unreachable(self, *args):
        raise AssertionError("the 08:00 build queried the cluster")

    monkeypatch.setattr(SparkEngine, "aggregate", unreachable)
    monkeypatch.setattr(SparkEngine, "violation", unreachable)
    pipeline.build(pipeline.BuildOptions(project, site, DEMO_NOW, allow_withdraw=True))
    assert digest(site) == digest(demo_site)


# ----------------------------------------------------------------------------------------------
# every format DuckDB reads, read by Spark with the same figures


@pytest.mark.parametrize("form", ["parquet", "hive", "csv", "csv.gz"])
def test_every_format_gives_the_same_figures(tmp_path, spark_session, form):
    import gzip

    from tests import test_engines as te

    file = {"parquet": "events.parquet", "hive": "events", "csv": "events.csv", "csv.gz": "events.csv.gz"}[form]
    if form in ("parquet", "hive"):
        te.write_parquet(tmp_path / file, te.ROWS, partition="year" if form == "hive" else "")
    else:
        text = te.csv_text(te.ROWS).encode()
        (tmp_path / file).write_bytes(gzip.compress(text) if form == "csv.gz" else text)
    root = te.make(tmp_path, file)
    spark = tables.compute(data.load_catalog(root, default="spark"), "s", 2021).tables[0]
    assert {r.id: (spark.cell(r.id, "now").value, spark.cell(r.id, "women").value) for r in spark.data_rows} \
        == te.EXPECTED


def test_a_frequency_table_with_sums_and_bands_aggregates_alike(tmp_path, spark_session):
    """What the demo does not use: a frequency column, a summed value, an age band, a code
    missing from its classification's mapping (null in both)."""
    (tmp_path / "stats").mkdir()
    (tmp_path / "stats" / "datasets.toml").write_text("""
[classifications.places]
file = "places.csv"
[classifications.bands]
file = "bands.csv"
[datasets.d]
file = "d.parquet"
description = "frequencies"
frequency = "n"
[datasets.d.columns]
place = { type = "code", classification = "places" }
age = { type = "integer", min = 0, bands = { band = "bands" } }
n = { type = "integer", min = 0 }
income = { type = "integer" }
""", encoding="utf-8")
    (tmp_path / "stats" / "places.csv").write_text("code,name,kind\np1,P1,town\np2,P2,\np3,P3,town\n")
    (tmp_path / "stats" / "bands.csv").write_text("code,name,from,to\ny,Young,0,17\no,Old,18,200\n")
    rows = [("p1", 3, 2, 100), ("p2", 40, 5, -20), ("p3", 17, 1, 7), ("p1", 18, 4, 0), ("p3", 90, 6, 5)] * 50
    te_rows = ", ".join(f"('{p}', {a}, {n}, {i})" for p, a, n, i in rows)
    duckdb.connect().execute(f"COPY (SELECT * FROM (VALUES {te_rows}) t(place, age, n, income)) "
                             f"TO '{tmp_path / 'd.parquet'}' (FORMAT parquet)")
    keys = ["kind", "band"]
    duck = data.load_catalog(tmp_path).aggregate("d", keys, ["income"])
    catalog = data.load_catalog(tmp_path, default="spark")
    spark = catalog.aggregate("d", keys, ["income"])
    pd.testing.assert_frame_equal(duck, spark, check_exact=True)
    # what leaves the cluster: one row per crossing (town/young, town/old, none/old), not 250 records
    handed = catalog.engine("d").aggregate(catalog.source("d"), [catalog.key("d", k) for k in keys], ["income"], "n")
    assert len(handed) == 3 and list(handed.columns) == ["kind", "band", "_n", "_sum_income"]
    assert duck["_n"].sum() == 18 * 50 and duck["_sum_income"].sum() == 92 * 50


def test_no_java_for_spark_is_named(project, tmp_path):
    """In a fresh process (the shared session would hide it): Spark's JVM cannot start."""
    import os
    import subprocess

    from tests.conftest import runnable

    spark_population(project, 'file = "data/population.csv"')
    runnable(project)
    env = {**os.environ, "JAVA_HOME": str(tmp_path / "no-java"), "STATPRESS_SPARK_MASTER": "local[1]"}
    result = subprocess.run([sys.executable, str(project / "build.py"), "check", "--now", "2026-11-23T12:00:00+01:00"],
                            capture_output=True, text=True, cwd=project, env=env)
    assert result.returncode == 1
    assert "datasets.population.file: dataset 'population'" in result.stderr + result.stdout
    assert "could not start Spark's JVM" in result.stderr + result.stdout
    assert "Java 17 or newer" in result.stderr + result.stdout


def test_data_on_a_cluster_is_never_up_to_date(project):
    """Nothing on the build machine can tell that a cluster's data did not change: always build."""
    from statpress import uptodate

    spark_population(project, 'file = "gs://registers/population/"')
    fresh, fingerprint = uptodate.check(project, project / "site", DEMO_NOW, uptodate.options(False, False))
    assert (fresh, fingerprint) == (False, None)


def test_a_table_of_the_spark_catalogue(broken, demo_site, spark_session, monkeypatch):
    """A dataset named by `table`: the same site, and the table cache keyed by its files, so a
    second build computes nothing on the cluster."""
    from statpress.spark import SparkEngine

    project, site = broken
    population = pd.read_csv(ROOT / "data" / "population.csv")
    rows = [(int(y), int(n)) for y, n in zip(population["year"], population["mean_population"])]
    spark_session.createDataFrame(rows, "year long, mean_population long").write.mode("overwrite") \
        .saveAsTable("population_register")
    spark_population(project, 'table = "population_register"')
    pipeline.build(pipeline.BuildOptions(project, site, DEMO_NOW, allow_withdraw=True))
    assert digest(site) == digest(demo_site)
    assert data.load_catalog(project).fingerprint("population").startswith("spark:")

    def unreachable(self, *args):
        raise AssertionError("computed again although the table did not change")

    monkeypatch.setattr(SparkEngine, "aggregate", unreachable)
    pipeline.build(pipeline.BuildOptions(project, site, DEMO_NOW, allow_withdraw=True))
    assert digest(site) == digest(demo_site)
