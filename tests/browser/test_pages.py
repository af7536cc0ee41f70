"""Every page of the built site, in a real browser (Debian's Chromium).

Parametrised over every *.html file under the site (archived sub-sites
included); test ids are the paths relative to the site root, e.g.
``test_loads_cleanly[archive/2024/index.html]``. Tests are grouped by page;
the tests that only inspect the desktop rendering share one load of the page
(fixture ``desktop``), the mobile and no-JavaScript tests open their own.
Keep the keyboard tests last in this file: they change the page's state.
"""

from __future__ import annotations

import pytest

from . import checks


def _fail(problems: list[str], what: str, page_path: str) -> None:
    if problems:
        pytest.fail(f"{page_path}: {what}:\n  " + "\n  ".join(problems), pytrace=False)


def test_loads_cleanly(page_path, desktop):
    """Desktop (1280 px): HTTP 200, no console error, no uncaught error, no
    request to any host but 127.0.0.1; saves a full-page screenshot."""
    shot = checks.screenshot_path(page_path)
    shot.parent.mkdir(parents=True, exist_ok=True)
    desktop.page.screenshot(path=str(shot), full_page=True)
    problems = (
        checks.response_problems(desktop.response, desktop.url)
        + desktop.watcher.error_problems()
        + desktop.watcher.external_problems()
    )
    _fail(problems, f"problems while loading (screenshot: {shot})", page_path)


def test_accessibility_axe(page_path, desktop):
    """axe-core: no WCAG 2.1 A/AA violation (plus td-has-header, table-fake-caption)."""
    _fail(checks.axe_problems(desktop.page), "axe-core WCAG 2.1 A/AA violations", page_path)


def test_mobile_no_horizontal_scroll(page_path, open_page):
    """375 px wide: a responsive viewport meta and no horizontal scroll;
    saves a full-page -mobile screenshot."""
    opened = open_page(page_path, viewport=checks.MOBILE)
    shot = checks.screenshot_path(page_path, "-mobile")
    shot.parent.mkdir(parents=True, exist_ok=True)
    opened.page.screenshot(path=str(shot), full_page=True)
    problems = checks.viewport_meta_problems(opened.page) + checks.overflow_problems(opened.page)
    _fail(problems, f"mobile layout (screenshot: {shot})", page_path)


def test_without_javascript(page_path, open_page):
    """JavaScript disabled: exactly one <h1>, one non-empty <main>, still no
    request leaving 127.0.0.1 (axe needs JavaScript, so it is not run here)."""
    opened = open_page(page_path, viewport=checks.DESKTOP, javascript=False)
    problems = (
        checks.response_problems(opened.response, opened.url)
        + checks.structure_problems(opened.page)
        + opened.watcher.external_problems()
    )
    _fail(problems, "without JavaScript", page_path)


def _markup(site_root, page_path) -> dict[str, bool]:
    return checks.scan_markup(site_root / page_path)


def test_interactive_chart_renders(page_path, site_root, desktop):
    """A page with figure.chart renders at least one vega-embed chart."""
    if not _markup(site_root, page_path)["chart"]:
        pytest.skip("no figure.chart on this page")
    if 'class="banner archived"' in (site_root / page_path).read_text(encoding="utf-8"):
        pytest.skip("an archived snapshot keeps its static charts only: no script, for the long term")
    _fail(checks.chart_render_problems(desktop.page), "interactive chart", page_path)


def _frozen_before_phone_layouts(site_root, page_path) -> bool:
    """An archived snapshot published before charts had a phone layout: one inline SVG drawn
    for a desktop. It is frozen, so it is never drawn again (README, "Archive")."""
    html = (site_root / page_path).read_text(encoding="utf-8")
    return 'class="banner archived"' in html and 'class="chart-static' not in html


@pytest.mark.parametrize("javascript", [False, True], ids=["no-js", "js"])
@pytest.mark.parametrize("width", checks.CHART_FIT_WIDTHS)
def test_charts_fit_and_text_stays_readable(page_path, site_root, open_page, width, javascript):
    """At 320, 375, 1280 and 1920 px, with JavaScript (the interactive chart) and without (the
    static drawing): no chart is wider than its container, and no chart text is smaller than
    11 CSS px (its font size x the drawing's rendered width / its drawn width)."""
    if not _markup(site_root, page_path)["chart"]:
        pytest.skip("no figure.chart on this page")
    opened = open_page(page_path, viewport={"width": width, "height": 900}, javascript=javascript)
    problems = checks.chart_fit_problems(opened.page) + checks.overflow_problems(opened.page)
    if _frozen_before_phone_layouts(site_root, page_path):
        what = "charts fit (a snapshot frozen before phone layouts: text size not checked)"
    else:
        if javascript:
            problems += checks.chart_render_problems(opened.page)
        problems += checks.chart_text_problems(opened.page)
        what = "charts fit and readable"
    _fail(problems + opened.watcher.error_problems(), f"{what} at {width} px", page_path)


def test_interactive_chart_follows_the_container_width(page_path, site_root, open_page):
    """With JavaScript, the interactive chart draws the desktop layout in a wide window and
    switches to the phone layout when the window becomes a phone's, keeping text at 11 px."""
    if not _markup(site_root, page_path)["chart"] or _frozen_before_phone_layouts(site_root, page_path):
        pytest.skip("no chart drawn in layouts on this page")
    if 'class="banner archived"' in (site_root / page_path).read_text(encoding="utf-8"):
        pytest.skip("an archived snapshot has no script")
    opened = open_page(page_path, viewport=checks.DESKTOP)
    problems = checks.chart_render_problems(opened.page)  # a reader points at each chart
    layouts = "() => [...document.querySelectorAll('figure.chart .chart-interactive')].map(e => e.dataset.layout)"
    wide = opened.page.evaluate(layouts)
    opened.page.set_viewport_size(checks.MOBILE)
    try:
        opened.page.wait_for_function(
            "() => [...document.querySelectorAll('figure.chart .chart-interactive')]"
            ".every(e => e.dataset.layout === 'narrow')", timeout=checks.CHART_RENDER_TIMEOUT_MS)
    except Exception:  # noqa: BLE001 - reported below
        pass
    narrow = opened.page.evaluate(layouts)
    figures = opened.page.locator("figure.chart").count()
    if wide != ["wide"] * figures or narrow != ["narrow"] * figures:
        problems.append(f"layouts drawn: {wide} at 1280 px, {narrow} after resizing to 375 px")
    problems += checks.chart_text_problems(opened.page) + checks.chart_fit_problems(opened.page)
    _fail(problems + opened.watcher.error_problems(), "interactive chart after a resize", page_path)


@pytest.mark.parametrize("javascript", [False, True], ids=["no-js", "js"])
def test_print_uses_the_desktop_drawing(page_path, site_root, open_page, javascript):
    """Printed from a phone, with or without JavaScript: each chart is the desktop drawing."""
    if not _markup(site_root, page_path)["chart"] or _frozen_before_phone_layouts(site_root, page_path):
        pytest.skip("no chart drawn in layouts on this page")
    opened = open_page(page_path, viewport=checks.MOBILE, javascript=javascript)
    opened.page.emulate_media(media="print")
    shown = [d["what"] for d in checks.chart_text_sizes(opened.page)]
    figures = opened.page.locator("figure.chart").count()
    wide = [what for what in shown if what.endswith(".svg") and not what.endswith("-narrow.svg")]
    if len(wide) != figures or len(shown) != figures:
        pytest.fail(f"{page_path}: in print, {figures} charts show {shown}, expected the desktop drawing of each",
                    pytrace=False)


def _new_errors(watcher: checks.Watcher, before: int) -> list[str]:
    return watcher.error_problems()[before:]


def test_keyboard_details_toggle(page_path, site_root, desktop):
    """Enter on a focused <summary> toggles its <details> (About sections)."""
    if not _markup(site_root, page_path)["details"]:
        pytest.skip("no <details><summary> on this page")
    summaries = checks.visible_details_summaries(desktop.page)
    if not summaries:
        pytest.skip("no visible <details><summary> on this page")
    errors_before = len(desktop.watcher.error_problems())
    problems = checks.details_keyboard_problems(desktop.page, summaries)
    _fail(problems + _new_errors(desktop.watcher, errors_before), "keyboard: details", page_path)


def test_keyboard_chart_table_toggle(page_path, site_root, desktop):
    """figure.chart [data-toggle="table"]: focusable, and Enter shows the figure's table."""
    if not _markup(site_root, page_path)["chart_toggle"]:
        pytest.skip('no figure.chart with a [data-toggle="table"] control on this page')
    if desktop.page.locator(checks.CHART_TOGGLE_SELECTOR).count() == 0:
        pytest.skip('no figure.chart [data-toggle="table"] in the rendered page')
    errors_before = len(desktop.watcher.error_problems())
    problems = checks.chart_toggle_problems(desktop.page)
    _fail(problems + _new_errors(desktop.watcher, errors_before), "keyboard: chart/table toggle", page_path)
