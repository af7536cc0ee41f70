"""The build: content → data → tables → confidentiality → charts → render → write.

Each stage takes plain values and returns new ones; only `write` touches the output folder.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__, calendar, content, data, tables
from .errors import BuildError
from .locale import Locale, load_locale
from .render import Published, Renderer, table_csv
from .write import write_site

SYMBOLS = [(".", "symbol_not_applicable"), ("..", "symbol_not_available"),
           ("...", "symbol_not_yet_available"), (":", "symbol_confidential"), ("-", "symbol_nil"),
           ("0", "symbol_less_than_half"), ("*", "symbol_provisional"), ("r", "symbol_revised")]


@dataclass(frozen=True)
class BuildOptions:
    root: Path
    out: Path
    now: dt.datetime
    language: str = "en"


@dataclass
class StatisticReport:
    name: str
    release: str | None
    tables: int
    notes: list[str] = field(default_factory=list)


@dataclass
class BuildReport:
    out: Path
    now: dt.datetime
    files: int
    statistics: list[StatisticReport]
    seconds: float


@dataclass(frozen=True)
class KeyFigureView:
    value: float
    text: str
    others: list[tuple[float, str, int]]


def build(options: BuildOptions) -> BuildReport:
    start = time.perf_counter()
    root = options.root
    stats = content.load_all(root / "content")
    catalog = data.load_catalog(root)
    locale = load_locale(root, options.language)
    published, reports = [], []
    for s in stats:
        p, report = publish(s, catalog, options.now)
        published.append(p)
        reports.append(report)
    files = render_site(root, locale, published)
    write_site(files, options.out)
    return BuildReport(options.out, options.now, len(files), reports, time.perf_counter() - start)


def publish(s: content.Statistic, catalog: data.Catalog, now: dt.datetime):
    """A statistic as the public sees it at `now`: its due release and that release's tables."""
    release = calendar.due(s, now)
    next_release = calendar.next_release(s, now)
    previous = calendar.previous(s, now)
    if release is None:
        return (Published(s, None, next_release, [], None, previous),
                StatisticReport(s.meta.name, None, 0))
    computed = tables.compute(catalog, s.id, release.period)
    report = StatisticReport(s.meta.name, release.id, len(computed.tables))
    key = key_figure_view(computed, release.period)
    return Published(s, release, next_release, computed.tables, key, previous), report


def key_figure_view(computed: tables.Computed, year: int) -> KeyFigureView | None:
    spec = computed.key_figure
    if spec is None:
        return None
    table = next(t for t in computed.tables if t.id == spec.table)
    decimals = {c.id: c.decimals for c in table.columns}
    facts = [(table.values.at[spec.row, f.column], tables.fill(f.text, year), decimals[f.column])
             for f in spec.facts]
    return KeyFigureView(facts[0][0], facts[0][1], facts[1:])


def render_site(root: Path, locale: Locale, published: list[Published]) -> dict[str, bytes]:
    r = Renderer(root / "templates", locale)
    r.env.filters["groupby_adjacent"] = groupby_adjacent
    files: dict[str, bytes] = {}
    by_name = {p.statistic.meta.short_name: p.statistic for p in published}
    topics = [(topic, list(items)) for topic, items in itertools.groupby(
        sorted(published, key=lambda p: (p.statistic.meta.topic, p.statistic.meta.name)),
        key=lambda p: p.statistic.meta.topic)]
    files["index.html"] = r.page("index.html", "index.html", title=locale.t("index_title"), topics=topics)
    files["symbols/index.html"] = r.page("symbols.html", "symbols/index.html",
                                         title=locale.t("symbols_title"), symbols=SYMBOLS)
    for p in published:
        short = p.statistic.meta.short_name
        path = f"{short}/index.html"
        files[path] = r.page("statistic.html", path, title=p.statistic.meta.name, published=p,
                             key=p.key_figure, related=[by_name[n] for n in p.statistic.meta.related])
        for t in p.tables:
            files[f"{short}/tables/{t.id}.csv"] = table_csv(t)
    for asset in sorted((root / "templates" / "assets").rglob("*")):
        if asset.is_file():
            files["assets/" + asset.relative_to(root / "templates" / "assets").as_posix()] = asset.read_bytes()
    return files


def groupby_adjacent(items, attribute: str):
    return [(k, list(g)) for k, g in itertools.groupby(items, key=lambda x: getattr(x, attribute))]


def describe(report: BuildReport) -> str:
    lines = [f"statpress {__version__}: site as of {report.now.isoformat()}"]
    for s in report.statistics:
        what = f"release {s.release}, {s.tables} tables" if s.release else "no release due yet"
        lines.append(f"  {s.name}: {what}" + "".join(f"; {n}" for n in s.notes))
    lines.append(f"wrote {report.files} files to {report.out} in {report.seconds:.1f} s")
    return "\n".join(lines)


__all__ = ["BuildError", "BuildOptions", "build", "describe"]
