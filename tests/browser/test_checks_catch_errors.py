"""Tests of the tests: the checks used on the real site must notice broken
pages (and must not complain about a good one).

A small fixture site is written to a temporary directory: good.html does
everything right, bad.html does many things wrong. Both are run through the
very functions test_pages.py and test_html_valid.py use (tests/browser/checks.py).
"""

from __future__ import annotations

import pytest

from . import checks

HEAD = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
{viewport}
<title>{title}</title>
<link rel="icon" href="data:,">
{extra}
</head>
"""

TABLE_ROWS = "".join(
    f"<tr><td>{r}</td><td>{r * 10}</td><td>{r * 20}</td><td>{r * 30}</td></tr>" for r in range(1, 5)
)

GOOD = HEAD.format(
    viewport='<meta name="viewport" content="width=device-width, initial-scale=1">',
    title="Good page",
    extra="<style>body{font-family:sans-serif;max-width:60rem;margin:0 auto;padding:0 1rem}"
          "figure.chart svg{max-width:100%;height:auto}</style>",
) + """<body>
<header><p><a href="good.html">Statistics home</a></p></header>
<main>
<h1>Population estimates</h1>
<p>Population grew by 0.4% in the year to June.</p>
<figure class="chart" id="fig-pop">
  <figcaption>Population by year</figcaption>
  <div class="chart-view"></div>
  <button type="button" data-toggle="table" aria-expanded="false" aria-controls="tbl-pop">Show as table</button>
  <table id="tbl-pop" hidden>
    <caption>Population by year (thousands)</caption>
    <thead><tr><th scope="col">Year</th><th scope="col">Population</th></tr></thead>
    <tbody><tr><th scope="row">2023</th><td>5,120</td></tr>
           <tr><th scope="row">2024</th><td>5,141</td></tr></tbody>
  </table>
</figure>
<details>
  <summary>About these statistics</summary>
  <p>Estimates are based on the census and registrations.</p>
</details>
</main>
<footer><p>Official statistics</p></footer>
<script>
  // Stand-in for vega-embed: marks the container and draws an SVG.
  const view = document.querySelector('figure.chart .chart-view');
  view.classList.add('vega-embed');
  view.innerHTML = '<svg role="img" aria-label="Population by year" width="300" height="100"><rect width="300" height="100" fill="#ccc"></rect><text x="4" y="20" font-size="18">2024</text></svg>';
  for (const b of document.querySelectorAll('figure.chart [data-toggle="table"]')) {
    b.addEventListener('click', () => {
      const t = document.getElementById(b.getAttribute('aria-controls'));
      const show = t.hidden;
      t.hidden = !show;
      b.setAttribute('aria-expanded', String(show));
      b.textContent = show ? 'Show as chart' : 'Show as table';
    });
  }
</script>
</body>
</html>
"""

BAD = HEAD.format(
    viewport="",  # no viewport meta
    title="Bad page",
    extra='<script src="https://cdn.example.com/x.js"></script>',
) + f"""<body>
<main>
<h1>Broken page</h1>
<h1>A second h1</h1>
<img src="data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///ywAAAAAAQABAAACAUwAOw==" width="40" height="40">
<table>{TABLE_ROWS}</table>
<p id="dup">one</p>
<p id="dup">two</p>
<foo>unknown element</foo>
<div style="width:1200px">far too wide</div>
<figure class="chart">
  <div data-toggle="table">Show as table</div>
  <table hidden><tr><th>Year</th></tr><tr><td>2024</td></tr></table>
</figure>
<details>
  <summary onkeydown="event.preventDefault()">About these statistics</summary>
  <p>Enter is swallowed.</p>
</details>
</main>
<script>
  console.error("boom");
  throw new Error("kaboom");
</script>
</body>
</html>
"""


# A desktop drawing only, 1000 px wide with 10 px text, shrunk into a phone; and an inline chart
# wider than its container.
DESKTOP_SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="1000" height="200" viewBox="0 0 1000 200">'
               '<g font-size="10px"><text x="10" y="20">Oslo</text></g><text x="10" y="60" style="font-size: 14px">'
               'Title</text></svg>')
SHRUNK = HEAD.format(
    viewport='<meta name="viewport" content="width=device-width, initial-scale=1">',
    title="Shrunk chart",
    extra="<style>.chart-view img { max-width: 100%; height: auto; display: block; }</style>",
) + """<body>
<main>
<h1>Shrunk chart</h1>
<figure class="chart" id="chart-shrunk"><div class="chart-view"><img src="desktop.svg" width="1000" height="200" alt="A chart"></div></figure>
<figure class="chart" id="chart-wide"><div class="chart-view"><svg width="1200" height="50" role="img" aria-label="Wide"><text x="4" y="20" font-size="12">2024</text></svg></div></figure>
</main>
</body>
</html>
"""


@pytest.fixture(scope="module")
def fixture_site(tmp_path_factory):
    root = tmp_path_factory.mktemp("fixture-site")
    (root / "good.html").write_text(GOOD, encoding="utf-8")
    (root / "shrunk.html").write_text(SHRUNK, encoding="utf-8")
    (root / "desktop.svg").write_text(DESKTOP_SVG, encoding="utf-8")
    (root / "bad.html").write_text(BAD, encoding="utf-8")
    (root / "archive" / "2020").mkdir(parents=True)
    (root / "archive" / "2020" / "index.html").write_text(GOOD, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def fixture_url(fixture_site):
    with checks.serve(fixture_site) as url:
        yield url


@pytest.fixture
def open_fixture(open_url, fixture_url):
    def _open(name, **kwargs):
        return open_url(checks.page_url(fixture_url, name), **kwargs)

    return _open


# -- no false positives -----------------------------------------------------

def test_good_page_passes_every_check(open_fixture):
    desktop = open_fixture("good.html")
    page = desktop.page
    assert checks.response_problems(desktop.response, desktop.url) == []
    assert checks.axe_problems(page) == []
    assert checks.chart_render_problems(page) == []
    assert checks.details_keyboard_problems(page) == []
    assert checks.chart_toggle_problems(page) == []
    assert desktop.watcher.error_problems() == []
    assert desktop.watcher.external_problems() == []
    mobile = open_fixture("good.html", viewport=checks.MOBILE)
    assert checks.viewport_meta_problems(mobile.page) == []
    assert checks.overflow_problems(mobile.page) == []
    nojs = open_fixture("good.html", javascript=False)
    assert checks.structure_problems(nojs.page) == []
    narrow = open_fixture("good.html", viewport={"width": 320, "height": 600})
    assert checks.chart_fit_problems(narrow.page) == []
    assert checks.chart_text_problems(narrow.page) == []


# -- broken page: each check must complain ------------------------------------

@pytest.fixture(scope="module")
def bad(browser, fixture_url):
    """bad.html opened once (desktop, JavaScript on) for the tests below."""
    url = checks.page_url(fixture_url, "bad.html")
    context, page, watcher = checks.new_page(browser)
    response = checks.load(page, url)
    yield checks.Opened(url, page, watcher, response, context)
    context.close()


def test_detects_console_and_page_errors(bad):
    problems = "\n".join(bad.watcher.error_problems())
    assert "boom" in problems
    assert "kaboom" in problems


def test_detects_external_request(bad):
    assert "https://cdn.example.com/x.js" in bad.watcher.external_requests
    assert any("cdn.example.com" in p for p in bad.watcher.external_problems())


def test_axe_detects_violations(bad):
    ids = {v["id"] for v in checks.axe_violations(bad.page)}
    assert "image-alt" in ids
    assert ids & {"td-has-header", "table-fake-caption", "th-has-data-cells"}, ids
    text = "\n".join(checks.format_axe(checks.axe_violations(bad.page)))
    assert "image-alt" in text and "img" in text  # id and the offending node's target


def test_detects_horizontal_scroll_and_missing_viewport(open_fixture):
    mobile = open_fixture("bad.html", viewport=checks.MOBILE)
    assert checks.overflow_problems(mobile.page)
    assert checks.viewport_meta_problems(mobile.page)


def test_detects_structure_problems_without_js(open_fixture):
    nojs = open_fixture("bad.html", javascript=False)
    problems = checks.structure_problems(nojs.page)
    assert any("exactly one <h1>, found 2" in p for p in problems), problems


def test_detects_keyboard_problems(bad):
    details = checks.details_keyboard_problems(bad.page)
    assert any("did not toggle" in p for p in details), details
    toggle = checks.chart_toggle_problems(bad.page)
    assert any("expected <button> or <summary>" in p for p in toggle), toggle
    assert any("cannot take keyboard focus" in p for p in toggle), toggle


def test_detects_unrendered_chart(bad):
    assert checks.chart_render_problems(bad.page, timeout_ms=300)


@pytest.mark.parametrize("javascript", [False, True])
def test_detects_shrunk_chart_text_and_a_chart_wider_than_its_container(open_fixture, javascript):
    phone = open_fixture("shrunk.html", viewport=checks.MOBILE, javascript=javascript)
    sizes = {d["figure"]: d for d in checks.chart_text_sizes(phone.page)}
    shown = phone.page.locator("#chart-shrunk img").bounding_box()["width"]
    assert shown < 375
    assert sizes["chart-shrunk"]["px"] == pytest.approx(10 * shown / 1000, abs=0.01)  # 10 px drawn 1000 px wide
    assert sizes["chart-shrunk"]["texts"] == 2 and sizes["chart-shrunk"]["smallest"] == "Oslo"
    problems = checks.chart_text_problems(phone.page)
    assert any("chart-shrunk" in p and "desktop.svg" in p and "below 11 px" in p for p in problems), problems
    fit = checks.chart_fit_problems(phone.page)
    assert any("chart-wide" in p and "1200 px wide" in p for p in fit), fit
    assert not any("chart-shrunk" in p for p in fit)
    desktop = open_fixture("shrunk.html", viewport={"width": 1920, "height": 900}, javascript=javascript)
    assert checks.chart_text_sizes(desktop.page)[0]["px"] == 10.0  # not shrunk, but still too small
    assert any("chart-shrunk" in p for p in checks.chart_text_problems(desktop.page))


def test_vnu_detects_invalid_html(fixture_site):
    errors = checks.run_vnu(fixture_site)
    assert errors
    # good.html and archive/2020/index.html are in the same run: no false positives.
    assert {e["file"] for e in errors} == {"bad.html"}
    messages = "\n".join(e["message"] for e in errors)
    assert "Duplicate ID" in messages
    assert all(isinstance(e["line"], int) for e in errors)


# -- discovery and naming --------------------------------------------------------

def test_discovery_and_markup_scan(fixture_site):
    assert checks.discover_pages(fixture_site) == ["archive/2020/index.html", "bad.html", "good.html", "shrunk.html"]
    assert checks.scan_markup(fixture_site / "good.html") == {
        "details": True, "chart": True, "chart_toggle": True,
    }
    assert checks.screenshot_path("archive/2020/index.html", "-mobile").name == "archive_2020_index-mobile.png"
    assert checks.is_local("http://127.0.0.1:8000/x.css")
    assert checks.is_local("data:,")
    assert not checks.is_local("https://cdn.example.com/x.js")
    assert not checks.is_local("http://localhost:8000/")
