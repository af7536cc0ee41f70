"""Confidentiality stage: small-count rounding of every published count, as one sparse model.

The build and `build.py round` both describe what they publish as a `ProtectionModel`: inner
cells (the finest crossing of the data, with their counts) and published cells, each the sum of
a set of inner cells. Both round it with `protect_model`, which ends with the one check every
protected table must pass: no published count in 1..base-1 and every published count equal to
the sum of its rounded inner cells. The algorithm itself is in rounding.py.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .errors import BuildError
from .model import Table
from .tables import apply_formulas
from .rounding import RoundingResult, RoundingSummary, check_limits, check_protected, pls_round

if TYPE_CHECKING:  # scipy is loaded to protect only (from_members)
    import scipy.sparse as sp


@dataclass(frozen=True, eq=False)
class ProtectionModel:
    """published = Xᵀ·y, with each published cell once however often it is shown.

    `x` (n_inner × n_unique, 0/1, CSC) has one column per distinct set of inner cells; `cell_column`
    maps each requested published cell to its column, and `labels` names each column in messages.
    A cell shown twice (the same total in two tables) is one cell to the rounding: counting it
    twice would weigh its error twice. A cell with no inner cells (a code absent from the data) is
    0 whatever the rounding does, so it is left out (its `cell_column` is -1).
    """
    x: sp.csc_matrix
    y: np.ndarray  # int64 counts of the inner cells
    labels: tuple[str, ...]  # one per column of x: the first published cell with that set
    cell_column: np.ndarray  # one per requested published cell

    @classmethod
    def from_members(cls, y: np.ndarray, rows: np.ndarray, cells: np.ndarray, labels: list[str]) -> "ProtectionModel":
        """From (inner cell, published cell) pairs: `rows[k]` belongs to published cell `cells[k]`."""
        n_cells = len(labels)
        # Only the inner cells some published cell uses are rounded: the others publish nothing,
        # and leaving them out makes the result independent of rows an engine never returns
        # (a filter pushed down before grouping). Renumbering keeps their order, so the seeded
        # tie-breaks, and hence the rounding, are the same either way.
        import scipy.sparse as sp  # loaded to protect only, as in rounding.py

        used, rows = np.unique(rows, return_inverse=True)
        y = np.asarray(y)[used]
        x = sp.csc_matrix((np.ones(rows.size, dtype=np.int8), (rows, cells)), shape=(y.size, n_cells))
        x.sum_duplicates()
        x.data[:] = 1
        x.sort_indices()
        first: dict[bytes, int] = {}
        cell_column = np.empty(n_cells, dtype=np.int64)
        keep = []
        for j in range(n_cells):
            members = x.indices[x.indptr[j]:x.indptr[j + 1]]
            if members.size == 0:
                cell_column[j] = -1
                continue
            key = hashlib.blake2b(members.tobytes(), digest_size=16).digest()
            if key not in first:
                first[key] = len(keep)
                keep.append(j)
            cell_column[j] = first[key]
        return cls(x[:, keep], np.asarray(y, dtype=np.int64), tuple(labels[j] for j in keep), cell_column)

    def per_cell(self, values: np.ndarray) -> np.ndarray:
        """Values of the model's columns, one per requested published cell (0 for an empty cell)."""
        return np.where(self.cell_column >= 0, np.append(values, 0)[self.cell_column], 0)

    @property
    def published(self) -> np.ndarray:
        """Each requested published cell's unprotected value."""
        return self.per_cell(self.x.T @ self.y)


@dataclass(frozen=True)
class Protected:
    published: np.ndarray  # each requested published cell, rounded
    result: RoundingResult

    @property
    def summary(self) -> RoundingSummary:
        return self.result.summary


def protect_model(model: ProtectionModel, base: int, max_round: int | None, seed: int) -> Protected:
    """Round the model and check the result; a cell that fails the check stops with its name."""
    base, max_round = check_limits(base, max_round)
    result = pls_round(model.x, model.y, base=base, max_round=max_round, seed=seed)
    problems = check_protected(model.x, result.inner, base, max_round, published=result.published_after,
                               labels=model.labels)
    if problems:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise BuildError(f"confidentiality check failed: {problems[0]}{more}")
    return Protected(model.per_cell(result.published_after), result)


# ----------------------------------------------------------------------------------------------
# the build's stage


def protect(computed, settings) -> tuple[list[Table], dict[str, RoundingSummary]]:
    """Every published count of a statistic's release rounded together, per dataset.

    `computed` is the tables stage's result: each count cell carries its inner cells, so the model
    is built without knowing any table's layout, and all tables of the statistic are protected
    jointly (a count in one table cannot be recovered by differencing with another). Returns new
    tables, with formulas (net, change, rates) recomputed from the rounded counts, and the rounding
    summary per dataset for the audit.
    """
    rounded: dict[tuple[str, str, str], float] = {}
    summaries = {}
    for dataset, frame in sorted(computed.frames.items()):
        cells = [c for c in computed.cells if c.dataset == dataset]
        if not cells:
            continue
        model = ProtectionModel.from_members(
            frame["_n"].to_numpy(dtype=np.int64),
            np.concatenate([c.inner for c in cells]),
            np.repeat(np.arange(len(cells)), [c.inner.size for c in cells]),
            [f"table '{c.table}', row '{c.row_label}', column '{c.column}'" for c in cells])
        try:
            protected = protect_model(model, settings.base, settings.max_round, settings.seed)
        except BuildError as exc:
            raise BuildError(f"dataset '{dataset}': {exc}") from None
        rounded.update({(c.table, c.row, c.column): float(v) for c, v in zip(cells, protected.published)})
        summaries[dataset] = protected.summary
    tables = [apply_formulas(with_rounded(t, rounded), computed.formulas[t.id]) for t in computed.tables]
    return tables, summaries


def with_rounded(table: Table, rounded: dict[tuple[str, str, str], float]) -> Table:
    for m in table.measures:
        if not m.protected:
            continue
        values = table.column(m.id)
        for i, row in enumerate(table.data_rows):
            values[i] = rounded[(table.id, row.id, m.id)]
        table = table.with_column(m.id, values)
    return table
