"""Archived snapshots: a release stays exactly as it was published."""

import datetime as dt
import pathlib
import re
import shutil
import subprocess
import sys
import tarfile

import pytest

from conftest import ROOT, build_site, digest, served_digest
from statpress import archive
from statpress.content import OSLO
from statpress.errors import BuildError

RELEASE_1 = dt.datetime(2024, 3, 12, 8, 0, tzinfo=OSLO)  # migration-2023
RELEASE_2 = dt.datetime(2025, 3, 13, 8, 0, tzinfo=OSLO)  # migration-2024 (naturalisations-2023 before it)


@pytest.fixture
def fresh(project):
    """The project without any snapshot, as before its first release."""
    shutil.rmtree(project / "archive")
    return project


@pytest.mark.built_before
def test_a_release_stays_byte_identical_after_later_releases_and_a_new_template(fresh, tmp_path):
    build_site(fresh, tmp_path / "one", RELEASE_1)
    snap = fresh / "archive" / "migration" / "migration-2023"
    assert (snap / "manifest.json").exists()
    # a new snapshot carries every chart drawing its page shows: the desktop's and the phone's
    page = (snap / "index.html").read_text(encoding="utf-8")
    drawings = re.findall(r'<img class="chart-static[^"]*" src="([^"]+)"', page)
    assert any(d.endswith("-narrow.svg") for d in drawings) and any(not d.endswith("-narrow.svg") for d in drawings)
    assert all((snap / d).is_file() for d in drawings)
    assert not (fresh / "archive" / "migration" / "migration-2024").exists()  # not before its time
    frozen = digest(snap)

    build_site(fresh, tmp_path / "two", RELEASE_2)
    assert (fresh / "archive" / "migration" / "migration-2024" / "manifest.json").exists()
    css = fresh / "templates" / "assets" / "style.css"
    css.write_text(css.read_text(encoding="utf-8") + "\nbody { color: red; }\n", encoding="utf-8")
    page = fresh / "templates" / "statistic.html"
    page.write_text(page.read_text(encoding="utf-8").replace("<h1{{", "<h1 class=\"changed\"{{"), encoding="utf-8")
    build_site(fresh, tmp_path / "three", RELEASE_2)

    assert digest(snap) == frozen
    assert served_digest(tmp_path / "three" / "archive" / "migration" / "migration-2023") == frozen
    # while the current page did change
    assert 'class="changed"' in (tmp_path / "three" / "migration" / "index.html").read_text(encoding="utf-8")


def test_archived_pages_link_both_ways_and_stand_alone(demo_site):
    page = (demo_site / "migration" / "index.html").read_text(encoding="utf-8")
    assert 'href="../archive/migration/migration-2023/index.html"' in page
    old = demo_site / "archive" / "migration" / "migration-2023"
    html = (old / "index.html").read_text(encoding="utf-8")
    assert "Archived release of 12 March 2024." in html
    assert 'href="../../../migration/index.html">See the latest release' in html
    # self-contained: its stylesheet, downloads and charts are inside the snapshot folder
    assert 'href="assets/style.css"' in html and (old / "assets" / "style.css").exists()
    assert 'href="tables/by-citizenship.csv"' in html and (old / "tables" / "by-citizenship.csv").exists()
    assert "<script" not in html.replace('<script type="application/json"', "")
    assert "86\u00a0589" in html  # the 2023 figures it published


def test_verify_names_a_tampered_file_and_the_build_refuses(project, tmp_path):
    target = project / "archive" / "migration" / "migration-2023" / "tables" / "by-citizenship.csv"
    data = bytearray(target.read_bytes())
    data[10] ^= 1
    target.write_bytes(bytes(data))
    (project / "archive" / "migration" / "migration-2023" / "extra.txt").write_text("x")
    (project / "archive" / "migration" / "migration-2024" / "index.html").unlink()
    problems = archive.verify_all(project / "archive")
    assert any("by-citizenship.csv: changed" in p for p in problems)
    assert any("extra.txt: added" in p for p in problems)
    assert any("migration-2024/index.html: removed" in p for p in problems)
    with pytest.raises(BuildError, match="damaged archive, refusing to publish"):
        build_site(project, tmp_path / "site")


def test_verify_command_exit_status():
    result = subprocess.run([sys.executable, "build.py", "verify"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0 and "snapshots match their manifests" in result.stdout


def test_an_interrupted_snapshot_leaves_nothing_behind(fresh, tmp_path, monkeypatch):
    real = pathlib.Path.write_bytes
    calls = {"n": 0}

    def flaky(self, content):
        if ".migration-2023.partial" in str(self):
            calls["n"] += 1
            if calls["n"] == 3:
                raise KeyboardInterrupt  # the machine stops mid-way
        return real(self, content)

    monkeypatch.setattr(pathlib.Path, "write_bytes", flaky)
    with pytest.raises(KeyboardInterrupt):
        build_site(fresh, tmp_path / "site", RELEASE_1)
    assert not (fresh / "archive" / "migration" / "migration-2023").exists()
    assert not list((fresh / "archive" / "migration").glob(".*"))
    monkeypatch.setattr(pathlib.Path, "write_bytes", real)
    build_site(fresh, tmp_path / "site", RELEASE_1)
    assert archive.verify(fresh / "archive" / "migration" / "migration-2023") == []


def test_corrections_are_shown_and_revised_figures_marked(demo_site):
    page = (demo_site / "naturalisations" / "index.html").read_text(encoding="utf-8")
    assert "Figures for the years 2017, 2018 and 2019 were corrected on 01.02.2024" in page
    by_year = page[page.index('id="table-by-year"'):]
    by_year = by_year[by_year.index("</figure>"):]  # the table itself, after its chart
    by_year = by_year[:by_year.index("</table>")]
    row_2018 = by_year[by_year.index('<th scope="row">2018'):]
    row_2018 = row_2018[:row_2018.index("</tr>")]
    assert row_2018.count('title="Revised since the previous issue">r</abbr>') == 8
    row_2020 = by_year[by_year.index('<th scope="row">2020'):]
    assert ">r</abbr>" not in row_2020[:row_2020.index("</tr>")]
    index = (demo_site / "archive" / "index.html").read_text(encoding="utf-8")
    assert "Correction of 1 February 2024" in index


def test_whole_site_snapshot_is_deterministic_and_has_a_manifest(tmp_path):
    outs = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.tar.gz"
        subprocess.run([sys.executable, "build.py", "snapshot", "--now", "2025-03-13T07:59:59+01:00",
                        "--out", str(out)], cwd=ROOT, check=True, capture_output=True)
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    with tarfile.open(tmp_path / "a.tar.gz") as tar:
        names = tar.getnames()
    assert "site/MANIFEST.json" in names and "site/migration/index.html" in names
    assert "site/archive/migration/migration-2023/index.html" in names
    # one second before it: not yet published, only announced (its calendar event, no figure)
    assert [n for n in names if "migration-2024" in n] == ["site/calendar/releases/migration-2024.ics",
                                                          "site/nb/calendar/releases/migration-2024.ics"]


def test_provisional_figures_are_marked(project, tmp_path):
    path = project / "content" / "migration" / "releases.toml"
    text = path.read_text(encoding="utf-8")
    text = text.replace('date = 2025-03-13\nannounced = 2024-10-01\n',
                        'date = 2025-03-13\nannounced = 2024-10-01\n\n[[releases.provisional]]\n'
                        'tables = ["internal-by-year"]\nperiods = [2024]\n')
    path.write_text(text, encoding="utf-8")
    build_site(project, tmp_path / "site", RELEASE_2)
    page = (tmp_path / "site" / "migration" / "index.html").read_text(encoding="utf-8")
    table = page[page.index('id="table-internal-by-year"'):]
    table = table[:table.index("</table>")]
    row = table[table.index('<th scope="row">2024'):]
    assert row[:row.index("</tr>")].count('title="Provisional or preliminary figure">*</abbr>') == 2
    assert 'title="Provisional or preliminary figure">*' not in table[:table.index('<th scope="row">2024')]


def test_check_warns_before_a_build_freezes_a_release_and_the_build_says_it_did(project, tmp_path):
    from statpress import pipeline
    from conftest import DEMO_NOW, drop_snapshot
    drop_snapshot(project)
    checked = pipeline.build(pipeline.BuildOptions(project, tmp_path / "site", DEMO_NOW), write=False)
    assert "note: a build at this instant would freeze archive/migration/migration-2024 for good" \
        in pipeline.describe(checked)
    assert not (project / "archive" / "migration" / "migration-2024").exists()
    built = pipeline.build(pipeline.BuildOptions(project, tmp_path / "site", DEMO_NOW))
    assert "froze archive/migration/migration-2024: first published by this build" in pipeline.describe(built)
    again = pipeline.build(pipeline.BuildOptions(project, tmp_path / "site2", DEMO_NOW))
    assert "froze" not in pipeline.describe(again)


@pytest.mark.built_before
def test_releases_frozen_together_are_each_recorded_once_from_one_reading_of_the_ledger(fresh, tmp_path, monkeypatch):
    """A publication day of many statistics reads the ledger once, not once per release (300
    readings of 3 300 lines took 1.7 s), and every release is still recorded, once."""
    readings, frozen_at_once = [], []
    read, freeze_all = archive.ledger_entries, archive.freeze_all

    def freezing(snapshots):
        before = len(readings)
        freeze_all(snapshots)
        frozen_at_once.append((len(snapshots), len(readings) - before))

    monkeypatch.setattr(archive, "ledger_entries", lambda folder: readings.append(folder) or read(folder))
    monkeypatch.setattr(archive, "freeze_all", freezing)
    report = build_site(fresh, tmp_path / "site", RELEASE_2)
    assert sorted(report.frozen) == ["migration/migration-2023", "migration/migration-2024",
                                     "naturalisations/naturalisations-2023"]
    assert frozen_at_once == [(3, 1)]  # three releases, one reading of the ledger
    monkeypatch.undo()
    entries, problems = archive.ledger_entries(fresh / "archive")
    assert problems == [] and sorted(entries) == sorted(report.frozen)
    assert archive.verify_all(fresh / "archive") == []


def test_the_manifests_are_read_once_per_state_of_the_archive(tmp_path, monkeypatch):
    """A rebuild takes the snapshots' manifests from one file of the cache while the archive's
    entries are those it was written for, and reads them again once anything there changed."""
    archive_dir, cache = tmp_path / "archive", tmp_path / "manifests.pickle"

    def freeze(release):
        snap = archive.folder(archive_dir, "stat", release)
        files = {"index.html": f"<p>{release}</p>".encode(), "tables/t.csv": b"a,b\n"}
        archive.freeze_all([(snap, archive.with_manifest(files, "stat", release, "2025-01-01T08:00:00+01:00"))])
        return snap

    first = freeze("stat-2024")
    read = archive.Manifests(cache, archive.entries(archive_dir))
    assert read.known(first) == archive.Manifests(None, None).known(first)
    assert read.known(archive.folder(archive_dir, "stat", "stat-2025")) is None  # never frozen
    read.save()
    assert cache.exists()

    def unread(snapshot):
        raise AssertionError(f"{snapshot}: read, not taken from the cache")

    expected = archive.Manifests(None, None).known(first)
    with monkeypatch.context() as m:
        m.setattr(archive, "manifest_of", unread)
        assert archive.Manifests(cache, archive.entries(archive_dir)).known(first) == expected

    second = freeze("stat-2025")  # the archive's entries change: every manifest is read again
    manifest = first / archive.MANIFEST
    manifest.write_bytes(manifest.read_bytes().replace(b"2025-01-01", b"2025-01-02"))
    again = archive.Manifests(cache, archive.entries(archive_dir))
    assert again.known(first)[archive.MANIFEST] == manifest.read_bytes() != expected[archive.MANIFEST]
    assert again.known(second) == archive.Manifests(None, None).known(second) and again.read
    with monkeypatch.context() as m:  # without the entries (an audit) nothing is taken from the cache
        m.setattr(archive, "manifest_of", unread)
        with pytest.raises(AssertionError, match="not taken from the cache"):
            archive.Manifests(cache, None).known(first)
    audit = archive.Manifests(cache, None)
    audit.known(first)
    cache.unlink()
    audit.save()
    assert not cache.exists()


def test_withdrawn_snapshots_are_found_alike_in_the_folders_and_in_a_listing_of_them(project):
    """The build asks which archived releases a site would withdraw from the archive's listing as it
    passed its check (archive.snapshots_listed), not from the folders again: both must name the
    same snapshots, in the same order, leaving out partial ones and folders without a manifest."""
    top = project / "archive"
    (top / "migration" / ".migration-2099.partial").mkdir()
    (top / "migration" / ".migration-2099.partial" / archive.MANIFEST).write_text("{}", encoding="utf-8")
    (top / "naturalisations" / "not-a-snapshot").mkdir()
    published = {"migration": {"migration-2024"}}  # every other snapshot would be withdrawn
    scanned = archive.withdrawn(top, published)
    assert [f"{p.parent.name}/{p.name}" for p in scanned] == ["migration/migration-2023",
                                                              "naturalisations/naturalisations-2023"]
    assert archive.withdrawn(top, published, archive.entries(top)) == scanned
    # a listing that lacks the folder itself (taken under another name) is not trusted
    assert archive.withdrawn(top, published, []) == scanned
