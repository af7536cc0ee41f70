"""Pages built from hostile content, in Chromium: every text field a user writes carries a script,
an event handler and a '<!--' (tests/hostile.py). Nothing runs, nothing is blocked by the
Content-Security-Policy that the site needs, and every page is whole, down to its footer."""

from __future__ import annotations

import pytest

from conftest import build_site
from hostile import FIELDS, make_hostile

from . import checks

PAGES = ["naturalisations/index.html", "migration/index.html", "calendar/index.html",
         "archive/index.html", "index.html"]


@pytest.fixture
def hostile_site(project, tmp_path):
    make_hostile(project)
    build_site(project, tmp_path / "site")
    return tmp_path / "site"


@pytest.mark.parametrize("enforce_csp", [False, True], ids=["escaping-alone", "with-csp"])
def test_hostile_content_runs_nothing_and_the_page_stays_whole(browser, hostile_site, enforce_csp):
    with checks.serve(hostile_site) as url:
        context = browser.new_context(viewport=checks.DESKTOP, bypass_csp=not enforce_csp,
                                      service_workers="block")
        watcher = checks.Watcher()
        watcher.attach_context(context)
        dialogs, shown = [], set()
        try:
            for rel in PAGES:
                page = context.new_page()
                watcher.attach_page(page)
                page.on("dialog", lambda d: (dialogs.append(f"{rel}: {d.message}"), d.dismiss()))
                checks.load(page, checks.page_url(url, rel))
                page.mouse.move(300, 300)  # over the page: an onmouseover would fire
                assert page.locator("footer.site-footer").is_visible(), f"{rel}: the page ends early"
                assert page.locator("main h1").count() == 1, rel
                text = page.locator("body").inner_text()
                shown |= {tag for tag in [*FIELDS, "about"] if f"Z{tag}Z<script>" in text}
                if rel == "naturalisations/index.html":
                    assert checks.chart_render_problems(page) == [], "charts must stay interactive"
                page.close()
        finally:
            context.close()
    assert dialogs == []
    assert watcher.error_problems() == [] and watcher.external_problems() == []
    # each field is on a page, as text (the About text's raw HTML is removed, its text kept)
    assert shown >= set(FIELDS) - {"phone", "key-figure"}, sorted(set(FIELDS) - shown)
