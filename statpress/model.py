"""The table model: what the tables stage produces and every output reads.

A table has rows (each knowing the dimension and code it stands for), measures (each with its
kind, unit, decimals and period) and one cell per data row and measure, with its value and its
status symbol. Pages, CSV, charts and the downloads to come read this model; none of them parses
a key or looks at the microdata.

Status symbols are SSB's: "" a plain figure, "." not applicable, ".." not available, ":"
confidential, "r" revised, "*" provisional. Only "r" and "*" stand beside a figure; the others
stand instead of one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np

from statpress.lazyimport import lazy

pd = lazy("pandas")  # imported when first used: see lazyimport.py

STATUSES = ("", ".", "..", ":", "r", "*")
MARKS = ("r", "*")  # symbols shown beside a figure rather than instead of it


@dataclass(frozen=True)
class Dimension:
    """A breakdown of a table's rows: its codes and labels, from a classification or the years."""
    id: str
    classification: str | None
    codes: tuple[str, ...]
    labels: tuple[str, ...]
    role: Literal["time"] | None = None


@dataclass(frozen=True)
class Row:
    id: str  # unique within the table
    label: str
    kind: Literal["total", "filter", "code", "heading"]
    dimension: str | None = None  # for kind "code": the dimension and the code the row stands for
    code: str | None = None
    notes: tuple[int, ...] = ()

    @property
    def heading(self) -> bool:
        return self.kind == "heading"

    @property
    def total(self) -> bool:
        return self.kind == "total"


@dataclass(frozen=True)
class Measure:
    id: str
    label: str
    kind: str  # count, sum, broadcast, formula: see measures.py
    period: str = ""
    group: str = ""  # a header spanning adjacent measures of the same group
    unit: str = ""
    decimals: int = 0
    hidden: bool = False
    protected: bool = False  # a count of persons: protected by the statistic's confidentiality


@dataclass(frozen=True)
class Cell:
    value: float | None  # None where a symbol stands instead of a figure
    status: str = ""


@dataclass(frozen=True, eq=False)
class Table:
    id: str
    source: Path  # the tables.toml that declares it, for messages
    title: str
    stub: str  # header of the row-label column
    rows: tuple[Row, ...]
    measures: tuple[Measure, ...]
    dimensions: tuple[Dimension, ...]
    values: np.ndarray  # float, one row per data row (headings excluded), one column per measure
    status: np.ndarray  # str of the same shape: "" or a symbol
    notes: tuple[str, ...] = ()
    title_notes: tuple[int, ...] = ()
    _rows: dict = field(init=False, repr=False)
    _measures: dict = field(init=False, repr=False)

    def __post_init__(self):
        data = [r for r in self.rows if not r.heading]
        if self.values.shape != (len(data), len(self.measures)) or self.status.shape != self.values.shape:
            raise ValueError(f"table {self.id!r}: {self.values.shape} values for {len(data)} rows "
                             f"and {len(self.measures)} measures")
        object.__setattr__(self, "_rows", {r.id: i for i, r in enumerate(data)})
        object.__setattr__(self, "_measures", {m.id: j for j, m in enumerate(self.measures)})

    @property
    def data_rows(self) -> list[Row]:
        return [r for r in self.rows if not r.heading]

    @property
    def visible_measures(self) -> list[Measure]:
        return [m for m in self.measures if not m.hidden]

    def measure(self, measure_id: str) -> Measure:
        return self.measures[self._measures[measure_id]]

    def has_row(self, row_id: str) -> bool:
        return row_id in self._rows

    def has_measure(self, measure_id: str) -> bool:
        return measure_id in self._measures

    def cell(self, row_id: str, measure_id: str) -> Cell:
        i, j = self._rows[row_id], self._measures[measure_id]
        status = str(self.status[i, j])
        value = self.values[i, j]
        if np.isnan(value) or status in STATUSES[1:4]:
            return Cell(None, status or "..")
        return Cell(float(value), status)

    def column(self, measure_id: str) -> np.ndarray:
        """A measure's values over the data rows (a copy)."""
        return self.values[:, self._measures[measure_id]].copy()

    def to_frame(self) -> pd.DataFrame:
        """The values as a DataFrame (rows by id, columns by measure id), for analysis and tests."""
        return pd.DataFrame(self.values, index=[r.id for r in self.data_rows],
                            columns=[m.id for m in self.measures])

    def with_column(self, measure_id: str, values: np.ndarray, status: np.ndarray | None = None) -> "Table":
        """A new table with one measure's values (and optionally statuses) replaced."""
        j = self._measures[measure_id]
        new_values, new_status = self.values.copy(), self.status.copy()
        new_values[:, j] = values
        if status is not None:
            new_status[:, j] = status
        return replace(self, values=new_values, status=new_status)

    def with_status(self, row_ids: set[str], symbol: str) -> "Table":
        """A new table in which every figure of the given rows carries `symbol` (e.g. 'r')."""
        if symbol not in STATUSES:
            raise ValueError(f"unknown status symbol {symbol!r}")
        new_status = self.status.copy()
        for row_id in row_ids:
            i = self._rows[row_id]
            plain = new_status[i] == ""
            new_status[i][plain] = symbol
        return replace(self, status=new_status)
