"""vl-convert called in a process of its own (drawing.Helper) draws what it draws in the build's."""

from __future__ import annotations

import pytest

from conftest import build_site
from statpress import drawing
from statpress.errors import BuildError

SPEC = {"mark": "bar", "data": {"values": [{"k": "a", "v": 1}, {"k": "b", "v": 3}]},
        "encoding": {"x": {"field": "k", "type": "nominal"}, "y": {"field": "v", "type": "quantitative"}}}


def test_the_helper_draws_the_same_bytes_as_the_build_itself():
    with drawing.Helper() as helper:
        asked = {kind: helper.draw(kind, SPEC) for kind in ("svg+png", "svg", "vega")}
        answers = {kind: future.result(timeout=60) for kind, future in asked.items()}
    here = drawing.InProcess()
    for kind, answer in answers.items():
        assert answer == here.draw(kind, SPEC).result()
    svg, png = answers["svg+png"]
    assert svg.startswith("<svg") and png.startswith(b"\x89PNG") and answers["svg"] == (svg, None)


def test_a_spec_vl_convert_refuses_is_an_error_naming_it_and_the_helper_goes_on():
    with drawing.Helper() as helper:
        bad = helper.draw("svg", {"mark": "no-such-mark", "data": {"values": []}})
        good = helper.draw("svg", SPEC)
        with pytest.raises(BuildError) as refused:
            bad.result(timeout=60)
        assert str(refused.value).startswith("vl-convert could not draw it: Vega-Lite to SVG conversion failed: ")
        assert " at " not in str(refused.value)  # the JavaScript stack is left out
        with pytest.raises(BuildError) as here:
            drawing.InProcess().draw("svg", {"mark": "no-such-mark", "data": {"values": []}}).result()
        assert str(here.value) == str(refused.value)
        assert good.result(timeout=60)[0].startswith("<svg")


def test_a_helper_that_dies_fails_what_waits_for_it_with_the_reason():
    with drawing.Helper() as helper:
        helper.start()
        asked = helper.draw("svg", SPEC)
        helper.process.kill()  # as the machine might
        for future in (asked, helper.draw("svg", SPEC)):  # asked before it died, and after
            with pytest.raises(BuildError, match="the process drawing the charts stopped: "):
                future.result(timeout=60)


def test_a_build_draws_and_lays_out_its_charts_outside_its_own_interpreter(project, monkeypatch):
    """vl-convert holds the interpreter while it draws, and loading Altair and laying out the charts
    took the build half a second: the build asks a process of its own for each chart, whole."""
    from statpress import vegalite

    def fail(*args, **kwargs):
        raise AssertionError("a chart was drawn or laid out in the build's own process")

    monkeypatch.setattr(drawing, "call", fail)  # the helper process is not patched
    monkeypatch.setattr(vegalite, "vega_lite", fail)
    build_site(project, project / "site")  # a new project: no chart is cached
    svg = (project / "site" / "migration" / "charts" / "net-by-county.svg").read_text(encoding="utf-8")
    assert svg.startswith("<svg") and "chart-net-by-county-svg-title" in svg


def test_a_chart_vl_convert_cannot_draw_stops_the_build_naming_it(project, monkeypatch):
    from statpress import vegalite

    # laid out wrong, drawn here: the helper process could not be patched
    monkeypatch.setattr(vegalite, "vega_lite", lambda job, layout: {"mark": "no-such-mark", "data": {"values": []}})
    monkeypatch.setattr(drawing.Helper, "draw", lambda self, kind, job: drawing.InProcess().draw(kind, job))
    with pytest.raises(BuildError) as stopped:
        build_site(project, project / "site")
    assert str(stopped.value).startswith(f"{project / 'stats'}/")
    assert "/tables.toml: chart '" in str(stopped.value) and "': vl-convert could not draw it: " in str(stopped.value)


def test_charts_of_tables_computed_by_the_build_are_drawn_while_it_computes_the_rest(project, monkeypatch):
    """Asked for in the tables stage, drawn on the other core before the pages need them; a
    rebuild that computes no table starts no drawing process at all."""
    from statpress import pages

    events = []
    for name in ("start", "draw"):
        real = getattr(drawing.Helper, name)
        monkeypatch.setattr(drawing.Helper, name,
                            lambda self, *args, real=real, name=name: events.append(name) or real(self, *args))
    render_pages = pages.render_pages
    monkeypatch.setattr(pages, "render_pages", lambda *args: events.append("pages") or render_pages(*args))
    build_site(project, project / "site")
    assert events[0] == "start" and "draw" in events and "draw" not in events[events.index("pages"):]
    events.clear()
    build_site(project, project / "site")  # the tables cached: nothing is computed, nor drawn
    assert events == ["pages"]


def test_each_chart_is_asked_of_the_drawer_whole_when_begun_and_finishing_asks_nothing_more(tmp_path):
    """Begun in two languages, the charts ask the drawer for each chart once, whole (laid out, its
    panels measured and fitted, drawn, compiled): nothing is left for the build to ask while it
    finishes them. Each is what the drawer draws of it, in the language asked."""
    import datetime as dt

    from conftest import ROOT
    from statpress import calendar, charts, publish, vegalite
    from statpress.content import OSLO, load_all
    from statpress.data import load_catalog
    from statpress.locale import load_locale
    from statpress.tables import load_specs

    class Recording(drawing.InProcess):
        def __init__(self):
            self.asked = []

        def draw(self, kind, job):
            self.asked.append((kind, job))
            return super().draw(kind, job)

    catalog = load_catalog(ROOT)
    s = next(s for s in load_all(ROOT / "content") if s.id == "migration")
    release = calendar.due(s, dt.datetime(2026, 6, 2, 9, tzinfo=OSLO))
    computed, _ = publish.compute_release(s, catalog, release)
    path, spec = load_specs(ROOT / "stats", s.id)
    drawer = Recording()
    begun = [charts.begin_charts(path, spec.charts, computed.tables, load_locale(ROOT, lang), release.period,
                                 tmp_path / lang, drawer) for lang in ("en", "nb")]
    assert [kind for kind, _ in drawer.asked] == ["chart"] * 2 * len(spec.charts)
    assert all(type(job.title) is str and all(type(r["series"]) is str for r in job.records)
               for _, job in drawer.asked)  # plain values: the helper loads no content models
    assert {job.tooltip for _, job in drawer.asked} == {
        tuple(load_locale(ROOT, lang).t(f"chart_{w}") for w in ("category", "series", "value")) for lang in ("en", "nb")}
    finished = [underway.finish() for underway in begun]
    assert len(drawer.asked) == 2 * len(spec.charts)
    for (_, job), chart in zip(drawer.asked, [c for charts_of in finished for c in charts_of]):
        drawn = vegalite.draw(job, drawing.call)  # from the cache now, as drawn
        assert [d.png_file for d in chart.drawings] == [drawn.drawings[layout.name][1] for layout in vegalite.LAYOUTS]
        assert chart.title == job.title


def test_a_cold_build_starts_the_drawer_before_loading_the_engine_and_draws_with_it(project, monkeypatch):
    """build.py starts the drawing process before it loads the engine when no chart was drawn yet,
    and the build draws with that one; once charts are cached, it starts only if one must be drawn."""
    from conftest import DEMO_NOW
    from statpress import pipeline

    charts = project / ".cache" / "charts"
    early = drawing.Helper.for_cold_build(charts)
    assert early.process is not None  # nothing drawn yet: started at once
    made = []
    real = drawing.Helper.__init__
    monkeypatch.setattr(drawing.Helper, "__init__", lambda self: made.append(self) or real(self))
    pipeline.build(pipeline.BuildOptions(project, project / "site", DEMO_NOW, allow_withdraw=True), drawer=early)
    assert made == [] and drawing.drawn_before(charts)  # drawn by the one started early
    assert early.process is None  # and stopped by the build
    later = drawing.Helper.for_cold_build(charts)
    assert later.process is None


def test_the_statistic_that_reads_the_least_data_is_computed_first_and_the_site_is_the_same(project, monkeypatch):
    """Its charts are drawn while the build computes the next statistic's tables; the order of
    computing changes nothing in the site."""
    from conftest import DEMO_NOW, digest
    from statpress import pipeline, publish

    order = []
    real = publish.publish
    monkeypatch.setattr(publish, "publish", lambda s, *args: order.append(s.id) or real(s, *args))
    options = dict(now=DEMO_NOW, allow_withdraw=True, use_cache=False)  # every table computed here
    pipeline.build(pipeline.BuildOptions(project, project / "least-first", **options))
    # naturalisations reads 237 273 records (and the population), migration 5.9 million
    assert order == ["naturalisations", "migration"]
    order.clear()
    monkeypatch.setattr(publish, "least_data_first", lambda stats, computing, resources: stats)
    pipeline.build(pipeline.BuildOptions(project, project / "as-listed", **options))
    assert order == ["migration", "naturalisations"]
    assert digest(project / "least-first") == digest(project / "as-listed")


def test_the_pages_of_the_statistic_charted_first_are_made_first_and_the_site_is_the_same(project, monkeypatch):
    """The pages of a statistic whose charts were asked for first are made, in every language,
    while the drawer draws the next one's (pages.statistic_pages), not after them; the order of
    making changes nothing in the site."""
    from conftest import DEMO_NOW, digest
    from statpress import pages, pipeline

    made = []
    of = pages.Pages.of
    monkeypatch.setattr(pages.Pages, "of", lambda self, p, *known: made.append((p.statistic.id, self.lang))
                        or of(self, p, *known))
    options = dict(now=DEMO_NOW, allow_withdraw=True, use_cache=False)  # every chart drawn for this build
    pipeline.build(pipeline.BuildOptions(project, project / "charted-first", **options))
    assert made == [("naturalisations", "en"), ("naturalisations", "nb"), ("migration", "en"), ("migration", "nb")]
    made.clear()
    statistic_pages = pages.statistic_pages
    monkeypatch.setattr(pages, "statistic_pages", lambda by_language, publication, index, drawing, forks:
                        statistic_pages(by_language, publication, index, [], forks))
    pipeline.build(pipeline.BuildOptions(project, project / "as-listed", **options))
    assert made == [("migration", "en"), ("naturalisations", "en"), ("migration", "nb"), ("naturalisations", "nb")]
    assert digest(project / "charted-first") == digest(project / "as-listed")
