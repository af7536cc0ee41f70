"""Charts: static SVG in the page, values equal to their tables, cached, nothing from elsewhere."""

import json
import math
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from lxml import etree

import tomllib

import statpress.charts as charts_module
from statpress import vegalite
from conftest import DEMO_NOW, ROOT, Calls, build_site, edit
from statpress import calendar, compress, content, languages, publish
from statpress.content import load_all
from statpress.data import load_catalog


class ChartFigures(HTMLParser):
    """The figure.chart elements of a page: their drawings (<img>), downloads and where charts.js
    fetches their Vega specs (data-spec)."""

    def __init__(self):
        super().__init__()
        self.figures, self.capture, self.in_downloads = [], None, False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if tag == "figure" and "chart" in classes:
            self.figures.append({"id": attrs["id"], "img": [], "svg": 0, "description": "",
                                 "spec": attrs.get("data-spec"), "downloads": []})
        elif not self.figures:
            return
        elif tag == "img":
            self.figures[-1]["img"].append(attrs)
        elif tag == "svg":
            self.figures[-1]["svg"] += 1
        elif tag == "p" and "chart-description" in classes:
            self.capture = "description"
        elif tag == "p" and "chart-downloads" in classes:
            self.in_downloads = True
        elif tag == "a" and self.in_downloads:
            self.figures[-1]["downloads"].append(attrs["href"])

    def handle_endtag(self, tag):
        if tag == "p":
            self.capture = None
        if tag == "p":
            self.in_downloads = False

    def handle_data(self, data):
        if self.capture and self.figures:
            self.figures[-1][self.capture] += data


def figures(page):
    parser = ChartFigures()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.figures


def svg_root(path):
    return etree.fromstring(path.read_bytes())


def font_sizes(root):
    """The font size (px) of every <text> of an SVG, from its own or an ancestor's attribute."""
    sizes = []
    for text in root.iter("{http://www.w3.org/2000/svg}text"):
        node = text
        while node is not None and node.get("font-size") is None:
            node = node.getparent()
        sizes.append(float(node.get("font-size").removesuffix("px")) if node is not None else 16.0)
    return sizes


@pytest.mark.parametrize("statistic, count", [("migration", 2), ("naturalisations", 2)])
def test_every_chart_is_drawn_for_a_phone_and_a_desktop_with_title_and_description(demo_site, statistic, count):
    found = figures(demo_site / statistic / "index.html")
    assert len(found) == count
    for f in found:
        assert f["svg"] == 0, f["id"]  # drawings are files: the page stays light
        layouts = {next(c for c in img["class"].split() if c != "chart-static"): img for img in f["img"]}
        assert set(layouts) == {"chart-" + layout.name for layout in vegalite.LAYOUTS}, f["id"]
        for layout in vegalite.LAYOUTS:
            img = layouts["chart-" + layout.name]
            assert img["alt"].strip() and len(img["alt"]) < 120, f["id"]  # short: the description says the rest
            root = svg_root(demo_site / statistic / img["src"])
            assert (int(img["width"]), int(img["height"])) == (
                math.ceil(float(root.get("width"))), math.ceil(float(root.get("height"))))
            # drawn for its width, never wider nor narrower (but for its panels' widths in whole px:
            # less than one px each, and a chart has no more panels than colours), with text no
            # smaller than SSB's
            panels = 1 if layout.stacked else len(vegalite.PALETTE)
            assert layout.width - panels < int(img["width"]) <= layout.width, (f["id"], layout.name)
            assert min(font_sizes(root)) >= vegalite.MIN_TEXT, (f["id"], layout.name)
            title = root.find("{http://www.w3.org/2000/svg}title").text
            desc = root.find("{http://www.w3.org/2000/svg}desc").text
            assert title == img["alt"] and desc == f["description"].strip() and len(desc) > 40
            assert "highest" in desc and "lowest" in desc
            assert root.get("role") == "img"
            title_id = root.find("{http://www.w3.org/2000/svg}title").get("id")
            desc_id = root.find("{http://www.w3.org/2000/svg}desc").get("id")
            assert root.get("aria-labelledby") == f"{title_id} {desc_id}"
            # the marks say nothing of their own to a screen reader: the title and description do
            assert not [e for e in root.iterdescendants() if isinstance(e.tag, str) and (
                {"role", "aria-label", "aria-roledescription"} & set(e.attrib))], (f["id"], layout.name)
        assert int(layouts["chart-narrow"]["width"]) < int(layouts["chart-wide"]["width"]) / 1.5


def test_downloads_offer_the_desktop_drawing_and_the_phone_one_is_reachable(demo_site):
    for statistic in ("migration", "naturalisations"):
        for f in figures(demo_site / statistic / "index.html"):
            chart_id = f["id"][len("chart-"):]
            assert f["downloads"][:2] == [f"charts/{chart_id}.svg", f"charts/{chart_id}.png"]
            assert f"charts/{chart_id}-narrow.svg" in f["downloads"]
            for href in f["downloads"]:
                assert (demo_site / statistic / href).is_file(), href
            assert (demo_site / statistic / f"charts/{chart_id}.png").read_bytes()[:4] == b"\x89PNG"
            wide = svg_root(demo_site / statistic / f"charts/{chart_id}.svg")
            assert float(wide.get("width")) > 600  # the desktop layout


def layout_specs(demo_site, statistic):
    """Each chart's interactive specs, as charts.js fetches them; the page itself carries none."""
    found = figures(demo_site / statistic / "index.html")
    assert found and 'class="chart-spec"' not in (demo_site / statistic / "index.html").read_text(encoding="utf-8")
    return {f["id"]: json.loads((demo_site / statistic / f["spec"]).read_text(encoding="utf-8")) for f in found}


def walk(node):
    """Every dict in a JSON value."""
    if isinstance(node, dict):
        yield node
        node = list(node.values())
    if isinstance(node, list):
        for item in node:
            yield from walk(item)


def signal(vega, name):
    return next(s["value"] for s in vega["signals"] if s["name"] == name)


def test_the_phone_layout_is_designed_for_its_width(demo_site):
    """Compiled to Vega at build time: panels stacked, fewer x labels, legend in one column, long
    labels wrapped; values shared once, by name."""
    specs = {**layout_specs(demo_site, "migration"), **layout_specs(demo_site, "naturalisations")}
    by_kind = {c["id"]: c["kind"] for statistic in ("migration", "naturalisations") for c in tomllib.loads(
        (ROOT / "stats" / statistic / "tables.toml").read_text(encoding="utf-8"))["charts"]}
    for chart_id, payload in specs.items():
        wide, narrow = payload["wide"], payload["narrow"]
        (name, values), = payload["datasets"].items()
        for vega in (wide, narrow):
            assert "$schema" not in vega and "vega-lite" not in json.dumps(vega).lower()
            assert [d for d in vega["data"] if d["name"] == name] == [{"name": name}]  # values written once
        series = list(dict.fromkeys(v["series"] for v in values))
        if by_kind[chart_id[len("chart-"):]] == "bar":
            assert (wide["layout"]["columns"], narrow["layout"]["columns"]) == (len(series), 1)
            header = next(m for m in narrow["marks"] if m["name"] == "row_header")
            labels = [d["signal"] for d in walk(header) if "[indexof(" in str(d.get("signal", ""))]
            wrapped = json.loads(labels[0][:labels[0].index("[indexof(")])
            assert all(len(line) <= vegalite.NARROW.label_chars for lines in wrapped for line in lines)
            assert signal(narrow, "y_step") >= 24  # a bar thick enough to tap
        else:
            ticks = [len(next(a for a in vega["axes"] if a["orient"] == "bottom")["values"]) for vega in (wide, narrow)]
            assert ticks[1] < ticks[0] or ticks[0] <= 6
            assert ticks[1] <= 7
            (legend,) = narrow["legends"]
            assert (legend["columns"], legend["orient"]) == (1, "bottom")
            latest = values[-1]["category"]
            assert next(a for a in narrow["axes"] if a["orient"] == "bottom")["values"][-1] == latest


@pytest.mark.parametrize("label, chars", [("Finnmark - Finnmárku - Finmarkku", 22), ("Troms - Romsa - Tromssa", 18),
                                          ("Latin America and the Caribbean", 12), ("Oslo", 3)])
def test_long_labels_wrap_at_words_and_lose_nothing(label, chars):
    lines = vegalite.wrap_label(label, chars)
    assert " ".join(lines) == label
    assert all(len(line) <= chars for line in lines if " " in line)  # only a single long word may overflow
    assert not any(line.startswith("-") for line in lines)


def published_tables(statistic):
    s = next(s for s in load_all(ROOT / "content") if s.id == statistic)
    release = calendar.due(s, DEMO_NOW)
    computed, _ = publish.compute_release(s, load_catalog(ROOT), release)
    return {t.id: t for t in computed.tables}


def test_chart_values_equal_the_tables_they_illustrate(demo_site):
    checked = 0
    with_charts = [s.id for s in load_all(ROOT / "content")
                   if (ROOT / "stats" / s.id / "tables.toml").exists() and calendar.due(s, DEMO_NOW)]
    for statistic in with_charts:
        specs = layout_specs(demo_site, statistic)
        tables = published_tables(statistic)
        declared = tomllib.loads((ROOT / "stats" / statistic / "tables.toml").read_text(encoding="utf-8")).get("charts", [])
        for chart in declared:
            table = tables[chart["table"]]
            column = {m.label: m.id for m in table.measures if m.id in chart["series"]}
            rows = {r.label: r for r in table.data_rows if r.dimension == chart.get("rows", r.dimension)}
            spec = specs["chart-" + chart["id"]]
            (values,) = spec["datasets"].values()  # one dataset, shared by every layout
            assert len(values) == len(chart["series"]) * len(rows)
            for v in values:
                assert table.cell(rows[v["category"]].id, column[v["series"]]).value == v["value"]
                checked += 1
    assert checked > 100


@pytest.fixture(scope="module")
def demo_jobs():
    """What the drawer is asked for each of the demo's charts: (statistic, chart id, vegalite.Job)."""
    site = content.parse(ROOT / "site.toml", content.SiteConfig)
    locale = languages.load_locales(ROOT, site)[site.language]
    jobs = []
    for s in load_all(ROOT / "content"):
        release = calendar.due(s, DEMO_NOW)
        if release is None or not (ROOT / "stats" / s.id / "tables.toml").exists():
            continue
        computed, _ = publish.compute_release(s, load_catalog(ROOT), release)
        by_id = {t.id: t for t in computed.tables}
        for spec in charts_module.parse_specs(ROOT / "stats" / s.id / "tables.toml", computed.charts):
            jobs.append((s.id, spec.id, charts_module.job(
                spec, charts_module.chart_data(spec, by_id[spec.table], ROOT), locale, release.period, None)))
    return jobs


def test_every_layout_of_the_demo_charts_is_valid_vega_lite(demo_jobs):
    """vegalite.vega_lite skips Altair's validation for speed; the finished specs are validated here."""
    from altair.utils.schemapi import validate_jsonschema
    from altair.vegalite.v6.schema.core import load_schema

    schema = load_schema()
    validated = 0
    for statistic, chart, job in demo_jobs:
        for layout in vegalite.LAYOUTS:
            assert validate_jsonschema(vegalite.vega_lite(job, layout),
                                       schema, raise_error=False) is None, (statistic, chart, layout.name)
            validated += 1
    assert validated >= 8  # both statistics' charts, in both layouts


def test_a_chart_with_panels_is_fitted_to_its_width_in_the_one_drawing(demo_jobs):
    """Vega lays the panels out to the layout's width once it has measured the labels
    (vegalite.fit_panels): no drawing is made first only to measure them."""
    panelled = [(statistic, chart, job) for statistic, chart, job in demo_jobs if job.kind == "bar"]
    assert len(panelled) >= 2
    for statistic, chart, job in panelled:
        assert_fitted(job, (statistic, chart))


@pytest.mark.parametrize("panels", [1, 3, 5])
def test_any_number_of_panels_fills_the_width(panels):
    """Panels side by side share the desktop drawing's width, whatever their number and however
    long their labels and headings."""
    categories = ["Oslo", "Troms - Romsa - Tromssa", "A region whose name is much longer than the others", "Agder"]
    series = [f"Series {n} with a heading of several words" for n in range(1, panels + 1)]
    records = [{"category": c, "series": name, "value": (37 * i + 11 * j) % 900 - 150, "decimals": 0}
               for i, c in enumerate(categories) for j, name in enumerate(series)]
    job = vegalite.Job("bar", "A chart with panels", "Persons", records, ("Category", "Series", "Value"),
                       {"decimal": ".", "thousands": ",", "grouping": [3], "currency": ["", ""], "minus": "-"}, 4)
    assert_fitted(job, panels)


def assert_fitted(job: vegalite.Job, name) -> None:
    """Each layout of a chart with panels drawn once, as wide as the layout, nothing cut off."""
    import vl_convert
    from statpress import drawing

    asked = []
    drawn = vegalite.draw(job, lambda kind, spec: asked.append(kind) or drawing.call(kind, spec))
    assert sum(kind.startswith("svg") for kind in asked) == len(vegalite.LAYOUTS), (name, asked)
    for layout in vegalite.LAYOUTS:
        spec = drawn.specs[layout.name]
        svg = etree.fromstring(drawn.drawings[layout.name][0])
        width = math.ceil(float(svg.get("width")))
        assert layout.width - spec["columns"] < width <= layout.width, (name, layout.name)
        # the size of the panels at that width drawn as Vega-Lite sizes them (nothing cut off:
        # the size is found again once the headings have wrapped to the panels' width), but for
        # rounding: "pad" rounds up an axis's overhanging half pixel, and "fit-x" keeps the px
        # that the panels' whole widths leave over
        fitted = vegalite.fit_panels(drawing.call("vega", spec), spec, layout)
        panel = panel_width(vl_convert.vega_to_scenegraph(fitted)["scenegraph"])
        sized = json.loads(json.dumps(spec))
        sized["spec"]["width"] = panel
        again = etree.fromstring(drawing.call("svg", sized)[0])
        assert again.get("height") == svg.get("height"), (name, layout.name)
        assert abs(float(again.get("width")) - float(svg.get("width"))) <= spec["columns"], (name, layout.name)


def panel_width(mark: dict) -> float | None:
    """The width of a drawing's first panel, from a mark of vl-convert's scenegraph."""
    for item in mark.get("items", []):
        if mark.get("role") == "scope":
            return item["width"]
        for inner in item.get("items", []) if mark.get("marktype") == "group" else []:
            if (found := panel_width(inner)) is not None:
                return found
    return None


URL = re.compile(rb"""https?://[A-Za-z0-9.-]+[^\s"'<>)]*|(?<=["'(=])//[A-Za-z0-9.-]+[^\s"'<>)]*""")


def test_no_file_refers_to_another_host(demo_site):
    """Only the site's own host (feeds and sitemap need absolute URLs) and SVG/XML namespaces."""
    allowed = {"statistics.example.org", "www.w3.org", "www.sitemaps.org"}
    # Linked-data identifiers name vocabularies and the licence; nothing fetches them. They may
    # stand only in the metadata: catalog.jsonld and the pages' JSON-LD blocks.
    identifiers = {"purl.org", "xmlns.com", "www.iana.org", "publications.europa.eu", "schema.org",
                   "creativecommons.org"}
    bad = []
    for stored in sorted(demo_site.rglob("*")):
        if not stored.is_file() or stored.suffix == ".png":
            continue
        path, data = compress.original(stored, stored.read_bytes())  # a .gz or .br copy: what it holds
        # bundled code, loaded from the site itself (its comments name bug trackers and authors):
        # the browser tests prove that neither Vega nor Pagefind requests another host
        if path.name == "vega.js" or ("pagefind" in path.parts and path.suffix in (".js", ".css")):
            continue
        parts = [(data, path.suffix == ".jsonld")]  # (bytes, whether they are metadata)
        if path.suffix == ".html":
            jsonld = rb'<script type="application/ld\+json">.*?</script>'
            parts = [(re.sub(jsonld, b"", data, flags=re.S), False)]
            parts += [(m.group(0), True) for m in re.finditer(jsonld, data, flags=re.S)]
        for part, metadata in parts:
            for match in URL.finditer(part):
                url = match.group(0).decode("utf-8", "replace")
                host = urlsplit(url if url.startswith("http") else "https:" + url).hostname
                if host and host not in allowed and not (metadata and host in identifiers):
                    bad.append(f"{path.relative_to(demo_site)}: {url}")
    assert bad == []
    # the bundled Vega code is loaded from the site itself, never from a CDN
    page = (demo_site / "migration" / "index.html").read_text(encoding="utf-8")
    assert '<script src="../assets/charts.js" defer></script>' in page
    assert (demo_site / "assets" / "vega.js").is_file()  # which charts.js loads from beside itself


def test_a_build_that_changes_nothing_renders_no_chart_again(tmp_path, monkeypatch):
    build_site(ROOT, tmp_path / "first")

    def fail(*args, **kwargs):
        raise AssertionError("a cached chart was rendered again")

    from statpress import drawing  # every drawing is asked of a drawer, in this process or its own

    for drawer in (drawing.InProcess, drawing.Helper):
        monkeypatch.setattr(drawer, "draw", fail)
    build_site(ROOT, tmp_path / "second")
    assert (tmp_path / "second" / "migration" / "charts" / "net-by-county.svg").read_bytes() == \
        (tmp_path / "first" / "migration" / "charts" / "net-by-county.svg").read_bytes()


def test_the_drawer_starts_only_when_a_chart_must_be_drawn(project, tmp_path, monkeypatch):
    """A cold build starts vl-convert's process while it computes the tables; a rebuild whose
    computed tables leave every chart as it was (a table's title changed) never starts it, and one
    that changes a chart starts it for that chart (in the child that computes them)."""
    from statpress import drawing, pipeline

    started = Calls(tmp_path / "started.txt")
    real = drawing.Helper.start
    monkeypatch.setattr(drawing.Helper, "start", lambda self: started.note(self.process is None) or real(self))
    assert not drawing.drawn_before(project / ".cache" / "charts")
    build_site(project, project / "site")
    assert list(started)[:1] == ["True"]
    assert drawing.drawn_before(project / ".cache" / "charts")
    assert not drawing.drawn_before(None)  # an audit (--no-cache) starts it early too
    first = (project / "site" / "migration" / "charts" / "net-by-county.svg").read_bytes()
    tables = project / "stats" / "migration" / "tables.toml"
    edit(tables, 'title = "In-migration and out-migration, by citizenship"',
         'title = "In-migration and out-migration, by country of citizenship"')
    started.clear()
    pipeline.build(pipeline.BuildOptions(project, project / "site", DEMO_NOW))
    assert started == []
    assert "by country of citizenship" in (project / "site" / "migration" / "index.html").read_text(encoding="utf-8")
    edit(tables, 'title = "Net migration by county, domestic and from abroad. {year}"',
         'title = "Net migration by county. {year}"')
    pipeline.build(pipeline.BuildOptions(project, project / "site", DEMO_NOW))
    assert "True" in started
    assert (project / "site" / "migration" / "charts" / "net-by-county.svg").read_bytes() != first


def test_numbers_in_charts_use_the_page_locale(demo_site):
    svg = (demo_site / "migration" / "charts" / "immigration-emigration.svg").read_text(encoding="utf-8")
    labels = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert "10\u00a0000" in labels and "\u221210\u00a0000" in labels  # grouped by a no-break space, true minus
    assert not any(re.search(r"[0-9],[0-9]{3}", label) for label in labels)


def test_no_cache_draws_every_chart_again_and_keeps_none(project, monkeypatch):
    """An audit (`--no-cache`) reads no drawing from .cache/charts and writes none there; what it
    draws is what the cache held."""
    from conftest import digest
    from statpress import drawing, pipeline

    cached = project / ".cache" / "charts"
    build_site(project, project / "site")
    before = {p.name: p.stat().st_mtime_ns for p in cached.iterdir()}
    asked = []
    real = drawing.Helper.draw
    monkeypatch.setattr(drawing.Helper, "draw", lambda self, kind, spec: asked.append(kind) or real(self, kind, spec))
    pipeline.build(pipeline.BuildOptions(project, project / "audit", DEMO_NOW, use_cache=False))
    drawings = [p for p in (project / "audit").rglob("charts/*.svg") if "archive" not in p.parts]
    assert set(asked) == {"chart"} and len(asked) * len(vegalite.LAYOUTS) >= len(drawings) > 0
    assert {p.name: p.stat().st_mtime_ns for p in cached.iterdir()} == before
    assert digest(project / "audit") == digest(project / "site")
