"""Small-count rounding: properties over generated tables, plus unit tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from statpress.adhoc import model_matrix
from statpress.rounding import RoundingResult, RoundingSummary, check_protected, pls_round
from statpress.errors import BuildError

SMALLISH = [0, 0, 1, 1, 1, 2, 2, 2, 3, 4, 5, 6, 8, 13, 40]


@st.composite
def tables(draw):
    """A frequency table with crossed dimensions, optionally hierarchical, and the tables published."""
    n_a = draw(st.integers(2, 6))
    n_b = draw(st.integers(1, 4))
    n_c = draw(st.integers(0, 3))  # 0: no third dimension
    a = [f"a{i}" for i in range(n_a)]
    bvals = [f"b{i}" for i in range(n_b)]
    cvals = [f"c{i}" for i in range(n_c)]
    hierarchies = {}
    if draw(st.booleans()):
        n_groups = draw(st.integers(1, 3))
        parent = {x: f"g{draw(st.integers(0, n_groups - 1))}" for x in a}
        if draw(st.booleans()):  # a second level above the groups
            for g in set(parent.values()):
                parent[g] = f"r{draw(st.integers(0, 1))}"
        hierarchies["A"] = parent
    rows = [(x, yv) for x in a for yv in bvals] if not cvals else [
        (x, yv, z) for x in a for yv in bvals for z in cvals]
    counts = draw(st.lists(st.sampled_from(SMALLISH), min_size=len(rows), max_size=len(rows)))
    keep = draw(st.lists(st.booleans(), min_size=len(rows), max_size=len(rows)))
    if not any(keep):
        keep[0] = True
    names = ["A", "B", "C"][: len(rows[0])]
    frame = pd.DataFrame([r for r, k in zip(rows, keep) if k], columns=names)
    frame["n"] = [c for c, k in zip(counts, keep) if k]
    if "C" in names:
        tabs = draw(st.sampled_from([[["A", "B", "C"]], [["A", "B"], ["B", "C"]], [["A", "C"], ["B"]]]))
    else:
        tabs = draw(st.sampled_from([[["A", "B"]], [["A"], ["B"]]]))
    return frame, tabs, hierarchies


def _check_invariants(X, y, res: RoundingResult, base: int, max_round=None):
    M = base if max_round is None else max_round
    X = sp.csr_matrix(X)
    z0 = X.T @ y
    z1 = X.T @ res.inner
    # additivity: every published cell is the sum of its rounded inner cells
    assert np.array_equal(res.published_after, z1)
    assert np.array_equal(res.published_before, z0)
    # no small published cell left
    small = (z1 >= 1) & (z1 <= M - 1) & (z1 % base != 0)
    assert not small.any(), z1[small]
    if max_round is None:
        assert not ((z1 >= 1) & (z1 <= base - 1)).any()
    # only small non-multiples change, to a neighbouring multiple of the base
    changed = res.inner != y
    assert np.all(np.abs(res.inner - y) < base)
    assert np.all(res.inner[changed] % base == 0)
    assert np.all(y[changed] % base != 0)
    assert np.all((y[changed] >= 1) & (y[changed] <= M - 1))
    assert np.all(res.inner >= 0)
    # every inner cell of an originally small published cell is now a multiple of the base
    first = np.asarray(X @ ((z0 >= 1) & (z0 <= M - 1)).astype(np.int64)).ravel() > 0
    assert np.all(res.inner[first] % base == 0)
    # grand total within the base
    assert abs(int(res.inner.sum()) - int(y.sum())) < base
    s = res.summary
    assert s.changed == int(changed.sum())
    assert s.cells == X.shape[1] and s.inner_cells == X.shape[0]
    assert s.total_before == int(y.sum()) and s.total_after == int(res.inner.sum())
    assert s.max_abs_change == (int(np.abs(z1 - z0).max()) if z0.size else 0)
    assert s.candidates >= s.changed
    assert check_protected(X, res.inner, base, max_round, published=res.published_after) == []


@settings(max_examples=700, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), st.sampled_from([3, 5]), st.integers(0, 2**31))
def test_rounding_properties(case, base, seed):
    frame, tabs, hier = case
    model, cells = model_matrix(frame, tabs, hier, freq="n")
    X, y = model.x, model.y
    res = pls_round(X, y, base=base, seed=seed)
    _check_invariants(X, y, res, base)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), st.sampled_from([3, 5]), st.integers(0, 2**31))
def test_same_input_same_seed_same_output(case, base, seed):
    frame, tabs, hier = case
    model, _ = model_matrix(frame, tabs, hier, freq="n")
    X, y = model.x, model.y
    a = pls_round(X, y, base=base, seed=seed)
    b = pls_round(X.copy(), y.copy(), base=base, seed=seed)
    assert np.array_equal(a.inner, b.inner)
    assert np.array_equal(a.published_after, b.published_after)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), st.sampled_from([(3, 5), (3, 7), (5, 8), (2, 4)]), st.integers(0, 2**31))
def test_max_round_properties(case, base_max, seed):
    frame, tabs, hier = case
    base, max_round = base_max
    model, _ = model_matrix(frame, tabs, hier, freq="n")
    X, y = model.x, model.y
    res = pls_round(X, y, base=base, max_round=max_round, seed=seed)
    _check_invariants(X, y, res, base, max_round)


# ----------------------------------------------------------------------------
# unit tests


def _x(cols, n):
    """0/1 matrix with n inner rows from a list of published cells (lists of inner indices)."""
    rows = [i for c in cols for i in c]
    colidx = [j for j, c in enumerate(cols) for _ in c]
    return sp.csr_matrix((np.ones(len(rows), dtype=np.int64), (rows, colidx)), shape=(n, len(cols)))


def test_simple_table_is_rounded_to_multiples():
    # one-way table: 5 inner cells + total, all published
    y = np.array([1, 2, 1, 7, 2])
    X = _x([[0], [1], [2], [3], [4], [0, 1, 2, 3, 4]], 5)
    res = pls_round(X, y, base=3)
    assert isinstance(res.summary, RoundingSummary)
    assert res.inner[3] == 7  # not small: untouched
    assert all(v in (0, 3) for v in res.inner[[0, 1, 2, 4]])
    assert res.summary.candidates == 4
    assert abs(res.summary.total_after - 13) <= 1  # 13 = sum; remainders 6 -> two ups
    assert res.inner[[0, 1, 2, 4]].sum() == 6
    assert res.inner.dtype == np.int64


def test_no_small_cells_means_no_change():
    y = np.array([3, 6, 0, 9, 4])
    X = _x([[0], [1], [2], [3], [4], [0, 1, 2, 3, 4]], 5)
    res = pls_round(X, y, base=3)
    assert np.array_equal(res.inner, y)
    assert res.summary.changed == 0 and res.summary.rmse == 0.0


def test_differencing_reveals_a_small_inner_cell():
    # published: i0+i1 = 12 and i1 = 10 alone; i0 = 2 follows by subtraction
    y = np.array([2, 10])
    X = _x([[0, 1], [1]], 2)
    res = pls_round(X, y, base=3)
    assert res.inner[1] == 10
    assert res.inner[0] in (0, 3)
    # without the second published cell nothing is revealed: no change
    alone = pls_round(_x([[0, 1]], 2), y, base=3)
    assert np.array_equal(alone.inner, y)


def test_differencing_chain_propagates():
    # i2 = 20 published; i1 = p(1,2) - i2; i0 = p(0,1) - i1 -> 1, revealed in two steps
    y = np.array([1, 9, 20])
    X = _x([[0, 1], [1, 2], [2]], 3)
    res = pls_round(X, y, base=3)
    assert res.inner[0] in (0, 3) and res.inner[1] == 9 and res.inner[2] == 20


def test_newly_small_cells_are_rounded_again():
    # rounding inner cells can make a margin small; the loop must round again
    rng = np.random.default_rng(0)
    for _ in range(50):
        n = 12
        y = rng.choice([1, 2, 4, 5], size=n)
        cols = [[i] for i in range(n) if rng.random() < 0.5] + [list(range(i, i + 3)) for i in range(0, n, 3)]
        cols.append(list(range(n)))
        X = _x(cols, n)
        res = pls_round(X, y, base=3)
        z = X.T @ res.inner
        assert not ((z >= 1) & (z <= 2)).any()


def test_dense_input_and_float_integers_are_accepted():
    X = np.array([[1, 1], [0, 1]])
    res = pls_round(X, np.array([1.0, 5.0]), base=3)
    assert res.inner.dtype == np.int64
    assert res.inner[0] in (0, 3)


@pytest.mark.parametrize(
    "x, y, kwargs, message",
    [
        (np.eye(2), [1, -1], {}, "non-negative"),
        (np.eye(2), [1.5, 2], {}, "integers"),
        (np.eye(2), [1, 2, 3], {}, "3 inner cells but x has 2 rows"),
        (np.array([[2, 0], [0, 1]]), [1, 2], {}, "only 0 and 1"),
        (np.eye(2), [1, 2], {"base": 1}, "base must be at least 2"),
        (np.eye(2), [1, 2], {"base": 2.5}, "base must be an integer"),
        (np.eye(2), [1, 2], {"max_round": 1}, "max_round must be at least 2"),
        (np.eye(2), [[1, 2]], {}, "1-dimensional"),
        (np.eye(2), ["a", "b"], {}, "non-negative integers"),
        (np.ones(3), [1, 2, 3], {}, "2-dimensional"),
    ],
)
def test_bad_input_raises_build_error(x, y, kwargs, message):
    with pytest.raises(BuildError, match=message):
        pls_round(x, np.asarray(y), **kwargs)


def test_check_protected_reports_problems():
    X = _x([[0], [1], [0, 1]], 2)
    assert check_protected(X, np.array([3, 6]), 3) == []
    problems = check_protected(X, np.array([1, 6]), 3)
    assert len(problems) == 1 and "published cell 0 is 1" in problems[0]  # 1 + 6 = 7 is fine
    wrong = check_protected(X, np.array([3, 6]), 3, published=np.array([3, 6, 10]))
    assert wrong == ["published cell 2 is 10 but its rounded inner cells sum to 9"]
    # with max_round, 3 is a multiple of the base and fine; 4 is not
    assert check_protected(X, np.array([3, 6]), 3, max_round=5) == []
    assert len(check_protected(X, np.array([4, 6]), 3, max_round=5)) == 1
    with pytest.raises(BuildError):
        check_protected(X, np.array([-3, 6]), 3)


def test_greedy_and_swaps_keep_margins_close():
    # a two-way table with many ones and twos: least squares keeps margins near the original
    rng = np.random.default_rng(7)
    frame = pd.DataFrame([(f"r{i}", f"c{j}") for i in range(30) for j in range(8)], columns=["R", "C"])
    frame["n"] = rng.choice([1, 2, 5, 9, 20], size=len(frame), p=[0.3, 0.3, 0.1, 0.1, 0.2])
    model, _ = model_matrix(frame, [["R", "C"]], {}, freq="n")
    X, y = model.x, model.y
    res = pls_round(X, y, base=3)
    _check_invariants(X, y, res, 3)
    assert res.summary.max_abs_change <= 4
    assert res.summary.rmse < 1.2
    # a poor rounding (every small cell down) is much worse
    down = y - (y % 3) * ((y >= 1) & (y <= 2))
    err = X.T @ down - X.T @ y
    assert res.summary.rmse < 0.5 * np.sqrt(np.mean(err.astype(float) ** 2))


def test_swap_refinement_lowers_error_and_keeps_state_consistent():
    from statpress.rounding import _refine_swaps

    rng = np.random.default_rng(11)
    frame = pd.DataFrame([(f"r{i}", f"c{j}") for i in range(20) for j in range(6)], columns=["R", "C"])
    frame["n"] = rng.choice([1, 2], size=len(frame))
    model, _ = model_matrix(frame, [["R", "C"]], {}, freq="n")
    X, y = model.x, model.y
    Xs = sp.csr_matrix(X)
    Xsc = Xs.tocsc()
    nc = Xs.shape[0]
    r = y % 3
    up = rng.random(nc) < 0.5
    e = (Xs.T @ (np.where(up, 3, 0) - r)).astype(np.int64)
    before = int((e * e).sum())
    s = (Xs @ e).astype(np.float64)
    n_up = int(up.sum())
    _refine_swaps(Xs, Xsc.indptr, Xsc.indices, up, e, s, np.diff(Xs.indptr).astype(float), 3, nc)
    assert int(up.sum()) == n_up  # swaps keep the number of ups
    assert np.array_equal(e, Xs.T @ (np.where(up, 3, 0) - r))
    assert np.allclose(s, Xs @ e)
    assert int((e * e).sum()) < 0.6 * before


def test_quality_beats_independent_nearest_rounding():
    # regression guard for the least-squares choice of ups: a municipality × sex × age × year
    # table with a county level, ~20 % small cells.  The baseline rounds every small cell to
    # its nearest multiple independently and then fixes the number of ups to the same k
    # without looking at the margins.  pls_round must be far better (0.818 vs 1.243 when
    # this test was written); a drop back towards the baseline fails here.
    rng = np.random.default_rng(2024)
    muns = [f"m{i:02d}" for i in range(40)]
    hier = {m: f"c{i % 4}" for i, m in enumerate(muns)}
    frame = pd.DataFrame([(m, s, a, yr) for m in muns for s in "MF" for a in range(5) for yr in range(3)],
                         columns=["M", "S", "A", "Y"]).astype(str)
    kind = rng.random(len(frame))
    frame["n"] = np.where(kind < 0.2, rng.integers(1, 3, len(frame)),
                          np.where(kind < 0.25, 0, 3 + rng.negative_binomial(2, 0.05, len(frame))))
    model, _ = model_matrix(frame, [["M", "S", "A", "Y"]], {"M": hier}, freq="n")
    X, y = model.x, model.y
    b = 3
    res = pls_round(X, y, base=b)
    _check_invariants(X, y, res, b)

    cand = np.flatnonzero((y % b != 0) & (y < b))
    assert res.summary.candidates == cand.size
    r = y[cand] % b
    k = int(np.floor(r.sum() / b + 0.5))
    up = 2 * r >= b
    extra = int(up.sum()) - k
    if extra > 0:
        up[np.flatnonzero(up)[:extra]] = False
    elif extra < 0:
        up[np.flatnonzero(~up)[:-extra]] = True
    base_inner = y.copy()
    base_inner[cand] += b * up - r
    base_err = (X.T @ base_inner - X.T @ y).astype(float)
    baseline = float(np.sqrt(np.mean(base_err ** 2)))
    assert res.summary.total_after - res.summary.total_before == int(base_inner.sum() - y.sum())
    assert res.summary.rmse <= 0.75 * baseline
    assert res.summary.rmse <= 0.85  # 0.818 measured


def test_benchmark_register_table_meets_the_quality_targets():
    # The benchmark's target case (issue #3): 356 municipalities in 15 counties × 2 × 10 × 5,
    # 15 % small inner cells, every margin, base 3. Quality targets only; speed belongs to
    # `make bench`, never to a test.
    from bench.bench_rounding import register_table, small_share

    frame, hierarchy = register_table()
    assert len(frame) == 356 * 2 * 10 * 5
    assert len(set(hierarchy.values())) == 15
    model, _ = model_matrix(frame, [["municipality", "sex", "age", "year"]], {"municipality": hierarchy},
                           freq="count")
    X, y = model.x, model.y
    assert X.shape[1] == 73656  # (356 + 15 + 1) × 3 × 11 × 6: every margin published
    assert abs(small_share(y) - 0.15) < 0.005
    res = pls_round(X, y, base=3)
    _check_invariants(X, y, res, 3)
    assert res.summary.max_abs_change <= 8
    assert res.summary.rmse <= 0.7  # 0.675 measured
