"""Formatted views of the table model for the templates: text ready to print, nothing to compute.

Templates receive these, never a Table or a DataFrame: every figure is already formatted in the
page's locale, every symbol comes with its explanation, and every header knows its span.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby
from typing import NamedTuple

from .locale import Locale
from .model import MARKS, Table
from .tables import KeyFigure, substitute_year

class Symbol(NamedTuple):
    """A table symbol and the catalogue key of its explanation."""
    sign: str
    key: str


SYMBOLS = [Symbol(".", "symbol_not_applicable"), Symbol("..", "symbol_not_available"),
           Symbol("...", "symbol_not_yet_available"), Symbol(":", "symbol_confidential"), Symbol("-", "symbol_nil"),
           Symbol("0", "symbol_less_than_half"), Symbol("*", "symbol_provisional"), Symbol("r", "symbol_revised")]
SYMBOL_KEYS = dict(SYMBOLS)


@dataclass(frozen=True)
class CellView:
    figure: str  # the formatted figure, or "" where a symbol stands instead
    symbol: str = ""  # ".." instead of a figure, or "r"/"*" beside it
    symbol_title: str = ""


@dataclass(frozen=True)
class RowView:
    label: str
    notes: tuple[int, ...]
    heading: bool
    total: bool
    cells: tuple[CellView, ...]


@dataclass(frozen=True)
class HeaderGroup:
    text: str
    span: int


@dataclass(frozen=True)
class TableView:
    id: str
    title: str
    title_notes: tuple[int, ...]
    stub: str
    groups: tuple[HeaderGroup, ...]  # empty when no measure has a group
    labels: tuple[str, ...]
    periods: tuple[str, ...]  # empty when no measure has a period
    rows: tuple[RowView, ...]
    notes: tuple[str, ...]

    @property
    def width(self) -> int:
        return len(self.labels) + 1


def table_view(table: Table, locale: Locale) -> TableView:
    measures = table.visible_measures
    groups = tuple(HeaderGroup(text, len(list(items)))
                   for text, items in groupby(m.group for m in measures)) if any(m.group for m in measures) else ()
    periods = tuple(m.period for m in measures) if any(m.period for m in measures) else ()
    rows = []
    for row in table.rows:
        if row.heading:
            rows.append(RowView(row.label, (), True, False, ()))
            continue
        cells = tuple(cell_view(table, row.id, m.id, m.decimals, locale) for m in measures)
        rows.append(RowView(row.label, row.notes, False, row.total, cells))
    return TableView(table.id, table.title, table.title_notes, table.stub, groups,
                     tuple(m.label for m in measures), periods, tuple(rows), table.notes)


def cell_view(table: Table, row_id: str, measure_id: str, decimals: int, locale: Locale) -> CellView:
    cell = table.cell(row_id, measure_id)
    title = locale.t(SYMBOL_KEYS[cell.status]) if cell.status else ""
    if cell.value is None:
        return CellView("", cell.status, title)
    figure = locale.number(cell.value, decimals)
    return CellView(figure, cell.status if cell.status in MARKS else "", title)


@dataclass(frozen=True)
class Fact:
    figure: str
    text: str


@dataclass(frozen=True)
class KeyFigureView:
    figure: str
    text: str
    others: tuple[Fact, ...]


def key_figure_view(spec: KeyFigure | None, tables: list[Table], locale: Locale, year: int) -> KeyFigureView | None:
    """The key figure (a `[key_figure]` of tables.toml) as printed: the first fact large, the others below."""
    if spec is None:
        return None
    table = next(t for t in tables if t.id == spec.table)
    facts = []
    for f in spec.facts:
        cell = table.cell(spec.row, f.column)
        figure = cell.status if cell.value is None else locale.number(
            cell.value, table.measure(f.column).decimals, sign=f.sign)
        facts.append(Fact(figure, substitute_year(f.text, year)))
    return KeyFigureView(facts[0].figure, facts[0].text, tuple(facts[1:]))
