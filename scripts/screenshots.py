"""`make screenshots`: current pictures of the index and each statistic page, desktop and
mobile, and of each chart's phone layout (375 px, with and without JavaScript), into
docs/screenshots/ (shown in the README). Uses the browser suite's own helpers."""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from browser import checks  # noqa: E402

PAGES = {"index": "index.html", "migration": "migration/index.html", "naturalisations": "naturalisations/index.html",
         "calendar": "calendar/index.html"}
CHART_PAGES = ("migration", "naturalisations")


def main() -> int:
    out = ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    with checks.serve(ROOT / "site") as url, sync_playwright() as playwright:
        browser = checks.launch_browser(playwright)
        for name, path in PAGES.items():
            for label, viewport in (("desktop", checks.DESKTOP), ("mobile", checks.MOBILE)):
                context, page, _ = checks.new_page(browser, viewport=viewport)
                checks.load(page, checks.page_url(url, path))
                checks.settle(page)
                target = out / f"{name}-{label}.png"
                # the top of the page as a reader first sees it, at a size fit for the README
                page.screenshot(path=str(target), full_page=False, clip=None)
                context.close()
                print(f"wrote {target.relative_to(ROOT)}")
        for name in CHART_PAGES:
            for label, javascript in (("static", False), ("interactive", True)):
                context, page, _ = checks.new_page(browser, viewport=checks.MOBILE, javascript=javascript)
                checks.load(page, checks.page_url(url, PAGES[name]), javascript=javascript)
                if javascript:
                    checks.activate_charts(page)  # interactive once a reader points at a chart
                    page.mouse.move(0, 0)
                figures = page.locator("figure.chart")
                for i in range(figures.count()):
                    chart_id = figures.nth(i).get_attribute("id").removeprefix("chart-")
                    target = out / f"{name}-{chart_id}-phone-{label}.png"
                    figures.nth(i).screenshot(path=str(target))
                    print(f"wrote {target.relative_to(ROOT)}")
                context.close()
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
