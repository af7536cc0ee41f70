"""A rebuild writes only what changed (issue #12): files the previous site holds unchanged are
hard-linked from it, archived snapshots are hashed again only when their files changed, and the
site is byte-identical to one built from scratch."""

from __future__ import annotations

import gzip
import marshal
import os
import shutil
import time
import tomllib
from dataclasses import replace
from pathlib import Path

import brotli
import pytest

from conftest import DEMO_NOW, Calls, digest, edit, served_digest
from statpress import archive, atomic, downloads, pages, pipeline, publish, render, reuse, search, write
from statpress.errors import BuildError
from statpress.write import MARKER

# each test changes something in a project built before (conftest.project)
pytestmark = pytest.mark.built_before

ALWAYS_NEW = (MARKER,)  # written by every build


def build(project: Path, out: Path, use_cache: bool = True) -> dict[str, str]:
    pipeline.build(pipeline.BuildOptions(project, out, DEMO_NOW, use_cache=use_cache))
    return digest(out)


def inodes(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): p.stat().st_ino for p in folder.rglob("*") if p.is_file()}


def folders(site: Path) -> dict[str, int]:
    """The inode of the site's folder and of each folder in it (the search index's too), by path."""
    return {p.relative_to(site).as_posix(): p.stat().st_ino for p in [site, *site.rglob("*")] if p.is_dir()}


def rebuild(project: Path, out: Path, tmp_path: Path, name: str) -> tuple[set[str], set[str]]:
    """Rebuild `out`, check it against a build from scratch, and return (the files linked from the
    previous site, the files written anew) among those the two sites share."""
    before, old_inodes = digest(out), inodes(out)
    after = build(project, out)
    assert after == build(project, tmp_path / f"scratch-{name}", use_cache=False), name
    new_inodes = inodes(out)
    linked, written = set(), set()
    for rel in sorted(set(before) & set(after)):
        if rel in ALWAYS_NEW:
            continue
        same_inode = new_inodes[rel] == old_inodes[rel]
        # the heart of it: a file is shared with the previous site exactly when its bytes are the same
        assert same_inode == (before[rel] == after[rel]), (name, rel)
        (linked if same_inode else written).add(rel)
    return linked, written


def test_each_kind_of_change_links_exactly_the_unchanged_files(project, tmp_path):
    out = tmp_path / "site"
    build(project, out)

    linked, written = rebuild(project, out, tmp_path, "nothing")
    assert written == set() and len(linked) > 300
    assert "migration/index.html.br" in linked and "assets/style.css.gz" in linked  # copies too

    edit(project / "stats" / "migration" / "tables.toml", 'label = "Immigration"', 'label = "Immigration, all"')
    linked, written = rebuild(project, out, tmp_path, "tables")
    assert "migration/index.html" in written and "migration/index.html.gz" in written
    assert "naturalisations/index.html" in linked and "naturalisations/index.html.br" in linked
    assert any(rel.startswith("archive/") for rel in linked)

    about = project / "content" / "naturalisations" / "about" / "definitions.md"
    about.write_text(about.read_text(encoding="utf-8") + "\nOne more sentence.\n", encoding="utf-8")
    linked, written = rebuild(project, out, tmp_path, "about")
    assert "naturalisations/index.html" in written and "migration/index.html" in linked
    assert not any(rel.startswith("naturalisations/tables/") for rel in written)  # downloads did not change

    edit(project / "templates" / "table.html", "<caption", "<caption data-x")
    linked, written = rebuild(project, out, tmp_path, "template")
    assert {"migration/index.html", "naturalisations/index.html"} <= written
    assert "assets/style.css" in linked and any(rel.endswith(".xlsx") for rel in linked)


def test_a_file_changed_in_the_site_is_never_trusted_to_the_note(project, tmp_path):
    """Writing into a file of the site or replacing it, even keeping its size, makes the next
    build write it again. (Setting the modification time back as well would go unnoticed, as by
    make: the site is statpress's output, and --no-cache writes every file.)"""
    out = tmp_path / "site"
    expected = build(project, out)
    page, csv = out / "migration" / "index.html", out / "migration" / "tables" / "by-citizenship.csv"
    page_inode = page.stat().st_ino
    data = bytearray(page.read_bytes())
    data[100] ^= 1
    with open(page, "r+b") as f:  # in place: same inode, same size
        f.write(bytes(data))
    data = bytearray(csv.read_bytes())
    data[10] ^= 1
    csv.unlink()
    csv.write_bytes(bytes(data))  # replaced: same size, maybe even the same inode number
    (out / "archive" / "migration" / "migration-2023" / "index.html").unlink()  # read from archive/ again
    assert build(project, out) == expected
    assert page.stat().st_ino != page_inode


def test_the_replaced_site_is_removed_in_the_build_where_no_process_can_be_started(project, tmp_path,
                                                                                  monkeypatch):
    def refused(folders):
        raise OSError(11, "Resource temporarily unavailable")

    out = tmp_path / "site"
    expected = build(project, out)
    monkeypatch.setattr(write, "start_removal", refused)
    assert build(project, out, use_cache=False) == expected  # --no-cache keeps no spare: the old site goes
    assert not [p for p in tmp_path.glob(".site.*") if p.name != ".site.lock"]


def test_an_archived_file_not_read_is_checked_when_it_is(tmp_path):
    path = tmp_path / "index.html"
    path.write_bytes(b"frozen")
    assert reuse.Known(str(path), reuse.digest(b"frozen")).read() == b"frozen"
    path.write_bytes(b"edited")  # after the archive was verified, during the build
    with pytest.raises(BuildError, match="changed while the site was being built"):
        reuse.Known(str(path), reuse.digest(b"frozen")).read()


def test_the_replaced_site_is_kept_as_the_spare_and_the_next_build_changes_only_what_differs(project, tmp_path):
    out, spare = tmp_path / "site", tmp_path / ".site.spare"
    first = build(project, out)
    first_inodes = inodes(out)
    first_folders = folders(out)
    about = project / "content" / "migration" / "about" / "definitions.md"
    edit(about, "\n", "\n\nEdited once.\n")
    second = build(project, out)
    assert digest(spare) == first  # the replaced site, whole
    edit(about, "Edited once.", "Edited twice.")
    third = build(project, out)
    assert third == build(project, tmp_path / "scratch", use_cache=False)
    assert digest(spare) == second
    # the third site is the first one's folders brought up to date, not a new tree of links
    assert folders(out) == first_folders
    now = inodes(out)
    kept = [rel for rel in third if rel in first and first[rel] == third[rel] and rel not in ALWAYS_NEW]
    assert len(kept) > 300 and all(now[rel] == first_inodes[rel] for rel in kept)
    # the search index's files too: those of the pages that did not change are kept
    assert [rel for rel in kept if rel.startswith(f"{search.OUTPUT}/fragment/")]
    # a no-cache build keeps no spare: it shares nothing with the site it replaced
    build(project, out, use_cache=False)
    deadline = time.monotonic() + 60
    while list(tmp_path.glob(".site.trash-*")) and time.monotonic() < deadline:
        time.sleep(0.2)  # by a detached process: the new site is live before it is done
    assert not [p for p in tmp_path.glob(".site.*") if p.name != ".site.lock"]
    assert all(p.stat().st_nlink == 1 for p in out.rglob("*") if p.is_file())


def test_a_first_build_leaves_a_spare_which_the_next_build_brings_up_to_date(project, tmp_path):
    """A build that finds no spare makes one of the site it wrote (write.make_spare): the same
    files, hard-linked, in folders of their own, with a note. The next build writes into it and
    swaps, as every later one does, instead of linking the site into a new tree."""
    out, spare = tmp_path / "site", tmp_path / ".site.spare"
    first = build(project, out)
    assert digest(spare) == first
    shared = inodes(out)
    assert all(inode == shared[rel] for rel, inode in inodes(spare).items() if rel != MARKER)
    spare_folders = folders(spare)
    assert not set(spare_folders.values()) & set(folders(out).values())
    edit(project / "content" / "migration" / "about" / "definitions.md", "\n", "\n\nEdited.\n")
    second = build(project, out)
    assert folders(out) == spare_folders  # the spare brought up to date and swapped in
    assert digest(spare) == first
    assert second == build(project, tmp_path / "scratch", use_cache=False)


def test_a_spare_changed_by_hand_is_put_right(project, tmp_path):
    """The spare shares files with the live site: an edit in place of a live file reaches it too,
    and anything added to either must not be published. The next site still equals a build from
    scratch."""
    out, spare = tmp_path / "site", tmp_path / ".site.spare"
    build(project, out)
    about = project / "content" / "migration" / "about" / "definitions.md"
    edit(about, "\n", "\n\nEdited once.\n")
    build(project, out)
    (spare / "stray.html").write_bytes(b"not built")
    (spare / "strays").mkdir()  # a page Pagefind would read, were it not removed before it starts
    (spare / "strays" / "index.html").write_bytes(
        b'<!doctype html><html lang="en"><title>Stray</title><main data-pagefind-body>Stray words</main></html>')
    (spare / "migration" / "stray").mkdir()
    (spare / "migration" / "stray" / "old.csv").write_bytes(b"not built")
    (spare / "naturalisations" / "index.html").unlink()
    shutil.rmtree(spare / "symbols")  # a folder its note lists, gone
    page = out / "nb" / "naturalisations" / "index.html"  # linked into the spare when it was live
    with open(page, "r+b") as f:
        f.write(b"<!-- edited in place -->")
    edit(about, "Edited once.", "Edited twice.")
    after = build(project, out)
    assert after == build(project, tmp_path / "scratch", use_cache=False)
    assert "stray.html" not in after and not (out / "migration" / "stray").exists()
    assert not (out / "strays").exists()


def test_a_file_put_in_the_live_site_by_hand_is_gone_when_that_site_is_brought_up_to_date(project, tmp_path):
    """The sweep reads only the folders changed since the note: a file added anywhere, even in a
    folder the next builds do not touch, changes its folder's modification time and is found."""
    out = tmp_path / "site"
    build(project, out)
    untouched = out / "archive" / "naturalisations" / "naturalisations-2023" / "tables"
    assert untouched.is_dir()
    (untouched / "stray.csv").write_bytes(b"not built")
    (untouched / "stray").mkdir()
    (untouched / "stray" / "deeper.csv").write_bytes(b"not built")
    about = project / "content" / "migration" / "about" / "definitions.md"
    edit(about, "\n", "\n\nEdited once.\n")
    build(project, out)  # the site with the strays becomes the spare
    edit(about, "Edited once.", "Edited twice.")
    after = build(project, out)  # and is brought up to date
    assert not (untouched / "stray.csv").exists() and not (untouched / "stray").exists()
    assert after == build(project, tmp_path / "scratch", use_cache=False)


def test_a_build_that_fails_while_updating_the_spare_leaves_the_site_and_the_next_one_starts_afresh(
        project, tmp_path, monkeypatch):
    out, spare = tmp_path / "site", tmp_path / ".site.spare"
    build(project, out)
    about = project / "content" / "migration" / "about" / "definitions.md"
    edit(about, "\n", "\n\nEdited once.\n")
    expected = build(project, out)
    assert spare.is_dir()
    edit(about, "Edited once.", "Edited twice.")

    def broken(index):
        raise BuildError("search: Pagefind failed")

    with monkeypatch.context() as m:
        m.setattr(search.Index, "files", broken)  # the spare's pages are brought up to date by then
        with pytest.raises(BuildError, match="Pagefind failed"):
            build(project, out)
    assert digest(out) == expected
    # the spare's note was dropped before anything in it changed: the next build does not trust it
    assert build(project, out) == build(project, tmp_path / "scratch", use_cache=False)


def test_a_failed_build_leaves_the_previous_site_whole_though_it_shares_its_files(project, tmp_path,
                                                                                 monkeypatch):
    out = tmp_path / "site"
    expected = build(project, out)
    edit(project / "stats" / "migration" / "tables.toml", 'label = "Immigration"', 'label = "Immigration, all"')

    def broken(index):
        raise BuildError("search: Pagefind failed")

    monkeypatch.setattr(search.Index, "files", broken)  # after every file was staged, most of them linked
    with pytest.raises(BuildError, match="Pagefind failed"):
        build(project, out)
    assert digest(out) == expected
    assert not list(tmp_path.glob(".site.staging-*"))
    # the staged links are gone: a file of the site is shared with the spare (write.make_spare) only
    spare = {p.stat().st_ino for p in write.spare_folder(out).rglob("*") if p.is_file()}
    assert all(p.stat().st_nlink == 1 + (p.stat().st_ino in spare) for p in out.rglob("*") if p.is_file())


def test_no_cache_neither_reads_nor_keeps_the_note(project, tmp_path):
    out = tmp_path / "site"
    build(project, out)
    before = inodes(out)
    build(project, out, use_cache=False)
    assert not set(before.items()) & set(inodes(out).items())
    assert not list((project / ".cache" / "written").iterdir())


def test_a_site_file_is_never_written_into(tmp_path):
    """Staged files are created, never opened for writing over an existing (maybe linked) file."""
    path = tmp_path / "page.html"
    path.write_bytes(b"shared")
    with pytest.raises(FileExistsError):
        reuse.create(path, b"x")
    assert path.read_bytes() == b"shared"


def test_the_archive_is_hashed_again_only_when_its_files_change(project, tmp_path, monkeypatch):
    build(project, tmp_path / "site")  # verifies and stamps
    assert (project / ".cache" / "archive-verified.json").is_file()
    verified = []
    original = archive.verify
    monkeypatch.setattr(archive, "verify", lambda snap: verified.append(snap) or original(snap))
    build(project, tmp_path / "site")
    assert verified == []  # unchanged since it passed: not hashed again

    tamper_in_place(project / "archive" / "migration" / "migration-2023" / "tables" / "by-citizenship.csv")
    with pytest.raises(BuildError, match="damaged archive, refusing to publish: .*by-citizenship.csv: changed"):
        build(project, tmp_path / "site")
    assert verified  # the whole archive was checked again


def tamper_in_place(target: Path) -> None:
    """One byte of `target` changed, its size and modification time kept."""
    stat = target.stat()
    data = bytearray(target.read_bytes())
    data[10] ^= 1
    with open(target, "r+b") as f:
        f.write(bytes(data))
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_a_build_that_froze_a_release_leaves_the_archive_stamped(project, tmp_path, monkeypatch):
    """The snapshot a build freezes is noted with the archive it passed: the next build does not
    hash the whole archive again."""
    from conftest import drop_snapshot

    drop_snapshot(project)
    report = pipeline.build(pipeline.BuildOptions(project, tmp_path / "site", DEMO_NOW))
    assert report.frozen == ["migration/migration-2024"]
    verified = []
    original = archive.verify
    monkeypatch.setattr(archive, "verify", lambda snap: verified.append(snap) or original(snap))
    build(project, tmp_path / "site")
    assert verified == []


def test_the_archive_changed_while_a_release_was_frozen_is_checked_again(project, tmp_path, monkeypatch):
    """A file of another snapshot changed between the archive's check and the freezing: the stamp
    is not brought up to date, so the next build hashes the archive and refuses it."""
    from conftest import drop_snapshot

    drop_snapshot(project)
    target = project / "archive" / "migration" / "migration-2023" / "tables" / "by-citizenship.csv"
    freeze = archive.freeze

    def freeze_while_someone_edits(*args):
        tamper_in_place(target)
        freeze(*args)

    # a site from before the release: the later build links migration-2023's files from it
    pipeline.build(pipeline.BuildOptions(project, tmp_path / "site", DEMO_NOW.replace(year=2025, month=3, day=1)))
    monkeypatch.setattr(archive, "freeze", freeze_while_someone_edits)
    build(project, tmp_path / "site")
    monkeypatch.setattr(archive, "freeze", freeze)
    with pytest.raises(BuildError, match="damaged archive, refusing to publish: .*by-citizenship.csv: changed"):
        build(project, tmp_path / "site")


def test_without_precompressed_copies(project, tmp_path):
    default = build(project, tmp_path / "default")
    site_toml = project / "site.toml"
    site_toml.write_text("precompress = false\n" + site_toml.read_text(encoding="utf-8"), encoding="utf-8")
    out = tmp_path / "site"
    plain = build(project, out)
    assert not [rel for rel in plain if rel.endswith((".gz", ".br"))]
    assert plain == served_digest(tmp_path / "default")  # every other file exactly as with copies
    assert len(plain) < len(default) / 1.5

    edit(site_toml, "precompress = false\n", "")  # and back: the copies are made again
    assert build(project, out) == default


def test_table_downloads_are_made_again_only_when_their_inputs_change(project, tmp_path, monkeypatch):
    made = Calls(tmp_path / "made.txt")
    original = downloads.table_downloads
    monkeypatch.setattr(downloads, "table_downloads", lambda t, prov, locale: made.note(t.id) or original(t, prov, locale))
    build(project, tmp_path / "site")
    assert list(made)  # a cold cache
    made.clear()
    edit(project / "templates" / "table.html", "<caption", "<caption data-x")  # pages change, downloads do not
    build(project, tmp_path / "site")
    assert made == []
    edit(project / "stats" / "migration" / "tables.toml", 'label = "Immigration"', 'label = "Immigration, all"')
    expected = build(project, tmp_path / "scratch", use_cache=False)
    made.clear()
    assert build(project, tmp_path / "site") == expected
    migration = {t["id"] for t in tomllib.loads((project / "stats" / "migration" / "tables.toml").read_text())["tables"]}
    assert list(made) and set(made) <= migration  # only the changed statistic's


def test_calendar_events_are_written_again_only_when_their_release_changes(project, tmp_path, monkeypatch):
    from statpress import feeds

    written = []
    original = feeds.event
    monkeypatch.setattr(feeds, "event", lambda s, r, *args: written.append(r.id) or original(s, r, *args))
    build(project, tmp_path / "site")
    assert written  # none kept yet
    written.clear()
    releases = project / "content" / "migration" / "releases.toml"
    edit(releases, "[[releases]]", '[[releases]]\nid = "migration-2031"\nperiod = 2030\ndate = 2031-03-13\n'
                                   'announced = 2026-10-01\n\n[[releases]]')
    expected = build(project, tmp_path / "scratch", use_cache=False)
    written.clear()
    assert build(project, tmp_path / "site") == expected
    assert written == ["migration-2031", "migration-2031"]  # the new one, in each language's calendar


def test_the_signatures_checked_beside_the_build_are_those_of_the_noted_files(project, tmp_path):
    """reuse.Signatures stats every noted file of the live site and the spare in a child process:
    what it finds changed (written into, replaced, removed) is never reused, the rest is reused
    without another stat; a note other than the one it checked is checked file by file."""
    out, notes = tmp_path / "site", project / ".cache" / "written"
    build(project, out)
    edit(project / "content" / "migration" / "about" / "definitions.md", "\n", "\n\nEdited.\n")
    build(project, out)  # the first site is now the spare
    page, csv = out / "migration" / "index.html", out / "naturalisations" / "tables" / "by-country.csv"
    with open(page, "r+b") as f:  # in place: the spare's file too, if it shares it
        f.write(b"<!-- edited -->")
    csv.unlink()
    with reuse.Signatures(notes, [out, write.spare_folder(out)]) as signatures:
        live = write.previous_site(out, notes, True, signatures=signatures)
        assert live.stale is not None
        assert {"migration/index.html", "naturalisations/tables/by-country.csv"} <= live.stale.all()
        assert len(live.stale.all()) < len(live.files) / 10
        sha = live.files["migration/index.html"][:reuse.SHA]
        assert not live.unchanged("migration/index.html", sha)
        kept = "naturalisations/index.html"
        os.unlink(out / kept)  # after the child looked: taken on its word, as one edited after a stat was
        assert live.unchanged(kept, live.files[kept][:reuse.SHA])
        spare = reuse.previous(notes, write.spare_folder(out), write.copies_made(True), signatures)
        assert spare.stale is not None and spare.files
    with reuse.Signatures(notes, [out]) as signatures:
        assert write.previous_site(out, notes, True, signatures=signatures).stale is not None
    with reuse.Signatures(notes, [out]) as signatures:
        signatures.stale(out, "")  # wait for the child: it has read the note
        note = reuse.note_path(notes, out)
        atomic.write(note, note.read_bytes())  # the same bytes, but not the version the child read
        assert write.previous_site(out, notes, True, signatures=signatures).stale is None
    with reuse.Signatures(notes, [tmp_path / "elsewhere"]) as signatures:
        assert write.previous_site(out, notes, True, signatures=signatures).stale is None  # not checked: stat


def test_the_largest_part_is_judged_last_and_waited_for_only_when_asked(project, tmp_path):
    """The signatures child answers for every file but those of the site's largest part (the
    archived snapshots) first: the pages stage asks about the statistics' own files without
    waiting for the rest. A file of that part is judged when first asked about; should the child
    end before it answers for the part, every file of it counts as changed."""
    import marshal

    out, notes = tmp_path / "site", project / ".cache" / "written"
    build(project, out)
    note = marshal.loads(reuse.note_path(notes, out).read_bytes())
    name, _, blob, _ = note["bulk"]
    largest = marshal.loads(blob)
    assert name == "archive" and all(len(largest) > len(entries) for _, entries in note["parts"].values())
    edited, untouched = [rel for rel in sorted(largest) if rel.endswith(".html")][:2]
    with open(out / edited, "r+b") as f:
        f.write(b"<!-- edited -->")
    page = "migration/index.html"
    with reuse.Signatures(notes, [out]) as signatures:
        live = write.previous_site(out, notes, True, signatures=signatures)
        assert live.unchanged(page, live.files[page][:reuse.SHA])
        assert str(out.resolve()) not in signatures.rest  # not waited for
        assert live.bulk.decoded is None and edited not in live.files  # nor the part's notes read
        assert live.stale.of_bulk() == {edited}
        assert edited in live.stale and untouched not in live.stale
        assert str(out.resolve()) in signatures.rest
        assert live.holds(reuse.Part(name, live.bulk.digest, 0, dict)) is None  # a file of it changed
        live.unfold()
        assert live.unchanged(untouched, largest[untouched][:reuse.SHA])
        assert not live.unchanged(edited, largest[edited][:reuse.SHA])
    with reuse.Signatures(notes, [out]) as signatures:
        live = write.previous_site(out, notes, True, signatures=signatures)
        signatures.ended = True  # as if the child had died before its second answer
        assert untouched in live.stale.all() and page not in live.stale


def test_a_spare_file_the_live_site_shares_is_judged_by_the_live_sites_stat(project, tmp_path):
    """The spare shares most files with the live site (hard links). The signatures child stats each
    shared file once, in the live site: a spare file whose folder has its noted time, and whose
    noted signature the live site's file has just shown, is not looked at again. An edit in place
    is still found in both sites, and a file replaced in the spare (its folder's time
    changes); one replaced with its folder's time set back is taken on the note's word, as the
    sweep takes such a folder (write.sweep), and as an audit (--no-cache) takes none."""
    out, notes = tmp_path / "site", project / ".cache" / "written"
    build(project, out)
    edit(project / "content" / "migration" / "about" / "definitions.md", "\n", "\n\nEdited.\n")
    build(project, out)  # the first site is now the spare, sharing every file that did not change
    spare = write.spare_folder(out)
    edited, replaced, trusted = "nb/naturalisations/index.html", "naturalisations/tables/by-country.csv", \
        "symbols/index.html"
    assert all((out / rel).stat().st_ino == (spare / rel).stat().st_ino for rel in (edited, replaced, trusted))
    with open(spare / edited, "r+b") as f:  # through the spare's name: the live site's file too
        f.write(b"<!-- edited -->")
    for rel in (replaced, trusted):
        folder = (spare / rel).parent
        times = folder.stat()
        (folder / "new").write_bytes(b"not built")
        os.replace(folder / "new", spare / rel)
        if rel == trusted:
            os.utime(folder, ns=(times.st_atime_ns, times.st_mtime_ns))
    with reuse.Signatures(notes, [out, spare]) as signatures:
        live = write.previous_site(out, notes, True, signatures=signatures)
        kept = reuse.previous(notes, spare, write.copies_made(True), signatures)
        assert live.stale.all() == {edited}
        assert kept.stale.all() == {edited, replaced}  # `trusted` was not looked at


def test_a_spare_noted_as_the_live_site_is_judged_part_by_part(project, tmp_path):
    """When every folder of the spare has its noted time, a part the spare notes exactly as the
    live site does (the same files, each the same inode) is judged by what the check found of it in
    the live site, not note by note (reuse.CHECK): a page and an archived snapshot written into
    through the spare's names are found in both sites, and nothing else; the next build puts them
    right."""
    out, notes = tmp_path / "site", project / ".cache" / "written"
    about = project / "content" / "migration" / "about" / "definitions.md"
    build(project, out)
    edit(about, "\n", "\n\nEdited.\n")
    build(project, out)  # the first site is now the spare, sharing every file that did not change
    spare = write.spare_folder(out)
    page, snapshot = "nb/naturalisations/index.html", "archive/migration/migration-2023/index.html"
    assert all((out / rel).stat().st_ino == (spare / rel).stat().st_ino for rel in (page, snapshot))
    for rel in (page, snapshot):
        with open(spare / rel, "r+b") as f:  # in place: no folder's time changes
            f.write(b"<!-- edited -->")
    with reuse.Signatures(notes, [out, spare]) as signatures:
        live = write.previous_site(out, notes, True, signatures=signatures)
        kept = reuse.previous(notes, spare, write.copies_made(True), signatures)
        assert live.stale.all() == {page, snapshot}
        assert kept.stale.all() == {page, snapshot}
    edit(about, "Edited.", "Edited again.")
    assert build(project, out) == build(project, tmp_path / "audit", use_cache=False)


def test_a_build_asks_the_signatures_it_is_given_and_stops_them(project, tmp_path):
    """The command line starts the check of the output's files before it loads the engine
    (build.py) and hands it to the build, which asks it and stops it when done."""
    out = tmp_path / "site"
    expected = build(project, out)
    edit(project / "content" / "migration" / "about" / "definitions.md", "\n", "\n\nEdited.\n")
    build(project, out)
    edit(project / "content" / "migration" / "about" / "definitions.md", "\n\nEdited.\n", "\n")
    signatures = reuse.Signatures.of_site(project, out)
    pipeline.build(pipeline.BuildOptions(project, out, DEMO_NOW), signatures=signatures)
    assert str(out.resolve()) in signatures.found and str(write.spare_folder(out).resolve()) in signatures.found
    assert signatures.process.returncode is not None
    assert digest(out) == expected


def test_what_the_spare_holds_unchanged_stays_and_a_copy_changed_there_is_made_again(project, tmp_path):
    """With the signatures checked beside the build, the files the spare holds untouched, with
    their compressed copies, are kept in one pass (write.kept_in_spare); a file whose copy was
    replaced there, or that was itself, goes through the file-by-file staging and is made again."""
    out = tmp_path / "site"
    about = project / "content" / "migration" / "about" / "definitions.md"
    build(project, out)
    edit(about, "\n", "\n\nEdited once.\n")
    build(project, out)  # the first site is now the spare
    spare = write.spare_folder(out)
    before = inodes(spare)
    replaced = ["naturalisations/index.html.br", "nb/naturalisations/index.html"]
    for rel in replaced:  # replaced, not written into: the live site's link keeps its bytes
        (spare / rel).unlink()
        (spare / rel).write_bytes(b"not built")
    edit(about, "Edited once.", "Edited twice.")
    with reuse.Signatures.of_site(project, out) as signatures:
        pipeline.build(pipeline.BuildOptions(project, out, DEMO_NOW), signatures=signatures)
        assert signatures.found  # it was asked
    assert digest(out) == build(project, tmp_path / "scratch", use_cache=False)
    assert all((out / rel).read_bytes() != b"not built" for rel in replaced)
    after = inodes(out)
    kept = {rel for rel in before if rel in after and after[rel] == before[rel]}
    assert "naturalisations/index.html" in kept and "naturalisations/index.html.gz" in kept
    assert len(kept) > len(before) / 2


def test_the_archive_is_kept_whole_where_the_spare_holds_it(project, tmp_path, monkeypatch):
    """The archived snapshots are one part of the site (reuse.Part): once the spare holds them with
    the same digest, untouched, a rebuild keeps them there without listing their files. A file of a
    snapshot replaced in the spare makes the build list them and stage that file again."""
    out = tmp_path / "site"
    about = project / "content" / "migration" / "about" / "definitions.md"
    listed = []
    real = pipeline.archived

    def archived(*args):
        part, new = real(*args)
        return replace(part, files=lambda: listed.append(part.count) or part.files()), new

    monkeypatch.setattr(pipeline, "archived", archived)
    build(project, out)
    edit(about, "\n", "\n\nEdited once.\n")
    build(project, out)  # the first site is now the spare, with its part noted
    listed.clear()
    edit(about, "Edited once.", "Edited twice.")
    note = reuse.note_path(project / ".cache" / "written", out)
    noted = marshal.loads(reuse.note_path(project / ".cache" / "written", write.spare_folder(out)).read_bytes())["bulk"]
    decoded = []
    entries = reuse.Bulk.entries
    monkeypatch.setattr(reuse.Bulk, "entries", lambda self: decoded.append(self.name) or entries(self))
    site = build(project, out)
    assert listed == [] and decoded == []  # nor were the notes of its files decoded
    assert marshal.loads(note.read_bytes())["bulk"][2] == noted[2]  # but handed on from the spare's note
    assert site == build(project, tmp_path / "audit", use_cache=False)
    snapshot = "archive/migration/migration-2023/index.html"
    spare = write.spare_folder(out)
    (spare / snapshot).unlink()  # replaced, not written into: the live site's link keeps its bytes
    (spare / snapshot).write_bytes(b"not archived")
    listed.clear()
    edit(about, "Edited twice.", "Edited thrice.")
    site = build(project, out)
    assert listed and listed[0] > 0 and (out / snapshot).read_bytes() != b"not archived"
    assert site == build(project, tmp_path / "audit2", use_cache=False)


def test_a_statistics_pages_are_kept_whole_where_the_spare_holds_them(project, tmp_path, monkeypatch):
    """Each statistic's pages in a language, with their downloads and charts, are a part of the
    site whose digest is the page cache's key (render.StatisticPages.part): after one statistic's
    About text changed, only that statistic's files are listed and staged; the other statistic's
    stay in the spare without a file of them being looked at."""
    listed = []
    real = render.StatisticPages.part

    def part(self):
        found = real(self)
        return found and replace(found, files=lambda: listed.append(found.name) or found.files())

    monkeypatch.setattr(render.StatisticPages, "part", part)
    out = tmp_path / "site"
    about = project / "content" / "migration" / "about" / "definitions.md"
    build(project, out)
    edit(about, "\n", "\n\nEdited once.\n")
    build(project, out)  # the first site is now the spare
    listed.clear()
    edit(about, "Edited once.", "Edited twice.")
    site = build(project, out)
    assert sorted(listed) == ["en:migration", "nb:migration"]
    assert site == build(project, tmp_path / "audit", use_cache=False)


def test_a_part_is_held_only_with_its_digest_untouched_and_copies_made_alike(tmp_path):
    entries = {"archive/a/index.html": f"{'1' * 64}:1:1:1", "archive/a/index.html.gz": f"{'1' * 64}:2:2:2"}
    part = reuse.Part("archive", "d1", 1, dict)
    spare = reuse.Previous(tmp_path, dict(entries), True, {}, stale=set(), parts={"archive": ("d1", entries)})
    assert spare.holds(part) == entries
    assert spare.holds(replace(part, digest="d2")) is None  # a release frozen, say
    assert spare.holds(replace(part, name="other")) is None
    assert replace(spare, stale={"archive/a/index.html.gz"}).holds(part) is None
    assert replace(spare, stale={"elsewhere.html"}).holds(part) == entries
    assert replace(spare, stale=None).holds(part) is None  # signatures not checked
    assert replace(spare, copies=False).holds(part) is None


def test_the_spare_is_kept_in_one_pass_only_where_its_signatures_were_checked(tmp_path):
    site = tmp_path / "spare"
    site.mkdir()
    files = {"a.html": b"a", "b.html": b"b", "c.png": b"c", "c.png.gz": b"not a copy"}
    notes = {rel: f"{reuse.digest(data)}:0:0:0" for rel, data in files.items()}
    notes["a.html.gz"] = f"{reuse.digest(b'a')}:0:0:0"
    notes["b.html.br"] = f"{reuse.digest(b'b')}:0:0:0"
    spare = reuse.Previous(site, notes, True, {}, stale={"b.html.br"})
    kept = write.kept_in_spare(files, spare)
    # b.html's copy was changed there; c.png.gz is a file of its own, not c.png's copy
    assert set(kept) == {"a.html", "a.html.gz", "c.png", "c.png.gz"}
    assert write.kept_in_spare({**files, "a.html": b"changed"}, spare).keys() == {"c.png", "c.png.gz"}
    assert "c.png.gz" not in write.kept_in_spare({"c.png": b"c"}, spare)
    assert write.kept_in_spare(files, reuse.Previous(site, notes, True, {}, stale=None)) == {}
    assert write.kept_in_spare(files, reuse.Previous(site, notes, False, {}, stale=set())) == {}


def test_copies_of_new_files_are_begun_before_the_kept_ones_are_looked_up(tmp_path, monkeypatch):
    """write.Compressor.begin starts compressing the files made in this build that neither the
    spare nor the previous site holds (a large one an encoding per thread); the staging loop then
    takes those copies instead of compressing again, and a file either site holds is not begun."""
    calls = []
    real = write.compress.copies
    monkeypatch.setattr(write.compress, "copies", lambda rel, data, *args: calls.append(rel) or real(rel, data, *args))
    large = b"".join(b'{"row": %d}\n' % i for i in range(write.Compressor.LARGE // 8))
    files = {"kept.html": b"<p>in the spare</p>" * 20, "linked.html": b"<p>in the live site</p>" * 20,
             "new.html": b"<p>new</p>" * 50, "catalog.jsonld": large, "picture.png": b"png", "old.json": reuse.Known("x", "0" * 64)}
    made = write.made_digests(files)
    assert made.keys() == files.keys() - {"old.json"}
    spare = reuse.Previous(tmp_path / "spare", {"kept.html": f"{made['kept.html']}:0:0:0"}, True, {}, stale=set())
    previous = reuse.Previous(tmp_path / "live", {"linked.html": f"{made['linked.html']}:0:0:0"}, True, {}, stale=set())
    staging = tmp_path / "staging"
    staging.mkdir()
    with write.Compressor(staging, previous, None, spare) as copies:
        copies.begin(files, made)
        assert copies.begun.keys() == {"new.html", "catalog.jsonld"}
        assert len(copies.begun["catalog.jsonld"][1]) == 2 and len(copies.begun["new.html"][1]) == 1
        for rel in ("new.html", "catalog.jsonld"):
            copies.add(rel, files[rel], made[rel])
        notes = copies.staged()
    assert sorted(calls) == ["catalog.jsonld", "catalog.jsonld", "new.html"]  # none compressed twice
    assert set(notes) == {f"{rel}{suffix}" for rel in ("new.html", "catalog.jsonld") for suffix in (".gz", ".br")}
    assert gzip.decompress((staging / "catalog.jsonld.gz").read_bytes()) == large
    assert brotli.decompress((staging / "new.html.br").read_bytes()) == files["new.html"]


def build_in_a_new_python(project: Path, out: Path, first: str = "", then: str = "", **options) -> str:
    """What a build of `project` into `out` prints when it runs in an interpreter of its own
    (`first` run before it, `then` after it, both Python), so that what it imports and which
    threads it starts are its own."""
    import subprocess
    import sys

    script = ("import datetime, sys\nfrom pathlib import Path\nfrom statpress import drawing, pipeline\n" + first +
              f"pipeline.build(pipeline.BuildOptions(Path({str(project)!r}), Path({str(out)!r}), "
              f"datetime.datetime.fromisoformat({DEMO_NOW.isoformat()!r}), **{options!r}))\n" + then)
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
                         cwd=Path(__file__).resolve().parent.parent)
    assert ran.returncode == 0, ran.stderr
    return ran.stdout


@pytest.mark.parametrize("workers", [None, 1])
@pytest.mark.parametrize("tables_changed", [False, True])
def test_a_statistic_whose_tables_changed_is_computed_by_a_forked_child(project, tmp_path, workers, tables_changed):
    """After one statistic's tables changed, a forked child computes them (publish.compute_ahead)
    while the build renders the other statistic's pages: the build's own process never imports
    pandas, and the site equals a cold build. With `--jobs 1` the build computes them itself.
    Where the up-to-date check saw the tables' inputs change, the child is the one forked at the
    build's start (publish.ready_to_compute), given the statistic to compute."""
    out = tmp_path / "site"
    build(project, out)
    edit(project / "stats" / "migration" / "tables.toml", 'label = "Immigration"', 'label = "Immigration, all"')
    spy = ("from statpress import fork\ngive = fork.Waiting.give\n"
           "fork.Waiting.give = lambda self, jobs: print('given', *[job.statistic for job in jobs]) or give(self, jobs)\n")
    printed = build_in_a_new_python(project, out, first=spy, then="print('pandas' in sys.modules)\n",
                                    workers=workers, tables_changed=tables_changed)
    given = ["given", "migration"] if tables_changed and workers is None else []
    assert printed.split() == given + [str(workers == 1)]
    assert "Immigration, all" in (out / "migration" / "index.html").read_text(encoding="utf-8")
    assert digest(out) == build(project, tmp_path / "scratch", use_cache=False)



@pytest.mark.parametrize("tables_changed", [False, True])
def test_the_child_computing_tables_hashes_no_dataset_again(project, tmp_path, tables_changed):
    """The forked child is given the table cache's key and the datasets' fingerprints the build
    took (publish.Job): in a rebuild after one tables.toml changed it hashes no file again (the
    build hashes what its file memo does not know); a register of 10⁸ rows took 0.3 s to hash."""
    out = tmp_path / "site"
    build(project, out)
    edit(project / "stats" / "migration" / "tables.toml", 'label = "Immigration"', 'label = "Immigration, all"')
    # written to the descriptor: a forked child's sys.stdout is /dev/null (fork.py)
    spy = ("import os\nfrom statpress import cache, publish\n"
           "def say(what): os.write(1, f'{what} {os.getpid()}\\n'.encode())\n"
           "digest = cache.content_digest\ncache.content_digest = lambda *a: say('hashed') or digest(*a)\n"
           "compute = publish.compute_in_worker\npublish.compute_in_worker = lambda *a: say('child') or compute(*a)\n")
    printed = build_in_a_new_python(project, out, first=spy, then="print('build', os.getpid())\n",
                                    tables_changed=tables_changed).split("\n")
    said = [line.split() for line in printed if line]
    build_pid = next(pid for what, pid in said if what == "build")
    assert any(what == "child" and pid != build_pid for what, pid in said)  # a child computed them
    assert [pid for what, pid in said if what == "hashed" and pid != build_pid] == []
    assert digest(out) == build(project, tmp_path / "scratch", use_cache=False)

def test_a_forked_child_draws_its_charts_though_the_build_ran_vl_convert(project, tmp_path):
    """vl-convert's engine runs on a thread of its own, which a fork does not copy: a child forked
    from a process that had started it would wait for its answer forever. The child draws through a
    helper process of its own (publish.compute_in_worker), and the site equals a cold build."""
    out = tmp_path / "site"
    build(project, out)
    edit(project / "stats" / "migration" / "tables.toml", 'title = "Immigration, emigration and net migration.',
         'title = "Immigration, emigration and net migration, all.')
    # vl-convert's engine started in the build's process before it forks
    build_in_a_new_python(project, out, first="drawing.InProcess().draw('vega', drawing.WARM_UP).result()\n")
    assert "net migration, all." in (out / "migration" / "index.html").read_text(encoding="utf-8")
    assert digest(out) == build(project, tmp_path / "scratch", use_cache=False)


def test_pages_rendered_by_a_forked_child_beside_the_build_equal_a_cold_build(project, tmp_path, monkeypatch):
    """A template changed: every statistic's pages are rendered again, and where there are
    PAGES_APART of them a forked child renders the second half (pages.render_apart) while the
    build renders the first. The site equals a cold build; the page cache then holds them all."""
    out = tmp_path / "site"
    build(project, out)
    edit(project / "templates" / "table.html", "<caption", "<caption data-x")
    monkeypatch.setattr(pages, "PAGES_APART", 2)
    apart = Calls(tmp_path / "apart")
    render_apart = pages.render_apart
    monkeypatch.setattr(pages, "render_apart", lambda by_language, pages: [
        apart.note(f"{lang}:{p.statistic.id}") for lang, p in pages] and render_apart(by_language, pages))
    here = []  # what this process rendered (the child's own list is not this one)
    rendered = pages.Pages.rendered
    monkeypatch.setattr(pages.Pages, "rendered", lambda self, p: here.append(f"{self.lang}:{p.statistic.id}")
                        or rendered(self, p))
    rebuilt = build(project, out)
    assert apart == ["nb:migration", "nb:naturalisations"]  # in the child, whose calls are noted in a file
    assert here == ["en:migration", "en:naturalisations"]
    assert "<caption data-x" in (out / "nb" / "migration" / "index.html").read_text(encoding="utf-8")
    assert rebuilt == build(project, tmp_path / "scratch", use_cache=False)
    apart.clear()
    assert build(project, out) == rebuilt and apart == []  # nothing left to render


def test_a_template_error_stops_a_build_that_renders_pages_beside_it_and_the_child_is_waited_for(
        project, tmp_path, monkeypatch):
    out = tmp_path / "site"
    before = build(project, out)
    edit(project / "templates" / "table.html", "<caption", "{{ no_such_value }}<caption")
    monkeypatch.setattr(pages, "PAGES_APART", 2)
    children = Calls(tmp_path / "children")
    render_apart = pages.render_apart
    monkeypatch.setattr(pages, "render_apart", lambda by_language, pages: children.note(os.getpid())
                        or render_apart(by_language, pages))
    with pytest.raises(BuildError, match=r"table.html, line \d+: template error: .*no_such_value"):
        build(project, out)
    [child] = [int(pid) for pid in children]
    with pytest.raises(ProcessLookupError):  # ended, and reaped by the build
        os.kill(child, 0)
    assert digest(out) == before


def die(*args) -> None:
    """A child killed while it computes (test below): looked up by name in the fork."""
    os._exit(9)


def test_a_child_that_dies_leaves_the_tables_to_the_build(project, tmp_path, monkeypatch):
    out = tmp_path / "site"
    build(project, out)
    edit(project / "stats" / "migration" / "tables.toml", 'label = "Immigration"', 'label = "Immigration, all"')
    monkeypatch.setattr(publish, "compute_in_worker", die)
    rebuilt = build(project, out)
    monkeypatch.undo()
    assert rebuilt == build(project, tmp_path / "scratch", use_cache=False)
    assert "Immigration, all" in (out / "migration" / "index.html").read_text(encoding="utf-8")


def test_a_child_forked_at_the_start_that_dies_leaves_the_tables_to_the_build(project, tmp_path):
    out = tmp_path / "site"
    build(project, out)
    edit(project / "stats" / "migration" / "tables.toml", 'label = "Immigration"', 'label = "Immigration, all"')
    printed = build_in_a_new_python(project, out, first="import os\nfrom statpress import publish\npublish.compute_in_worker = lambda *a: os._exit(9)\n",
                                    then="print('pandas' in sys.modules)\n", tables_changed=True)
    assert printed.split() == ["True"]  # computed by the build itself
    assert "Immigration, all" in (out / "migration" / "index.html").read_text(encoding="utf-8")
    assert digest(out) == build(project, tmp_path / "scratch", use_cache=False)


def test_a_child_forked_at_the_start_for_nothing_is_ended(project, tmp_path):
    """The up-to-date check saw stats/ change, but no table needs computing (a note beside the
    tables): the child forked at the build's start is ended unused, and the build loads no pandas."""
    out = tmp_path / "site"
    build(project, out)
    (project / "stats" / "migration" / "NOTES.md").write_text("Checked with the register team.\n", encoding="utf-8")
    spy = ("from statpress import fork\nclose = fork.Waiting.close\n"
           "fork.Waiting.close = lambda self: print('ended', not self.inbox.closed) or close(self)\n")
    printed = build_in_a_new_python(project, out, first=spy, then="print('pandas' in sys.modules)\n", tables_changed=True)
    assert printed.split()[:2] == ["ended", "True"] and printed.split()[-1] == "False"
    assert digest(out) == build(project, tmp_path / "scratch", use_cache=False)


def test_a_rebuild_from_the_caches_does_not_load_pandas_or_lxml(project, tmp_path):
    """pandas takes a quarter of a second to import, lxml (which only a chart being drawn needs)
    a few hundredths: a rebuild whose tables and charts are cached (an About text changed) imports
    neither (lazyimport.py), and still equals a cold build."""
    out = tmp_path / "site"
    build(project, out)
    edit(project / "content" / "migration" / "about" / "definitions.md", "\n", "\n\nEdited.\n")
    printed = build_in_a_new_python(
        project, out, then="print('pandas' in sys.modules, 'lxml.etree' in sys.modules, 'statpress.tables' in sys.modules)\n")
    assert printed.split() == ["False", "False", "True"]  # the engine loaded, pandas and lxml not
    assert digest(out) == build(project, tmp_path / "scratch", use_cache=False)


def test_the_folders_noted_after_a_rebuild_are_the_sites_folders_as_they_are(project, tmp_path, monkeypatch):
    """The write stage notes every folder of the site it swapped in (for the next sweep and the
    up-to-date check), taking from the sweep those it found and left as they were: after
    rebuilds that add, change and remove files, the note is what statting every folder finds."""
    from statpress import uptodate

    out = tmp_path / "site"
    build(project, out)
    statted = []
    folder_time = reuse.folder_time
    monkeypatch.setattr(reuse, "folder_time", lambda path: statted.append(path) or folder_time(path))
    for old, new in [("### Residents", "### Who is resident"), ("### Who is resident", "### Residents")]:
        edit(project / "content" / "migration" / "about" / "definitions.md", old, new)
        report = pipeline.build(pipeline.BuildOptions(project, out, DEMO_NOW))
        assert report.folders == uptodate.walk(out)
        # put in the spare by hand: the sweep removes them after it has looked at the folders
        spare = reuse.spare_folder(out)
        (spare / "migration" / "stray.html").write_text("stray", encoding="utf-8")
        (spare / "nb" / "stray" / "deeper").mkdir(parents=True)
        (spare / "nb" / "stray" / "deeper" / "stray.html").write_text("stray", encoding="utf-8")
    edit(project / "content" / "naturalisations" / "statistic.toml", 'related = ["migration"]', "related = []")
    report = pipeline.build(pipeline.BuildOptions(project, out, DEMO_NOW))
    assert report.folders == uptodate.walk(out)
    assert 0 < len(statted) < len(report.folders)  # most came from the sweep
