"""One protection model for the build and `build.py round`: same model, same rounding, same check."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SHARED
from statpress import confidentiality, tables
from statpress.adhoc import round_frame
from statpress.confidentiality import ProtectionModel
from statpress.data import load_catalog
from statpress.errors import BuildError
from statpress.rounding import RoundingResult, RoundingSummary


class Settings:
    base, max_round, seed = 3, None, 123


def write_project(root: Path, frame: pd.DataFrame, parents: dict[str, str]) -> Path:
    """A statistic over a frequency table with dimensions a (grouped into parents) and b."""
    (root / "stats" / "t").mkdir(parents=True)
    groups = sorted(set(parents.values()))
    (root / "stats" / "a.csv").write_text(
        "code,name,parent\n" + "".join(f"{a},A {a},{parents[a]}\n" for a in sorted(parents)), encoding="utf-8")
    (root / "stats" / "parents.csv").write_text(
        "code,name\n" + "".join(f"{g},Group {g}\n" for g in groups), encoding="utf-8")
    bs = sorted(frame["b"].unique())
    (root / "stats" / "datasets.toml").write_text(textwrap.dedent(f"""
        [classifications.a]
        file = "a.csv"
        links = {{ parent = "parents" }}
        [classifications.parents]
        file = "parents.csv"
        [datasets.d]
        file = "d.csv"
        description = "a frequency table"
        frequency = "n"
        [datasets.d.columns]
        a = {{ type = "code", classification = "a" }}
        b = {{ type = "code", values = [{", ".join(f'"{b}"' for b in bs)}] }}
        n = {{ type = "integer", min = 0 }}
        """), encoding="utf-8")
    frame.to_csv(root / "d.csv", index=False)
    columns = "".join(f'[[tables.columns]]\nid = "b_{b.lower()}"\nwhere = "b == \'{b}\'"\n' for b in bs)
    (root / "stats" / "t" / "tables.toml").write_text(textwrap.dedent("""
        [[tables]]
        id = "t"
        title = "T"
        dataset = "d"
        [[tables.rows]]
        label = "Total"
        [[tables.rows]]
        by = "parent"
        classification = "parents"
        [[tables.rows]]
        by = "a"
        classification = "a"
        [[tables.columns]]
        id = "total"
        """) + columns, encoding="utf-8")
    return root


@st.composite
def tables_with_groups(draw):
    n_a = draw(st.integers(2, 7))
    n_b = draw(st.integers(1, 4))
    a_codes = [f"a{i}" for i in range(n_a)]
    parents = {a: f"g{draw(st.integers(0, 2))}" for a in a_codes}
    rows = [(a, f"B{j}") for a in a_codes for j in range(n_b)]
    keep = draw(st.lists(st.booleans(), min_size=len(rows), max_size=len(rows)))
    counts = draw(st.lists(st.sampled_from([1, 1, 2, 2, 3, 4, 5, 7, 12]), min_size=len(rows), max_size=len(rows)))
    records = [(a, b, n) for (a, b), k, n in zip(rows, keep, counts) if k]
    if not records:
        records = [(rows[0][0], rows[0][1], 1)]
    return pd.DataFrame(records, columns=["a", "b", "n"]), parents


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=tables_with_groups())
def test_the_build_and_round_give_the_same_protected_table(tmp_path_factory, case):
    frame, parents = case
    root = write_project(tmp_path_factory.mktemp("p"), frame, parents)
    computed = tables.compute(load_catalog(root), "t", 2024)
    protected, summaries = confidentiality.protect(computed, Settings)
    table = protected[0]
    # the same table through build.py round: a crossed with b, a grouped into its parent
    out, result = round_frame(frame.astype({"n": str}), [["a", "b"]], {"a": parents}, freq="n")
    assert summaries["d"].cells == result.summary.cells
    assert summaries["d"].changed == result.summary.changed
    rounded = {(r.a, r.b): r.rounded for r in out.itertuples()}
    for row in table.data_rows:
        place = row.code if row.code is not None else "Total"
        for m in table.measures:
            b = "Total" if m.id == "total" else m.id[2:].upper()
            if (place, b) in rounded:
                assert table.cell(row.id, m.id).value == rounded[(place, b)], (row.label, m.id)
            else:  # a crossing absent from the data: zero in both
                assert table.cell(row.id, m.id).value == 0


def test_round_and_the_build_end_with_the_same_check(tmp_path, monkeypatch):
    """A rounding that leaves a small count is caught, naming the cell, on both paths."""
    def no_rounding(x, y, **_):
        y = np.asarray(y, dtype=np.int64)
        published = x.T @ y
        return RoundingResult(y, published, published, RoundingSummary(0, 0, 0, 0, 0, 0.0, 0, 0, 0.0))

    monkeypatch.setattr(confidentiality, "pls_round", no_rounding)
    frame = pd.DataFrame({"a": ["a0", "a1"], "b": ["B0", "B0"], "n": [1, 5]})
    with pytest.raises(BuildError, match=r"confidentiality check failed: a=a0, b=(B0|Total) is 1: a small count"):
        round_frame(frame.astype({"n": str}), [["a", "b"]], {"a": {"a0": "g0", "a1": "g0"}}, freq="n")
    root = write_project(tmp_path, frame, {"a0": "g0", "a1": "g0"})
    with pytest.raises(BuildError, match=r"dataset 'd': confidentiality check failed: table 't', row 'A a0', "
                                         r"column 'total' is 1: a small count"):
        confidentiality.protect(tables.compute(load_catalog(root), "t", 2024), Settings)


def test_a_cell_shown_twice_is_one_cell_to_the_rounding():
    model = ProtectionModel.from_members(np.array([2, 4]), np.array([0, 1, 0, 1]), np.array([0, 0, 1, 1]),
                                         ["total in one table", "total in another"])
    assert model.x.shape == (2, 1)
    assert list(model.cell_column) == [0, 0]
    assert model.labels == ("total in one table",)


def test_an_inner_cell_no_published_cell_uses_is_not_rounded():
    """Inner cells 1 and 3 publish nothing (a filter left them out): the model has cells 0 and 2 only,
    in their order, so the rounding is the same whether an engine returned them or not."""
    model = ProtectionModel.from_members(np.array([2, 1, 4, 1]), np.array([0, 2, 2]), np.array([0, 0, 1]),
                                         ["both", "the second"])
    assert list(model.y) == [2, 4]
    assert model.x.toarray().tolist() == [[1, 0], [1, 1]]
    assert list(model.published) == [6, 4]


@pytest.mark.parametrize("base", [3, 5])
def test_the_build_protects_the_benchmark_table_better_than_plsrounding(tmp_path, base):
    """The rounding benchmark's table (73 656 published cells) as a statistic, through the build's own
    stages; compared with PLSrounding's results on the same table. Speed is `make bench`'s."""
    from bench.bench_rounding import register_table
    from bench.bench_statistic import Settings as BenchSettings, compare_with_peer, protect, write_project as bench_project

    frame, hierarchy = register_table()
    original, protected, summary = protect(bench_project(tmp_path, frame, hierarchy), BenchSettings(base=base))
    assert protected.values.size == 73656
    counts = protected.values
    assert not ((counts % base != 0) & (counts > 0) & (counts < base)).any()
    by_row = {r.id: i for i, r in enumerate(protected.data_rows)}
    municipalities = [i for r, i in by_row.items() if r.startswith("municipality:")]
    counties = [i for r, i in by_row.items() if r.startswith("county:")]
    assert (counts[municipalities].sum(axis=0) == counts[by_row["total"]]).all()
    assert (counts[counties].sum(axis=0) == counts[by_row["total"]]).all()
    assert summary.changed > 1000  # there were small counts to protect
    peer = compare_with_peer(original, protected, base)
    if not (SHARED / "peers" / "smallcountrounding").exists():
        pytest.skip("the peer's results are not at hand")
    (rmse, change), (peer_rmse, peer_change), _ = peer
    assert rmse <= peer_rmse and change <= peer_change
