"""`make lighthouse`: Lighthouse (from npm, pinned in package.json) against the built site, the way
a reader on a phone gets it: mobile form factor, Lighthouse's default throttling (slow 4G, 4x
slower CPU), Debian's chromium, the site served by a plain local static server.

    .venv/bin/python bench/bench_lighthouse.py [--site site] [--runs 3] [PAGE ...]

The performance score varies between runs on a shared 2-core machine, so each page is measured
`--runs` times and the median run (by performance score) is reported. Exits 1 when a page misses
a target of issue #18 (performance >= 95, the other three categories 100, LCP <= 2.0 s, and
at most 200 KiB before interaction on a statistic page).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIGHTHOUSE = ROOT / "node_modules" / ".bin" / "lighthouse"
PAGES = ("index.html", "migration/index.html", "naturalisations/index.html", "calendar/index.html",
         "symbols/index.html", "archive/index.html", "search/index.html")
STATISTIC_PAGES = ("migration/index.html", "naturalisations/index.html")
CHROME_FLAGS = ("--headless=new --no-sandbox --disable-gpu --disable-quic --no-first-run "
                "--disable-background-networking --disable-component-update --disable-sync")
MAX_BYTES = 200 * 1024


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(site: Path) -> http.server.ThreadingHTTPServer:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run_once(url: str, out: Path) -> dict:
    env = dict(os.environ, CHROME_PATH=os.environ.get("STATPRESS_CHROMIUM", "/usr/bin/chromium"))
    subprocess.run([str(LIGHTHOUSE), url, "--form-factor=mobile", "--output=json", f"--output-path={out}",
                    "--quiet", f"--chrome-flags={CHROME_FLAGS}"], env=env, check=True)
    return summarise(json.loads(out.read_text()))


def summarise(report: dict) -> dict:
    """The numbers docs/benchmarks.md records, from one Lighthouse report."""
    cats, audits = report["categories"], report["audits"]
    return {
        "performance": round(cats["performance"]["score"] * 100),
        "accessibility": round(cats["accessibility"]["score"] * 100),
        "best-practices": round(cats["best-practices"]["score"] * 100),
        "seo": round(cats["seo"]["score"] * 100),
        "fcp": audits["first-contentful-paint"]["numericValue"] / 1000,
        "lcp": audits["largest-contentful-paint"]["numericValue"] / 1000,
        "tbt": audits["total-blocking-time"]["numericValue"],
        "cls": audits["cumulative-layout-shift"]["numericValue"],
        "kib": audits["total-byte-weight"]["numericValue"] / 1024,
        "failed": sorted(a["id"] for c in cats.values() for a in c["auditRefs"]
                         if audits[a["id"]].get("score") is not None and audits[a["id"]]["score"] < 1
                         and a.get("weight", 0) > 0 and c["id"] != "performance"),
    }


def median_run(runs: list[dict]) -> dict:
    ordered = sorted(runs, key=lambda r: r["performance"])
    return ordered[len(ordered) // 2]


def misses(page: str, r: dict) -> list[str]:
    out = []
    if r["performance"] < 95:
        out.append(f"performance {r['performance']} < 95")
    out += [f"{c} {r[c]} < 100" for c in ("accessibility", "best-practices", "seo") if r[c] < 100]
    if r["lcp"] > 2.0:
        out.append(f"LCP {r['lcp']:.1f} s > 2.0 s")
    if page.split("/", 1)[-1] in STATISTIC_PAGES and r["kib"] * 1024 > MAX_BYTES:
        out.append(f"{r['kib']:.0f} KiB > 200 KiB")
    return out


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line's options; the pages to measure default to the demo's pages in every
    language of the site (nb/…)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=ROOT / "site")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("pages", nargs="*", help="default: the demo's pages in every language of the site (nb/…)")
    args = parser.parse_args(argv)
    if not args.pages:  # argparse gives [] when none is named, not the default
        languages = sorted(d.name for d in args.site.iterdir() if len(d.name) in (2, 3) and (d / "index.html").is_file())
        args.pages = list(PAGES) + [f"{lang}/{page}" for lang in languages for page in PAGES]
    return args


def main() -> int:
    args = arguments()
    if not LIGHTHOUSE.exists():
        print("lighthouse is not installed: run `npm ci --ignore-scripts`", file=sys.stderr)
        return 1
    server = serve(args.site)
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    status = 0
    print("| page | performance | accessibility | best practices | SEO | FCP s | LCP s | TBT ms | CLS | KiB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        for page in args.pages:
            runs = [run_once(base + page, Path(tmp) / f"{i}.json") for i in range(args.runs)]
            r = median_run(runs)
            print(f"| {page} | {r['performance']} | {r['accessibility']} | {r['best-practices']} | {r['seo']} "
                  f"| {r['fcp']:.1f} | {r['lcp']:.1f} | {r['tbt']:.0f} | {r['cls']:.3f} | {r['kib']:.0f} |",
                  flush=True)
            problems = misses(page, r) + [f"audit {a} failed" for a in r["failed"]]
            if problems:
                print(f"  {page}: " + "; ".join(problems) + f" (performance of the runs: "
                      f"{statistics.median(x['performance'] for x in runs)} median, "
                      f"{[x['performance'] for x in runs]})", file=sys.stderr)
                status = 1
    server.shutdown()
    return status


if __name__ == "__main__":
    sys.exit(main())
