"""Ad hoc tables: ``python build.py round`` protects tables by small-count rounding.

``model_matrix`` turns a data frame (microdata or a frequency table), a list of
tables (each a crossing of dimensions, published with all its margins) and
optional hierarchies into the linear model ``published = Xᵀ·y`` that
:func:`statpress.confidentiality.protect_model` rounds and checks, exactly as the
build does.
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from statpress.confidentiality import ProtectionModel, protect_model
from statpress.errors import BuildError
from statpress.rounding import check_limits
from statpress.lazyimport import lazy

pd = lazy("pandas")  # imported when first used: see lazyimport.py

__all__ = ["TOTAL", "model_matrix", "read_hierarchy", "read_table", "round_frame", "run"]

TOTAL = "Total"


# ----------------------------------------------------------------------------
# reading input


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV with every column as text (no NA guessing)."""
    path = Path(path)
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise BuildError(f"{path}: file not found") from None
    except pd.errors.EmptyDataError:
        raise BuildError(f"{path}: the file is empty; expected a CSV with a header row") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise BuildError(f"{path}: not a readable CSV file ({exc})") from None


def read_hierarchy(path: str | Path) -> dict[str, str]:
    """Read a hierarchy CSV with columns ``child,parent`` into a child → parent map."""
    frame = read_table(path)
    missing = [c for c in ("child", "parent") if c not in frame.columns]
    if missing:
        raise BuildError(
            f"{path}: hierarchy file lacks column {missing[0]!r}; expected columns child,parent "
            f"(found {', '.join(map(str, frame.columns))})"
        )
    mapping: dict[str, str] = {}
    for line, (child, parent) in enumerate(zip(frame["child"], frame["parent"]), start=2):
        child, parent = child.strip(), parent.strip()
        if not child or not parent:
            raise BuildError(f"{path}: line {line}: empty child or parent; expected both columns child,parent filled")
        if child in mapping and mapping[child] != parent:
            raise BuildError(
                f"{path}: column 'child' line {line}: {child!r} has two parents ({mapping[child]!r} and {parent!r})"
            )
        mapping[child] = parent
    _check_tree(mapping, f"{path}: column 'parent'")
    return mapping


def _check_tree(hier: Mapping[str, str], where: str) -> None:
    for start in hier:
        node, seen = start, {start}
        while node in hier:
            node = hier[node]
            if node in seen:
                raise BuildError(f"{where}: cycle through {node!r}; a hierarchy must be a tree (child,parent)")
            seen.add(node)


# ----------------------------------------------------------------------------
# model matrix


def _integer_counts(frame: pd.DataFrame, freq: str, source: str) -> np.ndarray:
    raw = frame[freq]
    values = pd.to_numeric(raw, errors="coerce")
    arr = values.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(arr) | (arr < 0) | (arr != np.round(arr))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise BuildError(
            f"{source}: column {freq!r} line {i + 2}: expected a non-negative integer count, got {raw.iloc[i]!r}"
        )
    return arr.astype(np.int64)


def _dimension_levels(name: str, leaves: list[str], hierarchy: Mapping[str, str] | None, source: str):
    """Labels of one dimension and each leaf's chain of groups (leaf, ancestors…, Total)."""
    if TOTAL in leaves:
        raise BuildError(f"{source}: column {name!r} holds the value {TOTAL!r}, which is reserved for totals")
    if not hierarchy:
        labels = [TOTAL] + leaves
        chains = np.array([[1 + i, 0] for i in range(len(leaves))], dtype=np.int64).reshape(len(leaves), 2)
        return labels, chains
    hier = {str(k): str(v) for k, v in hierarchy.items()}
    parents = set(hier.values())
    where = f"hierarchy for {name!r}"
    _check_tree(hier, f"{source}: {where}")
    for child in hier:
        # a child that is neither a data value nor a parent is a leaf without data: allowed
        if child == TOTAL:
            raise BuildError(f"{source}: {where}: {TOTAL!r} is reserved for the top and cannot be a child")
    for leaf in leaves:
        if leaf not in hier:
            raise BuildError(
                f"{source}: column {name!r}: unknown child {leaf!r}: the value is not a child in the {where}"
            )
        if leaf in parents:
            raise BuildError(
                f"{source}: column {name!r}: value {leaf!r} is a parent in the {where}; data values must be leaves"
            )
    groups = sorted(parents - {TOTAL})
    labels = [TOTAL] + groups + leaves
    index = {lab: i for i, lab in enumerate(labels)}
    chains: list[list[int]] = []
    for leaf in leaves:
        chain = [index[leaf]]
        node = leaf
        while node in hier:  # no cycle: _check_tree has seen to that
            node = hier[node]
            if node == TOTAL:
                break
            chain.append(index[node])
        chain.append(0)
        chains.append(chain)
    depth = max(len(c) for c in chains)
    padded = np.array([c + [0] * (depth - len(c)) for c in chains], dtype=np.int64).reshape(len(leaves), depth)
    return labels, padded


def model_matrix(
    frame: pd.DataFrame,
    tables: Sequence[Sequence[str]],
    hierarchies: Mapping[str, Mapping[str, str]] | None = None,
    freq: str | None = None,
    source: str = "input",
):
    """Build ``(model, cells)`` for the published tables.

    ``tables``: each a list of dimension columns, published with all its margins
    (every subset of its dimensions summed over, written ``Total``).
    ``hierarchies``: dimension → {child: parent}; parents are published as
    subtotals.  ``freq``: count column (frequency table) or None (microdata,
    one row per unit).  Inner cells are the finest crossing of all dimensions
    present in the data.  ``model`` is the :class:`ProtectionModel` the build
    uses too; ``cells`` has one row of dimension labels per published cell
    (``model.cell_column`` maps each to its column of ``model.x``).
    """
    hierarchies = dict(hierarchies or {})
    if not tables:
        raise BuildError(f"{source}: no table given; expected at least one list of dimension columns")
    dims: list[str] = []
    for table in tables:
        if not table:
            raise BuildError(f"{source}: a table has no dimensions")
        if len(set(table)) != len(table):
            raise BuildError(f"{source}: table {','.join(table)} names a dimension twice")
        for d in table:
            if d not in dims:
                dims.append(d)
    for d in dims + ([freq] if freq else []):
        if d not in frame.columns:
            raise BuildError(
                f"{source}: column {d!r} not found; columns are {', '.join(map(str, frame.columns))}"
            )
    if freq in dims:
        raise BuildError(f"{source}: column {freq!r} is the count column and cannot be a dimension")
    for d in hierarchies:
        if d not in dims:
            raise BuildError(f"{source}: hierarchy given for {d!r}, which is not a dimension of any table")

    counts = _integer_counts(frame, freq, source) if freq else np.ones(len(frame), dtype=np.int64)
    if len(frame) == 0:
        raise BuildError(f"{source}: no data rows")

    # inner cells: the finest crossing present in the data
    leaf_codes, dim_labels, dim_chains = [], [], []
    for d in dims:
        values = frame[d].astype(str).str.strip()
        codes, uniques = pd.factorize(values, sort=True)
        leaves = [str(u) for u in uniques]
        labels, chains = _dimension_levels(d, leaves, hierarchies.get(d), source)
        leaf_codes.append(codes.astype(np.int64))
        dim_labels.append(labels)
        dim_chains.append(chains)
    stacked = np.stack(leaf_codes, axis=1)
    inner_keys, inverse = np.unique(stacked, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    n_inner = inner_keys.shape[0]
    y = np.bincount(inverse, weights=counts, minlength=n_inner).astype(np.int64)

    # published cells: each table with every combination of levels per dimension
    radix = np.array([len(lab) for lab in dim_labels], dtype=np.int64)
    use_int = float(np.prod(radix.astype(np.float64))) < 2.0**62
    weights = np.ones(len(dims), dtype=np.int64)
    for i in range(len(dims) - 2, -1, -1):
        weights[i] = weights[i + 1] * radix[i + 1] if use_int else 0
    group_of = [dim_chains[i][inner_keys[:, i]] for i in range(len(dims))]  # n_inner × depth
    rows_all, keys_all = [], []
    inner_ids = np.arange(n_inner, dtype=np.int64)
    seen_levels = set()
    for table in tables:
        pos = [dims.index(d) for d in table]
        for levels in itertools.product(*[range(dim_chains[p].shape[1]) for p in pos]):
            chosen = dict(zip(pos, levels))
            sig = tuple(sorted(chosen.items()))
            if sig in seen_levels:
                continue
            seen_levels.add(sig)
            cols = [group_of[i][:, chosen[i]] if i in chosen else np.zeros(n_inner, dtype=np.int64)
                    for i in range(len(dims))]
            rows_all.append(inner_ids)
            if use_int:
                key = np.zeros(n_inner, dtype=np.int64)
                for i, c in enumerate(cols):
                    key += c * weights[i]
                keys_all.append(key)
            else:
                keys_all.append(np.stack(cols, axis=1))
    rows = np.concatenate(rows_all)
    if use_int:
        keys, col = np.unique(np.concatenate(keys_all), return_inverse=True)
        decoded = np.stack([(keys // weights[i]) % radix[i] for i in range(len(dims))], axis=1)
    else:
        decoded, col = np.unique(np.concatenate(keys_all, axis=0), axis=0, return_inverse=True)
    col = col.ravel()
    cells = pd.DataFrame(
        {d: np.asarray(dim_labels[i], dtype=object)[decoded[:, i]] for i, d in enumerate(dims)}
    )
    labels = [", ".join(f"{d}={v}" for d, v in zip(dims, values)) for values in cells.itertuples(index=False)]
    return ProtectionModel.from_members(y, rows, col, labels), cells


def round_frame(frame, tables, hierarchies=None, freq=None, base=3, max_round=None, seed=123, source="input"):
    """Model, round, check and label: returns (published cells with original/rounded, RoundingResult)."""
    model, cells = model_matrix(frame, tables, hierarchies, freq=freq, source=source)
    protected = protect_model(model, base, max_round, seed)
    out = cells.copy()
    out["original"] = model.published
    out["rounded"] = protected.published
    return out, protected.result


# ----------------------------------------------------------------------------
# command line


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `build.py round`, on its subcommand's parser."""
    p.add_argument("input", help="CSV: microdata (one row per unit) or a frequency table (with --freq)")
    p.add_argument("--freq", help="count column of a frequency table")
    p.add_argument("--table", action="append", required=True, metavar="DIM1,DIM2",
                   help="publish this crossing with all its margins (repeatable)")
    p.add_argument("--hierarchy", action="append", default=[], metavar="DIM=MAP.csv",
                   help="hierarchy for a dimension: CSV with columns child,parent (repeatable)")
    p.add_argument("--base", type=int, default=3, help="rounding base (default 3)")
    p.add_argument("--max-round", type=int, default=None,
                   help="published cells below this are small (default: the base)")
    p.add_argument("--seed", type=int, default=123, help="seed for tie-breaking (default 123)")
    p.add_argument("--out", required=True, help="output CSV: one row per published cell")


def run(args: argparse.Namespace) -> None:
    """`build.py round`: the tables rounded into `args.out` and a summary printed; a BuildError
    for bad input."""
    tables = []
    for spec in args.table:
        dims = [d.strip() for d in spec.split(",")]
        if any(not d for d in dims):
            raise BuildError(f"--table {spec!r}: expected dimension columns separated by commas")
        tables.append(dims)
    hierarchies: dict[str, dict[str, str]] = {}
    for spec in args.hierarchy:
        dim, sep, path = spec.partition("=")
        if not sep or not dim.strip() or not path.strip():
            raise BuildError(f"--hierarchy {spec!r}: expected DIM=MAP.csv")
        if dim.strip() in hierarchies:
            raise BuildError(f"--hierarchy {spec!r}: dimension {dim.strip()!r} has two hierarchies")
        hierarchies[dim.strip()] = read_hierarchy(path.strip())
    for option, value, limits in (("--base", args.base, (args.base,)),
                                  ("--max-round", args.max_round, (args.base, args.max_round))):
        try:
            check_limits(*limits)
        except BuildError as exc:
            raise BuildError(f"{option} {value}: {str(exc).removeprefix('rounding: ')}") from None
    frame = read_table(args.input)
    out, result = round_frame(frame, tables, hierarchies, freq=args.freq, base=args.base,
                              max_round=args.max_round, seed=args.seed, source=str(args.input))
    try:
        out.to_csv(args.out, index=False)
    except OSError as exc:
        raise BuildError(f"{args.out}: cannot write the output ({exc.strerror or exc})") from None
    s = result.summary
    # measured over the cells as listed in OUT.csv; a cell listed twice (a parent with one child)
    # is one distinct cell to the rounding
    change = (out["rounded"] - out["original"]).to_numpy(dtype=np.float64)
    print(f"cells: {len(out)}")
    print(f"distinct cells: {s.cells}")
    print(f"inner cells: {s.inner_cells}")
    print(f"candidates: {s.candidates}")
    print(f"cells changed: {s.changed}")
    print(f"max absolute change: {int(np.abs(change).max()) if change.size else 0}")
    print(f"rmse: {float(np.sqrt(np.mean(change ** 2))) if change.size else 0.0:.4f}")
    print(f"grand total before: {s.total_before}")
    print(f"grand total after: {s.total_after}")
    print(f"seconds: {s.seconds:.3f}")
