"""The table engine on a tiny dataset: every kind of row and column, and clear errors."""

import re
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
kind = "broadcast"
dataset = "sizes"
sum = "size"
where = "year == {year}"
[[tables.columns]]
id = "per_size"
kind = "formula"
formula = "now / size * 100"
decimals = 1
"""


def test_rows_columns_filters_and_formulas(tmp_path):
    root = make(tmp_path, TABLES)
    result = compute(load_catalog(root), "demo", 2021)
    t = result.tables[0]
    assert t.title == "Events 2021"
    assert [r.id for r in t.rows] == ["total", "same_colour", "colour:B", "colour:R"]
    v = t.to_frame()
    assert list(v["now"]) == [4, 1, 2, 1]
    assert list(v["before"]) == [2, 1, 0, 2]
    # moves *to* each colour, leaving out those that stay the same colour
    assert list(v["to_colour"]) == [4, 1, 1, 2]
    assert list(v["size"]) == [40, 40, 40, 40]
    assert list(v["per_size"]) == [10.0, 2.5, 5.0, 2.5]
    # one published count cell per count column and row, each with its inner cells
    assert len(result.cells) == 4 * 3
    assert result.frames["events"]["_n"].sum() == 6
    assert all(result.frames["events"]["_n"].to_numpy()[c.inner].sum() == v.at[c.row, c.column]
               for c in result.cells)


def test_rows_know_their_dimension_and_code(tmp_path):
    t = compute(load_catalog(make(tmp_path, TABLES)), "demo", 2021).tables[0]
    rows = {r.id: r for r in t.rows}
    assert (rows["total"].kind, rows["total"].dimension) == ("total", None)
    assert rows["same_colour"].kind == "filter"
    assert (rows["colour:B"].dimension, rows["colour:B"].code, rows["colour:B"].label) == ("colour", "B", "Blue")
    (colour,) = t.dimensions
    assert (colour.id, colour.classification, colour.codes, colour.labels) == ("colour", "colours", ("B", "R"),
                                                                              ("Blue", "Red"))
    kinds = {m.id: (m.kind, m.protected) for m in t.measures}
    assert kinds == {"now": ("count", True), "before": ("count", True), "to_colour": ("count", True),
                     "size": ("broadcast", False), "per_size": ("formula", False)}


def test_a_formula_may_use_a_formula_declared_after_it(tmp_path):
    later = TABLES + """
[[tables.columns]]
id = "double"
kind = "formula"
formula = "half * 4"
[[tables.columns]]
id = "half"
kind = "formula"
formula = "now / 2"
"""
    t = compute(load_catalog(make(tmp_path, later)), "demo", 2021).tables[0]
    assert list(t.column("double")) == [8, 2, 4, 2]


def formula_error(tmp_path, formula: str, extra: str = "") -> str:
    tables = TABLES.replace('formula = "now / size * 100"', f"formula = '''{formula}'''{extra}")
    with pytest.raises(BuildError) as err:
        compute(load_catalog(make(tmp_path, tables)), "demo", 2021)
    return str(err.value)


def test_a_circular_formula_is_an_error(tmp_path):
    message = formula_error(tmp_path, "per_size + 1")
    assert "tables.toml" in message and "table 't', column 'per_size'" in message and "circle" in message


def test_a_formula_with_an_unknown_name_is_an_error(tmp_path):
    message = formula_error(tmp_path, "now / sise")
    assert "tables.toml: table 't', column 'per_size'" in message and "unknown column 'sise'" in message


def test_division_by_zero_is_an_error_unless_the_column_says_how_to_show_it(tmp_path):
    message = formula_error(tmp_path, "now / before")
    assert "tables.toml: table 't', column 'per_size'" in message
    assert "division by zero in row 'Blue'" in message and "on_zero" in message
    tables = TABLES.replace('formula = "now / size * 100"', 'formula = "now / before"\non_zero = ".."')
    t = compute(load_catalog(make(tmp_path / "ok", tables)), "demo", 2021).tables[0]
    blue = t.cell("colour:B", "per_size")
    assert (blue.value, blue.status) == (None, "..")
    assert t.cell("total", "per_size").value == 2.0


def test_an_unknown_code_in_a_filter_is_an_error(tmp_path):
    root = make(tmp_path, TABLES.replace("colour == other", "colour == 'Y'"))
    with pytest.raises(BuildError) as err:
        compute(load_catalog(root), "demo", 2021)
    message = str(err.value)
    assert "tables.toml" in message and "table 't', column 'now', row 'Same colour'" in message
    assert "'Y' is not a code of column 'colour'" in message and "colours" in message


def test_codes_and_numbers_are_not_mixed_up(tmp_path):
    root = make(tmp_path, TABLES.replace("year == {year-1}", "year == '2020'"))
    with pytest.raises(BuildError, match="column 'year' holds whole numbers"):
        compute(load_catalog(root), "demo", 2021)


@pytest.mark.parametrize("hostile, token", [
    ("@pd.io.common.os.system('touch PWNED')", "'@'"),
    ("__import__('os').system('touch PWNED') == 0", "function call"),
    ("colour.__class__ == 'x'", "attribute access"),
    ("().__class__.__bases__[0] == 1", "an index"),
    ("__builtins__ == 1", "'__builtins__'"),
    ("open('PWNED', 'w') == 1", "function call"),
    ("[x for x in colour] == 1", "ListComp"),
    ("(lambda: 1)() == 1", "function call"),
    ("colour[0] == 'R'", "an index"),
])
def test_a_hostile_filter_is_rejected_without_running(tmp_path, monkeypatch, hostile, token):
    # a TOML literal string: the expression exactly as written, quotes and all
    root = make(tmp_path, TABLES.replace('"colour == other"', "'''" + hostile + "'''"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BuildError) as err:
        compute(load_catalog(root), "demo", 2021)
    message = str(err.value)
    assert "tables.toml" in message and "table 't'" in message and token in message
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize("hostile", ["now.__class__", "__import__('os')", "now ** 2", "@now", "size['x']"])
def test_a_hostile_formula_is_rejected(tmp_path, hostile):
    message = formula_error(tmp_path, hostile)
    assert "table 't', column 'per_size'" in message


def test_unknown_name_in_a_filter_names_the_table_and_column(tmp_path):
    root = make(tmp_path, TABLES.replace("year == {year-1}", "yeer == {year-1}"))
    with pytest.raises(BuildError) as err:
        compute(load_catalog(root), "demo", 2021)
    message = str(err.value)
    assert "tables.toml" in message and "table 't', column 'before'" in message and "yeer" in message


def test_a_column_of_an_unknown_kind_is_an_error(tmp_path):
    root = make(tmp_path, TABLES.replace('kind = "broadcast"', 'kind = "average"'))
    with pytest.raises(BuildError, match=r"tables\.toml: field 'tables\.0\.columns\.3'.*unknown kind"):
        compute(load_catalog(root), "demo", 2021)


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


def test_every_expression_in_the_table_guide_is_accepted():
    """docs/tables.md shows the language; each filter and formula it shows must parse."""
    from statpress import expressions

    guide = (Path(__file__).resolve().parent.parent / "docs" / "tables.md").read_text(encoding="utf-8")
    shown = re.findall(r'^(where|breakdown_where|formula) = "([^"]*)"', guide, flags=re.M)
    assert len(shown) >= 10
    for key, text in shown:
        text = re.sub(r"\{year([+-]\d+)?\}", "2024", text)
        (expressions.parse_formula if key == "formula" else expressions.parse_filter)(text)
