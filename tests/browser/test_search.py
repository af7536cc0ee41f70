"""The offline search (Pagefind) in a real browser: it finds a statistic's words, asks no other
host, and the search box in the header leads to it with and without JavaScript."""

from __future__ import annotations

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from conftest import build_site
from statpress import search

from . import checks

RESULT = ".pagefind-ui__result"
LINK = f"{RESULT} a.pagefind-ui__result-link"  # a result's skeleton shows before its link


def result_links(page, ending: str) -> list[str]:
    """The result links' addresses once one of them ends with `ending`. Pagefind shows each result
    as its page's fragment arrives, in any order, so the list read at the first link may not yet
    hold the one awaited (a CI run read one without migration's page)."""
    try:
        page.wait_for_selector(f'{LINK}[href$="{ending}"]', timeout=10_000)
    except PlaywrightTimeoutError:
        pass  # the assertion that follows names what was found instead
    return page.locator(LINK).evaluate_all("links => links.map(a => a.getAttribute('href'))")


def _fail(problems: list[str], what: str) -> None:
    if problems:
        pytest.fail(f"{what}:\n  " + "\n  ".join(problems), pytrace=False)


def test_search_page_finds_ukraine_in_migration_without_external_requests(open_url, site_url):
    opened = open_url(f"{site_url}/search/index.html?q=Ukraine")  # page_url would quote the "?"
    hrefs = result_links(opened.page, "/migration/index.html")
    assert any(h.endswith("/migration/index.html") for h in hrefs), hrefs
    expect(opened.page.locator(RESULT).first).to_contain_text("Migration")  # ranked first
    _fail(opened.watcher.error_problems() + opened.watcher.external_problems(), "search page")
    _fail(checks.axe_problems(opened.page), "axe-core on the search page with results")
    # the result link leads to the page
    opened.page.locator(f"{RESULT} a.pagefind-ui__result-link").first.click()
    opened.page.wait_for_load_state()
    assert opened.page.url.endswith("migration/index.html") or "migration/index.html#" in opened.page.url


def test_the_norwegian_search_finds_norwegian_pages(open_url, site_url, site_root):
    if not (site_root / "nb" / "search" / "index.html").is_file():
        pytest.skip("the site has no Norwegian pages")
    opened = open_url(f"{site_url}/nb/search/index.html?q=Ukraina")
    hrefs = result_links(opened.page, "nb/migration/index.html")
    assert hrefs and all(h.startswith("/nb/") for h in hrefs), hrefs
    assert any(h.endswith("nb/migration/index.html") for h in hrefs), hrefs
    _fail(opened.watcher.error_problems() + opened.watcher.external_problems(), "Norwegian search page")


def test_header_search_box_leads_to_the_results(open_page):
    opened = open_page("naturalisations/index.html")
    opened.page.fill("#site-search-q", "Ukraine")
    opened.page.press("#site-search-q", "Enter")
    opened.page.wait_for_selector(RESULT, timeout=10_000)
    assert "search/index.html?q=Ukraine" in opened.page.url
    _fail(opened.watcher.error_problems() + opened.watcher.external_problems(), "header search")


def test_without_javascript_the_search_box_is_a_plain_form(open_page):
    opened = open_page("migration/index.html", javascript=False)
    opened.page.fill("#site-search-q", "Ukraine")
    opened.page.press("#site-search-q", "Enter")
    opened.page.wait_for_load_state()
    assert "search/index.html?q=Ukraine" in opened.page.url
    assert "Search needs JavaScript" in opened.page.inner_text("main")
    _fail(opened.watcher.external_problems(), "search without JavaScript")


def test_a_search_finds_pages_in_every_part_of_the_index(open_url, project, tmp_path, monkeypatch):
    """One part per statistic: migration's pages in pagefind/, naturalisations' in pagefind/part-1/,
    merged by the search page; a word of each statistic finds its page."""
    monkeypatch.setattr(search, "STATISTICS_PER_PART", 1)
    build_site(project, tmp_path / "site")
    assert (tmp_path / "site" / "pagefind" / "part-1" / "pagefind-entry.json").is_file()
    with checks.serve(tmp_path / "site") as url:
        for word, page in (("Ukraine", "migration/index.html"), ("citizenship", "naturalisations/index.html")):
            opened = open_url(f"{url}/search/index.html?q={word}")
            hrefs = result_links(opened.page, page)
            assert any(h.endswith(page) for h in hrefs), (word, hrefs)
            _fail(opened.watcher.error_problems() + opened.watcher.external_problems(), f"search for {word}")
