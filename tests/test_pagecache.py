"""The page cache (statpress/pagecache.py, issue #12): a statistic's page is rendered again exactly
when something it is made from changed, and a rebuild is byte-identical to a build from scratch."""

from __future__ import annotations

import datetime as dt

import pytest

import os

from conftest import DEMO_NOW, digest, drop_snapshot, edit
from statpress import filememo, pipeline, render
from statpress.instants import OSLO

# each test changes something in a project built before (conftest.project)
pytestmark = pytest.mark.built_before


@pytest.fixture(autouse=True)
def settled(monkeypatch):
    """Every file taken as saved long before the build read it, as in an editor's working copy: the
    build keeps what it derived from each (filememo.py), and each change below must still be seen."""
    monkeypatch.setattr(filememo, "SETTLE_NS", 0)


def edit_keeping_times(path, old: str, new: str) -> None:
    """`edit`, with text of the same length, written into the same file, its modification time set
    back: only the file's change time tells."""
    assert len(old.encode()) == len(new.encode())
    before = os.stat(path)
    data = path.read_bytes()
    assert old.encode() in data
    with open(path, "r+b") as f:
        f.write(data.replace(old.encode(), new.encode(), 1))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def build(project, out, use_cache=True, now=DEMO_NOW) -> dict[str, str]:
    # freeze=False: a look back at an earlier instant leaves the archive as it is
    pipeline.build(pipeline.BuildOptions(project, out, now, use_cache=use_cache, allow_withdraw=True, freeze=False))
    return digest(out)


@pytest.fixture
def rendered(monkeypatch) -> list[tuple[str, str]]:
    """(statistic, language) of every statistic page rendered, not taken from the cache."""
    seen = []
    real = render.statistic_pages

    def counting(r, site, p, related):
        seen.append((p.statistic.id, r.locale.language))
        return real(r, site, p, related)

    monkeypatch.setattr(render, "statistic_pages", counting)
    return seen


@pytest.fixture
def listed(monkeypatch) -> list[str]:
    """The language of every rendering of the pages that list statistics (front page, calendar,
    archive index), not taken from the cache."""
    seen = []
    real = render.listing_files

    def counting(r, site, published, now):
        seen.append(r.locale.language)
        return real(r, site, published, now)

    monkeypatch.setattr(render, "listing_files", counting)
    return seen


BOTH = {("migration", "en"), ("migration", "nb"), ("naturalisations", "en"), ("naturalisations", "nb")}
EN_NB = ["en", "nb"]
MIGRATION = {("migration", "en"), ("migration", "nb")}
NATURALISATIONS = {("naturalisations", "en"), ("naturalisations", "nb")}

# Each change, the pages it must render again, and the languages in which the pages that list
# statistics (front page, calendar, archive index) must be: naturalisations links to migration (related), so
# migration's name is on naturalisations' page too; the listing pages show names and releases.
CHANGES = [
    ("nothing", lambda p: None, set(), []),
    ("About text", lambda p: edit(p / "content" / "migration" / "about" / "definitions.md", "\n", "\n\nEdited.\n"),
     MIGRATION, []),
    # a deleted input counts as much as an edited one: the whole content folder is the key
    ("About section deleted", lambda p: [(p / "content" / "migration" / "about" / name).unlink()
                                         for name in ("production.md", "production.nb.md")], MIGRATION, []),
    ("name of a related statistic",
     lambda p: edit(p / "content" / "migration" / "statistic.toml", 'name = "Migration"', 'name = "Migrations"'),
     BOTH, EN_NB),
    ("release postponed", lambda p: edit(p / "content" / "migration" / "releases.toml", "date = 2027-03-11",
                                         "date = 2027-03-18"), MIGRATION, EN_NB),
    ("tables.toml", lambda p: edit(p / "stats" / "naturalisations" / "tables.toml", "Naturalisations", "Naturalisations,"),
     NATURALISATIONS, []),
    ("About text, same size and times", lambda p: edit_keeping_times(
        p / "content" / "migration" / "about" / "definitions.md", "Residents", "Inmates!!"), MIGRATION, []),
    ("tables.toml, same size and times", lambda p: edit_keeping_times(
        p / "stats" / "naturalisations" / "tables.toml", "by previous citizenship", "by earlier citizenship!"),
     NATURALISATIONS, []),
    ("name, same size and times", lambda p: edit_keeping_times(
        p / "content" / "migration" / "statistic.toml", 'name = "Migration"', 'name = "Migratio!"'), BOTH, EN_NB),
    ("template", lambda p: edit(p / "templates" / "table.html", "<caption", "<caption data-x"), BOTH, EN_NB),
    # any catalogue: the About headings of each language decide how every About text is read
    ("locale", lambda p: edit(p / "locales" / "nb.toml", "\n", "\n# edited\n"), BOTH, EN_NB),
    ("site.toml", lambda p: edit(p / "site.toml", '"https://statistics.example.org/"', '"https://stats.example.org/"'),
     BOTH, EN_NB),
    # frozen before the site had bokmål, the snapshot was linked in English from the bokmål page;
    # gone (and frozen again by this build, in both languages), it is linked in bokmål
    ("snapshot gone", lambda p: drop_snapshot(p, "naturalisations/naturalisations-2023"),
     {("naturalisations", "nb")}, ["nb"]),
]


@pytest.mark.parametrize("name,change,again,listing", CHANGES, ids=[c[0] for c in CHANGES])
def test_a_page_is_rendered_again_exactly_when_an_input_changed(project, tmp_path, rendered, listed, name, change,
                                                                 again, listing):
    out = tmp_path / "site"
    build(project, out)
    assert set(rendered) == BOTH and sorted(listed) == ["en", "nb"]
    rendered.clear()
    listed.clear()
    change(project)
    after = build(project, out)
    assert set(rendered) == again, name
    assert sorted(listed) == listing, name
    assert after == build(project, tmp_path / "scratch", use_cache=False), name


def test_a_page_the_site_no_longer_holds_as_written_is_rendered_again(project, tmp_path, rendered):
    out = tmp_path / "site"
    expected = build(project, out)
    rendered.clear()
    page = out / "nb" / "migration" / "index.html"
    page.write_bytes(page.read_bytes().replace(b"<main", b"<main data-edited"))  # in place
    (out / "naturalisations" / "tables" / "by-sex.csv").unlink(missing_ok=True)
    assert build(project, out) == expected
    assert ("migration", "nb") in rendered
    rendered.clear()
    assert build(project, tmp_path / "elsewhere") == expected  # a new output folder has none of them
    assert set(rendered) == BOTH


def test_no_cache_renders_every_page(project, tmp_path, rendered):
    build(project, tmp_path / "site")
    rendered.clear()
    build(project, tmp_path / "site", use_cache=False)
    assert set(rendered) == BOTH


# Two instants a second or a day apart, and what happens between them to migration: its 2024
# release falls due at 08:00:00, its 2025 release is announced (enters the calendar) on 1 October.
INSTANTS = [
    ("due", dt.datetime(2025, 3, 13, 7, 59, 59, tzinfo=OSLO), dt.datetime(2025, 3, 13, 8, 0, 0, tzinfo=OSLO)),
    ("announced", dt.datetime(2025, 9, 30, 12, 0, tzinfo=OSLO), dt.datetime(2025, 10, 1, 12, 0, tzinfo=OSLO)),
]


@pytest.mark.parametrize("name,before,after", INSTANTS, ids=[i[0] for i in INSTANTS])
def test_a_page_changed_by_the_instant_alone_is_rendered_again(project, tmp_path, rendered, listed, name, before,
                                                               after):
    out = tmp_path / "site"
    build(project, out, now=before)
    rendered.clear()
    listed.clear()
    site = build(project, out, now=after)
    assert MIGRATION <= set(rendered) and not NATURALISATIONS & set(rendered), name
    assert sorted(listed) == ["en", "nb"], name  # the calendar shows what is due and announced
    assert site == build(project, tmp_path / "scratch", use_cache=False, now=after), name


CANCELLED = '''
[[releases]]
id = "naturalisations-2025"
period = 2025
date = 2026-05-06
announced = 2025-11-03
status = "cancelled"
reason = "Replaced by the register-based statistic."
reason_nb = "Erstattet av den registerbaserte statistikken."
'''


def test_a_cancelled_release_enters_the_calendar_on_its_announcement_day(project, tmp_path, listed):
    """It never falls due, and the release announced next stays the one before it: only the pages
    that list the calendar show it, from the day it was announced (pagecache.listing_state)."""
    path = project / "content" / "naturalisations" / "releases.toml"
    path.write_text(path.read_text(encoding="utf-8") + CANCELLED, encoding="utf-8")
    before, after = dt.datetime(2025, 11, 2, 12, 0, tzinfo=OSLO), dt.datetime(2025, 11, 3, 12, 0, tzinfo=OSLO)
    out = tmp_path / "site"
    build(project, out, now=before)
    listed.clear()
    site = build(project, out, now=after)
    assert sorted(listed) == ["en", "nb"]
    assert site == build(project, tmp_path / "scratch", use_cache=False, now=after)
