"""Table downloads: every table as CSV, XLSX, JSON-stat 2.0 and PX, each holding the figures of
the table model, as the page shows them."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from jsonstat_validator import validate_jsonstat
from lxml import html as lxml_html

from conftest import DEMO_NOW, ROOT
from statpress import calendar, downloads, publish
from statpress.content import OSLO, load_all
from statpress.data import load_catalog
from statpress.locale import load_locale, plain_number
from statpress.model import Dimension, Measure, Row, Table

FORMATS = ("csv", "xlsx", "json", "px")


def published_tables():
    """(statistic, table) for every table shown at DEMO_NOW, computed as the build computes it."""
    out = []
    catalog = load_catalog(ROOT)
    for s in load_all(ROOT / "content"):
        release = calendar.due(s, DEMO_NOW)
        computed, _ = publish.compute_release(s, catalog, release)
        out += [(s, t) for t in computed.tables]
    return out


TABLES = published_tables()
IDS = [f"{s.meta.short_name}/{t.id}" for s, t in TABLES]


def expected(table):
    """Each visible cell as published: the rounded figure, or the symbol standing instead."""
    out = []
    for row in table.data_rows:
        for m in table.visible_measures:
            cell = table.cell(row.id, m.id)
            out.append(cell.status if cell.value is None else float(plain_number(cell.value, m.decimals)))
    return out


# --- a minimal PX reader --------------------------------------------------------------------------

def read_px(data: bytes) -> dict:
    """Keywords of a PX file: {'KEY' or 'KEY("a","b")': [values]}; DATA as a list of tokens."""
    text = data.decode("utf-8")
    statements, current, quoted = [], [], False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == ";" and not quoted:
            statements.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    assert "".join(current).strip() == "", "text after the last statement"
    out = {}
    for st in statements:
        key, _, value = st.partition("=")
        key = key.strip()
        if key == "DATA":
            out[key] = value.split()
            continue
        # adjacent quoted pieces on separate lines form one string
        value = re.sub(r'"\s*\n\s*"', "", value.strip())
        out[key] = [v.strip('"') for v in re.findall(r'"[^"]*"|[^,]+', value)]
    return out


# --- the offer on the page ----------------------------------------------------------------------

@pytest.mark.parametrize("stat_table", TABLES, ids=IDS)
def test_every_table_offers_every_format_with_its_size(demo_site, stat_table):
    s, t = stat_table
    folder = demo_site / s.meta.short_name
    page = lxml_html.fromstring((folder / "index.html").read_bytes())
    links = page.xpath(f'//section[@id="table-{t.id}"]//ul[@class="downloads"]//a')
    assert [a.get("href") for a in links] == [f"tables/{t.id}.{ext}" for ext in FORMATS]
    for a, ext in zip(links, FORMATS):
        assert a.get("download") is not None
        size = (folder / a.get("href")).stat().st_size
        text = a.text_content()
        assert t.title in text  # the link names its table for screen readers
        shown = re.search(r"([\d.]+) (kB|bytes)", text)
        assert shown, text
        value = float(shown.group(1)) * (1000 if shown.group(2) == "kB" else 1)
        assert abs(value - size) <= 0.05 * size + 50, (text, size)


# --- JSON-stat ----------------------------------------------------------------------------------

@pytest.mark.parametrize("stat_table", TABLES, ids=IDS)
def test_jsonstat_validates_and_holds_the_table(demo_site, stat_table):
    s, t = stat_table
    data = json.loads((demo_site / s.meta.short_name / "tables" / f"{t.id}.json").read_bytes())
    assert validate_jsonstat(data)
    assert data["version"] == "2.0" and data["class"] == "dataset"
    assert data["size"] == [len(t.data_rows), len(t.visible_measures)]
    values = [data.get("status", {}).get(str(i)) if v is None else float(v) for i, v in enumerate(data["value"])]
    assert values == expected(t)
    metric = data["dimension"]["contents"]["category"]
    assert data["role"]["metric"] == ["contents"]
    assert metric["index"] == [m.id for m in t.visible_measures]
    assert [metric["unit"][m.id]["decimals"] for m in t.visible_measures] == [m.decimals for m in t.visible_measures]
    row_dim = data["id"][0]
    labels = data["dimension"][row_dim]["category"]["label"]
    assert [labels[c] for c in data["dimension"][row_dim]["category"]["index"]] == [r.label for r in t.data_rows]
    assert data["source"] == "Statistics Norway"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", data["updated"])


def test_jsonstat_dimensions_come_from_the_model(demo_site):
    by_year = json.loads((demo_site / "migration/tables/immigration-emigration.json").read_bytes())
    assert by_year["id"] == ["year", "contents"] and by_year["role"]["time"] == ["year"]
    assert by_year["dimension"]["year"]["category"]["index"][0] == "1972"
    county = json.loads((demo_site / "migration/tables/by-county.json").read_bytes())
    assert county["id"][0] == "county" and county["role"]["geo"] == ["county"]
    assert county["dimension"]["county"]["category"]["index"][:2] == ["total", "31"]
    assert county["note"][0] == "Except migration between municipalities within the county"
    mixed = json.loads((demo_site / "migration/tables/by-citizenship.json").read_bytes())
    assert mixed["id"][0] == "row"  # rows from several dimensions: a dimension of the rows
    assert "citizenship:UKR" in mixed["dimension"]["row"]["category"]["index"]
    rate = json.loads((demo_site / "migration/tables/internal.json").read_bytes())
    assert rate["dimension"]["contents"]["category"]["unit"]["rate"] == {"label": "per 1000 mean population",
                                                                        "decimals": 1}
    rounded = json.loads((demo_site / "naturalisations/tables/by-country.json").read_bytes())
    assert any("rounded to protect confidentiality" in n for n in rounded["note"])


def test_jsonstat_values_equal_the_csv(demo_site):
    for s, t in TABLES:
        folder = demo_site / s.meta.short_name / "tables"
        rows = list(csv.reader(io.StringIO((folder / f"{t.id}.csv").read_text(encoding="utf-8"))))[1:]
        flat = [c for r in rows for c in r[1:]]
        data = json.loads((folder / f"{t.id}.json").read_bytes())
        assert [data["status"][str(i)] if v is None else float(v) for i, v in enumerate(data["value"])] == \
            [c if not re.fullmatch(r"-?[\d.]+", c) else float(c) for c in flat]


# --- PX -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("stat_table", TABLES, ids=IDS)
def test_px_reads_back_with_the_table(demo_site, stat_table):
    s, t = stat_table
    raw = (demo_site / s.meta.short_name / "tables" / f"{t.id}.px").read_bytes()
    px = read_px(raw)
    assert px["CHARSET"] == ["ANSI"] and px["CODEPAGE"] == ["utf-8"]
    for key in ("MATRIX", "TITLE", "CONTENTS", "UNITS", "STUB", "HEADING", "SOURCE", "LAST-UPDATED", "DECIMALS"):
        assert key in px, key
    assert px["TITLE"] == [t.title] and px["SOURCE"] == ["Statistics Norway"]
    stub, heading = px["STUB"][0], px["HEADING"][0]
    assert px[f'VALUES("{stub}")'] == [r.label for r in t.data_rows]
    assert len(px[f'VALUES("{heading}")']) == len(t.visible_measures)
    symbols = {'"."': ".", '".."': "..", '"..."': ":"}
    assert [symbols[v] if v.startswith('"') else float(v) for v in px["DATA"]] == expected(t)
    assert re.fullmatch(r"\d{8} \d\d:\d\d", px["LAST-UPDATED"][0])


# --- XLSX ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("stat_table", TABLES, ids=IDS)
def test_xlsx_reads_back_with_numbers_and_their_formats(demo_site, stat_table):
    s, t = stat_table
    path = demo_site / s.meta.short_name / "tables" / f"{t.id}.xlsx"
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Table", "Symbols"]
    sheet = book["Table"]
    assert sheet["A1"].value.startswith(t.title)
    labels = [c.value for c in sheet["A"]]
    found = []
    for row in t.data_rows:
        r = labels.index(row.label if not row.notes else row.label + "".join(f" ({n})" for n in row.notes)) + 1
        for j, m in enumerate(t.visible_measures, start=2):
            cell = sheet.cell(r, j)
            if isinstance(cell.value, str):
                found.append(cell.value)
            else:
                assert isinstance(cell.value, (int, float))
                assert cell.number_format.startswith("#,##0" + ("." + "0" * m.decimals if m.decimals else ""))
                found.append(float(cell.value))
    assert found == expected(t)
    texts = [c.value for c in sheet["A"] if isinstance(c.value, str)]
    assert "Source: Statistics Norway" in texts
    assert any(x.startswith("Released ") for x in texts)
    assert any("rounded to protect confidentiality" in x for x in texts) == (s.meta.confidentiality is not None)
    symbols = {r[0].value: r[1].value for r in book["Symbols"].iter_rows(min_row=4)}
    assert symbols[":"] == "Not for publication" and symbols[".."] == "Data not available"
    assert book.properties.created == book.properties.modified


def test_xlsx_zip_entries_have_fixed_times(demo_site):
    with zipfile.ZipFile(demo_site / "migration/tables/internal.xlsx") as z:
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        core = z.read("docProps/core.xml").decode()
    assert "2025-03-13T07:00:00Z" in core  # the release's publication time, not the build's


# --- symbols and marks, on a table made for them ---------------------------------------------

def symbol_table() -> Table:
    rows = (Row("total", "Total", "total"), Row("sex:M", "Males", "code", "sex", "M"),
            Row("sex:F", "Females", "code", "sex", "F"))
    measures = (Measure("n", "Persons", "count", "2024", protected=True),
                Measure("share", "Share", "formula", "2024", unit="per cent", decimals=1))
    values = np.array([[10.0, 100.0], [np.nan, np.nan], [4.0, 40.04]])
    status = np.array([["", ""], [":", ".."], ["r", "*"]], dtype=object)
    return Table("t", Path("x.toml"), "A table", "Sex", rows, measures,
                 (Dimension("sex", "sexes", ("M", "F"), ("Males", "Females")),), values, status)


PROV = downloads.Provenance("Statistics Norway", "A statistic", "a-stat", "Population", "a-2024",
                            dt.datetime(2025, 3, 13, 8, 0, tzinfo=OSLO), rounding_base=3)


def test_symbols_and_marks_in_every_format(tmp_path):
    t, locale = symbol_table(), load_locale(ROOT, "en")
    data = json.loads(downloads.table_jsonstat(t, PROV, locale))
    validate_jsonstat(data)
    assert data["id"] == ["sex", "contents"] and data["dimension"]["sex"]["category"]["index"] == ["total", "M", "F"]
    assert data["value"] == [10, 100.0, None, None, 4, 40.0]
    assert data["status"] == {"2": ":", "3": "..", "4": "r", "5": "*"}
    px = read_px(downloads.table_px(t, PROV, locale))
    assert px["DATA"] == ["10", "100.0", '"..."', '".."', "4", "40.0"]
    assert px["DATASYMBOL3"] == [":"]
    assert 'PRECISION("contents","Persons 2024")' in px
    path = tmp_path / "t.xlsx"
    path.write_bytes(downloads.table_xlsx(t, PROV, locale))
    sheet = openpyxl.load_workbook(path)["Table"]
    cells = {(c.row, c.column): c for row in sheet.iter_rows() for c in row}
    males = next(r for (r, col), c in cells.items() if col == 1 and c.value == "Males")
    females = males + 1
    assert cells[(males, 2)].value == ":" and cells[(males, 3)].value == ".."
    assert cells[(females, 2)].value == 4 and cells[(females, 2)].number_format == '#,##0" r"'
    assert cells[(females, 3)].value == 40.0 and cells[(females, 3)].number_format == '#,##0.0" *"'


def test_downloads_are_byte_identical_for_the_same_inputs():
    t, locale = symbol_table(), load_locale(ROOT, "en")
    assert downloads.table_downloads(t, PROV, locale) == downloads.table_downloads(t, PROV, locale)
