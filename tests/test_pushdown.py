"""Filters pushed down to the engine: records no measure counts are left out before grouping.

`expressions.relax` turns the filters of every measure of a dataset into one condition that
keeps at least every record some measure counts; DuckDB translates it to SQL, Spark to Columns,
both from the tree. Leaving those records out must change no published figure: the tables are
still computed from the whole filters, and the rounding sees only the inner cells a published
cell uses.
"""

from __future__ import annotations

import operator

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from statpress import calendar, content, data, expressions as ex, publish, tables
from statpress.engines import DuckDB, Source
from tests.conftest import DEMO_NOW, ROOT

OWN = {"a": "integer", "c": "code"}  # the dataset's own columns; "d" is derived (a classification's)
CODES = ["x", "y", "z"]

# ----------------------------------------------------------------------------------------------
# random conditions over own and derived columns, with arithmetic


def terms(name):
    numbers = st.integers(-3, 6).map(ex.Constant)
    constant = st.recursive(numbers, lambda inner: st.builds(ex.Arithmetic, st.sampled_from("+-*/"), inner, inner)
                            | st.builds(ex.Negative, inner), max_leaves=3)
    return st.one_of(constant, st.just(ex.Name(name)),
                     st.builds(ex.Arithmetic, st.sampled_from("+-*"), st.just(ex.Name(name)), numbers))


def leaves():
    ops = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
    numeric = st.builds(lambda op, left, right, flip: ex.Compare(op, right, left) if flip else ex.Compare(op, left, right),
                        ops, terms("a"), terms("a"), st.booleans())
    code = st.builds(lambda op, name, value: ex.Compare(op, ex.Name(name), ex.Constant(value)),
                     ops, st.sampled_from(["c", "d"]), st.sampled_from(CODES))
    member = st.builds(lambda name, values, negated: ex.Member(ex.Name(name), tuple(map(ex.Constant, values)), negated),
                       st.sampled_from(["c", "d"]), st.lists(st.sampled_from(CODES), min_size=1, max_size=3),
                       st.booleans())
    whole = st.builds(lambda values, negated: ex.Member(ex.Name("a"), tuple(map(ex.Constant, values)), negated),
                      st.lists(st.integers(-1, 6) | st.sampled_from([1.5, 2.0]), min_size=1, max_size=3), st.booleans())
    return numeric | code | member | whole


conditions = st.recursive(leaves(), lambda inner: st.builds(ex.Logical, st.sampled_from(["and", "or"]),
                                                             st.lists(inner, min_size=2, max_size=3).map(tuple))
                          | st.builds(ex.Not, inner), max_leaves=6)


def records(seed: int, size: int = 60) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"a": rng.integers(-2, 7, size), "c": rng.choice(CODES, size).astype(object),
            "d": rng.choice(CODES, size).astype(object)}


@settings(max_examples=300, deadline=None)
@given(conditions, st.integers(0, 3))
def test_a_relaxed_filter_keeps_every_record_the_filter_keeps(node, seed):
    columns = records(seed)
    relaxed = ex.relax(node, OWN)
    if relaxed is None:
        return
    assert set(ex.names(relaxed)) <= set(OWN)
    kept = ex.evaluate_filter(node, columns, 60)
    assert not (kept & ~ex.evaluate_filter(relaxed, columns, 60)).any(), relaxed


def boxes():
    """An "or" of "and"s of a column compared with constants: the filters of a table's measures."""
    atom = st.one_of(
        st.builds(lambda v: ex.Compare("==", ex.Name("a"), ex.Constant(v)), st.integers(-2, 6)),
        st.builds(lambda vs: ex.Member(ex.Name("a"), tuple(map(ex.Constant, vs))), st.lists(st.integers(-2, 6), min_size=1, max_size=4)),
        st.builds(lambda v: ex.Compare("==", ex.Name("c"), ex.Constant(v)), st.sampled_from(CODES)),
        st.builds(lambda vs: ex.Member(ex.Name("c"), tuple(map(ex.Constant, vs))), st.lists(st.sampled_from(CODES), min_size=1, max_size=3)),
        st.builds(lambda v: ex.Compare(">", ex.Name("a"), ex.Constant(v)), st.integers(-2, 6)))
    conjunction = st.lists(atom, min_size=1, max_size=3).map(lambda atoms: ex.all_of(atoms))
    return st.lists(conjunction, min_size=1, max_size=6).map(lambda parts: ex.any_of(parts))


@settings(max_examples=300, deadline=None)
@given(st.one_of(boxes(), conditions), st.integers(0, 3))
def test_a_simplified_filter_keeps_exactly_the_records_of_the_relaxed_one(node, seed):
    """expressions.simplify absorbs, merges and drops a test of every code a column may hold:
    on records whose codes are those the check allows, it keeps exactly what it was given keeps."""
    columns = records(seed)
    relaxed = ex.relax(node, OWN)
    simplified = ex.simplify(relaxed, {"c": CODES})
    if relaxed is None:
        assert simplified is None
        return
    kept = ex.evaluate_filter(relaxed, columns, 60)
    if simplified is None:
        assert kept.all(), relaxed
    else:
        assert (ex.evaluate_filter(simplified, columns, 60) == kept).all(), (relaxed, simplified)


def test_the_filter_of_every_direction_and_year_counted_is_the_years_alone():
    """Migration's tables count immigrations and emigrations of some years each: the records the
    engine keeps are those of the years, which it tests in half the time of the whole "or"."""
    node = ex.parse_filter("(c == 'x' and a == 4) or (c == 'y' and a == 4) or (c == 'z' and a in [2, 3, 4]) "
                           "or (c in ['x', 'y'] and a in [2, 3])")
    assert ex.simplify(ex.relax(node, OWN), {"c": CODES}) == ex.Member(ex.Name("a"), tuple(map(ex.Constant, (2, 3, 4))))
    assert ex.simplify(ex.relax(ex.parse_filter("c == 'x' or c in ['y', 'z']"), OWN), {"c": CODES}) is None
    # a code not among those checked for is tested for
    assert ex.simplify(ex.relax(ex.parse_filter("c in ['x', 'y', 'z']"), OWN), {"c": CODES + ["w"]}) is not None


def test_what_cannot_be_translated_is_dropped_or_keeps_everything():
    node = ex.parse_filter("a == 2024 - 4 and d == 'x'")  # d: derived, dropped from an "and"
    assert ex.relax(node, OWN) == ex.Compare("==", ex.Name("a"), ex.Constant(2020.0))
    assert ex.relax(ex.parse_filter("a == 1 or d == 'x'"), OWN) is None  # an "or" with d may need anything
    assert ex.relax(ex.parse_filter("not (a == 1 and d == 'x')"), OWN) is None
    assert ex.relax(ex.parse_filter("a * 2 > 3"), OWN) is None  # arithmetic on a column: left to the tables
    assert ex.relax(ex.parse_filter("a > 1 / 0"), OWN) is None
    assert ex.relax(ex.parse_filter("3 < a"), OWN) == ex.Compare(">", ex.Name("a"), ex.Constant(3))


# ----------------------------------------------------------------------------------------------
# each engine leaves out exactly what the relaxed condition excludes

FILTERS = ["a == 3", "a >= 1 and c != 'y'", "c in ['x', 'z'] or a < 0", "not (a in [1, 2] or c == 'x')",
           "a > 4 - 2.5", "c not in ['y']", "a <= 2 and (c == 'z' or a == -2)"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Records with every kind of column value, and one record whose code is missing (null)."""
    folder = tmp_path_factory.mktemp("pushdown")
    columns = records(7, 200)
    frame = pd.DataFrame({"a": columns["a"], "c": columns["c"]})
    frame.loc[len(frame)] = {"a": 5, "c": None}
    path = folder / "d.parquet"
    con = duckdb.connect()
    con.register("f", frame)
    con.execute(f"COPY (SELECT CAST(a AS BIGINT) AS a, CAST(c AS VARCHAR) AS c FROM f) TO '{path}' (FORMAT parquet)")
    return Source("d", path, dict(OWN)), frame


def kleene(node: ex.Condition, record: dict) -> bool | None:
    """A relaxed condition on one record in SQL's logic: a comparison with a null is unknown (None)."""
    if isinstance(node, ex.Logical):
        values = [kleene(n, record) for n in node.operands]
        decisive = node.op == "or"  # True decides an "or", False an "and"
        return decisive if decisive in values else None if None in values else not decisive
    if isinstance(node, ex.Not):
        value = kleene(node.operand, record)
        return None if value is None else not value
    if isinstance(node, ex.Member):
        value = record[node.name.id]
        return None if value is None else (value in [v.value for v in node.values]) != node.negated
    value = record[node.left.id]
    compare = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
               ">=": operator.ge}[node.op]
    return None if value is None else compare(value, node.right.value)


def expected(frame: pd.DataFrame, keep: ex.Condition) -> pd.DataFrame:
    """The records the condition does not exclude (true or unknown), counted per (a, c)."""
    records = [{"a": int(a), "c": None if pd.isna(c) else c} for a, c in zip(frame["a"], frame["c"])]
    kept = frame[[kleene(keep, r) is not False for r in records]]
    counted = kept.groupby(["a", "c"], dropna=False).size().rename("_n").reset_index()
    return counted.sort_values(["a", "c"], na_position="last").reset_index(drop=True)


def aggregated(engine, source, keep) -> pd.DataFrame:
    out = engine.aggregate(source, ["a", "c"], [], None, keep)
    return out.sort_values(["a", "c"], na_position="last").reset_index(drop=True).astype({"a": "int64", "_n": "int64"})


@pytest.fixture(params=["duckdb", "spark"])
def engine(request):
    if request.param == "duckdb":
        return DuckDB(threads=1)
    from statpress.spark import SparkEngine

    session = request.getfixturevalue("spark_session")
    return SparkEngine(session=lambda: session)


@pytest.mark.parametrize("text", FILTERS)
def test_each_engine_groups_only_the_records_the_filter_may_keep(engine, dataset, text):
    source, frame = dataset
    keep = ex.relax(ex.parse_filter(text), OWN)
    got, want = aggregated(engine, source, keep), expected(frame, keep)
    pd.testing.assert_frame_equal(got[["a", "c", "_n"]], want[["a", "c", "_n"]], check_dtype=False)
    assert len(got) < len(aggregated(engine, source, None))  # something was left out


def test_a_record_the_filter_cannot_judge_is_kept(dataset):
    """The record with no code: `c != 'y'` is unknown for it, so it stays; `a == 3` excludes it."""
    source, _ = dataset
    for text, kept in [("c != 'y'", 1), ("a >= 1 and c != 'y'", 1), ("a == 3", 0)]:
        got = aggregated(DuckDB(threads=1), source, ex.relax(ex.parse_filter(text), OWN))
        assert got["c"].isna().sum() == kept, text


# ----------------------------------------------------------------------------------------------
# a statistic: fewer inner cells, the same published figures


def protected_release(catalog, statistic: str):
    s = next(s for s in content.load_all(ROOT / "content") if s.id == statistic)
    release = calendar.due(s, DEMO_NOW)
    computed = tables.compute(catalog, s.id, release.period)
    return computed, publish.protect(s, computed)[0]


def test_pushing_down_changes_no_published_figure(monkeypatch):
    """Naturalisations shows ten years of a register that holds more: the engine groups only those
    years, and every table, protected, is the same as when it groups every record."""
    pushed, pushed_tables = protected_release(data.load_catalog(ROOT), "naturalisations")
    monkeypatch.setattr(data.ex, "relax", lambda node, columns: None)
    whole, whole_tables = protected_release(data.load_catalog(ROOT), "naturalisations")
    assert len(pushed.frames["naturalisations"]) < len(whole.frames["naturalisations"])
    assert pushed_tables.tables and [t.id for t in pushed_tables.tables] == [t.id for t in whole_tables.tables]
    for a, b in zip(pushed_tables.tables, whole_tables.tables):
        np.testing.assert_array_equal(a.values, b.values, err_msg=a.id)
        np.testing.assert_array_equal(a.status, b.status, err_msg=a.id)
