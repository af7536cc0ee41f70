"""Charts stage: Altair charts drawn from the published (protected) tables.

A chart is declared beside the tables (`[[charts]]` in `stats/<statistic>/tables.toml`) and takes
its values from a table, never from the microdata. Each chart is drawn for each `Layout` (a
desktop's width and a phone's) and rendered to SVG and PNG by vl-convert at build time, so it
shows without JavaScript, in print and in a web archive. Compiled to Vega, the specifications go
beside the drawings (charts/<id>.json), for charts.js to make the chart interactive when a reader
asks. Renderings are cached by the hash of their specification: a build that changes nothing
renders nothing.
"""

from __future__ import annotations

import hashlib
import json
import math
from contextlib import contextmanager
from importlib import metadata
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

from lxml import etree
from pydantic import ConfigDict, Field, ValidationError

from .content import describe
from .errors import BuildError
from .i18n import Localiser, Text, Translatable
from .locale import Locale
from . import atomic, progress
from .cache import PickleCache
from .drawing import Drawer
from .model import Table
from .tables import substitute_year
from .lazyimport import lazy

pd = lazy("pandas")  # imported when first used: see lazyimport.py

# Colours with at least 3:1 contrast against white (WCAG 1.4.11), told apart by dashes and
# point shapes as well, never by colour alone.
PALETTE = ["#00654d", "#b34700", "#3d5a99", "#8a2a6e", "#5c6b00", "#6b4c2a", "#0f5f8a", "#a3293d"]
DASHES = [[1, 0], [6, 3], [2, 2], [8, 3, 2, 3], [4, 4], [1, 3], [10, 2], [3, 6]]
SHAPES = ["circle", "square", "triangle-up", "diamond", "cross", "triangle-down", "triangle-right", "triangle-left"]
SOURCE = Path(__file__).read_text(encoding="utf-8")  # a change to how charts are drawn draws them again
# the libraries a drawing comes from (specs, drawing, SVG edits): a new version of one draws again
RENDERER = "".join(f"{name} {metadata.version(name)}\n" for name in ("vl-convert-python", "altair", "lxml"))


class ChartSpec(Translatable):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    table: str
    title: Text
    kind: Literal["line", "bar"]
    series: list[str] = Field(min_length=1)  # column ids of the table
    rows: str | None = None  # only the rows of this dimension, e.g. "county" (default: every row)
    y_title: Text = Text("")


@dataclass(frozen=True)
class Drawing:
    """A chart drawn for one layout: its files and the size it is drawn at (CSS px)."""
    layout: str  # Layout.name
    svg_file: bytes  # with <title> and <desc>, as downloaded and as shown by <img>
    png_file: bytes | None  # the wide layout only
    svg_name: str  # charts/<id><suffix>.svg, relative to the statistic's page
    png_name: str | None
    width: int
    height: int


@dataclass(frozen=True)
class Chart:
    id: str
    table: str
    title: str
    description: str
    drawings: tuple[Drawing, ...]  # one per layout, in LAYOUTS order: the wide one first
    spec: str  # JSON for charts.js (charts/<id>.json): the Vega spec of each layout, sharing their values
    decimals: int
    series_labels: tuple[str, ...]  # the chart's data as a table, formatted for the page
    table_rows: tuple["ChartRow", ...]

    @property
    def spec_name(self) -> str:
        return f"charts/{self.id}.json"

    @property
    def wide(self) -> Drawing:
        return self.drawings[0]

    def files(self) -> dict[str, bytes]:
        """The chart's downloads, by path relative to the statistic's page."""
        files = {}
        for d in self.drawings:
            files[d.svg_name] = d.svg_file
            if d.png_name:
                files[d.png_name] = d.png_file
        return files


def parse_specs(path: Path, raw: list[dict]) -> list[ChartSpec]:
    specs = []
    for i, item in enumerate(raw):
        try:
            specs.append(ChartSpec.model_validate(item))
        except ValidationError as exc:
            raise BuildError(f"{path}: charts.{i}: {describe(exc)}") from None
    return specs


def chart_data(spec: ChartSpec, table: Table, path: Path) -> list[dict]:
    """What the chart shows, one record per value: category, series, value and its decimals.
    Plain records, not a DataFrame: a chart found in the cache needs no pandas (lazyimport.py)."""
    for s in spec.series:
        if not table.has_measure(s):
            raise BuildError(f"{path}: chart '{spec.id}': table '{table.id}' has no column {s!r}")
    rows = [r for r in table.data_rows if spec.rows is None or r.dimension == spec.rows]
    if not rows:
        dims = sorted({r.dimension for r in table.data_rows if r.dimension})
        raise BuildError(f"{path}: chart '{spec.id}': table '{table.id}' has no rows by {spec.rows!r} "
                         f"(its dimensions: {', '.join(dims) or 'none'})")
    return [{"category": r.label, "series": table.measure(s).label, "value": table.cell(r.id, s).value,
             "decimals": table.measure(s).decimals}
            for s in spec.series for r in rows]


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


@dataclass(frozen=True)
class Layout:
    """How a chart is drawn for one screen width: designed for it, not shrunk to it.

    Sizes are CSS px at 1:1. The page shows the narrow drawing on phones and the wide one on
    wider screens and in print (the media queries of templates/assets/style.css; charts.js
    chooses by the width of the chart's container, see `page_spec`)."""
    name: str  # "wide" or "narrow": the key in the page's spec and the file suffix
    width: int  # the whole drawing, labels and legend included
    font_size: int  # axis labels, legends, panel headings: never below SSB's 11-12 px
    title_size: int
    plot_height: int  # of a line chart's plot
    bar_step: int  # the height of one bar and its gap: thick enough to tap on a phone
    label_chars: int  # longer category labels wrap onto more lines
    legend_columns: int
    stacked: bool  # the panels of a bar chart one below the other, not side by side
    tick_gap: int  # least room between two x-axis labels
    png: bool  # also rendered as PNG (a download); the phone layout is an SVG only

    @property
    def suffix(self) -> str:
        return "" if self.name == "wide" else f"-{self.name}"


WIDE = Layout("wide", width=720, font_size=12, title_size=16, plot_height=320, bar_step=22, label_chars=34,
              legend_columns=3, stacked=False, tick_gap=24, png=True)
NARROW = Layout("narrow", width=336, font_size=13, title_size=15, plot_height=240, bar_step=30, label_chars=22,
                legend_columns=1, stacked=True, tick_gap=12, png=False)
LAYOUTS = (WIDE, NARROW)  # the first is the download and the print drawing
MIN_TEXT = 11  # CSS px: no chart text is drawn smaller on any screen (the page's CSS and charts.js see to it)
CHAR_WIDTH = 0.6  # a generous average glyph width, in ems, to plan room for labels
BOLD_CHAR_WIDTH = 0.72  # the same for bold titles and headings
# The static drawings are laid out by vl-convert with its Liberation Sans (Arial's metrics, the
# same on every machine, so builds stay byte-identical). A reader's browser draws their text in
# Arial or Helvetica, which have those metrics, or else in its own sans-serif, perhaps a wider one
# (DejaVu Sans on many Linux desktops): FONT_SLACK of a label's width is kept free for that.
FONT = "Liberation Sans, Arial, Helvetica, sans-serif"
FONT_SLACK = 0.15


def wrap_label(label: str, chars: int) -> list[str]:
    """A category label on lines of at most `chars` characters; " - " (a county's Sami forms)
    stays at the end of a line, never starts one."""
    words = label.replace(" - ", "\u00a0- ").split(" ")
    lines = [""]
    for word in words:
        if lines[-1] and len(lines[-1]) + 1 + len(word) > chars:
            lines.append(word)
        else:
            lines[-1] = f"{lines[-1]} {word}".strip()
    return [line.replace("\u00a0", " ") for line in lines]


def heading_chars(panel_width: int, layout: Layout) -> int:
    """A panel's heading wraps within the panel, the way its category labels do."""
    return max(12, int(panel_width / (layout.font_size * BOLD_CHAR_WIDTH)))


def label_expression(labels: list[str], chars: int) -> tuple[str, int, int]:
    """A Vega expression that draws each label wrapped; the most lines and characters of a line."""
    wrapped = [wrap_label(label, chars) for label in labels]
    return (f"{json.dumps(wrapped, ensure_ascii=False)}[indexof({json.dumps(labels, ensure_ascii=False)}, "
            f"datum.label)]", max(len(w) for w in wrapped), max(len(line) for w in wrapped for line in w))


def tick_values(categories: list[str], room: float, layout: Layout) -> list[str]:
    """Categories to label on an x axis `room` px wide: every k-th, counted back from the latest,
    so that labels keep at least `tick_gap` between them."""
    longest = max(len(c) for c in categories) * layout.font_size * CHAR_WIDTH
    fits = max(2, int(room // (longest + layout.tick_gap)))
    step = next(k for k in (1, 2, 5, 10, 20, 25, 50, 100, len(categories)) if -(-len(categories) // k) <= fits)
    return categories[::-1][::step][::-1]


def vega_lite(spec: ChartSpec, data: pd.DataFrame, locale: Locale, year: int, layout: Layout = WIDE) -> dict:
    """The Vega-Lite specification of a chart drawn for one layout.

    Altair is kept from validating each object it makes, and the whole spec (`to_dict`): that took
    half the time of laying out the demo's charts, and the spec is made by this code alone, never
    by content. tests/test_charts.py validates every layout of the demo's charts, as finished here."""
    from altair.utils.schemapi import debug_mode  # loaded only to draw, like altair below

    with debug_mode(False):
        return altair_spec(spec, data, locale, year, layout)


def altair_spec(spec: ChartSpec, data: pd.DataFrame, locale: Locale, year: int, layout: Layout) -> dict:
    import altair as alt  # loaded only to draw: a rebuild that finds its charts cached saves a second
    decimals = int(data["decimals"].max())
    number = ",." + str(decimals) + "f" if decimals else ",d"
    series = list(dict.fromkeys(data["series"]))
    categories = list(dict.fromkeys(data["category"]))
    f = layout.font_size
    legend = None  # a bar chart's panels have headings: a legend there would only repeat them
    if spec.kind == "line" and len(series) > 1:
        legend = alt.Legend(orient="bottom", direction="vertical" if layout.legend_columns == 1 else "horizontal",
                            columns=min(len(series), layout.legend_columns), labelLimit=0, columnPadding=24,
                            symbolStrokeWidth=2)
    colour = alt.Color("series:N", title=None, sort=series, legend=legend,
                       scale=alt.Scale(domain=series, range=PALETTE[:len(series)]))
    tooltip = [alt.Tooltip("category:N", title=locale.t("chart_category")),
               alt.Tooltip("series:N", title=locale.t("chart_series")),
               alt.Tooltip("value:Q", title=locale.t("chart_value"), format=number)]
    base = alt.Chart(data[["category", "series", "value"]])
    value_title = substitute_year(spec.y_title, year) or None
    if spec.kind == "line":
        # the plot takes the layout's width less room for the y labels (autosize "fit" below)
        y_labels = max(len(locale.number(v, decimals)) for v in data["value"]) + 1
        room = layout.width - y_labels * f * CHAR_WIDTH - (2 * f if value_title else 0) - 16
        chart = base.mark_line(point=alt.OverlayMarkDef(size=30 if layout.stacked else 40), strokeWidth=2).encode(
            x=alt.X("category:O", title=None, sort=categories,
                    axis=alt.Axis(labelAngle=0, labelOverlap=True, values=tick_values(categories, room, layout))),
            y=alt.Y("value:Q", title=value_title, axis=alt.Axis(format=number, tickCount=5 if layout.stacked else 8)),
            color=colour,
            strokeDash=alt.StrokeDash("series:N", sort=series, legend=None,
                                      scale=alt.Scale(domain=series, range=DASHES[:len(series)])),
            shape=alt.Shape("series:N", sort=series, legend=None,
                            scale=alt.Scale(domain=series, range=SHAPES[:len(series)])),
            tooltip=tooltip,
        ).properties(width=layout.width, height=layout.plot_height)
        autosize = {"type": "fit-x", "contains": "padding"}
        padding = {"left": 5 + int(FONT_SLACK * y_labels * f * CHAR_WIDTH), "top": 5, "right": 10, "bottom": 5}
    else:
        # One panel per series, each with its own heading: no series is told apart by colour alone.
        # Long category names wrap; the table under the chart has them whole.
        expression, lines, longest = label_expression(categories, layout.label_chars)
        label_room = longest * f * CHAR_WIDTH + 12
        slack = int(FONT_SLACK * label_room)
        panels = 1 if layout.stacked else len(series)
        gap = 0 if layout.stacked else 20 * (panels - 1)
        panel_width = int((layout.width - label_room - slack - gap) / panels) - 10
        chart = base.mark_bar().encode(
            y=alt.Y("category:N", title=None, sort=categories,
                    axis=alt.Axis(labelExpr=expression, labelLimit=0, labelLineHeight=f + 1)),
            x=alt.X("value:Q", title=value_title,
                    axis=alt.Axis(format=number, tickCount=4 if layout.stacked else 6, labelOverlap=True)),
            color=colour,
            tooltip=tooltip,
        ).properties(width=panel_width, height=alt.Step(max(layout.bar_step, lines * (f + 1) + 4)))
        heading, _, _ = label_expression(series, heading_chars(panel_width, layout))
        header = alt.Header(title=None, labelFontSize=f, labelFontWeight="bold", labelAnchor="start",
                            labelAlign="left", labelLimit=0, labelPadding=6, labelExpr=heading,
                            labelLineHeight=f + 4)
        chart = chart.facet(facet=alt.Facet("series:N", title=None, sort=series, header=header),
                            columns=1 if layout.stacked else len(series), spacing=24 if layout.stacked else 20)
        if layout.stacked:  # each panel its own axis: a phone shows one panel at a time
            chart = chart.resolve_axis(x="independent")
        autosize = {"type": "pad"}
        padding = {"left": 5 + slack, "top": 5, "right": 10, "bottom": 5}
    title_chars = int((layout.width - padding["left"] - padding["right"]) / (layout.title_size * BOLD_CHAR_WIDTH))
    title = wrap_label(substitute_year(spec.title, year), title_chars)
    result = chart.properties(title=alt.TitleParams(title if len(title) > 1 else title[0])).to_dict(validate=False)
    result.pop("$schema", None)
    result["autosize"] = autosize
    result["padding"] = padding
    result["config"] = {
        "locale": {"number": number_locale(locale)}, "font": FONT,
        "view": {"stroke": None},
        "title": {"anchor": "start", "fontSize": layout.title_size, "lineHeight": layout.title_size + 4,
                  "offset": 12},
        "axis": {"labelFontSize": f, "titleFontSize": f, "labelColor": "#162327", "titleColor": "#162327"},
        "legend": {"labelFontSize": f, "titleFontSize": f, "symbolSize": 80, "rowPadding": 6,
                   "labelColor": "#162327"},
        "header": {"labelFontSize": f, "titleFontSize": f, "labelColor": "#162327"},
    }
    return result


def number_locale(locale: Locale) -> dict:
    """The page's number symbols as a d3-format locale: the static SVG (vl-convert) and the
    interactive chart (Vega in the browser) read the same one from the spec's config."""
    symbols = locale.symbols
    return {"decimal": symbols["decimal"], "thousands": symbols["group"], "grouping": [3],
            "currency": ["", ""], "minus": symbols["minus"]}


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


SVG = "http://www.w3.org/2000/svg"


def accessible_svg(svg: bytes, chart_id: str, title: str, description: str) -> etree._Element:
    """The rendered SVG as an image with a title and a description for assistive technology."""
    root = etree.fromstring(svg)
    for name in ("class", "version"):
        root.attrib.pop(name, None)
    # The marks inside are decoration for a screen reader: the title and description say it all.
    for element in root.iter(etree.Element):
        for name in ("role", "aria-roledescription", "aria-label"):
            element.attrib.pop(name, None)
    root.set("role", "img")
    root.set("aria-labelledby", f"{chart_id}-svg-title {chart_id}-svg-desc")
    for position, (tag, text) in enumerate((("title", title), ("desc", description))):
        label = etree.Element(f"{{{SVG}}}{tag}", id=f"{chart_id}-svg-{tag}")
        label.text = text
        root.insert(position, label)
    return root


def render(spec: dict, cache: Path | None, drawer: Drawer, png: bool = True) -> Callable[[], tuple[bytes, bytes | None]]:
    """SVG and PNG (or None) of a Vega-Lite spec, from the cache when this exact spec was drawn
    before: asked for now, given by the function returned. No cache (`--no-cache`): always drawn."""
    spec_json = json.dumps(spec, sort_keys=True, ensure_ascii=False)
    # the renderer's version is part of the key: a new vl-convert draws every chart again
    key = hashlib.sha256((RENDERER + spec_json).encode()).hexdigest()[:32]
    svg_path, png_path = (cache / f"{key}.svg", cache / f"{key}.png") if cache is not None else (None, None)
    if svg_path is not None and svg_path.exists() and (png_path.exists() or not png):
        found = svg_path.read_bytes(), png_path.read_bytes() if png else None
        return lambda: found
    # drawn from the spec as cached, so that a chart drawn again is drawn from the same bytes
    asked = drawer.draw("svg+png" if png else "svg", json.loads(spec_json))

    def drawn() -> tuple[bytes, bytes | None]:
        svg_text, image = asked.result()
        svg = svg_text.encode("utf-8")
        if svg_path is not None:
            atomic.write(svg_path, svg)
            if image is not None:
                atomic.write(png_path, image)
        return svg, image
    return drawn


def build_charts(path: Path, raw: list[dict], tables: list[Table], locale: Locale, year: int,
                 cache: Path | None, drawer: Drawer, language: Localiser | None = None) -> list[Chart]:
    """The charts of a release, drawn from its tables (already in `locale`'s language) with their
    titles in that language (`language` picks them)."""
    return begin_charts(path, raw, tables, locale, year, cache, drawer, language).finish()


class Underway:
    """Charts being drawn, in three steps, so that a drawer drawing in another process is asked for
    what the build will wait for first: begun (their specifications made, and the drawings that
    measure their panels asked for), fitted (`fit`: the panels fitted to those measurements, and
    every drawing asked for) and finished (`finish`: the drawings read back)."""

    def __init__(self, path: Path, begun: list[tuple[ChartSpec, "Pending | Cached"]]):
        self.path, self.begun = path, begun

    def fit(self) -> None:
        with progress.stage("charts"):
            for spec, chart in self.begun:
                with naming(self.path, spec):
                    chart.fit()

    def finish(self) -> list[Chart]:
        self.fit()
        with progress.stage("charts"):
            charts = []
            for spec, chart in self.begun:
                with naming(self.path, spec):
                    charts.append(chart.finish())
        return charts


def begin_charts(path: Path, raw: list[dict], tables: list[Table], locale: Locale, year: int,
                 cache: Path | None, drawer: Drawer, language: Localiser | None = None) -> Underway:
    """`build_charts` begun: the measurements of every chart asked of `drawer` now, and the rest
    when the charts are fitted, before the first is finished, so that it draws while the build goes on."""
    by_id = {t.id: t for t in tables}
    begun = []
    with progress.stage("charts"):
        for spec in parse_specs(path, raw):
            spec = language(spec) if language else spec
            if spec.table not in by_id:
                raise BuildError(f"{path}: chart '{spec.id}': unknown table {spec.table!r}")
            data = chart_data(spec, by_id[spec.table], path)
            with naming(path, spec):
                begun.append((spec, remembered(spec, data, locale, year, cache, drawer)))
    return Underway(path, begun)


@contextmanager
def naming(path: Path, spec: ChartSpec):
    """A drawer's error told with the chart it was drawing."""
    try:
        yield
    except BuildError as exc:
        raise BuildError(f"{path}: chart '{spec.id}': {exc}") from None


def remembered(spec: ChartSpec, data: list[dict], locale: Locale, year: int, cache: Path | None,
               drawer: Drawer) -> "Pending | Cached":
    """A chart from the cache when the same specification, values, locale and code drew it before
    (laying out a chart with Altair takes longer than reading it back); else begun, and kept there
    once finished. No cache (`--no-cache`): begun, and kept nowhere."""
    if cache is None:
        return Pending(spec, data, locale, year, None, drawer)
    key = hashlib.sha256("\n".join([
        RENDERER, SOURCE, locale.catalogue.model_dump_json(), str(year), spec.model_dump_json(),
        json.dumps(data, default=lambda v: v.item())]).encode()).hexdigest()[:32]  # numpy's numbers as Python's
    store = PickleCache(cache)
    chart = store.get(key)  # None when absent, damaged or from older code: drawn again
    if chart is not None:
        return Cached(chart)
    return Pending(spec, data, locale, year, cache, drawer, lambda drawn: store.put(key, drawn))


@dataclass(frozen=True)
class Cached:
    """A chart read back from the cache: fitted and finished from the start."""
    chart: Chart

    def fit(self) -> None:
        pass

    def finish(self) -> Chart:
        return self.chart


class Pending:
    """A chart being drawn (see `Underway`). Begun: its specification made for each layout and the
    drawings that measure its panels asked of `drawer`. `fit`: the panels fitted and every drawing
    and the Vega of each layout asked for. `finish`: the chart, once they are drawn (`done` is
    given it)."""

    def __init__(self, spec: ChartSpec, records: list[dict], locale: Locale, year: int, cache: Path | None,
                 drawer: Drawer, done: Callable[[Chart], None] = lambda chart: None):
        data = pd.DataFrame(records)
        self.spec, self.data, self.locale, self.year = spec, data, locale, year
        self.cache, self.drawer, self.done = cache, drawer, done
        self.first = {layout.name: vega_lite(spec, data, locale, year, layout) for layout in LAYOUTS}
        # a layout with panels is drawn once to measure it (fit_panels)
        self.measured = {name: render(s, cache, drawer, png=False) for name, s in self.first.items() if "facet" in s}
        self.specs: dict[str, dict] | None = None

    def fit(self) -> None:
        if self.specs is not None:
            return
        self.specs = {layout.name: fit_panels(self.first[layout.name], layout, self.measured[layout.name]()[0])
                      if layout.name in self.measured else self.first[layout.name] for layout in LAYOUTS}
        self.drawn = {layout.name: render(self.specs[layout.name], self.cache, self.drawer, layout.png)
                      for layout in LAYOUTS}
        self.vega = {name: self.drawer.draw("vega", for_the_page(s)) for name, s in self.specs.items()}

    def finish(self) -> Chart:
        self.fit()
        spec, data = self.spec, self.data
        title = substitute_year(spec.title, self.year)
        description = describe_chart(spec, data, self.locale)
        drawings = []
        for layout in LAYOUTS:
            svg, png = self.drawn[layout.name]()
            drawing = accessible_svg(svg, f"chart-{spec.id}{layout.suffix}", title, description)
            width, height = svg_size(drawing)
            drawings.append(Drawing(layout.name, etree.tostring(drawing, encoding="utf-8"), png,
                                    f"charts/{spec.id}{layout.suffix}.svg",
                                    f"charts/{spec.id}{layout.suffix}.png" if png else None, width, height))
        decimals = int(data["decimals"].max())
        chart = Chart(spec.id, spec.table, title, description, tuple(drawings),
                      page_spec(self.specs, {name: f.result() for name, f in self.vega.items()}),
                      decimals, *data_table(data, decimals, self.locale))
        self.done(chart)
        return chart


def fit_panels(spec: dict, layout: Layout, measured: bytes) -> dict:
    """A faceted spec with its panels as wide as makes the drawing the layout's width.

    Vega-Lite fits only single views to a width; for panels, the drawing is rendered once
    (`measured`, cached like any other) to learn how much the labels and headings take, and the
    panels get the rest."""
    width, _ = svg_size(etree.fromstring(measured))
    fitted = json.loads(json.dumps(spec))
    panel_width = max(60, spec["spec"]["width"] + (layout.width - width) // spec["columns"])
    fitted["spec"]["width"] = panel_width
    fitted["facet"]["header"]["labelExpr"], _, _ = label_expression(fitted["facet"]["sort"],
                                                                    heading_chars(panel_width, layout))
    return fitted


def page_spec(specs: dict[str, dict], compiled: dict[str, dict]) -> str:
    """The chart for charts.js, fetched only when a reader asks for interaction (charts/<id>.json):
    {"datasets", <layout>: Vega spec}.

    Each layout is compiled from Vega-Lite to Vega (`compiled`, from `for_the_page`) at build
    time, so the browser needs only the Vega runtime and not the Vega-Lite compiler. The values
    are written once and the layouts refer to them by name. charts.js draws the layout whose
    static drawing the stylesheet shows, in that drawing's box."""
    datasets, payload = {}, {}
    for name, spec in specs.items():
        vega = compiled[name]
        for data in vega["data"]:
            if data["name"] in spec["datasets"]:
                datasets[data["name"]] = data.pop("values")
        vega.pop("$schema", None)
        payload[name] = vega
    payload["datasets"] = datasets
    return json.dumps(payload, sort_keys=True, ensure_ascii=False)


def for_the_page(spec: dict) -> dict:
    """A layout's spec as the browser draws it, in the box of its static drawing. The room kept
    for a wider font (FONT_SLACK) is not needed: the browser measures its own text. A single view
    fills the box; a chart with panels is fitted to it by charts.js (panel width, bar step)."""
    spec = json.loads(json.dumps(spec))
    spec["padding"] = 5
    if "facet" not in spec:
        spec["width"] = spec["height"] = "container"
        spec["autosize"] = {"type": "fit", "contains": "padding", "resize": True}
    return spec


def svg_size(svg: etree._Element) -> tuple[int, int]:
    """Width and height of a drawing, from its root <svg> element."""
    return math.ceil(float(svg.get("width"))), math.ceil(float(svg.get("height")))
