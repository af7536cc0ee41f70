"""The tables stage: each statistic as the public sees it at the build's instant. The release
due, its tables computed from the data (tables.py) or taken from the table cache (cache.py),
protected as the statistic's settings say (confidentiality.py), its charts asked of the drawer.

Where many releases lack their tables, worker processes compute them into the caches first
(`precompute`); where a few do, a forked child computes them while the pages of the others are
rendered (`compute_ahead`)."""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import hashlib
import multiprocessing
import os
import pickle
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from . import (cache, calendar, charts, confidentiality, content, data, downloads, drawing, filememo, fork, metadata,
               tables)
from .errors import BuildError
from .i18n import Localiser
from .languages import in_language, load_locales
from .locale import Locale
from .progress import stage as timed, track
from .render import Published

if TYPE_CHECKING:
    from .pipeline import BuildOptions, Project


@dataclass
class StatisticReport:
    name: str
    release: str | None
    tables: int
    notes: list[str] = field(default_factory=list)
    audit: dict = field(default_factory=dict)  # rounding summary per dataset: never published


@dataclass(frozen=True)
class Resources:
    """What every statistic's publication needs, read once per build: the data catalogue, the
    default locale and the caches of tables and charts."""
    catalog: data.Catalog
    locale: Locale  # the default language's
    cache: Path | None  # rendered charts, by the hash of their specification (None: --no-cache)
    drawer: drawing.Drawer  # what draws them (vl-convert, in a process of its own)
    tables: cache.PickleCache | None = None  # computed, protected tables, by the hash of their inputs
    languages: list[str] = field(default_factory=lambda: ["en"])  # the site's, the default first
    table_keys: dict = field(default_factory=dict)  # release_key's, by (statistic, period), as this build took them
    begun: dict = field(default_factory=dict)  # charts being drawn (begin_charts), by (statistic, release, language)
    files: filememo.FileMemo | None = None  # what is known of the files that did not change since the last build

    def table_key(self, s: content.Statistic, period: int) -> str | None:
        """The table cache's key of a release (release_key), taken once per build: choosing what the
        workers compute, reading the tables and keying the pages each need it."""
        if (s.id, period) not in self.table_keys:
            self.table_keys[s.id, period] = release_key(s, self.catalog, period, self.files)
        return self.table_keys[s.id, period]


def publish_all(project: Project, options: BuildOptions, resources: Resources,
                ready: fork.Waiting | None = None) -> Publication:
    """The tables stage: every statistic as the public sees it at the build's instant, its tables
    computed (in worker processes when many are not cached, in a forked child when a few are, see
    `compute_ahead`: `ready`, the child ready_to_compute forked, if any) and protected."""
    jobs = uncomputed(project.stats, options, resources)
    precomputed = bool(jobs) and precompute(options.root, jobs, options, resources)
    ahead = None if precomputed or not jobs else compute_ahead(jobs, len(project.stats), options, resources, ready)
    if ready is not None and ahead is not ready:
        ready.close()  # not needed: its processor goes back to the build
    computed_here = set() if precomputed or ahead is not None else {(job.statistic, job.release) for job in jobs}
    if computed_here and not drawing.drawn_before(resources.cache):
        # This process draws their charts, and nothing was drawn before (a cold build, an audit):
        # the drawer starts while it computes, if the command line has not started it already
        # (drawing.Helper.for_cold_build). Otherwise it starts when a chart first misses the
        # cache (charts.remembered): a changed title or note leaves the charts as they were, and
        # starting vl-convert for nothing took half a second of the other core, which a rebuild
        # of 300 statistics keeps busy already.
        resources.drawer.start()
    publication = Publication(project.stats, options.now, resources, ahead,
                              {job.statistic for job in jobs} if ahead else set())
    for s in track(least_data_first(publication.ready(), {sid for sid, _ in computed_here}, resources), "tables",
                   lambda s: s.meta.name):
        p, report = publish(s, options.now, options.preview, resources)
        if p.release is not None and (s.id, p.release.id) in computed_here:
            begin_charts(p, project.locales, resources)
        publication.done[s.id] = p, report
    return publication


@dataclass
class Publication:
    """The tables stage's result: each statistic as published (`done`), but those whose tables a
    forked child is computing (`pending`, see `compute_ahead`), which are published from the
    cache once it is done (`complete`). Until then they are known by their metadata and releases
    alone (`listed`), which is all the pages that list statistics show of them."""
    stats: list[content.Statistic]
    now: dt.datetime
    resources: Resources
    ahead: fork.Forked | None  # the child computing the pending ones (compute_ahead)
    pending: set[str]  # statistic ids
    done: dict[str, tuple[Published, StatisticReport]] = field(default_factory=dict)

    def ready(self) -> list[content.Statistic]:
        return [s for s in self.stats if s.id not in self.pending]

    def listed(self) -> list[Published]:
        """Every statistic in order, the pending ones without their tables (as pages.texts_in has them)."""
        return [self.done[s.id][0] if s.id in self.done else
                Published(s, calendar.due(s, self.now), calendar.next_release(s, self.now), [], None,
                          calendar.previous(s, self.now)) for s in self.stats]

    def complete(self) -> list[content.Statistic]:
        """The pending statistics published, once the child has computed their tables; they are
        returned. Should the child have failed otherwise than on the content, this process
        computes them (publish computes what the cache lacks)."""
        if self.ahead is not None:
            with timed("tables"):
                self.ahead.result_or(None)
            self.ahead = None
        finished = [s for s in self.stats if s.id in self.pending]
        for s in finished:
            self.done[s.id] = publish(s, self.now, False, self.resources)
        self.pending = set()
        return finished

    @property
    def published(self) -> list[Published]:
        self.complete()
        return [self.done[s.id][0] for s in self.stats]

    @property
    def reports(self) -> list[StatisticReport]:
        self.complete()
        return [self.done[s.id][1] for s in self.stats]

    def __enter__(self) -> Publication:
        return self

    def __exit__(self, *exc) -> None:
        if self.ahead is not None:
            # the build failed while the child computed: it is waited for (it only fills caches,
            # each file written whole), so that no process of the build outlives it
            self.ahead.close()


def least_data_first(stats: list[content.Statistic], computing: set[str],
                     resources: Resources) -> list[content.Statistic]:
    """The order this process takes the statistics in: those whose tables it reads from the cache
    first, then those it computes (`computing`), by the bytes of data they read, fewest first.
    Each statistic's charts are asked of the drawer once its tables are made, and drawn while this
    process computes the next: the quickest to compute first sets the drawer to work soonest (a
    two-stage pipeline finishes soonest with the short first stages first: Johnson's rule). The
    site is the same in any order (tests/test_drawing.py)."""
    def data_read(s: content.Statistic) -> int:
        if s.id not in computing:
            return 0
        catalog = resources.catalog
        return sum(catalog.size(name) for name in tables.outline(catalog.root / "stats", s.id,
                                                                 catalog.spec.datasets, resources.files).datasets)
    return sorted(stats, key=data_read)


def begin_charts(p: Published, locales: dict[str, Locale], resources: Resources) -> None:
    """The charts of tables just computed, in every language, asked of the drawer now: it draws them
    on the other core while the build computes the next statistic's tables. The pages stage
    finishes them (`pages.localised`); their tables are new, so their pages are rendered."""
    for lang in resources.languages:
        language = Localiser(lang, resources.languages[0], p.statistic.meta.fallback)
        resources.begun[p.statistic.id, p.release.id, lang] = begin_drawing(
            p.statistic, p.chart_specs, language(p.tables), locales[lang], p.release.period, resources.cache,
            resources.drawer, language)


class Job(NamedTuple):
    """A release whose tables the cache lacks, for a worker or a forked child to compute; with the
    table cache's key this process took for it (release_key), and the fingerprints of the datasets
    it took them from: the worker keys the tables as the build then looks them up, and does not
    hash those files again (a 10⁸-row register took 0.3 s)."""
    statistic: str
    release: str
    key: str | None
    data: dict[str, str | None]  # data.Catalog.taken_fingerprints


def uncomputed(stats: list[content.Statistic], options: BuildOptions, resources: Resources) -> list[Job]:
    """Each release the build shows whose tables the cache lacks."""
    lacking = []
    for s in stats:
        release = calendar.next_due(s, options.now) if options.preview else None
        release = release or calendar.due(s, options.now)
        if release is not None and declares_tables(s, resources, release) and \
                not resources.tables.has(key := resources.table_key(s, release.period)):
            lacking.append((s.id, release.id, key))
    taken = resources.catalog.taken_fingerprints()  # one dict: pickled once for a batch of jobs
    return [Job(statistic, release, key, taken) for statistic, release, key in lacking]


def precompute(root: Path, jobs: list[Job], options: BuildOptions, resources: Resources) -> bool:
    """Compute the releases `jobs` in worker processes, a few statistics each, into the caches the
    build then reads; whether it did. Not when there are no more of them than workers: starting a
    process costs more than it saves then (see `compute_ahead`)."""
    workers = options.workers or len(os.sched_getaffinity(0))
    if not options.use_cache or workers < 2 or len(jobs) <= workers or on_spark(resources):
        return False
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no engine state is shared
    # A few batches per worker: each batch reads the site, locales and catalog once, and the
    # batches still even out statistics of unequal size.
    batches = [jobs[i::workers * 4] for i in range(workers * 4)]
    # the workers collect garbage as this process was told to (build.py)
    with ProcessPoolExecutor(workers, mp_context=context, initializer=gc.set_threshold,
                             initargs=gc.get_threshold()) as pool:
        for future in [pool.submit(compute_in_worker, str(root), batch) for batch in batches if batch]:
            future.result()  # a BuildError in a worker stops the build here, with its message
    return True


def on_spark(resources: Resources) -> bool:
    """Does a dataset go to Spark? It parallelises each query itself: a worker would start a Spark
    driver of its own."""
    catalog = resources.catalog
    return catalog.engines.default == "spark" or any(d.engine == "spark" for d in catalog.spec.datasets.values())


def compute_ahead(jobs: list[Job], statistics: int, options: BuildOptions,
                  resources: Resources, ready: fork.Waiting | None = None) -> fork.Forked | None:
    """The releases `jobs` computed into the caches by a forked child, while this process renders
    the pages of the other statistics (pages.render_pages); None where that does not pay. A rebuild
    after one statistic's tables changed spent a second of a slow hour importing pandas and
    computing them, as long as the pages of the other 299 took, while the other core had room
    (docs/scaling.md). The fork already holds the engine, which a spawned worker would import
    again. Not for as many statistics as there are others to render (the demo's cold build: the
    child would draw their charts after the tables, not beside them), nor where the build does not
    fork (`forks`). `ready`: the child forked at the build's start to do it (ready_to_compute)."""
    if not options.use_cache or 2 * len(jobs) > statistics or not forks(options, resources):
        return None
    if ready is not None:
        ready.give(jobs)
        return ready
    root = str(options.root)
    # compute_in_worker is looked up when the child starts (a test replaces it)
    return fork.Forked(lambda: compute_in_worker(root, jobs, True))


def ready_to_compute(options: BuildOptions) -> fork.Waiting | None:
    """A child forked at the build's start, where its tables' inputs changed (`tables_changed`),
    to compute the statistics `compute_ahead` gives it: it loads pandas and DuckDB (half a second)
    while the build reads the content and decides what to compute. Only where the build may fork
    (`forks`: what it cannot know yet, it decides when it gives the child work or ends it) and
    has not loaded pandas already (a build server's build)."""
    if not options.tables_changed or not options.use_cache or not forks(options) or "pandas" in sys.modules:
        return None
    root = str(options.root)
    # compute_in_worker is looked up when the child is given its work (a test replaces it)
    return fork.Waiting(load_table_engine, lambda jobs: compute_in_worker(root, jobs, True))


def load_table_engine() -> None:
    """What computing a table loads, besides statpress."""
    import duckdb  # noqa: F401
    import pandas  # noqa: F401


def forks(options: BuildOptions, resources: Resources | None = None) -> bool:
    """May the build fork a child to work beside it (fork.py)? Not in a preview (the live
    preview's process runs its server's threads), nor with one core or `--jobs 1` (nothing would
    run beside), nor once an engine runs in this process (data on a server, fingerprinted by it:
    its threads and connections are not to be forked), nor where data go to Spark. Without
    `resources` (the build's start), what the options say."""
    workers = options.workers or len(os.sched_getaffinity(0))
    return not options.preview and workers >= 2 and fork.available() and \
        (resources is None or not on_spark(resources) and not resources.catalog.engines.made)


def compute_in_worker(root: str, jobs: list[Job], forked: bool = False) -> None:
    """Each (statistic, release) of `jobs` computed, protected, charted and made into downloads
    (XLSX, JSON-stat, PX) in every language, into the caches (a worker's job): the pages stage,
    which runs in one process, then finds them there. The main process has checked the content as
    a whole already, so only these statistics' folders are read. A worker calls vl-convert itself
    (every core has a worker); a `forked` child asks a helper process of its own, started if a
    chart is to be drawn: vl-convert's engine runs on a thread of its own, which a fork does not
    copy, so one the build's process had started would never answer the child."""
    with contextlib.ExitStack() as running:
        drawer = running.enter_context(drawing.Helper()) if forked else drawing.InProcess()
        compute_releases(Path(root), jobs, drawer)


def compute_releases(root_path: Path, jobs: list[Job], drawer: drawing.Drawer) -> None:
    site = content.parse(root_path / "site.toml", content.SiteConfig)
    locales = load_locales(root_path, site)
    sites = {lang: in_language(site, lang, site) for lang in site.languages}
    headings = content.project_headings(root_path)
    kept = cache.PickleCache(root_path / ".cache" / "downloads")
    # a dataset whose check passed, as noted, is not checked again (a worker runs with the cache)
    with contextlib.closing(data.load_catalog(root_path, stamps=root_path / ".cache" / "checks")) as catalog:
        for job in jobs:
            catalog.take_fingerprints(job.data)
            s = content.load_statistic(root_path / "content" / job.statistic, headings)
            release = next(r for r in s.releases if r.id == job.release)
            computed, _ = compute_release(s, catalog, release, cache.PickleCache(root_path / ".cache" / "tables"),
                                          job.key)
            for lang in site.languages:
                language = Localiser(lang, site.language, s.meta.fallback)
                shown = language(computed.tables)
                draw(s, computed.charts, shown, locales[lang], release.period, root_path / ".cache" / "charts",
                     drawer, language)
                prov = metadata.provenance(sites[lang], language(s.meta), release)
                for table in shown:  # XLSX was half of the corpus's pages stage, in one process
                    downloads.cached_downloads(table, prov, locales[lang], kept)


def publish_release(s: content.Statistic, release: content.Release, resources: Resources, embargoed: bool = False):
    """One release of a statistic as published: protected tables, key figure and what its charts
    show (drawn once per language, see `pages.localised`)."""
    computed, audit = compute_release(s, resources.catalog, release, resources.tables,
                                      resources.table_key(s, release.period) if resources.tables else None)
    at = release.time_of_publication
    published = Published(s, release, calendar.next_release(s, at), computed.tables,
                          computed.key_figure, calendar.previous(s, at), embargoed, chart_specs=computed.charts)
    return published, audit


def publish(s: content.Statistic, now: dt.datetime, preview: bool, resources: Resources):
    """A statistic as the public sees it at `now` (or, in a preview, its next release)."""
    notes = []
    if not declares_tables(s, resources, calendar.due(s, now)):
        return unpublished(s, now, preview, notes)
    if preview and (embargoed := calendar.next_due(s, now)) is not None:
        try:
            p, _ = publish_release(s, embargoed, resources, embargoed=True)
            return p, StatisticReport(s.meta.name, embargoed.id + " (embargoed preview)", len(p.tables))
        except BuildError as exc:
            notes.append(f"not previewed: {exc}")
    release = calendar.due(s, now)
    if release is None:
        return (Published(s, None, calendar.next_release(s, now), [], None, []),
                StatisticReport(s.meta.name, None, 0, notes))
    p, audit = publish_release(s, release, resources)
    # "Next update" is what is announced at `now`, not at the release's own time
    p = replace(p, next_release=calendar.next_release(s, now), previous=calendar.previous(s, now))
    return p, StatisticReport(s.meta.name, release.id, len(p.tables), notes, audit)


def declares_tables(s: content.Statistic, resources: Resources, release: content.Release | None) -> bool:
    """Does the statistic declare any table yet? A new one (`build.py new`) has none. Its tables.toml
    is checked, unless it lists tables and the table cache holds those of `release` (the release
    shown): that entry was computed from this very text, which passed the check then (tables.Outline)."""
    stats_dir = s.folder.parent.parent / "stats"
    if release is not None and resources.tables is not None and \
            tables.outline(stats_dir, s.id, resources.catalog.spec.datasets, resources.files).tables and \
            (key := resources.table_key(s, release.period)) is not None and resources.tables.has(key):
        return True
    _, spec = tables.load_specs(stats_dir, s.id)
    return bool(spec.tables)


def unpublished(s: content.Statistic, now: dt.datetime, preview: bool, notes: list[str]):
    """A statistic without tables: "no figures yet" until a release falls due, which stops the
    build rather than publish (and freeze into the archive) an empty release."""
    path = s.folder.parent.parent / "stats" / s.id / "tables.toml"
    release = calendar.due(s, now)
    if release is not None:
        raise BuildError(f"{path}: release '{release.id}' is due at {release.time_of_publication.isoformat()} "
                         "but no table is declared yet; declare the tables, or postpone the release")
    return (Published(s, None, calendar.next_release(s, now), [], None, []),
            StatisticReport(s.meta.name, None, 0, notes + [f"no tables yet in {path.relative_to(path.parents[2])}"]))


def draw(s: content.Statistic, chart_specs: list[dict], protected: list, locale: Locale, year: int, cache: Path | None,
         drawer: drawing.Drawer, language: Localiser) -> list[charts.Chart]:
    """Charts from the protected tables, in one language: a chart never sees an unrounded count."""
    return begin_drawing(s, chart_specs, protected, locale, year, cache, drawer, language).finish()


def begin_drawing(s: content.Statistic, chart_specs: list[dict], protected: list, locale: Locale, year: int,
                  cache: Path | None, drawer: drawing.Drawer, language: Localiser) -> charts.Underway:
    """`draw` begun: finished later (charts.Underway)."""
    path = s.folder.parent.parent / "stats" / s.id / "tables.toml"
    return charts.begin_charts(path, chart_specs, protected, locale, year, cache, drawer, language)


def compute_release(s: content.Statistic, catalog: data.Catalog, release: content.Release,
                    table_cache: cache.PickleCache | None = None, key: str | None = None):
    """Tables of one release, protected as the statistic's settings say and marked with the
    release's revisions ('r') and provisional figures ('*'); and the rounding audit. `key` is
    release_key's, if the caller has it."""
    key = key or (release_key(s, catalog, release.period) if table_cache else None)
    found = table_cache.get_split(key) if key else None
    try:
        (computed, audit, count), read = found
    except (TypeError, ValueError):  # no entry, or one laid out otherwise
        computed, audit = protect_release(s, catalog, release.period)
        if key:
            store_release(table_cache, key, computed, audit)
        return replace(computed, tables=marked(computed.tables, release)), audit

    def load() -> list:
        try:
            found_tables = read()
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):  # damaged since
            fresh, fresh_audit = protect_release(s, catalog, release.period)
            store_release(table_cache, key, fresh, fresh_audit)
            found_tables = fresh.tables
        return marked(found_tables, release)
    return replace(computed, tables=cache.Deferred(count, load)), audit


def store_release(table_cache: cache.PickleCache, key: str, computed: tables.Computed, audit: dict) -> None:
    """A release's protected tables into the table cache: what every build reads of it first, the
    tables after (cache.Deferred)."""
    table_cache.put_split(key, (replace(computed, tables=[]), audit, len(computed.tables)), computed.tables)


def marked(found: list[tables.Table], release: content.Release) -> list[tables.Table]:
    """The tables with the release's revisions ('r') and provisional figures ('*') marked."""
    found = [tables.mark_periods(t, release.corrections, "r") for t in found]
    return [tables.mark_periods(t, release.provisional, "*") for t in found]


def protect_release(s: content.Statistic, catalog: data.Catalog, period: int):
    return protect(s, tables.compute(catalog, s.id, period))


def protect(s: content.Statistic, computed: tables.Computed):
    """A statistic's computed tables protected as its settings say, with the rounding audit."""
    audit = {}
    settings = s.meta.confidentiality
    if settings is not None:
        with timed("rounding"):
            protected, summaries = confidentiality.protect(computed, settings)
        computed = replace(computed, tables=protected)
        audit = {dataset: {"method": settings.method, "base": settings.base, "max_round": settings.max_round,
                           **asdict(summary)} for dataset, summary in summaries.items()}
    # what pages and charts need; the inner cells stay out of the cache
    return replace(computed, cells=[], frames={}), audit


def release_key(s: content.Statistic, catalog: data.Catalog, period: int,
                memo: filememo.FileMemo | None = None) -> str | None:
    """Everything a release's protected tables depend on, hashed (see cache.py)."""
    outline = tables.outline(catalog.root / "stats", s.id, catalog.spec.datasets, memo)
    datasets = outline.datasets
    parts = [cache.engine_fingerprint(), str(period), outline.text,
             s.meta.confidentiality.model_dump_json() if s.meta.confidentiality else "none",
             catalog.declarations()]
    found = [catalog.fingerprint(name) for name in datasets]
    if None in found:  # data on a cluster that cannot say whether it changed: compute every time
        return None
    parts += [f"{name}:{data}" for name, data in zip(datasets, found)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()
