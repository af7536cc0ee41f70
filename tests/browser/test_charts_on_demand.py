"""Interactive charts on demand (issue #18): what a reader on a phone must not pay for, and what
a reader who asks for interaction must still get. Speed itself is measured by Lighthouse in the
bench (bench/bench_lighthouse.py, docs/benchmarks.md); these are the structural parts that could
otherwise regress silently."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from . import checks

STATISTIC_PAGES = ("migration/index.html", "naturalisations/index.html")

# Every layout shift since the page started, including those right after an input: replacing the
# static chart must move nothing, whatever the reason.
LAYOUT_SHIFTS_JS = """
() => new Promise(resolve => {
  let total = 0;
  new PerformanceObserver(list => {
    for (const entry of list.getEntries()) total += entry.value;
  }).observe({type: 'layout-shift', buffered: true});
  requestAnimationFrame(() => requestAnimationFrame(() => resolve(total)));
})
"""

BOXES_JS = """
() => [...document.querySelectorAll('figure.chart')].map(f => {
  const shown = [...f.querySelectorAll('img.chart-static')].find(i => i.offsetWidth > 0);
  const live = f.querySelector('.chart-interactive svg');
  const box = e => { const r = e.getBoundingClientRect();
                     return [Math.round(r.left), Math.round(r.top), Math.round(r.width), Math.round(r.height)]; };
  return {id: f.id, static: shown ? box(shown) : null, interactive: live ? box(live) : null};
})
"""


class Scripts(HTMLParser):
    def __init__(self):
        super().__init__()
        self.scripts, self.in_head = [], False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "head":
            self.in_head = True
        elif tag == "script" and "src" in a:
            self.scripts.append({"src": a["src"], "head": self.in_head, "defer": "defer" in a or "async" in a})

    def handle_endtag(self, tag):
        if tag == "head":
            self.in_head = False


@pytest.fixture
def statistic(request, site_root):
    if not (site_root / request.param).is_file():
        pytest.skip(f"{request.param} not in this site")
    return request.param


def vega_requests(page) -> list[str]:
    return [r for r in page.evaluate("() => performance.getEntriesByType('resource').map(e => e.name)")
            if r.endswith("/vega.js") or r.endswith(".json")]


@pytest.mark.parametrize("statistic", STATISTIC_PAGES, indirect=True)
def test_no_render_blocking_script_and_no_vega_in_the_page(site_root, statistic):
    parser = Scripts()
    parser.feed((site_root / statistic).read_text(encoding="utf-8"))
    assert parser.scripts, "the page has no script: the interactive chart cannot work"
    assert not [s for s in parser.scripts if s["head"] and not s["defer"]], "a script blocks rendering"
    assert not [s for s in parser.scripts if "vega" in s["src"]], "the page itself loads Vega"
    charts_js = [s for s in parser.scripts if s["src"].endswith("charts.js")]
    assert charts_js and charts_js[0]["defer"]
    html = (site_root / statistic).read_text(encoding="utf-8")
    assert "chart-spec" not in html and '"datasets"' not in html  # the data is in the table only


@pytest.mark.parametrize("statistic", STATISTIC_PAGES, indirect=True)
def test_vega_loads_only_when_a_reader_points_at_a_chart_and_nothing_moves(open_url, site_url, statistic):
    opened = open_url(checks.page_url(site_url, statistic), viewport=checks.MOBILE)
    page = opened.page
    page.wait_for_load_state("networkidle")
    page.mouse.wheel(0, 3000)  # scrolled past every chart: still nothing
    page.wait_for_load_state("networkidle")
    assert vega_requests(page) == []
    assert page.locator(".chart-interactive").count() == 0
    page.mouse.wheel(0, -10000)
    checks.activate_charts(page)
    assert any(r.endswith("/assets/vega.js") for r in vega_requests(page))
    boxes = page.evaluate(BOXES_JS)
    for b in boxes:
        assert b["interactive"] is not None, b["id"]
        assert b["interactive"] == b["static"], f"{b['id']}: the interactive chart is not in the static one's box"
    assert page.evaluate(LAYOUT_SHIFTS_JS) == 0
    assert opened.watcher.error_problems() == []


@pytest.mark.parametrize("statistic", STATISTIC_PAGES, indirect=True)
def test_the_interactive_chart_shows_a_tooltip_on_hover(open_url, site_url, statistic):
    opened = open_url(checks.page_url(site_url, statistic), viewport=checks.DESKTOP)
    page = opened.page
    checks.activate_charts(page)
    for figure in page.locator("figure.chart").all():
        text = checks.tooltip_on(page, figure)
        assert "Category" in text and "Value" in text, text
        page.mouse.move(0, 0)
    assert opened.watcher.error_problems() == []
    assert checks.axe_problems(page) == []  # the interactive charts are as accessible as the page


@pytest.mark.parametrize("statistic", STATISTIC_PAGES, indirect=True)
def test_the_keyboard_reaches_the_interactive_chart(open_url, site_url, statistic):
    opened = open_url(checks.page_url(site_url, statistic), viewport=checks.MOBILE)
    page = opened.page
    button = page.locator("figure.chart .chart-explore").first
    # Tab from the element before the chart reaches its button, which then shows
    page.locator("figure.chart").first.evaluate(
        "f => { const a = document.createElement('a'); a.href = '#'; a.id = 'before-chart'; a.textContent = 'x';"
        " f.before(a); }")
    page.focus("#before-chart")
    page.keyboard.press("Tab")
    assert button.evaluate("b => b === document.activeElement"), page.evaluate("() => document.activeElement.outerHTML.slice(0, 200)")
    box = button.bounding_box()
    assert box["width"] > 20 and box["height"] > 10, "the focused button is not visible"
    page.keyboard.press("Enter")
    figure = page.locator("figure.chart").first
    figure.locator(".chart-interactive svg").wait_for(timeout=checks.CHART_RENDER_TIMEOUT_MS)
    page.wait_for_function("() => document.activeElement.classList.contains('chart-interactive')",
                           timeout=checks.CHART_RENDER_TIMEOUT_MS)
    assert button.is_hidden()
    assert opened.watcher.error_problems() == []


# The budget of issue #18 for what a phone downloads of a statistic page before the reader asks for
# interaction, uncompressed (a server sending the .gz or .br copies sends far less).
PHONE_BUDGET_BYTES = 200 * 1024

DOWNLOADED_JS = """
() => performance.getEntriesByType('navigation')[0].decodedBodySize +
      performance.getEntriesByType('resource').reduce((sum, e) => sum + e.decodedBodySize, 0)
"""


@pytest.mark.parametrize("statistic", STATISTIC_PAGES, indirect=True)
def test_a_phone_reading_the_whole_page_downloads_at_most_200_kib(open_url, site_url, statistic):
    opened = open_url(checks.page_url(site_url, statistic), viewport=checks.MOBILE)
    page = opened.page
    height = page.evaluate("() => document.documentElement.scrollHeight")
    for y in range(0, height, 400):  # every part of the page on screen once, every drawing fetched
        page.evaluate(f"() => window.scrollTo(0, {y})")
        page.wait_for_load_state("networkidle")
    # and each chart on screen once more: a browser starved of processor time (a clean-clone run
    # beside two builds) once scrolled past the first chart before it asked for its drawing
    for figure in page.locator("figure.chart").all():
        figure.scroll_into_view_if_needed()
        page.wait_for_load_state("networkidle")
    # a lazy drawing's fetch may start a moment after the scroll that reveals it: wait for it
    # (at most the chart timeout), then count what was fetched
    figures = page.locator("figure.chart").count()
    try:
        page.wait_for_function(
            "n => performance.getEntriesByType('resource').filter(e => e.name.endsWith('.svg')).length >= n",
            arg=figures, timeout=checks.CHART_RENDER_TIMEOUT_MS)
    except PlaywrightTimeout:
        pass  # the assertion below says what is missing
    drawings = [r for r in page.evaluate("() => performance.getEntriesByType('resource').map(e => e.name)")
                if r.endswith(".svg")]
    assert len(drawings) == page.locator("figure.chart").count()  # the phone's drawing of each, only
    assert all(r.endswith("-narrow.svg") for r in drawings)
    assert vega_requests(page) == []
    assert page.evaluate(DOWNLOADED_JS) <= PHONE_BUDGET_BYTES


@pytest.mark.parametrize("statistic", STATISTIC_PAGES, indirect=True)
def test_the_interactive_chart_works_under_the_pages_own_csp(browser, site_url, statistic):
    """The other tests bypass the Content-Security-Policy (axe needs that). Here it holds, as for
    a reader: Vega must interpret expressions (no eval) and load nothing from elsewhere."""
    context = browser.new_context(viewport=checks.DESKTOP, service_workers="block")
    try:
        watcher = checks.Watcher()
        watcher.attach_context(context)
        page = context.new_page()
        watcher.attach_page(page)
        page.goto(checks.page_url(site_url, statistic), wait_until="load")
        checks.activate_charts(page)
        assert page.locator("figure.chart.interactive .chart-interactive svg").count() == \
            page.locator("figure.chart").count()
        assert watcher.error_problems() == [] and watcher.external_problems() == []
    finally:
        context.close()
