"""Reusable checks for the browser test suite.

Everything that decides whether a page is acceptable lives here, so that
test_pages.py / test_html_valid.py (which run the checks on the built site) and
test_checks_catch_errors.py (which proves the checks notice deliberately broken
pages) use exactly the same code.

Each ``*_problems`` function returns a list of human-readable problem strings:
an empty list means the check passed.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterator
from urllib.parse import quote, unquote, urlsplit
from urllib.request import urlopen

from lxml import etree

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = REPO_ROOT / "node_modules"
AXE_JS = NODE_MODULES / "axe-core" / "axe.min.js"
VNU_JAR = NODE_MODULES / "vnu-jar" / "build" / "dist" / "vnu.jar"
CHROMIUM = Path(os.environ.get("STATPRESS_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(os.environ.get("STATPRESS_ARTIFACTS", REPO_ROOT / "test-artifacts"))
SCREENSHOTS = ARTIFACTS / "screenshots"

INSTALL_HINT = "run scripts/install-test-deps.sh (or make test) first"

#: Viewport sizes (CSS px).
DESKTOP = {"width": 1280, "height": 800}
MOBILE = {"width": 375, "height": 740}

#: The only host a page may contact.
ALLOWED_HOSTS = frozenset({"127.0.0.1"})
#: URL schemes that never leave the browser.
LOCAL_SCHEMES = frozenset({"data", "blob", "about", "javascript"})

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    # Without this Chromium still resolves Google's hosts at start-up.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost",
]

#: axe-core options: WCAG 2.1 A and AA, plus two table rules that no tag enables.
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "rules": {
        "td-has-header": {"enabled": True},
        "table-fake-caption": {"enabled": True},
    },
    "resultTypes": ["violations"],
}

#: How long to wait, after the load event, for charts to render (ms).
CHART_RENDER_TIMEOUT_MS = 5000
#: At most this many <details> are exercised per page by the keyboard check.
MAX_DETAILS_PER_PAGE = 20

PAGE_SETTLED_JS = """
() => {
  const figures = document.querySelectorAll('figure.chart');
  if (figures.length === 0) return true;
  // No Vega on the page (yet): nothing to wait for here; chart_render_problems
  // waits on its own if a chart is expected.
  if (typeof window.vegaEmbed === 'undefined' && typeof window.vega === 'undefined') return true;
  const embeds = document.querySelectorAll('figure.chart .vega-embed');
  return embeds.length > 0 &&
         [...embeds].every(e => e.querySelector('svg, canvas') !== null);
}
"""


# --------------------------------------------------------------------------
# The site on disk
# --------------------------------------------------------------------------

def site_dir() -> Path:
    """The built site under test: $STATPRESS_SITE, else site/ at the repo root."""
    env = os.environ.get("STATPRESS_SITE")
    return Path(env).resolve() if env else REPO_ROOT / "site"


def discover_pages(root: Path) -> list[str]:
    """Every *.html file under root (archived sub-sites included), as sorted
    POSIX paths relative to root."""
    if not root.is_dir():
        return []
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.html") if p.is_file())


def page_url(base_url: str, rel_path: str) -> str:
    return f"{base_url}/{quote(rel_path)}"


def screenshot_path(rel_path: str, suffix: str = "") -> Path:
    """test-artifacts/screenshots/<rel path, '/' -> '_', without .html><suffix>.png"""
    stem = rel_path[:-5] if rel_path.endswith(".html") else rel_path
    return SCREENSHOTS / f"{stem.replace('/', '_')}{suffix}.png"


class _MarkupScanner(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found = {"details": False, "chart": False, "chart_toggle": False}
        self._chart_depth = 0  # open <figure> elements, counted from the first figure.chart
        self._in_details = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "figure":
            if self._chart_depth or "chart" in classes:
                self._chart_depth += 1
                self.found["chart"] = True
        elif tag == "details":
            self._in_details += 1
        elif tag == "summary" and self._in_details:
            self.found["details"] = True
        if self._chart_depth and a.get("data-toggle") == "table":
            self.found["chart_toggle"] = True

    def handle_endtag(self, tag):
        if tag == "figure" and self._chart_depth:
            self._chart_depth -= 1
        elif tag == "details" and self._in_details:
            self._in_details -= 1


def scan_markup(path: Path) -> dict[str, bool]:
    """Cheap static look at a page's HTML, so that the keyboard/chart tests can
    skip pages without the markup without opening a browser:
    {"details": <details><summary>, "chart": figure.chart,
     "chart_toggle": [data-toggle="table"] inside figure.chart}."""
    scanner = _MarkupScanner()
    scanner.feed(path.read_text(encoding="utf-8", errors="replace"))
    scanner.close()
    return scanner.found


# --------------------------------------------------------------------------
# Serving
# --------------------------------------------------------------------------

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".json": "application/json",
        ".svg": "image/svg+xml",
        ".csv": "text/csv",
        ".webmanifest": "application/manifest+json",
        ".xml": "application/xml",
    }

    def log_message(self, format, *args):  # noqa: A002 - signature from stdlib
        pass


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve directory on 127.0.0.1 (free port) in a thread; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --------------------------------------------------------------------------
# Browser
# --------------------------------------------------------------------------

def launch_browser(playwright):
    """Debian's chromium through Playwright (never Playwright's own download)."""
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} not found: {INSTALL_HINT}")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in LOCAL_SCHEMES:
        return True
    return parts.hostname in ALLOWED_HOSTS


@dataclass
class Watcher:
    """Records what a browser context did that a page must not do."""

    external_requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def _external(self, url: str) -> None:
        if url not in self.external_requests:
            self.external_requests.append(url)

    def attach_context(self, context) -> None:
        def route(route):
            url = route.request.url
            if is_local(url):
                route.fallback()
            else:
                self._external(url)
                route.abort("blockedbyclient")

        context.route("**/*", route)
        # Belt and braces: anything the router did not see (e.g. a request
        # issued before routing applies) is still recorded.
        context.on("request", lambda r: None if is_local(r.url) else self._external(r.url))

    def attach_page(self, page) -> None:
        def console(msg):
            if msg.type == "error":
                loc = msg.location or {}
                where = loc.get("url") or ""
                if where and loc.get("lineNumber") is not None:
                    where += f":{loc['lineNumber'] + 1}"
                self.console_errors.append(f"{msg.text}" + (f" (at {where})" if where else ""))

        page.on("console", console)
        page.on("pageerror", lambda err: self.page_errors.append(str(err)))

    def error_problems(self) -> list[str]:
        return [f"console error: {e}" for e in self.console_errors] + [
            f"uncaught page error: {e}" for e in self.page_errors
        ]

    def external_problems(self) -> list[str]:
        return [f"request to a host other than 127.0.0.1: {u}" for u in self.external_requests]


@dataclass
class Opened:
    """A page opened by the suite: its URL, Playwright page and context, what
    the Watcher recorded, and the document's Response."""

    url: str
    page: object
    watcher: Watcher
    response: object
    context: object


def new_page(browser, *, viewport=DESKTOP, javascript: bool = True):
    """A fresh context + page with a Watcher attached. Returns (context, page, watcher)."""
    context = browser.new_context(
        viewport=viewport,
        device_scale_factor=1,
        java_script_enabled=javascript,
        # axe is injected as an inline script; a strict CSP must not block it.
        bypass_csp=True,
        # Service workers could fetch behind the router's back.
        service_workers="block",
        reduced_motion="reduce",
    )
    context.set_default_timeout(15_000)
    watcher = Watcher()
    watcher.attach_context(context)
    page = context.new_page()
    watcher.attach_page(page)
    return context, page, watcher


def load(page, url: str, *, javascript: bool = True):
    """Open url and wait until it is settled: load event, and (with JavaScript)
    fonts and any charts rendered. Returns Playwright's Response for the document."""
    response = page.goto(url, wait_until="load")
    if javascript:
        settle(page)
    return response


def settle(page) -> None:
    try:
        page.wait_for_function(PAGE_SETTLED_JS, timeout=CHART_RENDER_TIMEOUT_MS)
    except Exception:  # noqa: BLE001 - a chart that never renders is reported by its own check
        pass
    page.evaluate("() => document.fonts ? document.fonts.ready.then(() => true) : true")
    # Two animation frames: let layout triggered by rendering happen.
    page.evaluate(
        "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))"
    )


def response_problems(response, url: str) -> list[str]:
    if response is None:
        return [f"no response for {url}"]
    if response.status != 200:
        return [f"{url} answered HTTP {response.status}"]
    return []


# --------------------------------------------------------------------------
# Accessibility (axe-core)
# --------------------------------------------------------------------------

def axe_violations(page) -> list[dict]:
    if not AXE_JS.is_file():
        raise RuntimeError(f"{AXE_JS} not found: {INSTALL_HINT}")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_JS))
    result = page.evaluate(
        "async (options) => await axe.run(document, options)", AXE_OPTIONS
    )
    return result["violations"]


def format_axe(violations: list[dict], max_nodes: int = 3) -> list[str]:
    lines = []
    for v in violations:
        targets = [", ".join(map(str, n.get("target", []))) for n in v.get("nodes", [])]
        shown = "; ".join(targets[:max_nodes])
        more = f" (+{len(targets) - max_nodes} more)" if len(targets) > max_nodes else ""
        lines.append(
            f"axe {v['id']} [{v.get('impact')}]: {v.get('help')} -- {shown}{more}"
            f" -- {v.get('helpUrl', '')}"
        )
    return lines


def axe_problems(page) -> list[str]:
    return format_axe(axe_violations(page))


# --------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------

OVERFLOW_JS = """
() => {
  const doc = document.documentElement;
  const vw = window.innerWidth;
  if (doc.scrollWidth <= vw) return null;
  const culprits = [];
  for (const el of document.body ? document.body.querySelectorAll('*') : []) {
    const r = el.getBoundingClientRect();
    if (r.right > vw + 1 && r.width > 0) {
      let d = el.tagName.toLowerCase();
      if (el.id) d += '#' + el.id;
      if (el.classList.length) d += '.' + [...el.classList].join('.');
      culprits.push(d + ' (right edge ' + Math.round(r.right) + 'px)');
      if (culprits.length >= 5) break;
    }
  }
  return {scrollWidth: doc.scrollWidth, innerWidth: vw, culprits};
}
"""


def overflow_problems(page) -> list[str]:
    """Horizontal scroll: document.documentElement.scrollWidth > window.innerWidth."""
    o = page.evaluate(OVERFLOW_JS)
    if o is None:
        return []
    return [
        f"horizontal scroll: scrollWidth {o['scrollWidth']} > innerWidth {o['innerWidth']};"
        f" widest elements: {', '.join(o['culprits']) or '?'}"
    ]


def viewport_meta_problems(page) -> list[str]:
    content = page.evaluate(
        "() => { const m = document.querySelector('meta[name=viewport]');"
        " return m ? m.getAttribute('content') : null; }"
    )
    if not content or "width=device-width" not in content.replace(" ", ""):
        return [f'missing <meta name="viewport" content="width=device-width, ..."> (got {content!r})']
    return []


# --------------------------------------------------------------------------
# Structure (works without JavaScript: uses locators, not page.evaluate)
# --------------------------------------------------------------------------

def structure_problems(page) -> list[str]:
    problems = []
    h1 = page.locator("h1").count()
    if h1 != 1:
        problems.append(f"expected exactly one <h1>, found {h1}")
    main = page.locator("main")
    if main.count() != 1:
        problems.append(f"expected exactly one <main>, found {main.count()}")
    elif not main.first.inner_text().strip():
        problems.append("<main> has no text content")
    return problems


# --------------------------------------------------------------------------
# Keyboard
# --------------------------------------------------------------------------

def _is_focused(locator) -> bool:
    return locator.evaluate("el => document.activeElement === el")


def visible_details_summaries(page) -> list:
    summaries = page.locator("details > summary")
    return [
        s for s in (summaries.nth(i) for i in range(min(summaries.count(), 4 * MAX_DETAILS_PER_PAGE)))
        if s.is_visible()
    ][:MAX_DETAILS_PER_PAGE]


def details_keyboard_problems(page, summaries=None) -> list[str]:
    """Enter on a focused <summary> must toggle its <details>' open state."""
    problems = []
    for i, summary in enumerate(summaries if summaries is not None else visible_details_summaries(page)):
        label = f"details #{i + 1} ({summary.inner_text().strip()[:40]!r})"
        summary.focus()
        if not _is_focused(summary):
            problems.append(f"{label}: summary cannot take keyboard focus")
            continue
        before = summary.evaluate("s => s.parentElement.open")
        page.keyboard.press("Enter")
        after = summary.evaluate("s => s.parentElement.open")
        if after == before:
            problems.append(f"{label}: Enter did not toggle open (stayed {before})")
            continue
        page.keyboard.press("Enter")  # restore
    return problems


CHART_TOGGLE_SELECTOR = 'figure.chart [data-toggle="table"]'


def chart_toggle_problems(page) -> list[str]:
    """Each figure.chart's [data-toggle="table"] control must be reachable by
    keyboard and Enter must make the figure's <table> visible."""
    problems = []
    toggles = page.locator(CHART_TOGGLE_SELECTOR)
    for i in range(toggles.count()):
        toggle = toggles.nth(i)
        figure = toggle.locator("xpath=ancestor::figure[contains(concat(' ', normalize-space(@class), ' '), ' chart ')][1]")
        label = f"chart toggle #{i + 1} ({toggle.inner_text().strip()[:40]!r})"
        tag = toggle.evaluate("el => el.tagName.toLowerCase()")
        if tag not in ("button", "summary"):
            problems.append(f"{label}: is a <{tag}>, expected <button> or <summary>")
        table = figure.locator("table").first
        if figure.locator("table").count() == 0:
            problems.append(f"{label}: its figure.chart contains no <table>")
            continue
        if not toggle.is_visible():
            problems.append(f"{label}: toggle is not visible")
            continue
        toggle.focus()
        if not _is_focused(toggle):
            problems.append(f"{label}: cannot take keyboard focus")
            continue
        tabindex = toggle.evaluate("el => el.tabIndex")
        if tabindex < 0:
            problems.append(f"{label}: tabIndex {tabindex} keeps it out of the Tab order")
        was_visible = table.is_visible()
        page.keyboard.press("Enter")
        if was_visible:
            # Table shown first: Enter should hide it, a second Enter show it again.
            try:
                table.wait_for(state="hidden", timeout=2000)
            except Exception:  # noqa: BLE001
                problems.append(f"{label}: table was visible and Enter did not toggle it")
                continue
            page.keyboard.press("Enter")
        try:
            table.wait_for(state="visible", timeout=2000)
        except Exception:  # noqa: BLE001
            problems.append(f"{label}: Enter did not make the table visible")
            continue
        expanded = toggle.get_attribute("aria-expanded")
        if expanded is not None and expanded != "true":
            problems.append(f"{label}: table shown but aria-expanded is {expanded!r}")
    return problems


def activate_charts(page) -> None:
    """Ask for every interactive chart the way a reader does: the pointer on each chart.
    charts.js loads Vega only then (docs/performance.md)."""
    figures = page.locator("figure.chart[data-spec]")
    for i in range(figures.count()):
        view = figures.nth(i).locator(".chart-view")
        if not view.is_visible():
            continue
        view.scroll_into_view_if_needed()
        view.hover(position={"x": 2, "y": 2})
        try:
            figures.nth(i).element_handle().wait_for_element_state("stable")
            page.wait_for_function("f => f.classList.contains('interactive')", arg=figures.nth(i).element_handle(),
                                   timeout=CHART_RENDER_TIMEOUT_MS)
        except Exception:  # noqa: BLE001 - chart_render_problems reports a chart that did not draw
            pass


def chart_render_problems(page, timeout_ms: int = CHART_RENDER_TIMEOUT_MS) -> list[str]:
    """A page with figure.chart must render at least one vega-embed chart once a reader
    points at it."""
    activate_charts(page)
    embeds = page.locator("figure.chart .vega-embed")
    try:
        page.locator("figure.chart .vega-embed :is(svg, canvas)").first.wait_for(
            state="attached", timeout=timeout_ms
        )
    except Exception:  # noqa: BLE001 - reported below
        pass
    if embeds.count() == 0:
        return ["page has figure.chart but no .vega-embed inside one (chart not rendered)"]
    drawn = page.locator("figure.chart .vega-embed :is(svg, canvas)").count()
    if drawn == 0:
        return [".vega-embed present but it contains no <svg>/<canvas> (chart not drawn)"]
    return []


#: Chart text must never be drawn smaller than this (CSS px), on a phone or a desktop.
MIN_CHART_TEXT_PX = 11
#: Widths (CSS px) at which no chart may be wider than its container.
CHART_FIT_WIDTHS = (320, 375, 1280, 1920)

CHART_DRAWINGS_JS = """
() => {
  const found = [];
  document.querySelectorAll('figure.chart').forEach((figure, i) => {
    const name = figure.id || ('figure.chart #' + (i + 1));
    const view = figure.querySelector('.chart-view') || figure;
    for (const el of view.querySelectorAll('img, svg')) {
      if (el.tagName.toLowerCase() === 'svg' && el.parentElement.closest('svg')) continue;
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0 || getComputedStyle(el).visibility === 'hidden') continue;
      const item = {figure: name, tag: el.tagName.toLowerCase(), rendered: r.width, texts: []};
      if (item.tag === 'img') {
        item.src = el.currentSrc || el.src;
      } else {
        const vb = el.viewBox && el.viewBox.baseVal;
        item.drawn = (vb && vb.width) || el.width.baseVal.value;
        for (const t of el.querySelectorAll('text')) {
          if (t.textContent.trim()) {
            item.texts.push([t.textContent.trim().slice(0, 40), parseFloat(getComputedStyle(t).fontSize)]);
          }
        }
      }
      found.push(item);
    }
  });
  return found;
}
"""

SVG_NS = "{http://www.w3.org/2000/svg}"


def svg_texts(svg: bytes) -> tuple[float, list[tuple[str, float]]]:
    """An SVG file's drawing width (its viewBox, else its width) and each non-empty <text> with the
    font size (px) it gets from its own or an ancestor's font-size attribute or style."""
    root = etree.fromstring(svg)
    view_box = (root.get("viewBox") or "").replace(",", " ").split()
    drawn = float(view_box[2]) if len(view_box) == 4 else float(root.get("width", "0").removesuffix("px"))
    texts = []
    for text in root.iter(SVG_NS + "text"):
        content = "".join(text.itertext()).strip()
        if not content:
            continue
        size, node = 16.0, text  # the CSS default, if nothing says otherwise
        while node is not None:
            style = dict(part.split(":", 1) for part in (node.get("style") or "").split(";") if ":" in part)
            value = (style.get("font-size") or node.get("font-size") or "").strip()
            if value:
                size = float(value.removesuffix("px"))
                break
            node = node.getparent()
        texts.append((content[:40], size))
    return drawn, texts


def chart_text_sizes(page) -> list[dict]:
    """Each chart drawing visible on the page (an <img> of an SVG file or an inline <svg>) with the
    effective size of its smallest text: font size x rendered width / drawn width (CSS px)."""
    drawings = []
    for item in page.evaluate(CHART_DRAWINGS_JS):
        if item["tag"] == "img":
            with urlopen(item["src"], timeout=10) as response:  # the site's own server
                drawn, texts = svg_texts(response.read())
            what = item["src"].rsplit("/", 1)[-1]
        else:
            drawn, texts = item["drawn"], [tuple(t) for t in item["texts"]]
            what = "inline <svg>"
        scale = item["rendered"] / drawn if drawn else 1.0
        smallest = min(texts, key=lambda t: t[1], default=("", 0.0))
        drawings.append({"figure": item["figure"], "what": what, "texts": len(texts),
                         "smallest": smallest[0], "px": round(smallest[1] * scale, 2)})
    return drawings


def chart_text_problems(page, minimum: float = MIN_CHART_TEXT_PX) -> list[str]:
    """Every figure.chart shows a drawing, and no text in it is smaller than `minimum` CSS px."""
    drawings = chart_text_sizes(page)
    problems = []
    figures = page.locator("figure.chart").count()
    shown = {d["figure"] for d in drawings}
    if len(shown) < figures:
        problems.append(f"{figures - len(shown)} of {figures} figure.chart show no drawing")
    for d in drawings:
        if d["texts"] == 0:
            problems.append(f"{d['figure']}: {d['what']} has no text to measure")
        elif d["px"] < minimum:
            problems.append(f"{d['figure']}: {d['what']}: text {d['smallest']!r} is {d['px']} px, below {minimum} px")
    return problems


CHART_FIT_JS = """
() => {
  const problems = [];
  const vw = document.documentElement.clientWidth;
  document.querySelectorAll('figure.chart').forEach((figure, i) => {
    const name = figure.id || ('figure.chart #' + (i + 1));
    const f = figure.getBoundingClientRect();
    if (f.width > 0 && (f.left < -1 || f.right > vw + 1)) {
      problems.push(name + ': the figure spans ' + Math.round(f.left) + '-' + Math.round(f.right) +
                    ' px of a ' + vw + ' px window');
    }
    const view = figure.querySelector('.chart-view');
    if (!view) return;
    const box = view.getBoundingClientRect();
    if (view.scrollWidth > view.clientWidth + 1) {
      problems.push(name + ': .chart-view scrolls sideways (' + view.scrollWidth + ' > ' + view.clientWidth + ' px)');
    }
    for (const el of view.querySelectorAll('img, svg, .vega-embed')) {
      const r = el.getBoundingClientRect();
      if (r.width === 0) continue;
      if (r.left < box.left - 1 || r.right > box.right + 1) {
        problems.push(name + ': ' + el.tagName.toLowerCase() + ' is ' + Math.round(r.width) +
                      ' px wide, its container ' + Math.round(box.width) + ' px');
      }
    }
  });
  return problems;
}
"""


def chart_fit_problems(page) -> list[str]:
    """No chart (figure, drawing, interactive view) is wider than its container or the window."""
    return page.evaluate(CHART_FIT_JS)


# --------------------------------------------------------------------------
# HTML validity (Nu Html Checker)
# --------------------------------------------------------------------------

def run_vnu(target: Path) -> list[dict]:
    """Run vnu.jar once over a directory (or file). Returns its error messages,
    each {"file", "line", "message"} with file relative to target."""
    java = shutil.which("java")
    if java is None or not VNU_JAR.is_file():
        raise RuntimeError(f"java or {VNU_JAR} missing: {INSTALL_HINT}")
    cmd = [java, "-Xss4m", "-jar", str(VNU_JAR), "--errors-only", "--skip-non-html",
           "--format", "json", str(target)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    try:
        report = json.loads(proc.stderr) if proc.stderr.strip() else {"messages": []}
    except json.JSONDecodeError as exc:
        raise RuntimeError(
            f"vnu exited {proc.returncode} without a JSON report:\n{proc.stderr[:2000]}{proc.stdout[:2000]}"
        ) from exc
    base = target if target.is_dir() else target.parent
    errors = []
    for m in report.get("messages", []):
        if m.get("type") not in ("error", "non-document-error"):
            continue
        url = m.get("url", "")
        path = unquote(urlsplit(url).path) if url.startswith("file:") else url
        with contextlib.suppress(ValueError):
            path = Path(path).resolve().relative_to(base.resolve()).as_posix()
        errors.append({"file": path, "line": m.get("lastLine"), "message": m.get("message", "")})
    if proc.returncode not in (0, 1) or (proc.returncode == 1 and not errors):
        raise RuntimeError(f"vnu exited {proc.returncode}:\n{proc.stderr[:2000]}")
    return errors


def format_vnu(errors: list[dict]) -> list[str]:
    return [f"{e['file']}:{e['line']}: {e['message']}" for e in errors]


def tooltip_on(page, scope) -> str:
    """The text of Vega's tooltip with the pointer on the first mark (a point or bar) of an
    interactive chart inside `scope` (a figure, or the page)."""
    mark = scope.locator(".chart-interactive :is(.mark-symbol, .mark-rect) path").first
    mark.scroll_into_view_if_needed()
    box = mark.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tooltip = page.locator("#vg-tooltip-element")
    tooltip.wait_for(state="visible", timeout=CHART_RENDER_TIMEOUT_MS)
    return tooltip.inner_text()

