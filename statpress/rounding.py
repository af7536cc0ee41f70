"""Small-count rounding of linear tables (the "rounding up/down method").

Published cells are linear in the inner cells: ``published = Xᵀ·y`` where ``y``
(int64, one value per inner cell) holds the finest crossing of the data and
``X`` (n_inner × n_published, 0/1, scipy.sparse) has one column per published
cell.  :func:`pls_round` rounds a few small inner cells to a multiple of the
base so that no published cell is a small count, keeping the tables additive
(every published cell is still the sum of its rounded inner cells) and close
to the original values in the least-squares sense.  It is our own
implementation of the idea behind SmallCountRounding::PLSrounding (Statistics
Norway); see docs/confidentiality.md.
"""

from __future__ import annotations

import numbers
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from statpress.errors import BuildError

if TYPE_CHECKING:
    import scipy.sparse as sp  # loaded when a table is protected, not when this module is

__all__ = ["RoundingSummary", "RoundingResult", "check_limits", "pls_round", "check_protected"]


@dataclass(frozen=True)
class RoundingSummary:
    cells: int  # published cells
    inner_cells: int
    candidates: int
    changed: int  # inner cells changed
    max_abs_change: int  # over published cells
    rmse: float  # over published cells
    total_before: int
    total_after: int
    seconds: float


@dataclass(frozen=True)
class RoundingResult:
    inner: np.ndarray  # rounded inner cells (int64)
    published_before: np.ndarray
    published_after: np.ndarray
    summary: RoundingSummary


# ----------------------------------------------------------------------------
# validation


def _as_int(value, name: str, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise BuildError(f"rounding: {name} must be an integer, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise BuildError(f"rounding: {name} must be at least {minimum}, got {value}")
    return value


def check_limits(base, max_round=None) -> tuple[int, int | None]:
    """The rounding limits, checked in one place for the build, `build.py round` and the API.

    ``base``: published counts become 0 or at least the base (an integer of at least 2).
    ``max_round``: cells 1..max_round-1 count as small (at least 2; default: the base).
    """
    base = _as_int(base, "base", 2)
    if max_round is not None:
        max_round = _as_int(max_round, "max_round", 2)
    return base, max_round


def _validate(x, y, base, max_round, *, what: str = "y"):
    import scipy.sparse as sp  # loaded to round only: a build that finds its tables cached saves 0.2 s
    base, max_round = check_limits(base, max_round)
    if sp.issparse(x):
        X = sp.csr_matrix(x, copy=True)
    else:
        try:
            arr = np.asarray(x)
        except Exception as exc:  # pragma: no cover - defensive
            raise BuildError(f"rounding: x must be a 0/1 matrix ({exc})") from None
        if arr.ndim != 2:
            raise BuildError(f"rounding: x must be a 2-dimensional 0/1 matrix, got shape {arr.shape}")
        X = sp.csr_matrix(arr)
    X.sum_duplicates()
    X.eliminate_zeros()
    if X.nnz and not np.all(X.data == 1):
        bad = X.data[X.data != 1][0]
        raise BuildError(f"rounding: x must contain only 0 and 1, found {bad!r}")
    X = sp.csr_matrix((np.ones(X.nnz, dtype=np.int64), X.indices.astype(np.int64), X.indptr.astype(np.int64)),
                      shape=X.shape)
    y = np.asarray(y)
    if y.ndim != 1:
        raise BuildError(f"rounding: {what} must be 1-dimensional, got shape {y.shape}")
    if y.shape[0] != X.shape[0]:
        raise BuildError(
            f"rounding: {what} has {y.shape[0]} inner cells but x has {X.shape[0]} rows (one row per inner cell expected)"
        )
    if y.dtype == bool or not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)):
        raise BuildError(f"rounding: {what} must hold non-negative integers, got dtype {y.dtype}")
    if np.issubdtype(y.dtype, np.floating):
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            i = int(np.flatnonzero(~np.isfinite(y) | (y != np.round(y)))[0])
            raise BuildError(f"rounding: {what} must hold integers; inner cell {i} is {y[i]!r}")
    y = y.astype(np.int64)
    if y.size and y.min() < 0:
        i = int(np.argmin(y))
        raise BuildError(f"rounding: {what} must be non-negative; inner cell {i} is {int(y[i])}")
    return X, y, base, max_round


# ----------------------------------------------------------------------------
# helpers on sparse structure


def _gather(indptr: np.ndarray, indices: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Concatenate ``indices[indptr[k]:indptr[k+1]]`` for every k in ``keys`` (vectorised)."""
    starts = indptr[keys]
    lengths = indptr[keys + 1] - starts
    total = int(lengths.sum())
    if total == 0:
        return indices[:0]
    offsets = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
    return indices[offsets + np.arange(total)]


def _deducible(X: sp.csr_matrix, XT: sp.csr_matrix, z: np.ndarray) -> np.ndarray:
    """Inner cells whose value follows from the published cells by differencing.

    A published zero reveals all its inner cells (values are non-negative); a
    published cell with exactly one inner cell not yet known reveals that one
    (the cell minus the known ones).  Propagated to a fixed point.
    """
    n = X.shape[0]
    known = np.asarray(X @ (z == 0).astype(np.int64)).ravel() > 0
    ids = np.arange(1, n + 1, dtype=np.int64)
    while True:
        unknown = (~known).astype(np.int64)
        count = XT @ unknown
        single = count == 1
        if not single.any():
            break
        which = (XT @ (unknown * ids))[single] - 1
        which = which[~known[which]]
        if which.size == 0:
            break
        known[which] = True
    return known


# ----------------------------------------------------------------------------
# one rounding pass


_LIGHT = 48  # columns with at most this many candidates define "neighbour" swap pairs
_BLOCK = 12  # globally cheapest ups × downs also tried each swap round
_TOP = 400  # best single swaps combined exactly each round


def _neighbour_pairs(cp, ci, nc):
    """Pairs of candidates sharing a published cell that has few candidates, and their overlap."""
    sizes = np.diff(cp)
    light = np.flatnonzero((sizes >= 2) & (sizes <= _LIGHT))
    pa, pb = [], []
    for size in np.unique(sizes[light]):
        group = light[sizes[light] == size]
        members = ci[cp[group][:, None] + np.arange(size)[None, :]]  # (cells, size)
        iu, ju = np.triu_indices(size, 1)
        pa.append(members[:, iu].ravel())
        pb.append(members[:, ju].ravel())
    if not pa:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    pa = np.concatenate(pa).astype(np.int64)
    pb = np.concatenate(pb).astype(np.int64)
    key = np.unique(np.minimum(pa, pb) * nc + np.maximum(pa, pb))
    return key // nc, key % nc


def _refine_swaps(Xs, cp, ci, up, e, s, ncell, b, nc):
    """Swap refinement, in place on ``up``, ``e`` (errors of the touched cells) and ``s``.

    Each round screens every neighbour pair (candidates sharing a small
    published cell) and the globally cheapest ups × downs by the exact change
    of squared error of swapping them; the best ``_TOP`` swaps are then
    combined exactly (Gram matrix of their changes): swaps are added one at a
    time while the total error drops, or two at a time when only a pair of
    swaps together lowers it (e.g. a 2×2 cycle that keeps the margins).
    """
    bb = float(b) * b
    pa, pb = _neighbour_pairs(cp, ci, nc)
    if pa.size:
        ovw = 2.0 * bb * np.asarray(Xs[pa].multiply(Xs[pb]).sum(axis=1), dtype=np.float64).ravel()
    else:
        ovw = np.zeros(0)
    for _ in range(10 * nc + 100):
        cost_up = 2.0 * b * s + bb * ncell
        cost_down = -2.0 * b * s + bb * ncell
        ua, ub = up[pa], up[pb]
        flip = ub & ~ua
        su = np.where(flip, pb, pa)
        sd = np.where(flip, pa, pb)
        delta = np.where(ua != ub, cost_down[su] + cost_up[sd] - ovw, np.inf)
        if delta.size > _TOP:
            pick = np.argpartition(delta, _TOP)[:_TOP]
        else:
            pick = np.arange(delta.size)
        pick = pick[np.isfinite(delta[pick])]
        U_list, D_list = [su[pick]], [sd[pick]]
        ups = np.flatnonzero(up)
        downs = np.flatnonzero(~up)
        U = ups[np.argsort(cost_down[ups], kind="stable")[:_BLOCK]]
        D = downs[np.argsort(cost_up[downs], kind="stable")[:_BLOCK]]
        U_list.append(np.repeat(U, D.size))
        D_list.append(np.tile(D, U.size))
        su = np.concatenate(U_list)
        sd = np.concatenate(D_list)
        key = np.unique(su * nc + sd)
        su, sd = key // nc, key % nc
        if su.size == 0:
            break
        change = (Xs[sd] - Xs[su]).tocsr()  # in units of b
        gram = (change @ change.T).toarray().astype(np.float64)
        single = 2.0 * b * (change @ e).astype(np.float64) + bb * np.diag(gram)
        inter = 2.0 * bb * gram
        np.fill_diagonal(inter, 0.0)
        conflict = ((su[:, None] == su[None, :]) | (sd[:, None] == sd[None, :])
                    | (su[:, None] == sd[None, :]) | (sd[:, None] == su[None, :]))
        free = np.ones(su.size, dtype=bool)
        marginal = single.copy()
        chosen = []

        def take(j):
            chosen.append(j)
            free[conflict[j]] = False
            marginal[:] += inter[j]

        while True:
            m = np.where(free, marginal, np.inf)
            j = int(np.argmin(m))
            if m[j] < 0:
                take(j)
                continue
            pair = m[:, None] + m[None, :] + inter
            pair[conflict] = np.inf
            i = int(np.argmin(pair))
            if pair.flat[i] < 0:
                take(i // su.size)
                take(i % su.size)
                continue
            break
        if not chosen:
            break
        chosen = np.asarray(chosen)
        cu, cd = su[chosen], sd[chosen]
        up[cu] = False
        up[cd] = True
        delta_e = np.asarray(change[chosen].sum(axis=0)).ravel().astype(e.dtype) * b
        touched = np.flatnonzero(delta_e)
        e[touched] += delta_e[touched]
        if touched.size:
            rows = _gather(cp, ci, touched)
            weights = np.repeat(delta_e[touched], np.diff(cp)[touched]).astype(np.float64)
            s += np.bincount(rows, weights=weights, minlength=nc)


def _round_pass(X, XT, cand, y, z0, total0, b, rng):
    """Round the remainders of inner cells ``cand`` down to 0 or up to b. Returns new y."""
    import scipy.sparse as sp
    C = rng.permutation(cand)  # the order breaks ties: seeded, hence deterministic
    r = y[C] % b
    yd = y.copy()
    yd[C] -= r
    nc = C.size
    drift = total0 - int(yd.sum())  # = sum of remainders + drift of the total so far
    k = int(np.floor(drift / b + 0.5))
    k = min(max(k, 0), nc)

    Xs = X[C]
    cols, local = np.unique(Xs.indices, return_inverse=True)
    Xs = sp.csr_matrix((Xs.data, local.astype(np.int64), Xs.indptr), shape=(nc, cols.size))
    Xsc = Xs.tocsc()
    rp, ri = Xs.indptr, Xs.indices  # candidate -> published cells
    cp, ci = Xsc.indptr, Xsc.indices  # published cell -> candidates
    e = (XT[cols] @ yd) - z0[cols]  # error of the all-down solution against the original
    ncell = np.diff(rp).astype(np.float64)
    bb = float(b) * b
    # start from plain rounding (remainder >= b/2 goes up): the smallest change of
    # every candidate itself; then fix the number of ups greedily by least squares
    up = 2 * r >= b
    if up.any():
        hits = np.bincount(ri[np.repeat(up, np.diff(rp))], minlength=cols.size)
        e += b * hits
    s = (Xs @ e).astype(np.float64)  # sum of the errors over each candidate's cells
    while True:
        n_up = int(up.sum())
        if n_up == k:
            break
        if n_up < k:  # move up the down whose cells are furthest below target
            cost = np.where(up, np.inf, 2.0 * b * s + bb * ncell)
            step = b
        else:  # move down the up whose cells are furthest above target
            cost = np.where(up, -2.0 * b * s + bb * ncell, np.inf)
            step = -b
        j = int(np.argmin(cost))
        up[j] = not up[j]
        P = ri[rp[j]:rp[j + 1]]
        e[P] += step
        s += step * np.bincount(_gather(cp, ci, P), minlength=nc)

    # swap refinement: move an up down and a down up while the squared error drops
    if 0 < k < nc:
        _refine_swaps(Xs, cp, ci, up, e, s, ncell, b, nc)

    out = yd
    out[C[up]] += b
    return out


# ----------------------------------------------------------------------------
# public API


def pls_round(x, y, base: int = 3, max_round: int | None = None, seed: int = 123) -> RoundingResult:
    """Round small counts so no published cell ``Xᵀ·y`` is in 1..base-1.

    ``x``: n_inner × n_published 0/1 matrix (scipy.sparse or array-like);
    ``y``: non-negative integer inner cells.  With ``max_round=M`` cells with
    values 1..M-1 are treated as small (default M = base); after rounding no
    published cell in 1..M-1 is off a multiple of ``base``.  Only inner cells
    that are not multiples of the base and feed a small published cell (or can
    be derived by differencing) change, each to a neighbouring multiple of the
    base.  The same input and ``seed`` give the same output.
    """
    t0 = time.perf_counter()
    X, y0, b, max_round = _validate(x, y, base, max_round)
    seed = _as_int(seed, "seed")
    M = b if max_round is None else max_round
    XT = X.T.tocsr()
    n, m = X.shape
    z0 = XT @ y0
    total0 = int(y0.sum())
    rng = np.random.default_rng(seed)

    y_cur = y0.copy()
    ever = np.zeros(n, dtype=bool)
    # each pass rounds at least one inner cell that is off a multiple of the base,
    # and a rounded cell stays a multiple of the base, so this loop ends
    for _ in range(n + 1):
        z = XT @ y_cur
        off = (y_cur % b) != 0
        small = (z >= 1) & (z <= M - 1)
        cand = off & (np.asarray(X @ small.astype(np.int64)).ravel() > 0)
        if not cand.any():
            # differencing: a small original count that can be derived exactly
            known = _deducible(X, XT, z)
            cand = known & off & (y_cur == y0) & (y0 >= 1) & (y0 <= M - 1)
            if not cand.any():
                break
        idx = np.flatnonzero(cand)
        ever[idx] = True
        y_cur = _round_pass(X, XT, idx, y_cur, z0, total0, b, rng)

    z1 = XT @ y_cur
    diff = z1 - z0
    summary = RoundingSummary(
        cells=int(m),
        inner_cells=int(n),
        candidates=int(ever.sum()),
        changed=int((y_cur != y0).sum()),
        max_abs_change=int(np.abs(diff).max()) if m else 0,
        rmse=float(np.sqrt(np.mean(diff.astype(np.float64) ** 2))) if m else 0.0,
        total_before=total0,
        total_after=int(y_cur.sum()),
        seconds=time.perf_counter() - t0,
    )
    return RoundingResult(inner=y_cur, published_before=z0, published_after=z1, summary=summary)


def check_protected(x, y_rounded, base, max_round=None, *, published=None, labels=None) -> list[str]:
    """Problems with a rounded table; an empty list when it is protected.

    Reports published cells that are small (1..base-1; with ``max_round=M``:
    1..M-1 and not a multiple of the base) and, when ``published`` is given,
    published values that differ from the sum of their rounded inner cells.
    ``labels`` names each published cell in the messages (default: its index).
    """
    X, y, b, max_round = _validate(x, y_rounded, base, max_round, what="y_rounded")
    M = b if max_round is None else max_round
    z = X.T.tocsr() @ y

    def name(i) -> str:
        return labels[int(i)] if labels is not None else f"published cell {int(i)}"

    problems: list[str] = []
    bad = np.flatnonzero((z >= 1) & (z <= M - 1) & (z % b != 0))
    for i in bad[:50]:
        problems.append(f"{name(i)} is {int(z[i])}: a small count (1..{M - 1}, not a multiple of {b})")
    if bad.size > 50:
        problems.append(f"... and {bad.size - 50} more small published cells")
    if published is not None:
        pub = np.asarray(published)
        if pub.shape != z.shape:
            problems.append(f"published has shape {pub.shape}, expected {z.shape}")
        else:
            wrong = np.flatnonzero(pub != z)
            for i in wrong[:50]:
                problems.append(f"{name(i)} is {pub[i].item()!r} but its rounded inner cells sum to {int(z[i])}")
            if wrong.size > 50:
                problems.append(f"... and {wrong.size - 50} more published cells that do not add up")
    return problems
