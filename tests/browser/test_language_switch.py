"""The language switcher in a real browser: by keyboard and mouse, to the same page in the other
language, and back."""

from __future__ import annotations

import pytest

from . import checks

PAGES = ["index.html", "migration/index.html", "calendar/index.html", "archive/index.html"]


@pytest.mark.parametrize("page", PAGES)
def test_the_switcher_leads_to_the_same_page_in_the_other_language_and_back(page, site_root, open_page):
    if not (site_root / "nb" / page).is_file():
        pytest.skip("the site has no Norwegian pages")
    opened = open_page(page, viewport=checks.MOBILE)
    p = opened.page
    assert p.locator("html").get_attribute("lang") == "en"
    link = p.get_by_role("navigation", name="Language").get_by_role("link", name="Norsk bokmål")
    link.focus()
    with p.expect_navigation():
        p.keyboard.press("Enter")
    assert p.url.endswith("/nb/" + page)
    assert p.locator("html").get_attribute("lang") == "nb"
    with p.expect_navigation():
        p.get_by_role("navigation", name="Språk").get_by_role("link", name="English").click()
    assert p.url.endswith("/" + page) and "/nb/" not in p.url
    assert opened.watcher.error_problems() == [] and opened.watcher.external_problems() == []
