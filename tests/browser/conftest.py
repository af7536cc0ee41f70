"""Fixtures for the browser suite: one Chromium for the whole session, the
built site served on 127.0.0.1, one shared desktop load per page (`desktop`)
and fresh browser contexts on demand (`open_page`, `open_url`).
See docs/testing.md.

The site under test is site/ at the repo root, or $STATPRESS_SITE.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from . import checks

MISSING_SITE = "<no site: run make build first>"


def site_pages() -> list[str]:
    """Pages to parametrise over, discovered at collection time. When the site
    has not been built, one placeholder so that the tests fail (not vanish)."""
    root = checks.site_dir()
    if not (root / "index.html").is_file():
        return [MISSING_SITE]
    return checks.discover_pages(root)


def pytest_generate_tests(metafunc):
    if "page_path" in metafunc.fixturenames:
        pages = site_pages()
        # Module scope: pytest then groups the tests by page, so the shared
        # desktop load (fixture `desktop`) happens once per page.
        metafunc.parametrize("page_path", pages, ids=pages, scope="module")


@pytest.fixture(scope="session")
def site_root():
    root = checks.site_dir()
    if not (root / "index.html").is_file():
        pytest.fail(
            f"no built site: {root}/index.html does not exist; run make build first"
            " (or point STATPRESS_SITE at a built site)",
            pytrace=False,
        )
    return root


@pytest.fixture(scope="session")
def site_url(site_root):
    with checks.serve(site_root) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    if not checks.CHROMIUM.exists():
        pytest.fail(f"{checks.CHROMIUM} not found: {checks.INSTALL_HINT}", pytrace=False)
    with sync_playwright() as playwright:
        browser = checks.launch_browser(playwright)
        yield browser
        browser.close()


@pytest.fixture
def open_url(browser):
    """open_url(url, viewport=..., javascript=True) -> checks.Opened. Each call gets a
    fresh context with the network guard and error watchers; all are closed
    when the test ends."""
    contexts = []

    def _open(url, *, viewport=checks.DESKTOP, javascript=True) -> checks.Opened:
        context, page, watcher = checks.new_page(browser, viewport=viewport, javascript=javascript)
        contexts.append(context)
        response = checks.load(page, url, javascript=javascript)
        return checks.Opened(url, page, watcher, response, context)

    yield _open
    for context in contexts:
        context.close()


@pytest.fixture
def open_page(open_url, site_url):
    """open_page(rel_path, viewport=..., javascript=True): open_url for a page of the site."""

    def _open(rel_path, **kwargs) -> checks.Opened:
        return open_url(checks.page_url(site_url, rel_path), **kwargs)

    return _open


@pytest.fixture(scope="module")
def desktop(browser, site_url, page_path):
    """The page opened once at 1280 px with JavaScript, shared by the tests of
    test_pages.py that only look at it (load errors, axe, chart, keyboard).
    Those tests run in file order for each page; the keyboard ones come last
    because they change the page's state."""
    url = checks.page_url(site_url, page_path)
    context, page, watcher = checks.new_page(browser, viewport=checks.DESKTOP)
    try:
        response = checks.load(page, url)
        yield checks.Opened(url, page, watcher, response, context)
    finally:
        context.close()
