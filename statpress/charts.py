"""Charts stage: Altair charts drawn from the published (protected) tables.

A chart is declared beside the tables (`[[charts]]` in `stats/<statistic>/tables.toml`) and takes
its values from a table, never from the microdata. Each chart is rendered to SVG and PNG by
vl-convert at build time, so it shows without JavaScript, in print and in a web archive. The
Vega-Lite specification goes in the page too, for vega-embed to make it interactive. Renderings
are cached by the hash of their specification: a build that changes nothing renders nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from importlib import metadata
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import altair as alt
import pandas as pd
import vl_convert as vlc
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .content import describe
from .errors import BuildError
from .locale import Locale
from .model import Table
from .tables import substitute_year as fill

# Colours with at least 3:1 contrast against white (WCAG 1.4.11), told apart by dashes and
# point shapes as well, never by colour alone.
PALETTE = ["#00654d", "#b34700", "#3d5a99", "#8a2a6e", "#5c6b00", "#6b4c2a", "#0f5f8a", "#a3293d"]
DASHES = [[1, 0], [6, 3], [2, 2], [8, 3, 2, 3], [4, 4], [1, 3], [10, 2], [3, 6]]
SHAPES = ["circle", "square", "triangle-up", "diamond", "cross", "triangle-down", "triangle-right", "triangle-left"]
WIDTH = 640
RENDERER = f"vl-convert-python {metadata.version('vl-convert-python')}\n"


class ChartSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    table: str
    title: str
    kind: Literal["line", "bar"]
    series: list[str] = Field(min_length=1)  # column ids of the table
    rows: str | None = None  # only the rows of this dimension, e.g. "county" (default: every row)
    y_title: str = ""


@dataclass(frozen=True)
class Chart:
    id: str
    table: str
    title: str
    description: str
    svg: str  # inline SVG with <title> and <desc>
    spec: str  # Vega-Lite JSON for vega-embed
    data: pd.DataFrame  # category, series, value: exactly what the chart shows
    svg_file: bytes
    png_file: bytes
    decimals: int
    series_labels: tuple[str, ...]  # the chart's data as a table, formatted for the page
    table_rows: tuple["ChartRow", ...]


def parse_specs(path: Path, raw: list[dict]) -> list[ChartSpec]:
    specs = []
    for i, item in enumerate(raw):
        try:
            specs.append(ChartSpec.model_validate(item))
        except ValidationError as exc:
            raise BuildError(f"{path}: charts.{i}: {describe(exc)}") from None
    return specs


def chart_data(spec: ChartSpec, table: Table, path: Path) -> pd.DataFrame:
    for s in spec.series:
        if not table.has_measure(s):
            raise BuildError(f"{path}: chart '{spec.id}': table '{table.id}' has no column {s!r}")
    rows = [r for r in table.data_rows if spec.rows is None or r.dimension == spec.rows]
    if not rows:
        dims = sorted({r.dimension for r in table.data_rows if r.dimension})
        raise BuildError(f"{path}: chart '{spec.id}': table '{table.id}' has no rows by {spec.rows!r} "
                         f"(its dimensions: {', '.join(dims) or 'none'})")
    records = [{"category": r.label, "series": table.measure(s).label, "value": table.cell(r.id, s).value,
                "decimals": table.measure(s).decimals}
               for s in spec.series for r in rows]
    return pd.DataFrame(records)


@dataclass(frozen=True)
class ChartRow:
    category: str
    figures: tuple[str, ...]  # one per series, formatted


def data_table(data: pd.DataFrame, decimals: int, locale: Locale) -> tuple[tuple[str, ...], tuple[ChartRow, ...]]:
    """The chart's values as rows (one per category) under one header per series."""
    series = tuple(dict.fromkeys(data["series"]))
    rows = tuple(ChartRow(category, tuple(locale.number(v, decimals) for v in group["value"]))
                 for category, group in data.groupby("category", sort=False))
    return series, rows


def vega_lite(spec: ChartSpec, data: pd.DataFrame, locale: Locale, year: int) -> dict:
    decimals = int(data["decimals"].max())
    number = ",." + str(decimals) + "f" if decimals else ",d"
    series = list(dict.fromkeys(data["series"]))
    categories = list(dict.fromkeys(data["category"]))
    colour = alt.Color("series:N", title=None, sort=series,
                       scale=alt.Scale(domain=series, range=PALETTE[:len(series)]),
                       legend=alt.Legend(orient="bottom", columns=min(len(series), 3), labelLimit=0, columnPadding=24,
                                         symbolStrokeWidth=2) if len(series) > 1 else None)
    tooltip = [alt.Tooltip("category:N", title=locale.t("chart_category")),
               alt.Tooltip("series:N", title=locale.t("chart_series")),
               alt.Tooltip("value:Q", title=locale.t("chart_value"), format=number)]
    base = alt.Chart(data[["category", "series", "value"]])
    if spec.kind == "line":
        chart = base.mark_line(point=True, strokeWidth=2).encode(
            x=alt.X("category:O", title=None, sort=categories, axis=alt.Axis(labelAngle=0, labelOverlap=True)),
            y=alt.Y("value:Q", title=fill(spec.y_title, year) or None, axis=alt.Axis(format=number)),
            color=colour,
            strokeDash=alt.StrokeDash("series:N", sort=series, legend=None,
                                      scale=alt.Scale(domain=series, range=DASHES[:len(series)])),
            shape=alt.Shape("series:N", sort=series, legend=None,
                            scale=alt.Scale(domain=series, range=SHAPES[:len(series)])),
            tooltip=tooltip,
        ).properties(width=WIDTH, height=320)
    else:
        # One panel per series, each with its own heading: no series is told apart by colour alone.
        chart = base.mark_bar().encode(
            y=alt.Y("category:N", title=None, sort=categories),
            x=alt.X("value:Q", title=fill(spec.y_title, year) or None, axis=alt.Axis(format=number)),
            color=colour,
            tooltip=tooltip,
        ).properties(width=max(160, WIDTH // len(series) - 40), height=alt.Step(18)).facet(
            column=alt.Column("series:N", title=None, sort=series))
    result = chart.properties(title=fill(spec.title, year)).to_dict()
    result.pop("$schema", None)
    result["config"] = {"locale": {"number": number_locale(locale)}, "font": "system-ui, sans-serif",
                        "view": {"stroke": None}, "title": {"anchor": "start", "fontSize": 15}}
    return result


def number_locale(locale: Locale) -> dict:
    c = locale.catalogue
    return {"decimal": c.decimal_symbol, "thousands": c.group_symbol, "grouping": [3],
            "currency": ["", ""], "minus": c.minus_symbol}


def describe_chart(spec: ChartSpec, data: pd.DataFrame, locale: Locale) -> str:
    """A plain-language summary of what the chart shows, for screen readers and the page."""
    parts = []
    for series, frame in data.groupby("series", sort=False):
        d = int(frame["decimals"].iloc[0])
        top = frame.loc[frame["value"].idxmax()]
        low = frame.loc[frame["value"].idxmin()]
        values = dict(max=locale.number(top["value"], d), max_label=top["category"],
                      min=locale.number(low["value"], d), min_label=low["category"], series=series)
        if spec.kind == "line" and len(frame) > 1:
            last, prev = frame.iloc[-1], frame.iloc[-2]
            parts.append(locale.t("chart_desc_line", last=locale.number(last["value"], d),
                                  last_label=last["category"], prev_label=prev["category"],
                                  change=locale.number(last["value"] - prev["value"], d, sign=True), **values))
        else:
            parts.append(locale.t("chart_desc_bar", **values))
    return " ".join(parts)


SVG_OPEN = re.compile(r"<svg\b[^>]*>")


def accessible_svg(svg: str, chart_id: str, title: str, description: str) -> str:
    """The rendered SVG as an image with a title and a description for assistive technology."""
    from html import escape

    def opening(match):
        tag = match.group(0)
        tag = re.sub(r'\s(class|version)="[^"]*"', "", tag)
        return (tag[:-1] + f' role="img" aria-labelledby="{chart_id}-svg-title {chart_id}-svg-desc">'
                + f'<title id="{chart_id}-svg-title">{escape(title)}</title>'
                + f'<desc id="{chart_id}-svg-desc">{escape(description)}</desc>')
    # The marks inside are decoration for a screen reader: the title and description say it all.
    svg = re.sub(r'\s(role|aria-roledescription|aria-label)="[^"]*"', "", svg)
    return SVG_OPEN.sub(opening, svg, count=1)


def render(spec_json: str, cache: Path) -> tuple[bytes, bytes]:
    """SVG and PNG of a Vega-Lite spec, from the cache when this exact spec was drawn before."""
    # the renderer's version is part of the key: a new vl-convert draws every chart again
    key = hashlib.sha256((RENDERER + spec_json).encode()).hexdigest()[:32]
    svg_path, png_path = cache / f"{key}.svg", cache / f"{key}.png"
    if svg_path.exists() and png_path.exists():
        return svg_path.read_bytes(), png_path.read_bytes()
    spec = json.loads(spec_json)
    svg = vlc.vegalite_to_svg(spec).encode("utf-8")
    png = vlc.vegalite_to_png(spec, scale=2)
    cache.mkdir(parents=True, exist_ok=True)
    for path, content in ((svg_path, svg), (png_path, png)):
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(content)
        tmp.replace(path)
    return svg, png


def build_charts(path: Path, raw: list[dict], tables: list[Table], locale: Locale, year: int,
                 cache: Path) -> list[Chart]:
    by_id = {t.id: t for t in tables}
    charts = []
    for spec in parse_specs(path, raw):
        if spec.table not in by_id:
            raise BuildError(f"{path}: chart '{spec.id}': unknown table {spec.table!r}")
        data = chart_data(spec, by_id[spec.table], path)
        title = fill(spec.title, year)
        description = describe_chart(spec, data, locale)
        spec_json = json.dumps(vega_lite(spec, data, locale, year), sort_keys=True, ensure_ascii=False)
        svg, png = render(spec_json, cache)
        inline = accessible_svg(svg.decode("utf-8"), f"chart-{spec.id}", title, description)
        decimals = int(data["decimals"].max())
        charts.append(Chart(spec.id, spec.table, title, description, inline, spec_json,
                            data[["category", "series", "value"]], svg, png, decimals,
                            *data_table(data, decimals, locale)))
    return charts


def javascript_bundle(cache: Path) -> bytes:
    """Vega, Vega-Lite and vega-embed in one script, served by the site itself (no CDN)."""
    version = vlc.get_vega_embed_version() + "-" + vlc.get_vega_version()
    path = cache / f"vega-bundle-{version}.js"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(vlc.javascript_bundle(), encoding="utf-8")
        tmp.replace(path)
    return path.read_bytes()
