"""Tables stage: compute each declared table of a statistic from its datasets.

A table is declared in `stats/<statistic>/tables.toml`: blocks of rows (a total, single rows with a
filter, or one row per code of a dimension), and columns (a count or sum over a dataset with a
filter, or a formula over other columns). `{year}`, `{year-1}`, … stand for the release's reference
year, so one declaration serves every release.

Each dataset is first aggregated over just the columns the statistic's tables use; every count
cell is then a sum over a boolean mask of that small frame. The masks are kept: the
confidentiality stage builds its model matrix from them, so rounding needs no table-specific code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .content import parse
from .data import Catalog
from .errors import BuildError

IDENT = r"^[a-z][a-z0-9_]*$"
PLACEHOLDER = re.compile(r"\{year([+-]\d+)?\}")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RowSpec(Strict):
    label: str | None = None  # a single row: the total, or the rows matching `where`
    id: str | None = Field(None, pattern=IDENT)
    where: str | None = None
    by: str | None = None  # a dimension: one row per code
    classification: str | None = None  # labels and order of the codes of `by`
    codes: list[str] | None = None  # which codes, in which order (default: all)
    skip_codes: list[str] = []  # codes left out of "all"
    years: str | None = None  # with by = "year": a range such as "1972-{year}"
    heading: str | None = None  # a heading row above the block
    notes: list[int] = []

    @model_validator(mode="after")
    def _one_kind(self):
        if (self.label is None) == (self.by is None):
            raise ValueError("a row block has either 'label' (one row) or 'by' (one row per code)")
        if self.by == "year" and not self.years:
            raise ValueError("rows by year need 'years', e.g. \"1972-{year}\"")
        if self.by and self.by != "year" and not self.classification:
            raise ValueError("rows by a dimension need 'classification' for their labels")
        return self


class ColumnSpec(Strict):
    id: str = Field(pattern=IDENT)
    label: str = ""
    period: str = ""
    group: str = ""  # a header spanning adjacent columns of the same group
    dataset: str | None = None  # default: the table's
    where: str | None = None
    sum: str | None = None  # sum this column instead of counting rows
    formula: str | None = None
    decimals: int = Field(0, ge=0, le=3)
    hidden: bool = False
    broadcast: bool = False  # one value for every row: the rows' filters do not apply
    dims: dict[str, str] = {}  # the dataset column that stands for a row dimension
    breakdown_where: str | None = None  # applies to rows broken down by a dimension only

    @model_validator(mode="after")
    def _formula_alone(self):
        if self.formula and (self.where or self.sum or self.dataset or self.broadcast):
            raise ValueError("a formula column has no dataset, where, sum or broadcast")
        return self

    @property
    def is_count(self) -> bool:
        return self.formula is None and self.sum is None


class TableSpec(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    dataset: str
    rows: list[RowSpec] = Field(min_length=1)
    columns: list[ColumnSpec] = Field(min_length=1)
    notes: list[str] = []
    title_notes: list[int] = []
    stub: str = ""  # header of the row-label column


class Fact(Strict):
    column: str
    text: str
    sign: bool = False  # show + before a positive value (for changes)


class KeyFigure(Strict):
    table: str
    row: str
    facts: list[Fact] = Field(min_length=1)


class TablesFile(Strict):
    key_figure: KeyFigure | None = None
    tables: list[TableSpec] = Field(min_length=1)
    charts: list[dict] = []  # read by the charts stage


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    notes: tuple[int, ...] = ()
    heading: bool = False
    total: bool = False


@dataclass(frozen=True)
class Column:
    id: str
    label: str
    period: str
    group: str
    decimals: int
    hidden: bool
    is_count: bool


@dataclass
class Table:
    id: str
    title: str
    stub: str
    rows: list[Row]
    columns: list[Column]
    values: pd.DataFrame  # index: keys of the non-heading rows; columns: column ids
    notes: list[str]
    title_notes: list[int]
    formulas: dict[str, str] = field(default_factory=dict)

    @property
    def visible_columns(self) -> list[Column]:
        return [c for c in self.columns if not c.hidden]

    def recompute(self) -> None:
        """Formula columns from the (possibly rounded) counts, in declaration order."""
        for cid, formula in self.formulas.items():
            with np.errstate(divide="ignore", invalid="ignore"):
                result = self.values.astype(float).eval(formula)
            self.values[cid] = result.replace([np.inf, -np.inf], np.nan)


@dataclass(frozen=True)
class CountCell:
    """A published count: the sum of `dataset`'s aggregated counts where `mask` is true."""
    table: str
    row: str
    column: str
    dataset: str
    mask: np.ndarray


@dataclass
class Computed:
    tables: list[Table]
    cells: list[CountCell]
    frames: dict[str, pd.DataFrame]  # aggregated datasets, `_n` counts each inner cell
    key_figure: KeyFigure | None
    charts: list[dict]


def fill(text: str | None, year: int) -> str | None:
    if text is None:
        return None
    return PLACEHOLDER.sub(lambda m: str(year + int(m.group(1) or 0)), text)


def load_specs(stats_dir: Path, statistic: str) -> tuple[Path, TablesFile]:
    path = stats_dir / statistic / "tables.toml"
    spec = parse(path, TablesFile)
    ids = [t.id for t in spec.tables]
    if len(set(ids)) != len(ids):
        raise BuildError(f"{path}: two tables share an id")
    return path, spec


def compute(catalog: Catalog, statistic: str, year: int) -> Computed:
    path, spec = load_specs(catalog.root / "stats", statistic)
    frames = aggregate(catalog, path, spec, year)
    # One evaluator per aggregated frame, so each filter is evaluated once for all tables.
    evaluators = {name: Evaluator(path, frame) for name, frame in frames.items()}
    tables, cells = [], []
    for t in spec.tables:
        table, table_cells = compute_table(catalog, path, t, frames, evaluators, year)
        tables.append(table)
        cells += table_cells
    if spec.key_figure:
        check_key_figure(path, spec.key_figure, tables)
    return Computed(tables, cells, frames, spec.key_figure, spec.charts)


def aggregate(catalog: Catalog, path: Path, spec: TablesFile, year: int) -> dict[str, pd.DataFrame]:
    """Each dataset summed over the columns the tables use: the inner cells of the statistic."""
    used: dict[str, set[str]] = {}
    sums: dict[str, set[str]] = {}
    for t in spec.tables:
        for c in t.columns:
            if c.formula:
                continue
            name = c.dataset or t.dataset
            if name not in catalog.spec.datasets:
                raise BuildError(f"{path}: table '{t.id}', column '{c.id}': unknown dataset {name!r}")
            known = set(catalog.columns(name))
            names = used.setdefault(name, set())
            texts = [c.where, c.breakdown_where] + ([] if c.broadcast else [r.where for r in t.rows])
            for text in filter(None, texts):
                names |= set(NAME.findall(fill(text, year))) & known
            if not c.broadcast:
                for r in t.rows:
                    if r.by:
                        dim = c.dims.get(r.by, r.by)
                        if dim not in known:
                            raise BuildError(f"{path}: table '{t.id}', column '{c.id}': dataset "
                                             f"'{name}' has no column '{dim}' for rows by '{r.by}'")
                        names.add(dim)
            if c.sum:
                if c.sum not in known:
                    raise BuildError(f"{path}: table '{t.id}', column '{c.id}': dataset '{name}' "
                                     f"has no column '{c.sum}' to sum")
                sums.setdefault(name, set()).add(c.sum)
    frames = {}
    for name, names in sorted(used.items()):
        data = catalog.dataset(name)
        keys = sorted(names)
        values = sorted(sums.get(name, set()))
        if keys:
            grouped = data.groupby(keys, observed=True, sort=True)
            agg = grouped.size().rename("_n").to_frame()
            for v in values:
                agg["_sum_" + v] = grouped[v].sum()
            agg = agg.reset_index()
        else:
            agg = pd.DataFrame({"_n": [len(data)], **{"_sum_" + v: [data[v].sum()] for v in values}})
        for k in keys:
            if isinstance(agg[k].dtype, pd.CategoricalDtype):
                agg[k] = agg[k].astype(str)
        frames[name] = agg
    return frames


class Evaluator:
    """Boolean masks over an aggregated frame, one per filter text, computed once."""

    def __init__(self, path: Path, frame: pd.DataFrame):
        self.path, self.frame, self.cache = path, frame, {}

    def mask(self, text: str | None, context: str) -> np.ndarray:
        if not text:
            return np.ones(len(self.frame), dtype=bool)
        if text not in self.cache:
            try:
                result = self.frame.eval(text)
            except Exception as exc:  # pandas raises many kinds for a bad expression
                raise BuildError(f"{self.path}: {context}: cannot evaluate {text!r}: {exc}") from None
            if not (isinstance(result, pd.Series) and result.dtype == bool):
                raise BuildError(f"{self.path}: {context}: {text!r} is not a condition (true/false)")
            self.cache[text] = result.to_numpy()
        return self.cache[text]

    def equals(self, column: str, code: str) -> np.ndarray:
        key = ("=", column, code)
        if key not in self.cache:
            values = self.frame[column]
            self.cache[key] = (values == int(code) if values.dtype.kind in "iu" else values == code).to_numpy()
        return self.cache[key]


def expand_rows(catalog: Catalog, path: Path, t: TableSpec, year: int) -> list[tuple[Row, RowSpec, str | None]]:
    """The table's rows, each with its block and (for dimension rows) its code."""
    out = []
    for i, r in enumerate(t.rows):
        if r.heading:
            out.append((Row(f"heading-{i}", fill(r.heading, year), heading=True), r, None))
        if r.label is not None:
            key = r.id or re.sub(r"[^a-z0-9]+", "_", fill(r.label, year).lower()).strip("_")
            out.append((Row(key, fill(r.label, year), tuple(r.notes), total=r.where is None), r, None))
            continue
        if r.by == "year":
            first, _, last = fill(r.years, year).partition("-")
            codes = [str(y) for y in range(int(first), int(last) + 1)]
            labels = dict(zip(codes, codes))
        else:
            cls = catalog.classifications.get(r.classification)
            if cls is None:
                raise BuildError(f"{path}: table '{t.id}': unknown classification {r.classification!r}")
            codes = r.codes if r.codes is not None else [c for c in cls.codes if c not in r.skip_codes]
            unknown = [c for c in codes + r.skip_codes if c not in cls.table.index]
            if unknown:
                raise BuildError(f"{path}: table '{t.id}': code {unknown[0]!r} is not in classification "
                                 f"'{r.classification}'")
            labels = {c: cls.label(c) for c in codes}
        out += [(Row(f"{r.by}:{c}", labels[c], tuple(r.notes)), r, c) for c in codes]
    keys = [row.key for row, _, _ in out]
    if len(set(keys)) != len(keys):
        raise BuildError(f"{path}: table '{t.id}': two rows share the key {keys[0]!r}; give rows an 'id'")
    return out


def compute_table(catalog, path, t: TableSpec, frames, evaluators, year) -> tuple[Table, list[CountCell]]:
    rows = expand_rows(catalog, path, t, year)
    data_rows = [(row, spec, code) for row, spec, code in rows if not row.heading]
    values = pd.DataFrame(index=[row.key for row, _, _ in data_rows], dtype=float)
    cells, formulas = [], {}
    for c in t.columns:
        context = f"table '{t.id}', column '{c.id}'"
        if c.formula:
            formulas[c.id] = c.formula
            values[c.id] = np.nan
            continue
        name = c.dataset or t.dataset
        frame = frames[name]
        ev = evaluators[name]
        measure = frame["_sum_" + c.sum].to_numpy() if c.sum else frame["_n"].to_numpy()
        base = ev.mask(fill(c.where, year), context)
        column = []
        for row, spec, code in data_rows:
            mask = base
            if not c.broadcast:
                mask = mask & ev.mask(fill(spec.where, year), f"{context}, row '{row.label}'")
                if code is not None:
                    mask = mask & ev.equals(c.dims.get(spec.by, spec.by), code)
                    mask = mask & ev.mask(fill(c.breakdown_where, year), context)
            column.append(measure[mask].sum())
            if c.is_count:
                cells.append(CountCell(t.id, row.key, c.id, name, mask))
        values[c.id] = np.array(column, dtype=float)
    table = Table(
        id=t.id, title=fill(t.title, year), stub=fill(t.stub, year),
        rows=[row for row, _, _ in rows],
        columns=[Column(c.id, fill(c.label, year), fill(c.period, year), fill(c.group, year),
                        c.decimals, c.hidden, c.is_count) for c in t.columns],
        values=values, notes=[fill(n, year) for n in t.notes], title_notes=t.title_notes,
        formulas=formulas,
    )
    try:
        table.recompute()
    except Exception as exc:
        raise BuildError(f"{path}: table '{t.id}': cannot compute a formula: {exc}") from None
    counts = [c.id for c in table.columns if c.is_count]
    if counts and not table.values[counts].to_numpy().any():
        raise BuildError(f"{path}: table '{t.id}' has no data for {year}: every count is zero "
                         "(is the data for this release's period missing?)")
    return table, cells


def check_key_figure(path: Path, key: KeyFigure, tables: list[Table]) -> None:
    table = next((t for t in tables if t.id == key.table), None)
    if table is None:
        raise BuildError(f"{path}: key_figure: unknown table {key.table!r}")
    if key.row not in table.values.index:
        raise BuildError(f"{path}: key_figure: table '{key.table}' has no row {key.row!r} "
                         f"(rows: {', '.join(table.values.index)})")
    for f in key.facts:
        if f.column not in table.values.columns:
            raise BuildError(f"{path}: key_figure: table '{key.table}' has no column {f.column!r}")


@dataclass(frozen=True)
class KeyFigureView:
    value: float
    text: str
    others: list[tuple[float, str, int, bool]]


def key_figure_view(computed: Computed, year: int) -> KeyFigureView | None:
    spec = computed.key_figure
    if spec is None:
        return None
    table = next(t for t in computed.tables if t.id == spec.table)
    decimals = {c.id: c.decimals for c in table.columns}
    facts = [(table.values.at[spec.row, f.column], fill(f.text, year), decimals[f.column], f.sign)
             for f in spec.facts]
    return KeyFigureView(facts[0][0], facts[0][1], facts[1:])
