"""The build: content → data → tables → confidentiality → charts → render → write.

Each stage takes plain values and returns new ones; only `write` touches the output folder.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import gc
import hashlib
import multiprocessing
import os
import pickle
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

from . import (__version__, archive, cache, calendar, charts, compress, confidentiality, content, data, downloads,
               drawing, filememo, fork, lock, metadata, pagecache, render, reuse, search, tables)
from .errors import BuildError
from .i18n import Localiser, missing, require_translations
from .locale import Locale, load_locale
from .progress import Progress, stage as timed, track
from .render import Published
from .write import audit_path, check_out, previous_site, recover, write_audit, write_site

@dataclass(frozen=True)
class BuildOptions:
    root: Path
    out: Path
    now: dt.datetime
    preview: bool = False  # show the next, embargoed release of each statistic, marked as such
    strict: bool = False  # calendar warnings are errors
    use_cache: bool = True  # computed tables from .cache/tables when nothing they depend on changed
    workers: int | None = None  # processes computing statistics side by side (default: one per core)
    allow_withdraw: bool = False  # publish even if releases already in the archive disappear from the site
    freeze_future: bool = False  # tests only: freeze releases whose time is later than the real clock
    wait: float = 60.0  # seconds to wait for another build's lock
    freeze: bool = True  # freeze newly due releases into archive/ (never while previewing with `serve`)
    # the archive as the up-to-date check listed it just before (archive.entries), not listed again:
    # asked for only when the archive is checked, after the pages (a child process lists it)
    archive_entries: Callable[[], list[str]] | None = None
    # the tables' inputs changed since the last build (uptodate.py): most likely, a statistic's
    # tables are computed (see `ready_to_compute`)
    tables_changed: bool = False


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
    stages: dict[str, float] = field(default_factory=dict)  # seconds per stage (progress.py)
    frozen: list[str] = field(default_factory=list)  # releases first published by this build (or that would be)
    freezes: bool = True  # were they frozen into archive/ (False: check, serve)
    # the archive changed by nothing but those snapshots since it was checked (archive.note_frozen)
    own_archive: bool = False
    # the output's folders as the write stage found them after the swap, {path: (mtime, inode)}
    # (None: not looked at): the up-to-date check notes them without listing the site again
    folders: dict[str, tuple[int, int]] | None = None


def build(options: BuildOptions, write: bool = True, progress: Progress | None = None,
          signatures: reuse.Signatures | None = None, drawer: drawing.Helper | None = None) -> BuildReport:
    """Build the site; with write=False, do everything but touch the disk (`build.py check`).
    A writing build holds the archive's lock and the output folder's lock: one build at a time.
    `progress` shows what is being done (default: nothing) and times each stage. `signatures`
    checks the output's files against their notes (started by the command line before it loaded
    the engine; else the build starts one); `drawer` draws the charts (the command line may have
    started it already; else the build makes one). The build stops both when done."""
    if options.preview and options.out.resolve() == (options.root / "site").resolve():
        raise BuildError("a preview is never written to site/: give another --out (default: preview/)")
    progress = progress or Progress("silent")
    with contextlib.ExitStack() as running:
        if signatures is not None:
            running.enter_context(signatures)
        running.enter_context(progress.running())
        drawer = running.enter_context(drawer or drawing.Helper())
        tables_child = ready_to_compute(options)
        if tables_child is not None:
            running.callback(tables_child.close)
        if not write:
            report = build_stages(options, write, progress, drawer, tables_child=tables_child)
        else:
            check_out(options.out, options.root)
            with lock.exclusive(options.root / "archive", options.wait), lock.exclusive(options.out, options.wait), \
                    search.Index() as index:
                # what a killed build left, before anything else; the archive is listed again after
                # a repair, not taken as the up-to-date check listed it before
                if archive.repair(options.root / "archive"):
                    options = replace(options, archive_entries=None)
                recover(options.out)
                if signatures is None and options.use_cache:  # else none: without the cache no file is reused
                    signatures = running.enter_context(reuse.Signatures.of_site(options.root, options.out))
                report = build_stages(options, write, progress, drawer, index,
                                      signatures if options.use_cache else None, compression_cache(options, running),
                                      tables_child)
    return replace(report, stages=dict(progress.times))


def compression_cache(options: BuildOptions, running: contextlib.ExitStack) -> Path:
    """Where a writing build keeps the assets' compressed copies, which are slow to make
    (compress.ahead): the project's cache, or for a build without it (an audit, which takes nothing
    an earlier build made) a folder of its own, removed when it ends."""
    if options.use_cache:
        return options.root / ".cache" / "compressed"
    return Path(running.enter_context(tempfile.TemporaryDirectory(prefix="statpress-copies-")))


def build_stages(options: BuildOptions, write: bool, progress: Progress, drawer: drawing.Drawer,
                 index: search.Index | None = None, signatures: reuse.Signatures | None = None,
                 copies: Path | None = None, tables_child: fork.Waiting | None = None) -> BuildReport:
    """The stages; `drawer` draws the charts, `index` (a writing build's) is given each page to
    index as soon as it is made, `signatures` says which files of the output changed since
    they were noted, `copies` keeps the assets' compressed copies (compression_cache), and
    `tables_child` is a child ready to compute tables (compute_ahead)."""
    start = time.perf_counter()
    root = options.root
    memo = filememo.FileMemo.load(root / ".cache" / "files.pickle" if options.use_cache else None)
    with progress.stage("content", "content read and checked"):
        project = read_content(options, memo)
    compressing = None
    if write and copies is not None and project.site.precompress:
        compressing = compress.ahead(render.assets(root), copies, compress.made_ahead(root / "templates" / "assets"))
    with progress.stage("data", "datasets and classifications declared"):
        resources = load_resources(options, project, drawer, memo)
    # the catalog's engines' connections and what they spilled to disk are closed, and a child
    # computing tables ahead (publish_all) waited for, however the build ends
    with contextlib.closing(resources.catalog), contextlib.ExitStack() as waiting:
        with progress.stage("tables", f"tables of {len(project.stats)} statistics computed"):
            publication = waiting.enter_context(publish_all(project, options, resources, tables_child))
        previous = previous_site(options.out, root / ".cache" / "written", project.site.precompress,
                                 options.use_cache and write, signatures)
        with progress.stage("pages", "pages rendered"):
            files, parts, renderers = render_pages(project, publication, options, resources, previous, write, index)
        reports = publication.reports
        with progress.stage("archive"):
            project = check_archive(project, options)
        new_snapshots = []  # releases this build publishes for the first time
        if not options.preview:
            with progress.stage("archive", "archive copied (and newly due releases frozen)"):
                snapshots, new_snapshots = archive_snapshots(project, options, resources, renderers)
                parts.append(snapshots)
        freezes = write and options.freeze and not options.preview
        own_archive = False
        folders = None
        to_freeze = [n for n in new_snapshots if due_by_the_clock(n[2], options)]
        count = len(files) + sum(part.count for part in parts)
        if write:
            with progress.stage("write", f"{count} files written"):
                if compressing is not None:
                    compressing.join()
                if freezes:
                    # only now that every page has rendered
                    archive.freeze_all([(snap, snapshot) for snap, snapshot, _ in to_freeze])
                    own_archive = archive.note_frozen(root / "archive", archive_stamp(options), project.archive,
                                                      [snap for snap, _, _ in to_freeze])
                folders = write_site(files, options.out, index=index,
                           compress_cache=copies,
                           precompress=project.site.precompress, notes=root / ".cache" / "written",
                           reuse_files=options.use_cache, previous=previous, signatures=signatures,
                           parts=parts)
                write_audit(audit_path(options.out), {r.release: r.audit for r in reports if r.audit})
                memo.save()
    frozen = [f"{snap.parent.name}/{snap.name}" for snap, _, _ in to_freeze]
    return BuildReport(options.out, options.now, count, reports, time.perf_counter() - start,
                       project.warnings, write, frozen=frozen, freezes=freezes, own_archive=own_archive,
                       folders=folders)


@dataclass(frozen=True)
class Project:
    """What the content stage read and checked: the site's settings, each language's catalogue,
    the statistics, the release calendar's warnings, and, once `check_archive` has verified it, the
    archive's entries as they were then (None before, and without the cache)."""
    site: content.SiteConfig
    locales: dict[str, Locale]
    stats: list[content.Statistic]
    warnings: list[str]
    archive: list[str] | None = None


def read_content(options: BuildOptions, memo: filememo.FileMemo | None = None) -> Project:
    """The content stage: every text of the site read and checked (translations, the release
    calendar); `memo` knows the files that did not change since the last build."""
    root = options.root
    site = content.parse(root / "site.toml", content.SiteConfig)
    require_translations(site, site.languages, str(root / "site.toml"))
    locales = load_locales(root, site)
    kept = cache.PickleCache(root / ".cache" / "content") if options.use_cache else None
    stats = content.load_all(root / "content", kept=kept, memo=memo)
    content.check_translations(stats, site.languages)
    for s in stats:
        if s.meta.fallback is None:
            check_table_translations(root / "stats", s.id, site.languages)
    warnings = check_calendar(stats, options.strict)
    return Project(site, locales, stats, warnings)


def check_archive(project: Project, options: BuildOptions) -> Project:
    """The project with its archive verified against the manifests (archive.check). Done once the
    pages are rendered, not with the rest of the content: the up-to-date check's child lists the
    archive meanwhile (uptodate.ArchiveListing), and a build handed to the build server, which
    loads no engine, would otherwise wait for it at once. Nothing before reads a snapshot's files."""
    listed = options.archive_entries() if options.archive_entries else None
    return replace(project, archive=archive.check(options.root / "archive", archive_stamp(options), listed))


def archive_stamp(options: BuildOptions) -> Path | None:
    """Where the archive is noted as it last passed its check (archive.check); none for an audit."""
    return options.root / ".cache" / "archive-verified.json" if options.use_cache else None


def load_resources(options: BuildOptions, project: Project, drawer: drawing.Drawer,
                   memo: filememo.FileMemo | None = None) -> "Resources":
    """The data stage: the datasets and classifications declared, with the caches of tables and charts."""
    root = options.root
    catalog = data.load_catalog(root, stamps=root / ".cache" / "checks" if options.use_cache else None, files=memo)
    drawn = root / ".cache" / "charts" if options.use_cache else None
    return Resources(catalog, project.locales[project.site.language], drawn, drawer,
                     cache.PickleCache(root / ".cache" / "tables", options.use_cache), project.site.languages,
                     files=memo)


def publish_all(project: Project, options: BuildOptions, resources: "Resources",
                ready: fork.Waiting | None = None) -> "Publication":
    """The tables stage: every statistic as the public sees it at the build's instant, its tables
    computed (in worker processes when many are not cached, in a forked child when a few are, see
    `compute_ahead`: `ready`, the child ready_to_compute forked, if any) and protected."""
    jobs = uncomputed(project.stats, options, resources)
    precomputed = bool(jobs) and precompute(options.root, jobs, options, resources)
    ahead = None if precomputed or not jobs else compute_ahead(jobs, len(project.stats), options, resources, ready)
    if ready is not None and ahead is not ready:
        ready.close()  # not needed: its processor goes back to the build
    computed_here = set() if precomputed or ahead is not None else set(jobs)
    if computed_here and not drawing.drawn_before(resources.cache):
        # This process draws their charts, and nothing was drawn before (a cold build, an audit):
        # the drawer starts while it computes, if the command line has not started it already
        # (drawing.Helper.for_cold_build). Otherwise it starts when a chart first misses the
        # cache (charts.remembered): a changed title or note leaves the charts as they were, and
        # starting vl-convert for nothing took half a second of the other core, which a rebuild
        # of 300 statistics keeps busy already.
        resources.drawer.start()
    publication = Publication(project.stats, options.now, resources, ahead, {sid for sid, _ in jobs} if ahead else set())
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
    resources: "Resources"
    ahead: "fork.Forked | None"  # the child computing the pending ones (compute_ahead)
    pending: set[str]  # statistic ids
    done: dict[str, tuple[Published, StatisticReport]] = field(default_factory=dict)

    def ready(self) -> list[content.Statistic]:
        return [s for s in self.stats if s.id not in self.pending]

    def listed(self) -> list[Published]:
        """Every statistic in order, the pending ones without their tables (as texts_in has them)."""
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

    def __enter__(self) -> "Publication":
        return self

    def __exit__(self, *exc) -> None:
        if self.ahead is not None:
            # the build failed while the child computed: it is waited for (it only fills caches,
            # each file written whole), so that no process of the build outlives it
            self.ahead.close()


def least_data_first(stats: list[content.Statistic], computing: set[str],
                     resources: "Resources") -> list[content.Statistic]:
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


def begin_charts(p: Published, locales: dict[str, Locale], resources: "Resources") -> None:
    """The charts of tables just computed, in every language, asked of the drawer now: it draws them
    on the other core while the build computes the next statistic's tables. The pages stage
    finishes them (`localised`); their tables are new, so their pages are rendered."""
    for lang in resources.languages:
        language = Localiser(lang, resources.languages[0], p.statistic.meta.fallback)
        resources.begun[p.statistic.id, p.release.id, lang] = begin_drawing(
            p.statistic, p.chart_specs, language(p.tables), locales[lang], p.release.period, resources.cache,
            resources.drawer, language)


# At least this many pages to render, and a child renders the second half of them (render_apart)
PAGES_APART = 16


def statistic_pages(by_language: dict[str, "Pages"], publication: Publication, index: search.Index | None,
                    drawing: list[str], forks: bool) -> dict[str, list[render.StatisticPages]]:
    """Each statistic's pages in each language: those published first, in the statistics' order,
    but those whose charts are still being drawn (`drawing`, statistic ids in the order their
    charts were asked for) last, each in every language before the next: the pages of the first
    are made while the drawer draws the last, not after them. Then, once the child computing them
    is done, the pending ones. Each is handed to `index` as soon as those before it (languages in
    turn) have been: the search index is the same whatever order they were made in.

    Where the page cache lacks many of the first (a cold build, a template changed: 600 pages of
    300 statistics took 14 s in one process) and the build `forks`, a forked child renders the
    second half of those while this process renders the first. Otherwise each page is looked up
    and, if need be, rendered in turn, so that the search index gets the pages before and after a
    changed one while the others are looked up (search.Index: a part with a page rendered afresh
    is indexed again, its pages in order)."""
    order = [(lang, s.id) for lang in by_language for s in publication.stats]
    made: dict[tuple[str, str], render.StatisticPages] = {}
    given = 0

    def make(lang: str, p: Published, *known) -> None:
        nonlocal given
        made[lang, p.statistic.id] = by_language[lang].of(p, *known)
        while given < len(order) and order[given] in made:
            if index is not None:
                index.add(made[order[given]].files)
            given += 1

    if index is not None:
        index.expect([s.meta.short_name for s in publication.stats if s.id in publication.pending or s.id in drawing])
    ready = [(lang, publication.done[s.id][0]) for lang in by_language for s in publication.ready()
             if s.id not in drawing]
    # which pages the page cache lacks, by their keys alone: whether half of them are rendered apart
    keys = {(lang, p.statistic.id): by_language[lang].entry_key(p) for lang, p in ready}
    missing = [(lang, p) for lang, p in ready if (key := keys[lang, p.statistic.id]) is None
               or not by_language[lang].cache.has(key)]
    apart = missing[len(missing) // 2:] if forks and len(missing) >= PAGES_APART else []
    child = fork.Forked(lambda: render_apart(by_language, apart)) if apart else None
    aside = {(lang, p.statistic.id) for lang, p in apart}
    try:
        for lang, p in ready:
            if (lang, p.statistic.id) not in aside:
                make(lang, p, by_language[lang].look_up(p, keys[lang, p.statistic.id]))
        rendered = child.result_or({}) if child is not None else {}
    finally:
        if child is not None:
            child.close()  # waited for, should this process fail first (a template's error)
    for lang, p in apart:
        key = keys[lang, p.statistic.id]
        make(lang, p, (key, None), rendered.get((lang, p.statistic.id)))
    for statistic_id in drawing:
        for lang in by_language:
            make(lang, publication.done[statistic_id][0])
    finished = publication.complete()
    for lang in by_language:
        for s in finished:
            make(lang, publication.done[s.id][0])
    return {lang: [made[lang, s.id] for s in publication.stats] for lang in by_language}


def render_apart(by_language: dict[str, "Pages"], pages: list[tuple[str, Published]]) -> dict:
    """In a forked child: `pages` ((language, statistic) pairs) rendered, by (language, statistic
    id). A chart the cache lacks is drawn by a helper process of the child's own: the build's
    helper answers through a thread that the fork did not copy (see compute_in_worker)."""
    with drawing.Helper() as drawer:
        resources = replace(next(iter(by_language.values())).resources, drawer=drawer)
        for language in by_language.values():
            language.resources = resources
        return {(lang, p.statistic.id): by_language[lang].rendered(p) for lang, p in pages}


def render_pages(project: Project, publication: Publication, options: BuildOptions, resources: "Resources",
                 previous: reuse.Previous, write: bool,
                 index: search.Index | None) -> tuple[dict[str, bytes | reuse.Known], list[reuse.Part],
                                                      dict[str, render.Renderer]]:
    """The pages stage: every page of every language, the statistics' own from the page cache when
    `previous` (the live site) holds them as they would be rendered, and the files the site has
    once (sitemap, data catalogue, assets); each page handed to `index` as it is made. Each
    statistic's pages in a language come as a part of the site (render.StatisticPages.part) when
    the page cache keys them, the other files as they are. Also the renderers, which draw the
    archived snapshots next. The statistics whose tables are still being computed (Publication)
    come last."""
    root, site, locales = options.root, project.site, project.locales
    if index is not None:
        index.start(site.language, tuple(site.languages[1:]), len(project.stats), previous,
                    cache.PickleCache(root / ".cache" / "search", options.use_cache and write))
    digests = pagecache.Digests(resources.files)
    names = {lang: locales[lang].own_name() for lang in site.languages}
    sites = {lang: in_language(site, lang, site) for lang in site.languages}
    renderers = {lang: render.make_renderer(root, locales[lang], options.preview, sites[lang], names,
                                            options.use_cache) for lang in site.languages}
    listed = publication.listed()
    page_cache = cache.PickleCache(root / ".cache" / "pages", options.use_cache and write)
    by_language = {lang: Pages(renderers[lang], sites[lang], lang, resources, options.preview, previous, page_cache,
                               digests, Texts(listed, lang, resources), {s.meta.short_name: s for s in project.stats})
                   for lang in site.languages}
    # the listing pages show no tables: they are made before waiting for any (Publication)
    state = pagecache.listing_state(listed, options.now, digests) if page_cache.enabled else []
    listings = {lang: pages.listing(listed, options.now, state) for lang, pages in by_language.items()}
    own = statistic_pages(by_language, publication, index, list(dict.fromkeys(sid for sid, _, _ in resources.begun)),
                          forks(options, resources))
    rendered = [render.render_language(renderers[lang], pages.site, listings[lang], own[lang])
                for lang, pages in by_language.items()]
    files = {name: content for r in rendered for name, content in r.files.items()}
    # a preview has no catalogue: it leaves the parts kept for the site's as they are
    kept = cache.PickleCache(root / ".cache" / "catalog", options.use_cache and write and not options.preview)
    fragments = metadata.Fragments(kept.get("fragments") or {})
    files.update(render.site_files(root, list(sites.values()),
                                   [locales[lang] for lang in site.languages], rendered, options.preview, fragments))
    if fragments.used != fragments.known:
        kept.put("fragments", fragments.used)
    if index is not None:
        index.add(files)
        # Every page Pagefind reads is made (snapshots lie deeper: search.reads): it makes the
        # index's files while the archive is copied and the site staged, not after.
        index.finish()
    return files, [part for r in rendered for part in r.parts], renderers


def archive_snapshots(project: Project, options: BuildOptions, resources: "Resources",
                      renderers: dict[str, render.Renderer]) -> tuple[reuse.Part, list]:
    """The archive stage: the files of every snapshot due at the build's instant (a part of the
    site), and the newly due ones to freeze (see `archived`); a build that would withdraw an
    archived release stops here."""
    site = project.site
    sites = {lang: in_language(site, lang, site) for lang in site.languages}  # once, not per snapshot
    refuse_withdrawal(project.stats, options, project.archive)
    manifests = archive.Manifests(options.root / ".cache" / "archive-manifests.pickle" if options.use_cache else None,
                                  project.archive)
    return archived(
        project.stats, options.now, resources, options.root, manifests,
        lambda p: {name: content for lang in site.languages for name, content in render.snapshot_files(
            renderers[lang], options.root, sites[lang], localised(p, lang, resources, project.locales[lang]),
            site.base_url).items()})


def load_locales(root: Path, site: content.SiteConfig) -> dict[str, Locale]:
    """Each language's catalogue, with the site's name and tagline in that language."""
    locales = {}
    for lang in site.languages:
        identity = in_language(site.identity, lang, site)
        locales[lang] = load_locale(root, lang).with_strings(site_name=identity.name, site_tagline=identity.tagline)
    return locales


def check_table_translations(stats_dir: Path, statistic: str, languages: list[str]) -> None:
    """Every title, label and note of a statistic's tables and charts in every language."""
    path, spec = tables.load_specs(stats_dir, statistic)
    parts = [(f"table '{t.id}'", t) for t in spec.tables]
    parts += [("key_figure", spec.key_figure)] if spec.key_figure else []
    parts += [(f"chart '{c.id}'", c) for c in charts.parse_specs(path, spec.charts)]
    for where, part in parts:
        require_translations(part, languages, f"{path}: {where}")


def in_language(value, lang: str, site: content.SiteConfig, fallback: str | None = None):
    """`value` with its texts in `lang`; the site itself also gets that language's address."""
    localised_value = Localiser(lang, site.language, fallback)(value)
    if isinstance(value, content.SiteConfig):
        prefix = render.language_prefix(lang, site.languages)
        return localised_value.model_copy(update={
            "base_url": site.base_url + prefix, "root_url": site.base_url,
            "languages": [lang] + [x for x in site.languages if x != lang]})
    return localised_value


def localise_statistic(value, s: content.Statistic, lang: str, resources: "Resources"):
    """`value` (something of statistic `s`) in `lang`, with `s`'s fallback where a text lacks it."""
    return Localiser(lang, resources.languages[0], s.meta.fallback)(value)


def localised(p: Published, lang: str, resources: "Resources", locale: Locale) -> Published:
    """A statistic as published, in one language: texts, tables and charts (drawn in its locale)."""
    fallback = p.statistic.meta.fallback
    language = Localiser(lang, resources.languages[0], fallback)
    if fallback and fallback != lang and missing(p, [resources.languages[0], lang]):
        p = replace(p, fallback=fallback)  # the page says so
    p = language(p)
    if p.release is None or not p.chart_specs:
        return p
    begun = resources.begun.pop((p.statistic.id, p.release.id, lang), None)
    return replace(p, charts=begun.finish() if begun else draw(p.statistic, p.chart_specs, p.tables, locale,
                                                        p.release.period, resources.cache, resources.drawer, language))


class Texts:
    """The statistics' metadata and releases in one language (texts_in), each localised when first
    asked for: a rebuild that takes the listing pages and most statistics' pages from the cache
    needs only a few of them."""

    def __init__(self, published: list[Published], lang: str, resources: "Resources"):
        self.published, self.lang, self.resources = published, lang, resources
        self.done: dict[str, Published] = {}

    def of(self, p: Published) -> Published:
        if p.statistic.id not in self.done:
            self.done[p.statistic.id] = texts_in(p, self.lang, self.resources)
        return self.done[p.statistic.id]

    def all(self) -> list[Published]:
        return [self.of(p) for p in self.published]

    def named(self, names: list[str]) -> list[content.Statistic]:
        """The statistics of these short names, as another statistic's page links to them."""
        by_name = {p.statistic.meta.short_name: p for p in self.published}
        return [metadata_only(self.of(by_name[n]).statistic) for n in names]


def texts_in(p: Published, lang: str, resources: "Resources") -> Published:
    """A statistic's metadata and releases in one language, for the pages that list statistics (the
    front page, the calendar, the archive); its About texts, tables and charts are on its own page.
    Localising the About texts as well was half the time of localising 300 statistics."""
    listed = replace(p, statistic=replace(p.statistic, about=[]), tables=[], key_figure=None, charts=[],
                     chart_specs=[])
    return localise_statistic(listed, p.statistic, lang, resources)


def metadata_only(s: content.Statistic) -> content.Statistic:
    """A statistic as another one's page links to it: its metadata (statistic.toml), which is all
    the page cache keys a related statistic by."""
    return replace(s, releases=[], about=[])


@dataclass
class Pages:
    """The statistics' own pages in one language: from the page cache (pagecache.py) when the
    previous site holds them as they would be rendered, else rendered."""
    renderer: render.Renderer
    site: content.SiteConfig  # in the language
    lang: str
    resources: Resources
    preview: bool
    previous: reuse.Previous
    cache: cache.PickleCache
    digests: pagecache.Digests  # the files pages are keyed by, read once for every language
    texts: Texts  # the statistics' metadata and releases in the language, for the pages that list them
    statistics: dict[str, content.Statistic]  # every statistic by its short name, as read
    linked: dict[str, str] = field(default_factory=dict)  # what `links` made, by statistic id

    @functools.cached_property
    def how(self) -> str:
        """How this language's pages are made (pagecache.renderer_key)."""
        return pagecache.renderer_key(self.renderer, self.site.model_dump_json(), self.preview, self.digests)

    def of(self, p: Published, looked: "tuple[str | None, render.StatisticPages | None] | None" = None,
           rendered: render.StatisticPages | None = None) -> render.StatisticPages:
        """`p`'s pages, with links to the statistics it names as related: as `looked` up in the page
        cache (look_up; now, if not given), else as a child `rendered` them, else rendered here."""
        key, pages = looked or self.look_up(p)
        if pages is None:
            pages = rendered or self.rendered(p)
            if key:
                self.cache.put(key, pagecache.entry(pages))
        return replace(pages, key=key, name=f"{self.lang}:{p.statistic.id}")

    def look_up(self, p: Published, key: str | None = None) -> tuple[str | None, render.StatisticPages | None]:
        """The page cache's key of `p`'s pages (`key`, if known: `entry_key`'s), and the pages if
        the previous site holds them as they would be rendered."""
        key = key or self.entry_key(p)
        found = self.cache.get(key) if key else None
        return key, pagecache.pages(found, self.previous) if found else None

    def rendered(self, p: Published) -> render.StatisticPages:
        """`p`'s pages rendered (by this process, or by a child: render_apart)."""
        return render.statistic_pages(self.renderer, self.site, localised(p, self.lang, self.resources,
                                                                           self.renderer.locale),
                                      self.texts.named(p.statistic.meta.related))

    def entry_key(self, p: Published) -> str | None:
        if not self.cache.enabled:
            return None
        tables_key = self.resources.table_key(p.statistic, p.release.period) if p.release else "none"
        if tables_key is None:
            return None  # tables on a cluster, which cannot say whether they changed
        related = [self.statistics[name].folder / "statistic.toml" for name in p.statistic.meta.related]
        return pagecache.key(self.how, p, tables_key, related, self.links(p.statistic), self.digests)

    def links(self, s: content.Statistic) -> str:
        """Where the links to `s`'s archived snapshots point in this language, as the page cache
        keys them: made once, for the statistic's own pages and the listing pages both."""
        if s.id not in self.linked:
            self.linked[s.id] = repr([self.renderer.snapshot_link(s.meta.short_name, r.id) for r in s.releases])
        return self.linked[s.id]

    def listing(self, published: list[Published], now: dt.datetime,
                state: list[tuple[content.Statistic, str]]) -> dict[str, bytes | reuse.Known]:
        """The pages that list statistics (render.listing_files, and the archive's index unless
        this is a preview): from the page cache when the previous site holds them as they would
        be rendered (`state`: pagecache.listing_state, the same in every language), else rendered."""
        key = pagecache.listing_key(self.how, state, self.links) if self.cache.enabled else None
        found = self.cache.get(key) if key else None
        files = pagecache.files(found, self.previous) if found else None
        if files is None:
            texts = self.texts.all()
            files = render.listing_files(self.renderer, self.site, texts, now)
            if not self.preview:
                files.update(render.archive_index(self.renderer, texts, now))
            if key:
                self.cache.put(key, {name: reuse.digest(data) for name, data in files.items()})
        return files


def uncomputed(stats: list[content.Statistic], options: BuildOptions, resources: "Resources") -> list[tuple[str, str]]:
    """(statistic, release) of each release the build shows whose tables the cache lacks."""
    jobs = []
    for s in stats:
        release = calendar.next_due(s, options.now) if options.preview else None
        release = release or calendar.due(s, options.now)
        if release is not None and declares_tables(s, resources, release) and \
                not resources.tables.has(resources.table_key(s, release.period)):
            jobs.append((s.id, release.id))
    return jobs


def precompute(root: Path, jobs: list[tuple[str, str]], options: BuildOptions, resources: "Resources") -> bool:
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


def on_spark(resources: "Resources") -> bool:
    """Does a dataset go to Spark? It parallelises each query itself: a worker would start a Spark
    driver of its own."""
    catalog = resources.catalog
    return catalog.engines.default == "spark" or any(d.engine == "spark" for d in catalog.spec.datasets.values())


def compute_ahead(jobs: list[tuple[str, str]], statistics: int, options: BuildOptions,
                  resources: "Resources", ready: fork.Waiting | None = None) -> "fork.Forked | None":
    """The releases `jobs` computed into the caches by a forked child, while this process renders
    the pages of the other statistics (render_pages); None where that does not pay. A rebuild
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


def forks(options: BuildOptions, resources: "Resources | None" = None) -> bool:
    """May the build fork a child to work beside it (fork.py)? Not in a preview (the live
    preview's process runs its server's threads), nor with one core or `--jobs 1` (nothing would
    run beside), nor once an engine runs in this process (data on a server, fingerprinted by it:
    its threads and connections are not to be forked), nor where data go to Spark. Without
    `resources` (the build's start), what the options say."""
    workers = options.workers or len(os.sched_getaffinity(0))
    return not options.preview and workers >= 2 and fork.available() and \
        (resources is None or not on_spark(resources) and not resources.catalog.engines.made)


def compute_in_worker(root: str, jobs: list[tuple[str, str]], forked: bool = False) -> None:
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


def compute_releases(root_path: Path, jobs: list[tuple[str, str]], drawer: drawing.Drawer) -> None:
    site = content.parse(root_path / "site.toml", content.SiteConfig)
    locales = load_locales(root_path, site)
    sites = {lang: in_language(site, lang, site) for lang in site.languages}
    headings = content.project_headings(root_path)
    kept = cache.PickleCache(root_path / ".cache" / "downloads")
    # a dataset whose check passed, as noted, is not checked again (a worker runs with the cache)
    with contextlib.closing(data.load_catalog(root_path, stamps=root_path / ".cache" / "checks")) as catalog:
        for statistic_id, release_id in jobs:
            s = content.load_statistic(root_path / "content" / statistic_id, headings)
            release = next(r for r in s.releases if r.id == release_id)
            computed, _ = compute_release(s, catalog, release, cache.PickleCache(root_path / ".cache" / "tables"))
            for lang in site.languages:
                language = Localiser(lang, site.language, s.meta.fallback)
                shown = language(computed.tables)
                draw(s, computed.charts, shown, locales[lang], release.period, root_path / ".cache" / "charts",
                     drawer, language)
                prov = metadata.provenance(sites[lang], language(s.meta), release)
                for table in shown:  # XLSX was half of the corpus's pages stage, in one process
                    downloads.cached_downloads(table, prov, locales[lang], kept)


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


def publish_release(s: content.Statistic, release: content.Release, resources: Resources, embargoed: bool = False):
    """One release of a statistic as published: protected tables, key figure and what its charts
    show (drawn once per language, see `localised`)."""
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


def archived(stats: list[content.Statistic], now: dt.datetime, resources: Resources, root: Path,
             manifests: archive.Manifests, renderer_for_snapshot) -> tuple[reuse.Part, list]:
    """Every release due at `now`, from its frozen snapshot (its files not read: see
    reuse.Known; its manifest from `manifests`), as one part of the site (reuse.Part), whose
    digest is made of the snapshots' places and manifests: a manifest gives the hash of every
    file of its snapshot. And the newly due releases, to freeze."""
    archive_dir = root / "archive"
    snapshots: list[tuple[str, Path | str, dict | None]] = []  # (place, snapshot, files made in this build)
    digest = hashlib.sha256()
    count = 0
    new = []
    for s in stats:
        short = s.meta.short_name
        for release in track(calendar.published_releases(s, now), "archive", lambda r: r.id):
            # a plain string: pathlib's joins for 3 300 snapshots took 0.03 s of every build
            snap = f"{archive_dir}/{short}/{release.id}"
            place = f"archive/{short}/{release.id}/"
            found = manifests.manifest(snap)  # archive.check verified every snapshot
            made = None
            if found is None:
                snap = Path(snap)
                p, _ = publish_release(s, release, resources)
                made = archive.with_manifest(renderer_for_snapshot(p), short, release.id,
                                             release.time_of_publication.isoformat())
                new.append((snap, made, release))
            snapshots.append((place, snap, made))
            manifest = made[archive.MANIFEST] if made is not None else found[0]
            digest.update(f"{place}\0{len(manifest)}\0".encode() + manifest)
            count += len(made) if made is not None else len(found[1]) + 1  # its files and its manifest
    manifests.save()

    def files() -> dict[str, bytes | reuse.Known]:
        return {place + rel: data for place, snap, made in snapshots
                for rel, data in (made if made is not None else manifests.known(snap)).items()}

    return reuse.Part("archive", digest.hexdigest(), count, files), new


def due_by_the_clock(release: content.Release, options: BuildOptions) -> bool:
    """A release is frozen into archive/ only once its time has come by the real clock, whatever
    --now says: a build for a future instant is a rehearsal, not a release."""
    return release.time_of_publication <= dt.datetime.now(content.OSLO) or options.freeze_future


def refuse_withdrawal(stats: list[content.Statistic], options: BuildOptions, listed: list[str] | None = None) -> None:
    """A site that no longer shows a release already in the archive is a mistake (a --now in the
    past, a deleted release) unless the editor says so. `listed`: the archive as it passed its
    check (Project.archive), if it was listed."""
    published = {s.meta.short_name: {r.id for r in calendar.published_releases(s, options.now)} for s in stats}
    gone = archive.withdrawn(options.root / "archive", published, listed)
    if gone and not options.allow_withdraw:
        more = f" (and {len(gone) - 1} more)" if len(gone) > 1 else ""
        raise BuildError(f"{gone[0]}: this release is archived as published, but the site as of "
                         f"{options.now.isoformat()} would withdraw it{more}; check --now and releases.toml, "
                         "or give --allow-withdraw")


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


def describe(report: BuildReport) -> str:
    lines = [f"statpress {__version__}: site as of {report.now.isoformat()}"]
    for s in report.statistics:
        what = f"release {s.release}, {s.tables} tables" if s.release else "no release due yet"
        lines.append(f"  {s.name}: {what}" + "".join(f"; {n}" for n in s.notes))
        for dataset, a in s.audit.items():
            lines.append(f"    rounded {dataset} (base {a['base']}): {a['cells']} cells, {a['candidates']} "
                         f"candidates, {a['changed']} inner cells changed, max change {a['max_abs_change']}, "
                         f"RMSE {a['rmse']:.2f}")
    for rel in report.frozen:
        if report.freezes:
            lines.append(f"froze archive/{rel}: first published by this build; it is never rendered again")
        elif report.written is False:
            lines.append(f"note: a build at this instant would freeze archive/{rel} for good; "
                         "proofread it first (build.py build --preview, or build.py serve --now)")
    lines += [f"warning: {w}" for w in report.warnings]
    if report.written:
        lines.append(f"wrote {report.files} files to {report.out} in {report.seconds:.1f} s")
    else:
        lines.append(f"check passed: {report.files} files would be written, in {report.seconds:.1f} s (nothing written)")
    return "\n".join(lines)


__all__ = ["BuildError", "BuildOptions", "build", "describe"]
