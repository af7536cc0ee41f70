"""Charts: static SVG in the page, values equal to their tables, cached, nothing from elsewhere."""

import json
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

import tomllib

import statpress.charts as charts_module
from conftest import DEMO_NOW, ROOT, build_site
from statpress import calendar, pipeline
from statpress.content import load_all
from statpress.data import load_catalog


class ChartFigures(HTMLParser):
    """The figure.chart elements of a page: their SVG title/desc and their Vega-Lite spec."""

    def __init__(self):
        super().__init__()
        self.figures, self.stack, self.capture = [], [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "figure" and "chart" in (attrs.get("class") or ""):
            self.figures.append({"id": attrs["id"], "svg": 0, "title": "", "desc": "", "spec": ""})
        elif self.figures and tag == "svg":
            self.figures[-1]["svg"] += 1
        elif self.figures and tag in ("title", "desc"):
            self.capture = tag
        elif self.figures and tag == "script" and "chart-spec" in (attrs.get("class") or ""):
            self.capture = "spec"

    def handle_endtag(self, tag):
        if tag in ("title", "desc", "script"):
            self.capture = None

    def handle_data(self, data):
        if self.capture and self.figures:
            self.figures[-1][self.capture] += data


def figures(page):
    parser = ChartFigures()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.figures


@pytest.mark.parametrize("statistic, count", [("migration", 2), ("naturalisations", 2)])
def test_every_chart_is_static_svg_with_title_and_description(demo_site, statistic, count):
    found = figures(demo_site / statistic / "index.html")
    assert len(found) == count
    for f in found:
        assert f["svg"] >= 1, f["id"]
        assert f["title"].strip() and len(f["desc"]) > 40, f["id"]
        assert "highest" in f["desc"] and "lowest" in f["desc"]
        assert (demo_site / statistic / "charts" / (f["id"][len("chart-"):] + ".svg")).exists()
        assert (demo_site / statistic / "charts" / (f["id"][len("chart-"):] + ".png")).read_bytes()[:4] == b"\x89PNG"


def published_tables(statistic):
    s = next(s for s in load_all(ROOT / "content") if s.id == statistic)
    release = calendar.due(s, DEMO_NOW)
    computed, _ = pipeline.compute_release(s, load_catalog(ROOT), release)
    return {t.id: t for t in computed.tables}


def test_chart_values_equal_the_tables_they_illustrate(demo_site):
    checked = 0
    with_charts = [s.id for s in load_all(ROOT / "content")
                   if (ROOT / "stats" / s.id / "tables.toml").exists() and calendar.due(s, DEMO_NOW)]
    for statistic in with_charts:
        specs = {f["id"]: json.loads(f["spec"]) for f in figures(demo_site / statistic / "index.html")}
        tables = published_tables(statistic)
        declared = tomllib.loads((ROOT / "stats" / statistic / "tables.toml").read_text(encoding="utf-8")).get("charts", [])
        for chart in declared:
            table = tables[chart["table"]]
            column = {m.label: m.id for m in table.measures if m.id in chart["series"]}
            rows = {r.label: r for r in table.data_rows if r.dimension == chart.get("rows", r.dimension)}
            spec = specs["chart-" + chart["id"]]
            values = next(iter(spec["datasets"].values()))
            assert len(values) == len(chart["series"]) * len(rows)
            for v in values:
                assert table.cell(rows[v["category"]].id, column[v["series"]]).value == v["value"]
                checked += 1
    assert checked > 100


URL = re.compile(rb"""https?://[A-Za-z0-9.-]+[^\s"'<>)]*|(?<=["'(=])//[A-Za-z0-9.-]+[^\s"'<>)]*""")


def test_no_file_refers_to_another_host(demo_site):
    """Only the site's own host (feeds and sitemap need absolute URLs) and SVG/XML namespaces."""
    allowed = {"statistics.example.org", "www.w3.org", "www.sitemaps.org"}
    bad = []
    for path in sorted(demo_site.rglob("*")):
        if not path.is_file() or path.suffix == ".png":
            continue
        for match in URL.finditer(path.read_bytes()):
            url = match.group(0).decode("utf-8", "replace")
            host = urlsplit(url if url.startswith("http") else "https:" + url).hostname
            if host and host not in allowed and path.name != "vega.js":
                bad.append(f"{path.relative_to(demo_site)}: {url}")
    assert bad == []
    # the bundled Vega code is loaded from the site itself, never from a CDN
    page = (demo_site / "migration" / "index.html").read_text(encoding="utf-8")
    assert '<script src="../assets/vega.js"></script>' in page


def test_a_build_that_changes_nothing_renders_no_chart_again(tmp_path, monkeypatch):
    build_site(ROOT, tmp_path / "first")

    def fail(*args, **kwargs):
        raise AssertionError("a cached chart was rendered again")

    monkeypatch.setattr(charts_module.vlc, "vegalite_to_svg", fail)
    monkeypatch.setattr(charts_module.vlc, "vegalite_to_png", fail)
    build_site(ROOT, tmp_path / "second")
    assert (tmp_path / "second" / "migration" / "charts" / "net-by-county.svg").read_bytes() == \
        (tmp_path / "first" / "migration" / "charts" / "net-by-county.svg").read_bytes()


def test_numbers_in_charts_use_the_page_locale(demo_site):
    svg = (demo_site / "migration" / "charts" / "immigration-emigration.svg").read_text(encoding="utf-8")
    labels = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert "10\u00a0000" in labels and "\u221210\u00a0000" in labels  # grouped by a no-break space, true minus
    assert not any(re.search(r"[0-9],[0-9]{3}", label) for label in labels)
