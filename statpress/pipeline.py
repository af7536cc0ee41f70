"""The build: content → data → tables → confidentiality → charts → render → write.

Each stage takes plain values and returns new ones; only `write` touches the output folder.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from . import __version__, archive, calendar, charts, confidentiality, content, data, feeds, tables
from .errors import BuildError
from .locale import Locale, load_locale
from .render import Published, Renderer, table_csv
from .write import audit_path, write_audit, write_site

SYMBOLS = [(".", "symbol_not_applicable"), ("..", "symbol_not_available"),
           ("...", "symbol_not_yet_available"), (":", "symbol_confidential"), ("-", "symbol_nil"),
           ("0", "symbol_less_than_half"), ("*", "symbol_provisional"), ("r", "symbol_revised")]


class SiteConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    base_url: str
    language: str = "en"

    @property
    def host(self) -> str:
        return self.base_url.split("//", 1)[-1].split("/", 1)[0]


@dataclass(frozen=True)
class BuildOptions:
    root: Path
    out: Path
    now: dt.datetime
    preview: bool = False  # show the next, embargoed release of each statistic, marked as such
    strict: bool = False  # calendar warnings are errors


@dataclass
class StatisticReport:
    name: str
    release: str | None
    tables: int
    notes: list[str] = field(default_factory=list)
    audit: dict = field(default_factory=dict)  # rounding summary per dataset: never published


@dataclass
class BuildReport:
    out: Path
    now: dt.datetime
    files: int
    statistics: list[StatisticReport]
    seconds: float
    warnings: list[str] = field(default_factory=list)
    written: bool = True


@dataclass(frozen=True)
class KeyFigureView:
    value: float
    text: str
    others: list[tuple[float, str, int, bool]]


def build(options: BuildOptions, write: bool = True) -> BuildReport:
    """Build the site; with write=False, do everything but touch the disk (`build.py check`)."""
    start = time.perf_counter()
    root = options.root
    if options.preview and options.out.resolve() == (root / "site").resolve():
        raise BuildError("a preview is never written to site/: give another --out (default: preview/)")
    site = content.parse(root / "site.toml", SiteConfig)
    stats = content.load_all(root / "content")
    warnings = check_calendar(stats, options.strict)
    catalog = data.load_catalog(root)
    locale = load_locale(root, site.language)
    problems = archive.verify_all(root / "archive")
    if problems:
        raise BuildError(f"damaged archive, refusing to publish: {problems[0]}"
                         + (f" (and {len(problems) - 1} more; run 'build.py verify')" if len(problems) > 1 else ""))
    stage = Stage(catalog, locale, root / ".cache" / "charts")
    published, reports = [], []
    for s in stats:
        p, report = publish(s, options.now, options.preview, stage)
        published.append(p)
        reports.append(report)
    renderer = make_renderer(root, locale, options)
    files = render_site(renderer, root, site, locale, published, options)
    if any(p.charts for p in published):
        files["assets/vega.js"] = charts.javascript_bundle(stage.cache)
    if not options.preview:
        files.update(archived(stats, options.now, stage, root,
                              lambda p: snapshot_files(renderer, root, p), freeze=write))
        files["archive/index.html"] = renderer.page(
            "archive.html", "archive/index.html", title=locale.t("archive_title"),
            entries=[(s, list(reversed(calendar.published_releases(s, options.now)))) for s in stats])
    if write:
        write_site(files, options.out)
        write_audit(audit_path(options.out), {r.release: r.audit for r in reports if r.audit})
    return BuildReport(options.out, options.now, len(files), reports, time.perf_counter() - start, warnings, write)


def check_calendar(stats: list[content.Statistic], strict: bool) -> list[str]:
    errors, warnings = [], []
    for s in stats:
        e, w = calendar.check_rules(s)
        errors += e
        warnings += w
    if strict:
        errors += [w + " (an error with --strict)" for w in warnings]
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise BuildError(errors[0] + more)
    return warnings


@dataclass(frozen=True)
class Stage:
    """What every statistic's publication needs, read once per build."""
    catalog: data.Catalog
    locale: Locale
    cache: Path  # rendered charts, by the hash of their specification


def view(s: content.Statistic, release: content.Release, stage: Stage, embargoed: bool = False):
    """One release of a statistic as published: protected tables, key figure and charts."""
    computed, audit = compute_release(s, stage.catalog, release.period)
    at = release.time_of_publication
    drawn = draw(s, computed, stage.locale, release.period, stage.cache)
    published = Published(s, release, calendar.next_release(s, at), computed.tables,
                          key_figure_view(computed, release.period), calendar.previous(s, at), embargoed, drawn)
    return published, audit


def publish(s: content.Statistic, now: dt.datetime, preview: bool, stage: Stage):
    """A statistic as the public sees it at `now` (or, in a preview, its next release)."""
    notes = []
    if preview and (embargoed := calendar.next_due(s, now)) is not None:
        try:
            p, _ = view(s, embargoed, stage, embargoed=True)
            return p, StatisticReport(s.meta.name, embargoed.id + " (embargoed preview)", len(p.tables))
        except BuildError as exc:
            notes.append(f"not previewed: {exc}")
    release = calendar.due(s, now)
    if release is None:
        return (Published(s, None, calendar.next_release(s, now), [], None, []),
                StatisticReport(s.meta.name, None, 0, notes))
    p, audit = view(s, release, stage)
    # "Next update" is what is announced at `now`, not at the release's own time
    p = replace(p, next_release=calendar.next_release(s, now), previous=calendar.previous(s, now))
    return p, StatisticReport(s.meta.name, release.id, len(p.tables), notes, audit)


def archived(stats: list[content.Statistic], now: dt.datetime, stage: Stage, root: Path,
             renderer_for_snapshot, freeze: bool = True) -> dict[str, bytes]:
    """Every release due at `now`, from its frozen snapshot; a newly due release is frozen first."""
    archive_dir = root / "archive"
    files: dict[str, bytes] = {}
    for s in stats:
        short = s.meta.short_name
        for release in calendar.published_releases(s, now):
            snap = archive.folder(archive_dir, short, release.id)
            frozen = archive.read(snap)
            if frozen is None:
                p, _ = view(s, release, stage)
                frozen = renderer_for_snapshot(p)
                if freeze:
                    frozen = archive.freeze(snap, frozen, short, release.id,
                                            release.time_of_publication.isoformat())
            files.update({f"archive/{short}/{release.id}/{rel}": content for rel, content in frozen.items()})
    return files


def draw(s: content.Statistic, computed: tables.Computed, locale: Locale, year: int, cache: Path):
    """Charts from the protected tables: a chart never sees an unrounded count."""
    path = s.folder.parent.parent / "stats" / s.id / "tables.toml"
    return charts.build_charts(path, computed.charts, computed.tables, locale, year, cache)


def compute_release(s: content.Statistic, catalog: data.Catalog, period: int):
    """Tables of one release, protected as the statistic's settings say; and the rounding audit."""
    computed = tables.compute(catalog, s.id, period)
    settings = s.meta.confidentiality
    if settings is None:
        return computed, {}
    summaries = confidentiality.protect(computed, settings)
    audit = {dataset: {"method": settings.method, "base": settings.base, "max_round": settings.max_round,
                       **asdict(summary)} for dataset, summary in summaries.items()}
    return computed, audit


def key_figure_view(computed: tables.Computed, year: int) -> KeyFigureView | None:
    spec = computed.key_figure
    if spec is None:
        return None
    table = next(t for t in computed.tables if t.id == spec.table)
    decimals = {c.id: c.decimals for c in table.columns}
    facts = [(table.values.at[spec.row, f.column], tables.fill(f.text, year), decimals[f.column], f.sign)
             for f in spec.facts]
    return KeyFigureView(facts[0][0], facts[0][1], facts[1:])


def make_renderer(root: Path, locale: Locale, options: BuildOptions) -> Renderer:
    r = Renderer(root / "templates", locale)
    r.env.filters["groupby_adjacent"] = groupby_adjacent
    r.env.globals["preview"] = options.preview
    r.env.globals["symbol_keys"] = dict(SYMBOLS)
    return r


def snapshot_files(r: Renderer, root: Path, p: Published) -> dict[str, bytes]:
    """A release's page as frozen for the archive: static charts, its own stylesheet, no script."""
    short, rel = p.statistic.meta.short_name, p.release.id
    files = {"index.html": r.page("statistic.html", f"archive/{short}/{rel}/index.html",
                                  title=f"{p.statistic.meta.name} – {p.release.period}", published=p,
                                  key=p.key_figure, related=[], archived=True, assets="assets/")}
    files.update(release_files(p))
    files["assets/style.css"] = (root / "templates" / "assets" / "style.css").read_bytes()
    return files


def release_files(p: Published) -> dict[str, bytes]:
    """Downloads of one release: its tables as CSV, its charts as SVG and PNG."""
    files = {f"tables/{t.id}.csv": table_csv(t) for t in p.tables}
    for c in p.charts:
        files[f"charts/{c.id}.svg"] = c.svg_file
        files[f"charts/{c.id}.png"] = c.png_file
    return files


def render_site(r: Renderer, root: Path, site: SiteConfig, locale: Locale, published: list[Published],
                options: BuildOptions) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    by_name = {p.statistic.meta.short_name: p.statistic for p in published}
    topics = [(topic, list(items)) for topic, items in itertools.groupby(
        sorted(published, key=lambda p: (p.statistic.meta.topic, p.statistic.meta.name)),
        key=lambda p: p.statistic.meta.topic)]
    files["index.html"] = r.page("index.html", "index.html", title=locale.t("index_title"), topics=topics)
    files["symbols/index.html"] = r.page("symbols.html", "symbols/index.html",
                                         title=locale.t("symbols_title"), symbols=SYMBOLS)
    files.update(calendar_files(r, site, locale, published, options.now))
    sitemap_urls = [(site.base_url, None), (site.base_url + "calendar/", None), (site.base_url + "symbols/", None)]
    for p in published:
        short = p.statistic.meta.short_name
        path = f"{short}/index.html"
        files[path] = r.page("statistic.html", path, title=p.statistic.meta.name, published=p,
                             key=p.key_figure, related=[by_name[n] for n in p.statistic.meta.related])
        files.update({f"{short}/{rel}": content for rel, content in release_files(p).items()})
        sitemap_urls.append((f"{site.base_url}{short}/", p.release.date if p.release else None))
    if not options.preview:
        files["sitemap.xml"] = feeds.sitemap(sitemap_urls)
        files["robots.txt"] = f"User-agent: *\nAllow: /\nSitemap: {site.base_url}sitemap.xml\n".encode()
    else:
        files["robots.txt"] = b"User-agent: *\nDisallow: /\n"
    for asset in sorted((root / "templates" / "assets").rglob("*")):
        if asset.is_file():
            files["assets/" + asset.relative_to(root / "templates" / "assets").as_posix()] = asset.read_bytes()
    return files


def calendar_files(r: Renderer, site: SiteConfig, locale: Locale, published: list[Published],
                   now: dt.datetime) -> dict[str, bytes]:
    """The release calendar page, its iCalendar file and the Atom feed of published releases."""
    stats = [p.statistic for p in published]
    upcoming = sorted(((s, rel) for s in stats for rel in calendar.upcoming(s, now)),
                      key=lambda e: (e[1].time_of_publication, e[0].meta.name))
    recent = sorted(((s, rel) for s in stats for rel in s.releases
                     if rel.status != "cancelled" and rel.time_of_publication <= now),
                    key=lambda e: (e[1].time_of_publication, e[0].meta.name), reverse=True)
    months = [(key, list(items)) for key, items in itertools.groupby(
        upcoming, key=lambda e: e[1].date.replace(day=1))]
    return {
        "calendar/index.html": r.page("calendar.html", "calendar/index.html", title=locale.t("calendar_title"),
                                      months=months, recent=recent),
        "calendar/releases.ics": feeds.ics(sorted(recent, key=lambda e: e[1].id) + upcoming,
                                           site.base_url, site.host, locale.t("calendar_title")),
        "releases.atom": feeds.atom(recent, site.base_url, site.host, locale.t("feed_title")),
    }


def groupby_adjacent(items, attribute: str):
    return [(k, list(g)) for k, g in itertools.groupby(items, key=lambda x: getattr(x, attribute))]


def describe(report: BuildReport) -> str:
    lines = [f"statpress {__version__}: site as of {report.now.isoformat()}"]
    for s in report.statistics:
        what = f"release {s.release}, {s.tables} tables" if s.release else "no release due yet"
        lines.append(f"  {s.name}: {what}" + "".join(f"; {n}" for n in s.notes))
        for dataset, a in s.audit.items():
            lines.append(f"    rounded {dataset} (base {a['base']}): {a['cells']} cells, {a['candidates']} "
                         f"candidates, {a['changed']} inner cells changed, max change {a['max_abs_change']}, "
                         f"RMSE {a['rmse']:.2f}")
    lines += [f"warning: {w}" for w in report.warnings]
    if report.written:
        lines.append(f"wrote {report.files} files to {report.out} in {report.seconds:.1f} s")
    else:
        lines.append(f"check passed: {report.files} files would be written, in {report.seconds:.1f} s (nothing written)")
    return "\n".join(lines)


__all__ = ["BuildError", "BuildOptions", "build", "describe"]
