"""A build whose inputs have not changed since it wrote its output stops at once; any change to an
input, an option, the output or the releases due at its instant means a full build."""

from __future__ import annotations

import os

import pytest

from conftest import edit, run, runnable

# each test changes something in a project built before (conftest.project)
pytestmark = pytest.mark.built_before

NOW = "2026-11-23T12:00:00+01:00"
LATER = "2026-11-24T12:00:00+01:00"  # no release is due, announced or postponed in between
UP_TO_DATE = "up to date:"


def build(project, *args):
    result = run(project, "build", "--now", NOW, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_nothing_changed_means_nothing_to_do(project):
    project = runnable(project)
    assert UP_TO_DATE not in build(project)  # the first build builds
    quick = build(project)
    assert UP_TO_DATE in quick and "wrote" not in quick
    later = run(project, "build", "--now", LATER)
    assert UP_TO_DATE in later.stdout  # another instant, but the same releases are due


def test_each_kind_of_change_builds_again(project):
    project = runnable(project)
    build(project)
    assert UP_TO_DATE in build(project)
    edit(project / "content" / "migration" / "about" / "definitions.md", "### Residents", "### Who is resident")
    assert UP_TO_DATE not in build(project)
    assert UP_TO_DATE in build(project)
    (project / "site" / "index.html").unlink()  # the output
    assert UP_TO_DATE not in build(project)
    assert (project / "site" / "index.html").exists()
    assert UP_TO_DATE not in build(project, "--no-cache")  # an audit always builds
    assert UP_TO_DATE not in build(project, "--strict")  # another option
    before = run(project, "build", "--now", "2025-03-13T07:59:59+01:00", "--allow-withdraw")  # other releases due
    assert before.returncode == 0 and UP_TO_DATE not in before.stdout



def latest_population_changed(text: str) -> str:
    """The latest year's mean population, which the rates divide by, a million more or less."""
    old = text.splitlines()[-1]
    year, figure = old.split(",")
    return text.replace(old, f"{year},{int(figure[0]) % 9 + 1}{figure[1:]}")


@pytest.mark.parametrize("name, change", [
    ("data/population.csv", latest_population_changed),
    ("stats/classifications/counties.csv", lambda text: text.replace(",Akershus,", ",AKERSHUS,")),
], ids=["dataset", "classification"])
def test_an_input_written_over_with_its_size_and_time_kept_builds_again(project, name, change):
    """An export written into the file it replaces, or a copy that keeps the times: a dataset's or
    a classification's new bytes come with its size and modification time as they were. Its change
    time tells the check, and the build computes the statistics that read it from the new bytes,
    as a cold build of the same inputs does."""
    from conftest import digest

    project = runnable(project)
    path = project / name
    text = path.read_text(encoding="utf-8")
    path.unlink()  # the project's data files are links to the repository's: this one is its own
    path.write_text(text, encoding="utf-8")
    build(project)
    assert UP_TO_DATE in build(project)
    shown = digest(project / "site")
    before = os.stat(path)
    changed = change(text)
    assert len(changed) == len(text) and changed != text
    with open(path, "r+", encoding="utf-8") as f:
        f.write(changed)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert UP_TO_DATE not in build(project)
    assert UP_TO_DATE not in build(project, "--no-cache", "--out", str(project / "audit"))
    assert digest(project / "site") == digest(project / "audit") != shown


def test_a_build_at_the_real_clock_notes_what_it_built(project):
    """Without --now the early check's instant is the build's, and its fingerprint the one noted:
    the next build at the real clock finds nothing to do (no release falls due in between)."""
    project = runnable(project)
    first = run(project, "build")
    assert first.returncode == 0 and UP_TO_DATE not in first.stdout, first.stderr
    second = run(project, "build")
    assert second.returncode == 0 and UP_TO_DATE in second.stdout, second.stderr


def test_a_build_that_froze_a_release_is_up_to_date_after(project):
    """The build writes the snapshot of a newly due release into archive/, an input: the next build
    finds nothing to do, and a later change to the archive still means a full build."""
    from conftest import drop_snapshot

    project = runnable(project)
    drop_snapshot(project)
    assert UP_TO_DATE not in build(project)
    snapshot = project / "archive" / "migration" / "migration-2024" / "index.html"
    assert snapshot.is_file()
    assert UP_TO_DATE in build(project)
    snapshot.write_bytes(snapshot.read_bytes() + b"\n")  # then the archive is edited
    assert UP_TO_DATE not in run(project, "build", "--now", NOW).stdout


def test_an_archive_changed_while_a_release_was_frozen_is_not_taken_as_built(project, monkeypatch):
    """Only the snapshots the build froze are its own: another change to the archive while it ran
    (here a snapshot's file touched) means the next build runs."""
    import importlib.util
    import os

    from conftest import drop_snapshot
    from statpress import archive

    project = runnable(project)
    drop_snapshot(project)
    spec = importlib.util.spec_from_file_location("project_build", project / "build.py")
    command = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(command)  # not as __main__: no early check, no exit
    other = project / "archive" / "migration" / "migration-2023" / "index.html"
    freeze_all = archive.freeze_all

    def freeze_while_someone_touches(snapshots):
        freeze_all(snapshots)
        os.utime(other, ns=(other.stat().st_atime_ns, other.stat().st_mtime_ns + 1_000_000_000))

    monkeypatch.setattr(archive, "freeze_all", freeze_while_someone_touches)
    assert command.main(["build", "--now", NOW]) == 0
    monkeypatch.undo()
    assert (project / "archive" / "migration" / "migration-2024").is_dir()
    assert UP_TO_DATE not in build(project)
    assert UP_TO_DATE in build(project)


def test_the_archive_listed_by_the_check_is_not_listed_again_by_the_build(project, monkeypatch):
    """The up-to-date check lists the archive as its stamp does (archive.entries) and hands the
    listing to the build, which then hashes nothing and lists nothing (the archive passed before);
    a build without the listing lists it itself."""
    from conftest import DEMO_NOW
    from statpress import archive, pipeline, uptodate

    project = runnable(project)
    build(project)
    fresh, fingerprint = uptodate.check(project, project / "site", DEMO_NOW, uptodate.options(False, False))
    assert fresh  # so the check listed the archive itself
    assert fingerprint.archive_entries and fingerprint.archive_entries == archive.entries(project / "archive")
    again = uptodate.Fingerprint(fingerprint.rest, uptodate.ArchiveListing.now(project / "archive"))
    assert again.digest == fingerprint.digest
    listed, hashed = [], []
    entries, verify_all = archive.entries, archive.verify_all
    monkeypatch.setattr(archive, "entries", lambda folder: listed.append(folder) or entries(folder))
    monkeypatch.setattr(archive, "verify_all", lambda folder: hashed.append(folder) or verify_all(folder))
    options = pipeline.BuildOptions(project, project / "site", DEMO_NOW, archive_entries=lambda: fingerprint.archive_entries)
    pipeline.build(options)
    assert listed == [] and hashed == []
    pipeline.build(pipeline.BuildOptions(project, project / "site", DEMO_NOW))
    assert listed == [project / "archive"] and hashed == []


def test_the_build_asks_for_the_archive_listing_only_once_its_pages_are_rendered(project, monkeypatch):
    """The child's listing of the archive is waited for only after the pages stage: a build handed
    to the build server, which loads no engine meanwhile, would otherwise start by waiting for it."""
    from conftest import DEMO_NOW
    from statpress import archive, pages, pipeline

    project = runnable(project)
    build(project)
    events = []
    render_pages = pages.render_pages
    monkeypatch.setattr(pages, "render_pages", lambda *a, **k: events.append("pages") or render_pages(*a, **k))
    listed = archive.entries(project / "archive")
    pipeline.build(pipeline.BuildOptions(project, project / "site", DEMO_NOW,
                                         archive_entries=lambda: events.append("listing") or listed))
    assert events == ["pages", "listing"]


def test_the_archive_is_listed_by_a_child_when_the_build_will_run(project, monkeypatch):
    """When an input other than the archive changed, the check lists the archive in a child
    process (uptodate.ArchiveListing) and returns without waiting for it: the build runs anyway.
    When none did, it stats the entries the last build noted (archive.restat), and lists none. A
    child that fails is replaced by a listing here."""
    from conftest import DEMO_NOW
    from statpress import archive, uptodate

    project = runnable(project)
    build(project)
    here = archive.entries(project / "archive")
    listed_here = []
    monkeypatch.setattr(archive, "entries", lambda folder: listed_here.append(folder) or here)
    fresh, fingerprint = uptodate.check(project, project / "site", DEMO_NOW, uptodate.options(False, False))
    assert fresh and listed_here == [] and fingerprint.archive_entries == here
    edit(project / "content" / "migration" / "about" / "definitions.md", "### Residents", "### Who is resident")
    fresh, fingerprint = uptodate.check(project, project / "site", DEMO_NOW, uptodate.options(False, False))
    assert not fresh and fingerprint.listing.listed is None  # not waited for
    assert fingerprint.archive_entries == here and listed_here == []  # the child listed it
    monkeypatch.setattr(uptodate, "LIST", "raise SystemExit(3)")
    _, failed = uptodate.check(project, project / "site", DEMO_NOW, uptodate.options(False, False))
    assert failed.archive_entries == here and listed_here == [project / "archive"]


def test_the_archive_child_stats_the_noted_entries_and_lists_when_one_changed(project):
    """The child the check starts when the build will run is given the entries the last build
    noted and the hash of their listing then: while every one stats as it did, they are the
    listing; once one differs (a file added to a snapshot's folder, and so that folder's time),
    it lists the archive."""
    import json
    import pickle
    import subprocess
    import sys

    from conftest import DEMO_NOW
    from statpress import archive, uptodate

    project = runnable(project)
    build(project)
    edit(project / "content" / "migration" / "about" / "definitions.md", "### Residents", "### Who is resident")
    fresh, fingerprint = uptodate.check(project, project / "site", DEMO_NOW, uptodate.options(False, False))
    record = uptodate.record_path(project, project / "site")
    noted, then = record.with_suffix(".archive"), json.loads(record.read_text(encoding="utf-8"))["archive"]
    assert not fresh and fingerprint.listing.process.args[-2:] == [str(noted), then]
    assert fingerprint.archive_entries == archive.entries(project / "archive")

    def child(paths: list[str], expected: str) -> list[str]:
        given = project / "given.txt"
        given.write_text("\n".join(paths), encoding="utf-8")
        done = subprocess.run([sys.executable, "-c", uptodate.LIST, str(project / "archive"), str(given), expected],
                              env=uptodate.with_engine(), capture_output=True, check=True)
        return pickle.loads(done.stdout)

    paths = noted.read_text(encoding="utf-8").split("\n")
    fewer = [p for p in paths if not p.endswith(archive.MANIFEST)]
    fewer_now = archive.restat(fewer)
    assert child(fewer, archive.entries_digest(fewer_now)) == fewer_now  # taken at their word: not listed
    manifest = next(p for p in paths if p.endswith(archive.MANIFEST))
    (project / "archive" / manifest.split("/archive/", 1)[1]).with_name("stray.txt").write_text("x", encoding="utf-8")
    assert archive.entries_digest(archive.restat(paths)) != then  # the snapshot's folder has another time
    assert child(paths, then) == archive.entries(project / "archive")  # listed, the stray file too


def test_the_folders_the_build_found_are_those_the_check_lists(project, tmp_path):
    """The record notes the output's folders as the write stage found them after the swap, not
    listed again (uptodate.outputs): they must be what the next check lists, whether the site was
    staged afresh or brought up to date in the spare, strays and all."""
    from conftest import DEMO_NOW
    from statpress import pipeline, uptodate, write

    out = tmp_path / "site"
    about = project / "content" / "migration" / "about" / "definitions.md"

    def build_here():
        report = pipeline.build(pipeline.BuildOptions(project, out, DEMO_NOW))
        assert report.folders is not None
        assert uptodate.outputs(out, report.folders) == uptodate.outputs(out)

    build_here()  # staged afresh
    for n in range(3):  # the replaced site kept as the spare, then brought up to date
        edit(about, "\n", f"\n\nEdited {n}.\n")
        if n == 2:
            spare = write.spare_folder(out)
            (spare / "stray" / "deeper").mkdir(parents=True)  # gone in the site it becomes
            (spare / "migration" / "empty").mkdir()
        build_here()
    assert not (out / "stray").exists() and not (out / "migration" / "empty").exists()
    report = pipeline.build(pipeline.BuildOptions(project, out, DEMO_NOW, use_cache=False))
    assert report.folders is None  # --no-cache: no note, and no record to make


def test_the_check_stats_the_noted_folders_and_still_finds_one_added_or_removed(project, monkeypatch):
    """With nothing changed, the check stats the output's folders and the archive's entries that
    the last build noted beside its record and lists none of them; a folder added or removed
    anywhere below is found all the same, by the modification time of the folder that held it.
    Without the note, it lists them."""
    import os

    from statpress import uptodate
    from statpress.instants import parse_instant

    project = runnable(project)
    build(project)
    site = project / "site"
    listed = []
    listing = os.scandir
    monkeypatch.setattr(uptodate.os, "scandir", lambda path: listed.append(os.fspath(path)) or listing(path))

    def fresh() -> bool:
        listed.clear()
        return uptodate.check(project, site, parse_instant(NOW), uptodate.options(False, False))[0]

    def site_listed() -> bool:
        return any(p == str(site) or p.startswith(str(site) + os.sep) for p in listed)

    assert fresh() and not site_listed()
    deep = site / "migration" / "new" / "deeper"
    deep.mkdir(parents=True)
    assert not fresh()
    deep.rmdir()
    deep.parent.rmdir()
    assert not fresh()  # the folders are gone, but the one that held them was changed meanwhile
    build(project)
    assert fresh()
    (site / "migration" / "tables").rename(site / "migration" / "tables-renamed")
    assert not fresh()
    (site / "migration" / "tables-renamed").rename(site / "migration" / "tables")
    build(project)
    uptodate.record_path(project, site).with_suffix(".folders").unlink()
    assert fresh() and site_listed()  # no note: listed, and up to date

    # the archive likewise: its entries noted by the last build are statted, none listed
    archive = project / "archive"
    assert fresh() and not any(p.startswith(str(archive)) for p in listed)
    snapshot = next(p for p in archive.rglob("*.html"))
    os.utime(snapshot, ns=(snapshot.stat().st_atime_ns, snapshot.stat().st_mtime_ns + 1))
    assert not fresh()  # a file of a snapshot written
    build(project)
    assert fresh()
    (snapshot.parent / "added.html").write_text("not frozen by a build", encoding="utf-8")
    assert not fresh()  # a file added to a snapshot
    (snapshot.parent / "added.html").unlink()
    build(project)
    (archive / "stray").mkdir()
    assert not fresh()  # a folder added to the archive itself


def test_the_check_tells_the_build_whether_the_tables_inputs_changed(project):
    """Fingerprint.tables_changed: stats/ or a dataset changed since the last build (which then
    has a child load pandas and DuckDB at once, publish.ready_to_compute); not an About text,
    and not when there was no build before."""
    from conftest import DEMO_NOW
    from statpress import uptodate

    project = runnable(project)

    def changed() -> bool:
        return uptodate.check(project, project / "site", DEMO_NOW, uptodate.options(False, False))[1].tables_changed

    assert not changed()  # no build noted yet
    build(project)
    assert not changed()
    edit(project / "content" / "migration" / "about" / "definitions.md", "### Residents", "### Who is resident")
    assert not changed()
    build(project)
    edit(project / "stats" / "migration" / "tables.toml", 'label = "Immigration"', 'label = "Immigration, all"')
    assert changed()
    build(project)
    assert not changed()
    dataset = next((project / "data").rglob("*.parquet"))
    os.utime(dataset, ns=(dataset.stat().st_atime_ns, dataset.stat().st_mtime_ns + 1_000_000_000))
    assert changed()


def test_the_release_times_are_parsed_once_for_the_same_files(project, monkeypatch):
    """The check asks which releases are due at the build's instant and by the clock, and which are
    announced: from the releases.toml files parsed once and kept (`.cache/release-times.json`)
    while their sizes and times stay the same. A release added is seen at once."""
    from conftest import DEMO_NOW
    from statpress import tomlfile, uptodate

    project = runnable(project)
    parsed = []
    loads = tomlfile.loads
    monkeypatch.setattr(tomlfile, "loads", lambda text: parsed.append(text) or loads(text))

    def state(now=DEMO_NOW) -> list[str]:
        return uptodate.calendar_state(project, now, uptodate.listing(project / "content"))

    first = state()
    assert len(parsed) == 2  # migration's and naturalisations' releases.toml
    assert state() == first and len(parsed) == 2  # kept
    assert state(DEMO_NOW.replace(year=2024, month=3, day=12, hour=7, minute=59, second=59)) != \
        state(DEMO_NOW.replace(year=2024, month=3, day=12, hour=8)) and len(parsed) == 2  # migration-2023 at 08:00
    edit(project / "content" / "migration" / "releases.toml", '[[releases]]\nid = "migration-2024"',
         '[[releases]]\nid = "migration-extra"\nperiod = 2023\ndate = 2024-06-12\nannounced = 2024-01-02\n\n'
         '[[releases]]\nid = "migration-2024"')
    assert state() != first and len(parsed) == 4
