"""The build: content → data → tables → confidentiality → charts → render → write.

Each stage takes plain values and returns new ones; only `write` touches the output folder.
`build_stages` runs them in order: the content and data stages are here, the tables stage
(computed, protected, charted) is publish.py, the pages stage pages.py, the archive stage here
again, and the write stage write.py.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from . import (__version__, archive, cache, calendar, charts, compress, content, data, drawing, filememo, fork,
               languages, lock, pages, publish, render, reuse, search, tables)
from .errors import BuildError
from .i18n import require_translations
from .locale import Locale
from .progress import Progress, track
from .publish import Resources, StatisticReport
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
    # tables are computed (see `publish.ready_to_compute`)
    tables_changed: bool = False


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
        tables_child = publish.ready_to_compute(options)
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
    `tables_child` is a child ready to compute tables (publish.compute_ahead)."""
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
    # computing tables ahead (publish.publish_all) waited for, however the build ends
    with contextlib.closing(resources.catalog), contextlib.ExitStack() as waiting:
        with progress.stage("tables", f"tables of {len(project.stats)} statistics computed"):
            publication = waiting.enter_context(publish.publish_all(project, options, resources, tables_child))
        previous = previous_site(options.out, root / ".cache" / "written", project.site.precompress,
                                 options.use_cache and write, signatures)
        with progress.stage("pages", "pages rendered"):
            files, parts, renderers = pages.render_pages(project, publication, options, resources, previous, write,
                                                         index)
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
                own_archive = freezes and freeze_new(project, options, to_freeze)
                folders = write_site(files, options.out, index=index, compress_cache=copies,
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
    locales = languages.load_locales(root, site)
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


def freeze_new(project: Project, options: BuildOptions, to_freeze: list[tuple[Path, dict, content.Release]]) -> bool:
    """The releases this build publishes for the first time frozen into archive/, only now that
    every page has rendered (a template's error would otherwise leave a snapshot of a site never
    published); whether the archive changed by nothing else since it was checked
    (archive.note_frozen)."""
    archive.freeze_all([(snap, snapshot) for snap, snapshot, _ in to_freeze])
    return archive.note_frozen(options.root / "archive", archive_stamp(options), project.archive,
                               [snap for snap, _, _ in to_freeze])


def archive_stamp(options: BuildOptions) -> Path | None:
    """Where the archive is noted as it last passed its check (archive.check); none for an audit."""
    return options.root / ".cache" / "archive-verified.json" if options.use_cache else None


def load_resources(options: BuildOptions, project: Project, drawer: drawing.Drawer,
                   memo: filememo.FileMemo | None = None) -> Resources:
    """The data stage: the datasets and classifications declared, with the caches of tables and charts."""
    root = options.root
    catalog = data.load_catalog(root, stamps=root / ".cache" / "checks" if options.use_cache else None, files=memo)
    drawn = root / ".cache" / "charts" if options.use_cache else None
    return Resources(catalog, project.locales[project.site.language], drawn, drawer,
                     cache.PickleCache(root / ".cache" / "tables", options.use_cache), project.site.languages,
                     files=memo)


def archive_snapshots(project: Project, options: BuildOptions, resources: Resources,
                      renderers: dict[str, render.Renderer]) -> tuple[reuse.Part, list]:
    """The archive stage: the files of every snapshot due at the build's instant (a part of the
    site), and the newly due ones to freeze (see `archived`); a build that would withdraw an
    archived release stops here."""
    site = project.site
    sites = {lang: languages.in_language(site, lang, site) for lang in site.languages}  # once, not per snapshot
    refuse_withdrawal(project.stats, options, project.archive)
    manifests = archive.Manifests(options.root / ".cache" / "archive-manifests.pickle" if options.use_cache else None,
                                  project.archive)
    return archived(
        project.stats, options.now, resources, options.root, manifests,
        lambda p: {name: content for lang in site.languages for name, content in render.snapshot_files(
            renderers[lang], options.root, sites[lang], pages.localised(p, lang, resources, project.locales[lang]),
            site.base_url).items()})


def check_table_translations(stats_dir: Path, statistic: str, langs: list[str]) -> None:
    """Every title, label and note of a statistic's tables and charts in every language."""
    path, spec = tables.load_specs(stats_dir, statistic)
    parts = [(f"table '{t.id}'", t) for t in spec.tables]
    parts += [("key_figure", spec.key_figure)] if spec.key_figure else []
    parts += [(f"chart '{c.id}'", c) for c in charts.parse_specs(path, spec.charts)]
    for where, part in parts:
        require_translations(part, langs, f"{path}: {where}")


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
                p, _ = publish.publish_release(s, release, resources)
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
