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
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

from pydantic import ConfigDict, Field, ValidationError

from .content import describe
from .errors import BuildError
from .i18n import Localiser, Text, Translatable
from .locale import Locale
from . import progress, vegalite
from .cache import PickleCache
from .drawing import Drawer
from .model import Table
from .tables import substitute_year
from .vegalite import LAYOUTS
from .lazyimport import lazy

pd = lazy("pandas")  # imported when first used: see lazyimport.py
etree = lazy("lxml.etree")  # only to draw a chart, which a rebuild finds in its cache

# a change to how charts are drawn draws them again
SOURCE = Path(__file__).read_text(encoding="utf-8") + Path(vegalite.__file__).read_text(encoding="utf-8")


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


def svg_size(svg: etree._Element) -> tuple[int, int]:
    """Width and height of a drawing, from its root <svg> element."""
    return math.ceil(float(svg.get("width"))), math.ceil(float(svg.get("height")))


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


def build_charts(path: Path, raw: list[dict], tables: list[Table], locale: Locale, year: int,
                 cache: Path | None, drawer: Drawer, language: Localiser | None = None) -> list[Chart]:
    """The charts of a release, drawn from its tables (already in `locale`'s language) with their
    titles in that language (`language` picks them)."""
    return begin_charts(path, raw, tables, locale, year, cache, drawer, language).finish()


class Underway:
    """Charts being drawn: begun (each asked of the drawer, whole: `vegalite.Job`), then finished
    (`finish`: the drawings read back and made accessible). A drawer in another process draws them
    while the build goes on."""

    def __init__(self, path: Path, begun: list[tuple[ChartSpec, "Pending | Cached"]]):
        self.path, self.begun = path, begun

    def finish(self) -> list[Chart]:
        with progress.stage("charts"):
            charts = []
            for spec, chart in self.begun:
                with naming(self.path, spec):
                    charts.append(chart.finish())
        return charts


def begin_charts(path: Path, raw: list[dict], tables: list[Table], locale: Locale, year: int,
                 cache: Path | None, drawer: Drawer, language: Localiser | None = None) -> Underway:
    """`build_charts` begun: every chart the cache lacks asked of `drawer` now, so that it draws
    while the build goes on."""
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
        vegalite.RENDERER, SOURCE, locale.catalogue.model_dump_json(), str(year), spec.model_dump_json(),
        json.dumps(data, default=lambda v: v.item())]).encode()).hexdigest()[:32]  # numpy's numbers as Python's
    store = PickleCache(cache)
    chart = store.get(key)  # None when absent, damaged or from older code: drawn again
    if chart is not None:
        return Cached(chart)
    return Pending(spec, data, locale, year, cache, drawer, lambda drawn: store.put(key, drawn))


@dataclass(frozen=True)
class Cached:
    """A chart read back from the cache: finished from the start."""
    chart: Chart

    def finish(self) -> Chart:
        return self.chart


class Pending:
    """A chart being drawn (see `Underway`): asked of `drawer` whole when made, and finished
    (`finish`) once drawn; `done` is given the chart."""

    def __init__(self, spec: ChartSpec, records: list[dict], locale: Locale, year: int, cache: Path | None,
                 drawer: Drawer, done: Callable[[Chart], None] = lambda chart: None):
        self.spec, self.records, self.locale, self.year, self.done = spec, records, locale, year, done
        self.asked = drawer.draw("chart", job(spec, records, locale, year, cache))

    def finish(self) -> Chart:
        spec, data = self.spec, pd.DataFrame(self.records)
        drawn = self.asked.result()
        title = substitute_year(spec.title, self.year)
        description = describe_chart(spec, data, self.locale)
        drawings = []
        for layout in LAYOUTS:
            svg, png = drawn.drawings[layout.name]
            drawing = accessible_svg(svg, f"chart-{spec.id}{layout.suffix}", title, description)
            width, height = svg_size(drawing)
            drawings.append(Drawing(layout.name, etree.tostring(drawing, encoding="utf-8"), png,
                                    f"charts/{spec.id}{layout.suffix}.svg",
                                    f"charts/{spec.id}{layout.suffix}.png" if png else None, width, height))
        decimals = int(data["decimals"].max())
        chart = Chart(spec.id, spec.table, title, description, tuple(drawings), page_spec(drawn.specs, drawn.vega),
                      decimals, *data_table(data, decimals, self.locale))
        self.done(chart)
        return chart


def job(spec: ChartSpec, records: list[dict], locale: Locale, year: int, cache: Path | None) -> vegalite.Job:
    """What the drawer needs to draw a chart, as plain values: a `Text` (a str with translations)
    would make the drawing process load the engine's content models to read it."""
    decimals = max(r["decimals"] for r in records)
    plain = [{"category": str(r["category"]), "series": str(r["series"]), "value": r["value"],
              "decimals": int(r["decimals"])} for r in records]
    y_title = substitute_year(spec.y_title, year)
    return vegalite.Job(spec.kind, str(substitute_year(spec.title, year)), str(y_title) if y_title else None, plain,
                        (locale.t("chart_category"), locale.t("chart_series"), locale.t("chart_value")),
                        number_locale(locale), max(len(locale.number(r["value"], decimals)) for r in records), cache)


def page_spec(specs: dict[str, dict], compiled: dict[str, dict]) -> str:
    """The chart for charts.js, fetched only when a reader asks for interaction (charts/<id>.json):
    {"datasets", <layout>: Vega spec}.

    Each layout is compiled from Vega-Lite to Vega (`compiled`, from `vegalite.for_the_page`) at build
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


