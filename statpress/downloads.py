"""Table downloads: XLSX, JSON-stat 2.0 and PX (PC-Axis), written from the table model.

Every writer reads the same `Table` (rows with their dimension and code, measures with their
unit, decimals and period, cells with value and status) and the same `Provenance` (who
published it, when, and whether its counts are rounded), and takes every word it prints from
the locale, so a second language is a second catalogue. Each file is a pure function of its
inputs: no clock, no random names, fixed timestamps inside the XLSX zip, so a rebuild gives the
same bytes.

Figures are the published ones: rounded to the measure's decimals half away from zero, as the
page and the CSV show them. A cell without a figure holds its symbol ("..", ":", "."); a revised
or provisional figure ("r", "*") stays a number and carries its mark where the format allows.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

from .cache import PickleCache, installed_version
from .locale import Locale, plain_number
from .model import MARKS, Table

# Classifications whose codes are places: their dimension gets the JSON-stat role "geo".
GEO_CLASSIFICATIONS = frozenset({"counties", "municipalities", "regions"})
TOTAL_CODE = "total"
METRIC_ID = "contents"


@dataclass(frozen=True)
class Provenance:
    """What a download says about where its figures come from."""
    publisher: str  # "Statistics Norway": the source line
    statistic: str  # the statistic's name
    subject_code: str  # its short name
    topic: str
    release: str  # the release id
    published: dt.datetime  # the release's publication instant (timezone-aware)
    rounding_base: int | None = None  # the base of small-count rounding, if the counts are rounded


def header_text(measure) -> str:
    """A measure's full column header: group, label and period, as in the CSV."""
    return " ".join(filter(None, [measure.group, measure.label, measure.period]))


def published_value(value: float, decimals: int) -> float | int:
    """A figure as published: rounded half away from zero to the measure's decimals."""
    text = plain_number(value, decimals)
    return int(text) if decimals == 0 else float(text)


def rounding_note(table: Table, prov: Provenance, locale: Locale) -> str:
    """The rounding note of a table with rounded counts; "" otherwise."""
    if prov.rounding_base is None or not any(m.protected for m in table.visible_measures):
        return ""
    return locale.t("download_rounding_note", base=prov.rounding_base)


def notes_with_rounding(table: Table, prov: Provenance, locale: Locale) -> list[str]:
    return list(table.notes) + [n for n in [rounding_note(table, prov, locale)] if n]


def cached_downloads(table: Table, prov: Provenance, locale: Locale, cache: PickleCache | None) -> dict[str, bytes]:
    """`table_downloads`, kept in `cache` (.cache/downloads) by the hash of everything they are
    made from: a rebuild after one statistic changed writes no other statistic's workbook again
    (XLSX alone was a third of rendering the pages)."""
    if cache is None:
        return table_downloads(table, prov, locale)
    key = downloads_key(table, prov, locale)
    found = cache.get(key)
    if found is None:
        found = table_downloads(table, prov, locale)
        cache.put(key, found)
    return found


def downloads_key(table: Table, prov: Provenance, locale: Locale) -> str:
    """Every input of a table's downloads, hashed: the table whole (the dataclass reprs hold every
    field; the arrays go in as bytes), its provenance, the locale's catalogue, and the code and
    libraries that write the files."""
    digest = hashlib.sha256(writers_fingerprint().encode())
    digest.update(repr((table.id, str(table.source), table.title, table.stub, table.rows, table.measures,
                        table.dimensions, table.notes, table.title_notes, prov)).encode())
    digest.update(f"{table.values.dtype.str}{table.values.shape}".encode() + table.values.tobytes())
    digest.update(repr(table.status.tolist()).encode())
    digest.update(locale.catalogue.model_dump_json().encode())
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def writers_fingerprint() -> str:
    import babel

    here = Path(__file__).resolve().parent
    sources = b"".join((here / name).read_bytes() for name in ("downloads.py", "views.py", "model.py", "locale.py"))
    versions = f"xlsxwriter {installed_version('XlsxWriter')} babel {babel.__version__}"
    return hashlib.sha256(sources + versions.encode()).hexdigest()


def table_downloads(table: Table, prov: Provenance, locale: Locale) -> dict[str, bytes]:
    """The XLSX, JSON-stat and PX files of one table, by path relative to the statistic page."""
    return {
        f"tables/{table.id}.xlsx": table_xlsx(table, prov, locale),
        f"tables/{table.id}.json": table_jsonstat(table, prov, locale),
        f"tables/{table.id}.px": table_px(table, prov, locale),
    }


# --- XLSX ---------------------------------------------------------------------------------------

def marks(notes: tuple[int, ...]) -> str:
    return "".join(f" ({n})" for n in notes)


def number_format(decimals: int, mark: str = "") -> str:
    fmt = "#,##0" + ("." + "0" * decimals if decimals else "")
    return fmt + (f'" {mark}"' if mark else "")


def table_xlsx(table: Table, prov: Provenance, locale: Locale) -> bytes:
    """The table as an Excel workbook: the table on the first sheet, the symbols on the second.

    XlsxWriter writes every zip entry with the fixed time 1980-01-01; the document's created and
    modified times are the release's publication time, so the bytes depend on the inputs only.
    """
    from .views import SYMBOLS  # views imports tables; keep this module light to import

    out = io.BytesIO()
    import xlsxwriter  # loaded to write a spreadsheet only: most builds find them all cached

    book = xlsxwriter.Workbook(out, {"in_memory": True})
    published = prov.published.astimezone(dt.timezone.utc).replace(tzinfo=None)
    book.set_properties({"title": table.title, "author": prov.publisher, "company": prov.publisher,
                         "subject": prov.statistic, "created": published})
    bold = book.add_format({"bold": True})
    title_format = book.add_format({"bold": True, "font_size": 13})
    header = book.add_format({"bold": True, "text_wrap": True, "valign": "bottom", "align": "right"})
    symbol = book.add_format({"align": "right"})
    formats: dict[tuple[int, str, bool], object] = {}

    def figure_format(decimals: int, mark: str, total: bool):
        key = (decimals, mark, total)
        if key not in formats:
            formats[key] = book.add_format({"num_format": number_format(decimals, mark), "bold": total})
        return formats[key]

    sheet = book.add_worksheet(locale.t("download_sheet_table")[:31])
    measures = table.visible_measures
    sheet.write_string(0, 0, table.title + marks(table.title_notes), title_format)
    r = 2
    if any(m.group for m in measures):
        for j, m in enumerate(measures, start=1):
            if m.group:
                sheet.write_string(r, j, m.group, header)
        r += 1
    sheet.write_string(r, 0, table.stub or "", bold)
    for j, m in enumerate(measures, start=1):
        sheet.write_string(r, j, m.label + (f" ({m.unit})" if m.unit else ""), header)
    r += 1
    if any(m.period for m in measures):
        for j, m in enumerate(measures, start=1):
            sheet.write_string(r, j, m.period, header)
        r += 1
    sheet.freeze_panes(r, 1)
    for row in table.rows:
        sheet.write_string(r, 0, row.label + marks(row.notes), bold if row.heading or row.total else None)
        if not row.heading:
            for j, m in enumerate(measures, start=1):
                cell = table.cell(row.id, m.id)
                if cell.value is None:
                    sheet.write_string(r, j, cell.status, symbol)
                else:
                    mark = cell.status if cell.status in MARKS else ""
                    sheet.write_number(r, j, published_value(cell.value, m.decimals),
                                       figure_format(m.decimals, mark, row.total))
        r += 1
    r += 1
    notes = notes_with_rounding(table, prov, locale)
    if table.notes:
        sheet.write_string(r, 0, locale.t("notes"), bold)
        r += 1
        for n, note in enumerate(table.notes, start=1):
            sheet.write_string(r, 0, f"({n}) {note}")
            r += 1
    for note in notes[len(table.notes):]:
        sheet.write_string(r, 0, note)
        r += 1
    sheet.write_string(r, 0, locale.t("source_line", publisher=prov.publisher))
    sheet.write_string(r + 1, 0, locale.t("download_released", date=locale.date(prov.published.date()),
                                          time=locale.time(prov.published)))
    sheet.write_string(r + 2, 0, locale.t("download_symbols_sheet", sheet=locale.t("download_sheet_symbols")))
    sheet.set_column(0, 0, 40)
    sheet.set_column(1, max(1, len(measures)), 14)

    symbols = book.add_worksheet(locale.t("download_sheet_symbols")[:31])
    symbols.write_string(0, 0, locale.t("symbols_title"), title_format)
    symbols.write_string(2, 0, locale.t("symbol"), bold)
    symbols.write_string(2, 1, locale.t("meaning"), bold)
    for i, (sym, key) in enumerate(SYMBOLS, start=3):
        symbols.write_string(i, 0, sym)
        symbols.write_string(i, 1, locale.t(key))
    symbols.set_column(0, 0, 10)
    symbols.set_column(1, 1, 40)
    book.close()
    return out.getvalue()


# --- JSON-stat 2.0 ------------------------------------------------------------------------------

@dataclass(frozen=True)
class RowDimension:
    id: str
    label: str
    codes: tuple[str, ...]  # one per data row, in order
    labels: tuple[str, ...]
    role: str | None  # "time", "geo" or None


def row_dimension(table: Table, locale: Locale) -> RowDimension:
    """The dimension of a table's rows: the one `by` dimension all data rows come from (plus an
    optional total row, coded "total"), or else a dimension of the rows themselves."""
    rows = table.data_rows
    dims = {r.dimension for r in rows if r.kind == "code"}
    others = [r for r in rows if r.kind != "code"]
    if len(dims) == 1 and (not others or (len(others) == 1 and others[0].total)):
        dim_id = dims.pop()
        dim = next((d for d in table.dimensions if d.id == dim_id), None)
        role = "time" if dim is not None and dim.role == "time" else (
            "geo" if dim is not None and dim.classification in GEO_CLASSIFICATIONS else None)
        codes = tuple(TOTAL_CODE if r.total else r.code for r in rows)
        if len(set(codes)) == len(codes) and dim_id != METRIC_ID:
            return RowDimension(dim_id, table.stub or dim_id, codes, tuple(r.label for r in rows), role)
    return RowDimension("row", table.stub or locale.t("download_rows"), tuple(r.id for r in rows),
                        tuple(r.label for r in rows), None)


def iso_utc(instant: dt.datetime) -> str:
    return instant.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def table_jsonstat(table: Table, prov: Provenance, locale: Locale) -> bytes:
    """The table as a JSON-stat 2.0 dataset: the row dimension and a metric dimension of the
    measures (their unit and decimals in `category.unit`), values row by row."""
    rows, measures = table.data_rows, table.visible_measures
    rd = row_dimension(table, locale)
    row_notes = {code: [table.notes[n - 1] for n in row.notes if 0 < n <= len(table.notes)]
                 for code, row in zip(rd.codes, rows) if row.notes}
    row_category: dict = {"index": list(rd.codes), "label": dict(zip(rd.codes, rd.labels))}
    if row_notes:
        row_category["note"] = row_notes
    metric = {
        "label": locale.t("download_contents"),
        "category": {
            "index": [m.id for m in measures],
            "label": {m.id: header_text(m) for m in measures},
            "unit": {m.id: {"label": m.unit or locale.t("download_unit_default"), "decimals": m.decimals}
                     for m in measures},
        },
    }
    values, status = [], {}
    for row in rows:
        for m in measures:
            cell = table.cell(row.id, m.id)
            if cell.status:
                status[str(len(values))] = cell.status
            values.append(None if cell.value is None else published_value(cell.value, m.decimals))
    role = {"metric": [METRIC_ID]}
    if rd.role:
        role[rd.role] = [rd.id]
    dataset = {
        "version": "2.0",
        "class": "dataset",
        "label": table.title,
        "source": prov.publisher,
        "updated": iso_utc(prov.published),
        "id": [rd.id, METRIC_ID],
        "size": [len(rows), len(measures)],
        "role": role,
        "dimension": {rd.id: {"label": rd.label, "category": row_category}, METRIC_ID: metric},
        "value": values,
    }
    if status:
        dataset["status"] = status
    notes = [table.notes[n - 1] for n in table.title_notes if 0 < n <= len(table.notes)]
    notes += [n for n in notes_with_rounding(table, prov, locale) if n not in notes]
    if notes:
        dataset["note"] = notes
    dataset["extension"] = {"statistic": prov.statistic, "release": prov.release,
                            "publisher": prov.publisher}
    return (json.dumps(dataset, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


# --- PX (PC-Axis) -------------------------------------------------------------------------------

# PX marks a missing figure with dots; DATASYMBOLn says how the n-dot code is shown.
PX_SYMBOLS = {".": '"."', "..": '".."', ":": '"..."'}
PX_DATASYMBOLS = {"DATASYMBOL1": ".", "DATASYMBOL2": "..", "DATASYMBOL3": ":"}


def px_string(text: str) -> str:
    """A PX text value: in double quotes (a double quote inside becomes a single one), split into
    quoted pieces of at most 200 characters on lines of their own, as the format allows."""
    text = text.replace('"', "'").replace("\n", " ")
    pieces = [text[i:i + 200] for i in range(0, len(text), 200)] or [""]
    return "\n".join(f'"{p}"' for p in pieces)


def px_list(items) -> str:
    return ",".join(px_string(i) for i in items)


def px_time(instant: dt.datetime) -> str:
    return instant.strftime("%Y%m%d %H:%M")


def unique_labels(labels: list[str], codes: list[str]) -> list[str]:
    """PX names values by their text: a text used twice gets its code added."""
    return [f"{label} ({code})" if labels.count(label) > 1 else label for label, code in zip(labels, codes)]


def table_px(table: Table, prov: Provenance, locale: Locale) -> bytes:
    """The table as a PX file: the rows as the STUB variable, the measures as the HEADING
    variable (the content variable, with each measure's unit and decimals).

    The file is UTF-8 and says so with CODEPAGE="utf-8"; CHARSET="ANSI" tells PX readers the
    texts are not in the old DOS code page. Names such as "Trööndelage" need more than a
    Windows code page, and PxWeb reads the CODEPAGE keyword.
    """
    rows, measures = table.data_rows, table.visible_measures
    rd = row_dimension(table, locale)
    stub, heading = rd.label, locale.t("download_contents")
    if stub == heading:  # PX names variables by their text: keep the two apart
        heading = heading + " "
    row_values = unique_labels(list(rd.labels), list(rd.codes))
    measure_values = unique_labels([header_text(m) for m in measures], [m.id for m in measures])
    decimals = max([m.decimals for m in measures] or [0])
    units = [m.unit or locale.t("download_unit_default") for m in measures]
    lines = [
        'CHARSET="ANSI";',
        'AXIS-VERSION="2013";',
        'CODEPAGE="utf-8";',
        f"LANGUAGE={px_string(locale.language)};",
        f'CREATION-DATE="{px_time(prov.published)}";',
        f"DECIMALS={decimals};",
        f"SHOWDECIMALS={decimals};",
        f"MATRIX={px_string(re.sub(r'[^A-Za-z0-9]', '', table.id.title())[:20] or 'TABLE')};",
        f"SUBJECT-CODE={px_string(prov.subject_code)};",
        f"SUBJECT-AREA={px_string(prov.topic)};",
        f"TITLE={px_string(table.title)};",
        f"CONTENTS={px_string(table.title)};",
        f"UNITS={px_string(units[0] if len(set(units)) == 1 else locale.t('download_unit_default'))};",
        f"STUB={px_string(stub)};",
        f"HEADING={px_string(heading)};",
        f"CONTVARIABLE={px_string(heading)};",
        f"VALUES({px_string(stub)})={px_list(row_values)};",
        f"VALUES({px_string(heading)})={px_list(measure_values)};",
        f"CODES({px_string(stub)})={px_list(rd.codes)};",
        f"CODES({px_string(heading)})={px_list(m.id for m in measures)};",
    ]
    if rd.role == "time":
        lines.append(f"TIMEVAL({px_string(stub)})=TLIST(A1),{px_list(rd.codes)};")
    for value, m, unit in zip(measure_values, measures, units):
        key = f"{px_string(heading)},{px_string(value)}"
        lines += [f"LAST-UPDATED({key})=\"{px_time(prov.published)}\";",
                  f"UNITS({key})={px_string(unit)};",
                  f"SOURCE({key})={px_string(prov.publisher)};"]
        if m.decimals != decimals:
            lines.append(f"PRECISION({key})={m.decimals};")
    lines.append(f"SOURCE={px_string(prov.publisher)};")
    lines.append(f'LAST-UPDATED="{px_time(prov.published)}";')
    lines += [f"{k}={px_string(v)};" for k, v in PX_DATASYMBOLS.items()]
    notes = notes_with_rounding(table, prov, locale)
    if notes:
        lines.append(f"NOTE={px_string(' '.join(notes))};")
    lines.append("DATA=")
    for row in rows:
        cells = []
        for m in measures:
            cell = table.cell(row.id, m.id)
            cells.append(PX_SYMBOLS.get(cell.status, '".."') if cell.value is None
                         else plain_number(cell.value, m.decimals))
        lines.append(" ".join(cells))
    lines[-1] += ";"
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


__all__ = ["Provenance", "RowDimension", "row_dimension", "table_downloads", "table_jsonstat",
           "table_px", "table_xlsx"]
