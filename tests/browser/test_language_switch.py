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


def test_the_interactive_chart_speaks_the_pages_language_and_agrees_with_the_static_one(site_root, open_page):
    """On a Norwegian page the interactive chart's axes carry exactly the static drawing's labels
    ("−2 000", "Oslo") and its tooltip is in bokmål with a Norwegian number."""
    import re

    page_path = "nb/migration/index.html"
    if not (site_root / page_path).is_file():
        pytest.skip("the site has no Norwegian pages")
    opened = open_page(page_path, viewport=checks.DESKTOP)
    p = opened.page
    checks.activate_charts(p)
    for figure in p.locator("figure.chart").all():
        live = figure.locator(".chart-interactive svg .role-axis-label text").all_text_contents()
        src = figure.locator("img.chart-static").first.get_attribute("src")
        static = (site_root / "nb" / "migration" / src).read_text(encoding="utf-8")
        drawn = re.findall(r'<g class="mark-text role-axis-label"[^>]*>(.*?)</g>', static, flags=re.S)
        static_labels = [t for g in drawn for t in re.findall(r"<text[^>]*>([^<]*)</text>", g)]
        assert live and sorted(live) == sorted(static_labels), (live, static_labels)
        assert any("\u2212" in t or "\u00a0" in t for t in live)
    text = checks.tooltip_on(p, p)
    assert "Kategori" in text and "Verdi" in text, text
    assert re.search(r"\d[\u00a0 ]\d{3}", text) and not re.search(r"\d,\d{3}", text), text
