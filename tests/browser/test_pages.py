"""Every page of the built site, in a real browser (Debian's Chromium).

Parametrised over every *.html file under the site (archived sub-sites
included); test ids are the paths relative to the site root, e.g.
``test_loads_cleanly[archive/2024/index.html]``.
"""

from __future__ import annotations

import pytest

from . import checks


def _fail(problems: list[str], what: str, page_path: str) -> None:
    if problems:
        pytest.fail(f"{page_path}: {what}:\n  " + "\n  ".join(problems), pytrace=False)


def test_loads_cleanly(page_path, open_page):
    """Desktop (1280 px): HTTP 200, no console error, no uncaught error, no
    request to any host but 127.0.0.1; saves a full-page screenshot."""
    opened = open_page(page_path, viewport=checks.DESKTOP)
    shot = checks.screenshot_path(page_path)
    shot.parent.mkdir(parents=True, exist_ok=True)
    opened.page.screenshot(path=str(shot), full_page=True)
    problems = (
        checks.response_problems(opened.response, opened.url)
        + opened.watcher.error_problems()
        + opened.watcher.external_problems()
    )
    _fail(problems, f"problems while loading (screenshot: {shot})", page_path)


def test_accessibility_axe(page_path, open_page):
    """axe-core: no WCAG 2.1 A/AA violation (plus td-has-header, table-fake-caption)."""
    opened = open_page(page_path, viewport=checks.DESKTOP)
    _fail(checks.axe_problems(opened.page), "axe-core WCAG 2.1 A/AA violations", page_path)


def test_mobile_no_horizontal_scroll(page_path, open_page):
    """375 px wide: no horizontal scroll; saves a full-page -mobile screenshot."""
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


def test_keyboard_details_toggle(page_path, site_root, open_page):
    """Enter on a focused <summary> toggles its <details> (About sections)."""
    if not _markup(site_root, page_path)["details"]:
        pytest.skip("no <details><summary> on this page")
    opened = open_page(page_path)
    summaries = checks.visible_details_summaries(opened.page)
    if not summaries:
        pytest.skip("no visible <details><summary> on this page")
    _fail(checks.details_keyboard_problems(opened.page, summaries), "keyboard: details", page_path)


def test_keyboard_chart_table_toggle(page_path, site_root, open_page):
    """figure.chart [data-toggle="table"]: focusable, and Enter shows the figure's table."""
    if not _markup(site_root, page_path)["chart_toggle"]:
        pytest.skip('no figure.chart with a [data-toggle="table"] control on this page')
    opened = open_page(page_path)
    if opened.page.locator(checks.CHART_TOGGLE_SELECTOR).count() == 0:
        pytest.skip('no figure.chart [data-toggle="table"] in the rendered page')
    _fail(checks.chart_toggle_problems(opened.page), "keyboard: chart/table toggle", page_path)


def test_interactive_chart_renders(page_path, site_root, open_page):
    """A page with figure.chart renders at least one vega-embed chart."""
    if not _markup(site_root, page_path)["chart"]:
        pytest.skip("no figure.chart on this page")
    opened = open_page(page_path)
    problems = checks.chart_render_problems(opened.page) + opened.watcher.error_problems()
    _fail(problems, "interactive chart", page_path)
