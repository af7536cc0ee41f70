"""The table engine on a tiny dataset: every kind of row and column, and clear errors."""

import textwrap
from pathlib import Path

import pytest

from statpress.data import load_catalog
from statpress.errors import BuildError
from statpress.tables import compute

DATASETS = """
[classifications.colours]
file = "colours.csv"
[datasets.events]
file = "events.csv"
description = "test events"
[datasets.events.columns]
year = { type = "integer", min = 2000 }
colour = { type = "code", classification = "colours" }
other = { type = "code", classification = "colours", prefix = "other_" }
[datasets.sizes]
file = "sizes.csv"
description = "an aggregate"
[datasets.sizes.columns]
year = { type = "integer" }
size = { type = "integer", min = 0 }
"""
EVENTS = """year,colour,other
2020,R,R
2020,R,B
2021,R,B
2021,B,R
2021,B,B
2021,G,R
"""


def make(tmp_path: Path, tables: str) -> Path:
    (tmp_path / "stats" / "demo").mkdir(parents=True)
    (tmp_path / "stats" / "datasets.toml").write_text(DATASETS)
    (tmp_path / "stats" / "colours.csv").write_text("code,name,warm\nR,Red,Y\nG,Green,N\nB,Blue,N\n")
    (tmp_path / "stats" / "demo" / "tables.toml").write_text(textwrap.dedent(tables))
    (tmp_path / "events.csv").write_text(EVENTS)
    (tmp_path / "sizes.csv").write_text("year,size\n2020,10\n2021,40\n")
    return tmp_path


TABLES = """
[[tables]]
id = "t"
title = "Events {year}"
dataset = "events"
[[tables.rows]]
label = "Total"
[[tables.rows]]
label = "Same colour"
where = "colour == other"
[[tables.rows]]
by = "colour"
classification = "colours"
codes = ["B", "R"]
[[tables.columns]]
id = "now"
where = "year == {year}"
[[tables.columns]]
id = "before"
where = "year == {year-1}"
[[tables.columns]]
id = "to_colour"
where = "year == {year}"
dims = { colour = "other" }
breakdown_where = "colour != other"
[[tables.columns]]
id = "size"
dataset = "sizes"
sum = "size"
where = "year == {year}"
broadcast = true
[[tables.columns]]
id = "per_size"
formula = "now / size * 100"
decimals = 1
"""


def test_rows_columns_filters_and_formulas(tmp_path):
    root = make(tmp_path, TABLES)
    result = compute(load_catalog(root), "demo", 2021)
    t = result.tables[0]
    assert t.title == "Events 2021"
    assert [r.key for r in t.rows] == ["total", "same_colour", "colour:B", "colour:R"]
    v = t.values
    assert list(v["now"]) == [4, 1, 2, 1]
    assert list(v["before"]) == [2, 1, 0, 2]
    # moves *to* each colour, leaving out those that stay the same colour
    assert list(v["to_colour"]) == [4, 1, 1, 2]
    assert list(v["size"]) == [40, 40, 40, 40]
    assert list(v["per_size"]) == [10.0, 2.5, 5.0, 2.5]
    # one published count cell per count column and row, each with its mask
    assert len(result.cells) == 4 * 3
    assert result.frames["events"]["_n"].sum() == 6


def test_unknown_name_in_a_filter_names_the_table_and_column(tmp_path):
    root = make(tmp_path, TABLES.replace("year == {year-1}", "yeer == {year-1}"))
    with pytest.raises(BuildError) as err:
        compute(load_catalog(root), "demo", 2021)
    message = str(err.value)
    assert "tables.toml" in message and "table 't', column 'before'" in message and "yeer" in message


def test_a_period_without_data_is_an_error(tmp_path):
    root = make(tmp_path, TABLES)
    with pytest.raises(BuildError, match="no data for 2030"):
        compute(load_catalog(root), "demo", 2030)


def test_a_row_block_must_be_a_label_or_a_dimension(tmp_path):
    root = make(tmp_path, TABLES.replace('label = "Total"', 'label = "Total"\nby = "colour"'))
    with pytest.raises(BuildError, match=r"tables\.toml: field 'tables\.0\.rows\.0'"):
        compute(load_catalog(root), "demo", 2021)


def test_rows_by_an_unknown_dimension(tmp_path):
    root = make(tmp_path, TABLES.replace('by = "colour"', 'by = "flavour"'))
    with pytest.raises(BuildError, match="has no column 'flavour'"):
        compute(load_catalog(root), "demo", 2021)
