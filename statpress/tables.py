"""Tables stage: compute each declared table of a statistic from its datasets.

A table is declared in `stats/<statistic>/tables.toml` (docs/tables.md describes the language):
blocks of rows (a total, single rows with a filter, or one row per code of a dimension) and
measures of the kinds in measures.py. `{year}`, `{year-1}`, … stand for the release's reference
year, so one declaration serves every release. Filters and formulas are parsed by
expressions.py, never evaluated as Python.

Each dataset is first aggregated over just the columns the statistic's tables use: those are
the inner cells. Every published count is the sum of a set of inner cells, and that set is kept
(as indices) for the confidentiality stage, so rounding needs no table-specific code.
"""

from __future__ import annotations

import functools

import graphlib
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import ConfigDict, Field, model_validator

from . import expressions as ex
from .content import parse, read_toml_text, toml_text
from .data import Catalog
from .errors import BuildError
from .filememo import FileMemo
from .i18n import Text, Translatable
from .measures import IDENT, Aggregate, Formula, MeasureSpec
from .model import Dimension, Measure, Row, Table
from .lazyimport import lazy

pd = lazy("pandas")  # imported when first used: see lazyimport.py

PLACEHOLDER = re.compile(r"\{year([+-]\d+)?\}")


class Strict(Translatable):
    """Unknown keys are errors; a `Text` field takes its translations from `<field>_<lang>` keys."""
    model_config = ConfigDict(extra="forbid", frozen=True)


class RowSpec(Strict):
    label: Text | None = None  # a single row: the total, or the rows matching `where`
    id: str | None = Field(None, pattern=IDENT)
    where: str | None = None
    by: str | None = None  # a dimension: one row per code
    classification: str | None = None  # labels and order of the codes of `by`
    codes: list[str] | None = None  # which codes, in which order (default: all)
    skip_codes: list[str] = []  # codes left out of "all"
    years: str | None = None  # with by = "year": a range such as "1972-{year}"
    heading: Text | None = None  # a heading row above the block
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


class TableSpec(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: Text
    dataset: str
    rows: list[RowSpec] = Field(min_length=1)
    columns: list[MeasureSpec] = Field(min_length=1)
    notes: list[Text] = []
    title_notes: list[int] = []
    stub: Text = Text("")  # header of the row-label column


class Fact(Strict):
    column: str
    text: Text
    sign: bool = False  # show + before a positive value (for changes)


class KeyFigure(Strict):
    table: str
    row: str
    facts: list[Fact] = Field(min_length=1)


class TablesFile(Strict):
    key_figure: KeyFigure | None = None
    tables: list[TableSpec] = []  # none yet: a new statistic, shown as "no figures yet" until one is declared
    charts: list[dict] = []  # read by the charts stage


@dataclass(frozen=True)
class CountCell:
    """A published count: the sum of the inner cells `inner` of `dataset`'s aggregated frame."""
    table: str
    row: str  # row id
    row_label: str
    column: str  # measure id
    dataset: str
    inner: np.ndarray  # indices into the aggregated frame, ascending


@dataclass(frozen=True)
class Computed:
    tables: list[Table]
    cells: list[CountCell]
    frames: dict[str, pd.DataFrame]  # aggregated datasets: the inner cells, COUNT rows in each
    key_figure: KeyFigure | None
    charts: list[dict]
    formulas: dict[str, list["CompiledFormula"]]  # per table, in the order they are computed


def substitute_year(text: str | None, year: int) -> str | None:
    """`{year}`, `{year-1}`, … replaced by the release's reference year and its neighbours."""
    if text is None:
        return None
    fill = lambda t: PLACEHOLDER.sub(lambda m: str(year + int(m.group(1) or 0)), t)  # noqa: E731
    return text.map(fill) if isinstance(text, Text) else fill(text)


def load_specs(stats_dir: Path, statistic: str) -> tuple[Path, TablesFile]:
    """A statistic's tables.toml, parsed and checked. A build asks for each one four times
    (translations, the cache key, whether it declares tables, the tables): with 300 statistics,
    parsing them again took two seconds, so a file is parsed once per size, modification time and
    inode. Do not modify the returned spec."""
    path = stats_dir / statistic / "tables.toml"
    return path, parsed_specs(path, *signature(path))


def signature(path: Path) -> tuple[int, int, int]:
    """What changes when a file is written or replaced: its size, modification time and inode, by
    which a file is read once; zeros when it cannot be found (reading it then says what is wrong,
    every time: an error is not cached)."""
    try:
        stat = path.stat()
    except OSError:
        return 0, 0, 0
    return stat.st_size, stat.st_mtime_ns, stat.st_ino


@functools.lru_cache(maxsize=1024)
def parsed_specs(path: Path, size: int, mtime_ns: int, inode: int) -> TablesFile:
    spec = parse(path, TablesFile)
    ids = [t.id for t in spec.tables]
    if len(set(ids)) != len(ids):
        raise BuildError(f"{path}: two tables share an id")
    for t in spec.tables:
        measure_ids = [c.id for c in t.columns]
        dupes = sorted({m for m in measure_ids if measure_ids.count(m) > 1})
        if dupes:
            raise BuildError(f"{path}: table '{t.id}': two columns share the id {dupes[0]!r}")
    return spec


@dataclass(frozen=True)
class Outline:
    """What a build needs of a tables.toml before its tables are computed, read without checking the
    file against its schema: its text, whether it lists any table, and the datasets it may read
    (every string in it that is the name of a declared dataset: all those its tables read, and
    perhaps one more). Checking 300 files took a quarter of a second of every rebuild, in which
    their tables come from the cache; that cache keeps only tables computed from a text that was
    checked (`load_specs`), by the same engine."""
    text: str
    tables: bool
    datasets: tuple[str, ...]


def outline(stats_dir: Path, statistic: str, declared: Collection[str], memo: FileMemo | None = None) -> Outline:
    """The outline of a statistic's tables.toml, given the `declared` datasets' names; read once
    per size, modification time and inode of the file, as `load_specs` reads it, and, with the
    build's `memo`, not again in the next build while the file is the same (filememo.py)."""
    path = stats_dir / statistic / "tables.toml"
    if memo is not None:
        try:
            text, tables, strings = memo.value(path, "tables.toml outline", lambda data: scanned(path, data))
            return Outline(text, tables, tuple(sorted(strings.intersection(declared))))
        except OSError:
            pass  # read below, which says what is wrong
    return outlined(path, *signature(path), frozenset(declared))


@functools.lru_cache(maxsize=1024)
def outlined(path: Path, size: int, mtime_ns: int, inode: int, declared: frozenset[str]) -> Outline:
    text, raw = read_toml_text(path)
    return Outline(text, bool(raw.get("tables")), tuple(sorted(strings_in(raw) & declared)))


def scanned(path: Path, data: bytes) -> tuple[str, bool, frozenset[str]]:
    """A tables.toml's text, whether it lists any table, and every string in it."""
    text, raw = toml_text(path, data)
    return text, bool(raw.get("tables")), strings_in(raw)


def strings_in(raw: dict) -> frozenset[str]:
    strings, pending = set(), [raw]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            strings.add(value)
        elif isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return frozenset(strings)


def datasets_of(spec: TablesFile) -> set[str]:
    """The datasets a statistic's tables read."""
    return {c.dataset or t.dataset for t in spec.tables for c in t.columns if isinstance(c, Aggregate)}


def compute(catalog: Catalog, statistic: str, year: int) -> Computed:
    path, spec = load_specs(catalog.root / "stats", statistic)
    filters = Filters(catalog, path, year)
    formulas = {}
    for t in spec.tables:  # every expression is parsed and checked before any data is read
        filters.check_table(t)
        formulas[t.id] = formulas_of(path, t)
    frames = aggregate(catalog, path, spec, filters)
    tables, cells = [], []
    for t in spec.tables:
        table, table_cells = compute_table(catalog, path, t, frames, filters, formulas[t.id], year)
        tables.append(table)
        cells += table_cells
    if spec.key_figure:
        check_key_figure(path, spec.key_figure, tables)
    return Computed(tables, cells, frames, spec.key_figure, spec.charts, formulas)


# ----------------------------------------------------------------------------------------------
# filters: parsed once, checked against the datasets, evaluated over aggregated frames


class Filters:
    """Every `where` of a statistic parsed, checked and evaluated once per aggregated frame."""

    def __init__(self, catalog: Catalog, path: Path, year: int):
        self.catalog, self.path, self.year = catalog, path, year
        self.parsed: dict[str, ex.Condition] = {}
        self.masks: dict[tuple[str, str], np.ndarray] = {}
        self.groups: dict[tuple[str, str], dict[str, np.ndarray]] = {}

    def condition(self, text: str | None, dataset: str, context: str) -> ex.Condition | None:
        text = substitute_year(text, self.year)
        if not text:
            return None
        if text not in self.parsed:
            try:
                self.parsed[text] = ex.parse_filter(text)
            except ex.ExpressionError as exc:
                raise BuildError(f"{self.path}: {context}: where {text!r}: {exc}") from None
        node = self.parsed[text]
        self.check(node, dataset, f"{context}: where {text!r}")
        return node

    def check(self, node: ex.Condition, dataset: str, context: str) -> None:
        """Every name is a column of the dataset and every code compared exists in its classification."""
        known = self.catalog.columns(dataset)
        for name in ex.names(node):
            if name not in known:
                raise BuildError(f"{self.path}: {context}: dataset '{dataset}' has no column {name!r} "
                                 f"(columns: {', '.join(known)})")
        for name, constant in ex.comparisons(node):
            domain = self.catalog.domain(dataset, name)
            value = constant.value
            if domain.kind == "integer" and isinstance(value, str):
                raise BuildError(f"{self.path}: {context}: column {name!r} holds whole numbers, "
                                 f"not the text {value!r}")
            if domain.kind == "code" and not isinstance(value, str):
                raise BuildError(f"{self.path}: {context}: column {name!r} holds codes; write the code "
                                 f"in quotes, e.g. '{value}'")
            if domain.kind == "code" and domain.codes is not None and value not in domain.codes:
                where = f"classification '{domain.classification}'" if domain.classification else "its values"
                raise BuildError(f"{self.path}: {context}: {value!r} is not a code of column {name!r} "
                                 f"(not in {where}: {', '.join(sorted(domain.codes)[:8])}…)")

    def check_table(self, t: TableSpec) -> None:
        for c in t.columns:
            if isinstance(c, Aggregate):
                dataset = c.dataset or t.dataset
                if dataset not in self.catalog.spec.datasets:
                    raise BuildError(f"{self.path}: table '{t.id}', column '{c.id}': unknown dataset {dataset!r}")
                context = f"table '{t.id}', column '{c.id}'"
                self.condition(c.where, dataset, context)
                self.condition(getattr(c, "breakdown_where", None), dataset, context)
                if c.per_row:
                    for r in t.rows:
                        self.condition(r.where, dataset, f"{context}, row '{r.label or r.by}'")

    def node(self, text: str | None) -> ex.Condition | None:
        text = substitute_year(text, self.year)
        return self.parsed[text] if text else None

    def mask(self, frame_name: str, frame: pd.DataFrame, text: str | None) -> np.ndarray:
        text = substitute_year(text, self.year) or ""
        key = (frame_name, text)
        if not text:
            return self.masks.setdefault(key, np.ones(len(frame), dtype=bool))
        if key not in self.masks:
            node = self.parsed[text]
            columns = {n: frame[n].to_numpy() for n in ex.names(node)}
            self.masks[key] = ex.evaluate_filter(node, columns, len(frame))
        return self.masks[key]

    def by_code(self, frame_name: str, frame: pd.DataFrame, column: str) -> dict[str, np.ndarray]:
        """The inner cells of each code of a column: ascending indices per code."""
        key = (frame_name, column)
        if key not in self.groups:
            indices = frame.groupby(column, sort=False, observed=True).indices
            self.groups[key] = {str(code): np.asarray(idx, dtype=np.int64) for code, idx in indices.items()}
        return self.groups[key]


# ----------------------------------------------------------------------------------------------
# aggregation: each dataset summed over the columns the statistic's tables use


def aggregate(catalog: Catalog, path: Path, spec: TablesFile, filters: Filters) -> dict[str, pd.DataFrame]:
    """Each dataset summed over the columns the tables use: the inner cells of the statistic."""
    used: dict[str, set[str]] = {}
    sums: dict[str, set[str]] = {}
    rows: dict[str, list[ex.Condition | None]] = {}  # per dataset: the rows each measure counts
    for t in spec.tables:
        for c in t.columns:
            if not isinstance(c, Aggregate):
                continue
            name = c.dataset or t.dataset
            known = set(catalog.columns(name))
            names = used.setdefault(name, set())
            texts = [c.where, getattr(c, "breakdown_where", None)] + ([r.where for r in t.rows] if c.per_row else [])
            for node in filter(None, map(filters.node, texts)):
                names |= set(ex.names(node))
            if c.per_row:
                for r in t.rows:
                    if r.by:
                        dim = c.dims.get(r.by, r.by)
                        if dim not in known:
                            raise BuildError(f"{path}: table '{t.id}', column '{c.id}': dataset "
                                             f"'{name}' has no column '{dim}' for rows by '{r.by}'")
                        names.add(dim)
            if c.summed():
                if c.summed() not in known:
                    raise BuildError(f"{path}: table '{t.id}', column '{c.id}': dataset '{name}' "
                                     f"has no column '{c.summed()}' to sum")
                sums.setdefault(name, set()).add(c.summed())
            rows.setdefault(name, []).append(counted(catalog, path, t, c, filters))
    # Records no measure counts need not be grouped at all: the engine may leave them out
    return {name: catalog.aggregate(name, sorted(names), sorted(sums.get(name, set())), ex.any_of(rows[name]))
            for name, names in sorted(used.items())}


def counted(catalog: Catalog, path: Path, t: TableSpec, c: Aggregate, filters: Filters) -> ex.Condition | None:
    """The records a measure can count: those its filter keeps and, with a value per row, those
    some block of rows keeps (its filter and, by a dimension, one of the codes shown). None: any."""
    if not c.per_row:
        return filters.node(c.where)
    blocks = []
    for r in t.rows:
        block = [filters.node(r.where)]
        if r.by:
            codes = row_dimension(catalog, path, t, r, filters.year).codes
            if not codes:
                continue  # a block of no rows counts nothing
            column = c.dims.get(r.by, r.by)
            block += [filters.node(c.breakdown_where), shown(catalog.domain(c.dataset or t.dataset, column), column, codes)]
        blocks.append(ex.all_of(block))
    return ex.all_of([filters.node(c.where), ex.any_of(blocks)])


def shown(domain, column: str, codes: tuple[str, ...]) -> ex.Condition | None:
    """`column in [codes]`, typed as the column is; None when a code is not of its type."""
    if domain.kind != "integer":
        return ex.Member(ex.Name(column), tuple(ex.Constant(str(code)) for code in codes))
    if not all(re.fullmatch(r"-?[0-9]+", code) for code in codes):
        return None
    return ex.Member(ex.Name(column), tuple(ex.Constant(int(code)) for code in codes))


# ----------------------------------------------------------------------------------------------
# rows


@dataclass(frozen=True)
class ExpandedRow:
    row: Row
    spec: RowSpec


def expand_rows(catalog: Catalog, path: Path, t: TableSpec, year: int) -> tuple[list[ExpandedRow], list[Dimension]]:
    """The table's rows, each with its block; and the dimensions the blocks break down by."""
    out, dimensions = [], []
    for i, r in enumerate(t.rows):
        if r.heading:
            out.append(ExpandedRow(Row(f"heading-{i}", substitute_year(r.heading, year), "heading"), r))
        if r.label is not None:
            label = substitute_year(r.label, year)
            row_id = r.id or re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")
            kind = "total" if r.where is None else "filter"
            out.append(ExpandedRow(Row(row_id, label, kind, notes=tuple(r.notes)), r))
            continue
        dimension = row_dimension(catalog, path, t, r, year)
        dimensions.append(dimension)
        out += [ExpandedRow(Row(f"{r.by}:{code}", label, "code", r.by, code, tuple(r.notes)), r)
                for code, label in zip(dimension.codes, dimension.labels)]
    ids = [e.row.id for e in out]
    dupes = [i for i in ids if ids.count(i) > 1]
    if dupes:
        raise BuildError(f"{path}: table '{t.id}': two rows share the id {dupes[0]!r}; give rows an 'id'")
    return out, dimensions


def row_dimension(catalog: Catalog, path: Path, t: TableSpec, r: RowSpec, year: int) -> Dimension:
    if r.by == "year":
        first, _, last = substitute_year(r.years, year).partition("-")
        try:
            codes = tuple(str(y) for y in range(int(first), int(last) + 1))
        except ValueError:
            raise BuildError(f"{path}: table '{t.id}': years {r.years!r}: expected a range such as "
                             "\"1972-{year}\"") from None
        return Dimension("year", None, codes, codes, role="time")
    cls = catalog.classifications.get(r.classification)
    if cls is None:
        raise BuildError(f"{path}: table '{t.id}': unknown classification {r.classification!r}")
    codes = r.codes if r.codes is not None else [c for c in cls.codes if c not in r.skip_codes]
    unknown = [c for c in codes + r.skip_codes if c not in cls.table.index]
    if unknown:
        raise BuildError(f"{path}: table '{t.id}': code {unknown[0]!r} is not in classification "
                         f"'{r.classification}'")
    return Dimension(r.by, r.classification, tuple(codes), tuple(cls.label(c) for c in codes))


# ----------------------------------------------------------------------------------------------
# one table


def compute_table(catalog: Catalog, path: Path, t: TableSpec, frames: dict[str, pd.DataFrame],
                  filters: Filters, formulas: list["CompiledFormula"], year: int) -> tuple[Table, list[CountCell]]:
    rows, dimensions = expand_rows(catalog, path, t, year)
    data_rows = [e for e in rows if not e.row.heading]
    values = np.full((len(data_rows), len(t.columns)), np.nan)
    cells = []
    for j, c in enumerate(t.columns):
        if isinstance(c, Aggregate):
            column, inner = aggregate_measure(t, c, data_rows, frames, filters)
            values[:, j] = column
            if c.protected:
                cells += [CountCell(t.id, e.row.id, e.row.label, c.id, c.dataset or t.dataset, idx)
                          for e, idx in zip(data_rows, inner)]
    measures = tuple(Measure(c.id, substitute_year(c.label, year), c.kind, substitute_year(c.period, year),
                             substitute_year(c.group, year), c.unit, c.decimals, c.hidden, c.protected)
                     for c in t.columns)
    table = Table(t.id, path, substitute_year(t.title, year), substitute_year(t.stub, year),
                  tuple(e.row for e in rows), measures, tuple(dimensions), values,
                  np.full(values.shape, "", dtype=object),
                  tuple(substitute_year(n, year) for n in t.notes), tuple(t.title_notes))
    counts = [j for j, c in enumerate(t.columns) if c.protected]
    if counts and not np.nan_to_num(values[:, counts]).any():
        raise BuildError(f"{path}: table '{t.id}' has no data for {year}: every count is zero "
                         "(is the data for this release's period missing?)")
    return apply_formulas(table, formulas), cells


def aggregate_measure(t: TableSpec, c: Aggregate, data_rows: list[ExpandedRow], frames, filters: Filters):
    """One aggregate measure over every data row: its values and each cell's inner cells."""
    name = c.dataset or t.dataset
    frame = frames[name]
    quantity = c.inner_values(frame)
    base = filters.mask(name, frame, c.where)
    blocks: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # per row block: its inner cells, its mask for codes
    column, inner = [], []
    for e in data_rows:
        block = e.spec if c.per_row else None  # a broadcast measure ignores the rows' filters
        if id(block) not in blocks:
            mask = base if block is None else base & filters.mask(name, frame, block.where)
            by_code = mask if block is None or not block.by else mask & filters.mask(name, frame, c.breakdown_where)
            blocks[id(block)] = (np.flatnonzero(mask), by_code)
        idx, by_code = blocks[id(block)]
        if block is not None and e.row.kind == "code":
            group = filters.by_code(name, frame, c.dims.get(e.row.dimension, e.row.dimension)).get(e.row.code)
            idx = np.zeros(0, dtype=np.int64) if group is None else group[by_code[group]]
        column.append(quantity[idx].sum())
        inner.append(idx)
    return np.asarray(column, dtype=float), inner


# ----------------------------------------------------------------------------------------------
# formulas


@dataclass(frozen=True)
class CompiledFormula:
    measure: str
    term: ex.Term
    on_zero: str | None
    context: str  # "file: table 't', column 'c'" for messages


def formulas_of(path: Path, t: TableSpec) -> list[CompiledFormula]:
    """The table's formulas, parsed and ordered so each comes after the measures it reads."""
    ids = {c.id for c in t.columns}
    parsed, graph = {}, {}
    for c in t.columns:
        if not isinstance(c, Formula):
            continue
        context = f"{path}: table '{t.id}', column '{c.id}'"
        try:
            term = ex.parse_formula(c.formula)
        except ex.ExpressionError as exc:
            raise BuildError(f"{context}: formula {c.formula!r}: {exc}") from None
        unknown = [n for n in ex.names(term) if n not in ids]
        if unknown:
            raise BuildError(f"{context}: formula {c.formula!r}: unknown column {unknown[0]!r} "
                             f"(columns of this table: {', '.join(sorted(ids))})")
        parsed[c.id] = CompiledFormula(c.id, term, c.on_zero, context)
        graph[c.id] = {n for n in ex.names(term) if n in {f.id for f in t.columns if isinstance(f, Formula)}}
    try:
        order = list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        cycle = exc.args[1]
        raise BuildError(f"{path}: table '{t.id}', column '{cycle[0]}': formulas refer to each other in a "
                         f"circle ({' → '.join(cycle)}); a formula can use only columns computed without it") from None
    return [parsed[m] for m in order]


def apply_formulas(table: Table, formulas: list[CompiledFormula]) -> Table:
    """Formula measures from the (possibly rounded) counts, each after those it depends on."""
    for f in formulas:
        size = table.values.shape[0]
        columns = {n: table.column(n) for n in ex.names(f.term)}
        result = ex.evaluate(f.term, columns, size)
        values = np.broadcast_to(result.values, (size,)).astype(float)
        status = np.where(np.isnan(values), "..", "").astype(object)
        if result.zero_division.any():
            if f.on_zero is None:
                row = table.data_rows[int(np.flatnonzero(result.zero_division)[0])]
                raise BuildError(f"{f.context}: division by zero in row '{row.label}'; add on_zero = \"..\" "
                                 "(or \".\" or \":\") to show such cells with that symbol")
            values = np.where(result.zero_division, np.nan, values)
            status = np.where(result.zero_division, f.on_zero, status).astype(object)
        values = np.where(np.isinf(values), np.nan, values)
        table = table.with_column(f.measure, values, status)
    return table


def check_key_figure(path: Path, key: KeyFigure, tables: list[Table]) -> None:
    table = next((t for t in tables if t.id == key.table), None)
    if table is None:
        raise BuildError(f"{path}: key_figure: unknown table {key.table!r}")
    if not table.has_row(key.row):
        raise BuildError(f"{path}: key_figure: table '{key.table}' has no row {key.row!r} "
                         f"(rows: {', '.join(r.id for r in table.data_rows)})")
    for f in key.facts:
        if not table.has_measure(f.column):
            raise BuildError(f"{path}: key_figure: table '{key.table}' has no column {f.column!r}")


def mark_periods(table: Table, items, symbol: str) -> Table:
    """Every figure in the rows of the years that `items` (corrections or provisional figures of a
    release) name for this table carries `symbol`."""
    years = {str(period) for item in items if table.id in item.tables for period in item.periods}
    rows = {r.id for r in table.data_rows if r.dimension == "year" and r.code in years}
    return table.with_status(rows, symbol) if rows else table
