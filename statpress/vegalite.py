"""A chart's drawings, made from plain values in the process that draws them (drawing.py): its
Vega-Lite specification for each `Layout` (made with Altair), each layout drawn to SVG (and the
wide one to PNG) as wide as the layout and compiled to Vega by vl-convert.

The build asks for a whole chart at once (`Job`), so that the helper process does all of it on the
other core while the build computes the next statistic's tables: loading Altair and laying out
the specifications took the build's own process half a second of the demo's cold build
(docs/scaling.md).
This module loads neither pandas nor the engine's content models, so the helper starts quickly.
Drawings are cached by the hash of their specification (`render`): a layout drawn before is not
drawn again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Callable

from . import atomic

# Colours with at least 3:1 contrast against white (WCAG 1.4.11), told apart by dashes and
# point shapes as well, never by colour alone.
PALETTE = ["#00654d", "#b34700", "#3d5a99", "#8a2a6e", "#5c6b00", "#6b4c2a", "#0f5f8a", "#a3293d"]
DASHES = [[1, 0], [6, 3], [2, 2], [8, 3, 2, 3], [4, 4], [1, 3], [10, 2], [3, 6]]
SHAPES = ["circle", "square", "triangle-up", "diamond", "cross", "triangle-down", "triangle-right", "triangle-left"]
# the libraries a drawing comes from (specs, drawing, SVG edits): a new version of one draws again
RENDERER = "".join(f"{name} {metadata.version(name)}\n" for name in ("vl-convert-python", "altair", "lxml"))


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


def heading_expression(series: list[str], layout: Layout) -> str:
    """A Vega expression that wraps each panel's heading within the panel, the way its category
    labels wrap, at whatever width Vega gives the panels (the signal `child_width`, which
    `fit_panels` makes follow the drawing's width): every wrapping the headings can take, and
    the one for the panels' width chosen by counting the widths it is past."""
    em = layout.font_size * BOLD_CHAR_WIDTH
    variants, starts = [], []  # each wrapping, and the fewest characters a line it is used from
    for chars in range(12, max(12, int(layout.width / em)) + 1):
        wrapped = [wrap_label(s, chars) for s in series]
        if not variants or wrapped != variants[-1]:
            variants.append(wrapped)
            starts.append(chars)
    chars = f"max(12, floor(child_width / {em:g}))"
    chosen = " + ".join(f"({chars} >= {start} ? 1 : 0)" for start in starts[1:]) or "0"
    return (f"{json.dumps(variants, ensure_ascii=False)}[{chosen}]"
            f"[indexof({json.dumps(series, ensure_ascii=False)}, datum.label)]")


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




@dataclass(frozen=True)
class Job:
    """What a chart's drawings are made from, in plain values: its kind, title and axis title (in
    the page's language, the year put in), one record per value (category, series, value and its
    decimals), the page locale's words and number symbols, and where drawings are cached (None:
    nowhere, `--no-cache`)."""
    kind: str  # "line" or "bar"
    title: str
    y_title: str | None
    records: list[dict]
    tooltip: tuple[str, str, str]  # the titles of category, series and value
    number_locale: dict  # d3-format's: the drawings and the interactive chart read the same
    value_chars: int  # of the longest value as the page formats it: room for a line chart's y labels
    cache: Path | None = None


@dataclass(frozen=True)
class Drawn:
    """A chart drawn for every layout: the Vega-Lite spec, the SVG and PNG (or None) and the
    Vega (for charts.js) of each, by layout name."""
    specs: dict[str, dict]
    drawings: dict[str, tuple[bytes, bytes | None]] = field(repr=False)
    vega: dict[str, dict] = field(repr=False)


def draw(job: Job, call: Callable) -> Drawn:
    """The chart of `job` drawn for every layout; `call` is vl-convert's (drawing.call)."""
    specs, drawings = {}, {}
    for layout in LAYOUTS:
        specs[layout.name] = spec = vega_lite(job, layout)
        drawings[layout.name] = render(spec, layout, job.cache, call)
    return Drawn(specs, drawings, {name: call("vega", for_the_page(spec)) for name, spec in specs.items()})


def render(spec: dict, layout: Layout, cache: Path | None, call: Callable) -> tuple[bytes, bytes | None]:
    """SVG and PNG (or None) of a Vega-Lite spec drawn for `layout`, from the cache when this exact
    spec was drawn before. No cache (`--no-cache`): always drawn."""
    spec_json = json.dumps(spec, sort_keys=True, ensure_ascii=False)
    # the renderer's version is part of the key: a new vl-convert draws every chart again
    key = hashlib.sha256((RENDERER + layout.name + spec_json).encode()).hexdigest()[:32]
    png = layout.png
    svg_path, png_path = (cache / f"{key}.svg", cache / f"{key}.png") if cache is not None else (None, None)
    if svg_path is not None and svg_path.exists() and (png_path.exists() or not png):
        return svg_path.read_bytes(), png_path.read_bytes() if png else None
    # drawn from the spec as cached, so that a chart drawn again is drawn from the same bytes
    spec = json.loads(spec_json)
    if "facet" in spec:
        spec = fit_panels(call("vega", spec), spec, layout)
    svg_text, image = call("svg+png" if png else "svg", spec)
    svg = svg_text.encode("utf-8")
    if svg_path is not None:
        atomic.write(svg_path, svg)
        if image is not None:
            atomic.write(png_path, image)
    return svg, image


def vega_lite(job: Job, layout: Layout = WIDE) -> dict:
    """The Vega-Lite specification of a chart drawn for one layout.

    Altair is kept from validating each object it makes, and the whole spec (`to_dict`): that took
    half the time of laying out the demo's charts, and the spec is made by this code alone, never
    by content. tests/test_charts.py validates every layout of the demo's charts, as finished here."""
    from altair.utils.schemapi import debug_mode  # loaded only to draw, like altair below

    with debug_mode(False):
        return altair_spec(job, layout)


def altair_spec(job: Job, layout: Layout) -> dict:
    import altair as alt  # loaded only to draw: a rebuild that finds its charts cached saves a second
    decimals = max(r["decimals"] for r in job.records)
    number = ",." + str(decimals) + "f" if decimals else ",d"
    series = list(dict.fromkeys(r["series"] for r in job.records))
    categories = list(dict.fromkeys(r["category"] for r in job.records))
    f = layout.font_size
    legend = None  # a bar chart's panels have headings: a legend there would only repeat them
    if job.kind == "line" and len(series) > 1:
        legend = alt.Legend(orient="bottom", direction="vertical" if layout.legend_columns == 1 else "horizontal",
                            columns=min(len(series), layout.legend_columns), labelLimit=0, columnPadding=24,
                            symbolStrokeWidth=2)
    colour = alt.Color("series:N", title=None, sort=series, legend=legend,
                       scale=alt.Scale(domain=series, range=PALETTE[:len(series)]))
    category, series_title, value = job.tooltip
    tooltip = [alt.Tooltip("category:N", title=category), alt.Tooltip("series:N", title=series_title),
               alt.Tooltip("value:Q", title=value, format=number)]
    # the values inline, as Altair puts a DataFrame's: one dataset, named by its hash
    base = alt.Chart({"values": [{k: r[k] for k in ("category", "series", "value")} for r in job.records]})
    value_title = job.y_title or None
    if job.kind == "line":
        # the plot takes the layout's width less room for the y labels (autosize "fit" below)
        y_labels = job.value_chars + 1
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
                    axis=alt.Axis(format=number, tickCount=4 if layout.stacked else 6, labelOverlap=True,
                                  labelSeparation=f // 2)),
            color=colour,
            tooltip=tooltip,
        ).properties(width=panel_width, height=alt.Step(max(layout.bar_step, lines * (f + 1) + 4)))
        heading = heading_expression(series, layout)
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
    title = wrap_label(job.title, title_chars)
    result = chart.properties(title=alt.TitleParams(title if len(title) > 1 else title[0])).to_dict(validate=False)
    result.pop("$schema", None)
    result["autosize"] = autosize
    result["padding"] = padding
    result["config"] = {
        "locale": {"number": job.number_locale}, "font": FONT,
        "view": {"stroke": None},
        "title": {"anchor": "start", "fontSize": layout.title_size, "lineHeight": layout.title_size + 4,
                  "offset": 12},
        "axis": {"labelFontSize": f, "titleFontSize": f, "labelColor": "#162327", "titleColor": "#162327"},
        "legend": {"labelFontSize": f, "titleFontSize": f, "symbolSize": 80, "rowPadding": 6,
                   "labelColor": "#162327"},
        "header": {"labelFontSize": f, "titleFontSize": f, "labelColor": "#162327"},
    }
    return result


def fit_panels(vega: dict, spec: dict, layout: Layout) -> dict:
    """A chart with panels, compiled to Vega (`vega`, from the Vega-Lite `spec`), drawn as wide as
    its layout.

    Vega-Lite fits only a single view to a width, and the room a chart's labels and headings take
    is known only once Vega has measured their text. So the panels' width follows the view's
    `width` signal here, and Vega's own layout ("fit-x") sets that signal to what the labels
    leave: the width is found in the one drawing, with no drawing made first to measure it."""
    columns = spec["columns"]
    gaps = spec["spacing"] * (columns - 1)
    fitted = dict(vega, width=layout.width, autosize={"type": "fit-x", "contains": "padding", "resize": True})
    fitted["signals"] = [
        {"name": "child_width", "update": f"max(60, floor((width - {gaps}) / {columns}))"}
        if signal["name"] == "child_width" else signal for signal in vega["signals"]]
    return fitted


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
