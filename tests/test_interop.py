"""The calendar file, the feed and the sitemap, read by the clients people use, not by their writer.

Calendar apps and CalDAV servers each parse iCalendar their own way: icalendar, ics.py and vobject
(the parser behind Radicale) must all put every release at the same, correct instant. The Atom
feed is read by feedparser and checked against RFC 4287's rules; the sitemap is validated
against the sitemaps.org schema.
"""

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import feedparser
import icalendar
import ics
import pytest
import vobject
from lxml import etree

from conftest import DEMO_NOW, ROOT, build_site, copy_project, edit
from statpress import calendar, content
from statpress.content import load_all
from statpress.errors import BuildError

UTC = dt.timezone.utc
SECOND = dt.timedelta(seconds=1)
SCHEMAS = Path(__file__).parent / "schemas"


# --- iCalendar ------------------------------------------------------------------------------

def read_icalendar(text: str) -> dict[str, dt.datetime]:
    cal = icalendar.Calendar.from_ical(text)
    return {str(e["uid"]): e.decoded("dtstart") for e in cal.walk("VEVENT")}


def read_ics_py(text: str) -> dict[str, dt.datetime]:
    return {e.uid: e.begin.datetime for e in ics.Calendar(text).events}


def read_vobject(text: str) -> dict[str, dt.datetime]:
    cal = vobject.readOne(text)
    return {e.uid.value: e.dtstart.value for e in getattr(cal, "vevent_list", [])}


PARSERS = {"icalendar": read_icalendar, "ics.py": read_ics_py, "vobject": read_vobject}


def expected_instants(root: Path, now: dt.datetime) -> dict[str, dt.datetime]:
    """Every release the calendar shows at `now`: its announced date and time on the wall clocks
    of Oslo, as the content files say, in UTC."""
    host = content.parse(root / "site.toml", content.SiteConfig).host
    out = {}
    for s in load_all(root / "content"):
        for r in calendar.published_releases(s, now) + calendar.upcoming(s, now):
            local = dt.datetime.combine(r.date, dt.time.fromisoformat(r.time), tzinfo=ZoneInfo("Europe/Oslo"))
            out[f"{r.id}@{host}"] = local.astimezone(UTC)
    return out


def read_by_every_parser(text: str) -> dict[str, dict[str, dt.datetime]]:
    """Each parser's reading of the file, in UTC; a naive time (read as floating) fails the test."""
    readings = {}
    for name, read in PARSERS.items():
        events = read(text)
        assert all(v.tzinfo is not None for v in events.values()), f"{name} read floating times"
        readings[name] = {uid: v.astimezone(UTC) for uid, v in events.items()}
    return readings


def test_every_parser_reads_every_demo_release_at_its_announced_time(demo_site):
    expected = expected_instants(ROOT, DEMO_NOW)
    assert len(expected) >= 5
    text = (demo_site / "calendar" / "releases.ics").read_text(encoding="utf-8")
    for name, got in read_by_every_parser(text).items():
        assert got == expected, f"{name} reads the calendar differently"


@pytest.fixture(scope="module")
def dst_site(tmp_path_factory):
    """The demo with releases on both sides of both changes of 2027: summer time starts on
    Sunday 28 March and ends on Sunday 31 October. One release is at 10:00."""
    root = copy_project(tmp_path_factory.mktemp("dst") / "project")
    path = root / "content/migration/releases.toml"
    added = [("migration-2026", 2026, "2027-03-26", None), ("migration-2027", 2027, "2027-03-29", "10:00"),
             ("migration-2028", 2028, "2027-10-29", None), ("migration-2029", 2029, "2027-11-01", None)]
    text = path.read_text(encoding="utf-8")
    for rid, period, date, time in added:
        text += f'\n[[releases]]\nid = "{rid}"\nperiod = {period}\ndate = {date}\nannounced = 2026-11-01\n'
        if time:
            text += f'time = "{time}"\n'
    path.write_text(text, encoding="utf-8")
    build_site(root, root / "site")
    return root


# In UTC, worked out by hand: CET is UTC+1, CEST UTC+2.
DST_CASES = {
    "migration-2026": dt.datetime(2027, 3, 26, 7, 0, tzinfo=UTC),   # Friday before, CET
    "migration-2027": dt.datetime(2027, 3, 29, 8, 0, tzinfo=UTC),   # Monday after, 10:00 CEST
    "migration-2028": dt.datetime(2027, 10, 29, 6, 0, tzinfo=UTC),  # Friday before, CEST
    "migration-2029": dt.datetime(2027, 11, 1, 7, 0, tzinfo=UTC),   # Monday after, CET
}


def test_every_parser_reads_releases_around_both_dst_changes_alike(dst_site):
    text = (dst_site / "site" / "calendar" / "releases.ics").read_text(encoding="utf-8")
    expected = expected_instants(dst_site, DEMO_NOW)
    for name, got in read_by_every_parser(text).items():
        assert got == expected, f"{name} reads the calendar differently"
        for rid, instant in DST_CASES.items():
            assert got[f"{rid}@statistics.example.org"] == instant, f"{name}: {rid}"


@pytest.mark.parametrize("name", ["icalendar", "vobject"])
def test_the_embedded_time_zone_alone_gives_the_right_times(dst_site, name):
    """Under a TZID no time zone database knows, a parser must use the VTIMEZONE in the file:
    what a client without Olson names does. (ics.py falls back to UTC then, so it is left out.)"""
    text = (dst_site / "site" / "calendar" / "releases.ics").read_text(encoding="utf-8")
    renamed = text.replace("TZID=Europe/Oslo", "TZID=X-Statpress-Oslo").replace(
        "TZID:Europe/Oslo", "TZID:X-Statpress-Oslo")
    assert renamed.count("X-Statpress-Oslo") > len(DST_CASES)
    got = {uid: v.astimezone(UTC) for uid, v in PARSERS[name](renamed).items()}
    assert got == expected_instants(dst_site, DEMO_NOW)


def test_each_coming_release_has_a_single_event_file_read_alike_by_every_parser(dst_site):
    """Past releases are in the whole calendar; only the coming ones are worth adding one by one."""
    site = dst_site / "site"
    whole = read_icalendar((site / "calendar" / "releases.ics").read_text(encoding="utf-8"))
    files = sorted((site / "calendar" / "releases").glob("*.ics"))
    coming = {uid for uid, start in whole.items() if start > DEMO_NOW}
    assert len(coming) >= 4 and {f"{p.stem}@statistics.example.org" for p in files} == coming
    for path in files:
        for name, got in read_by_every_parser(path.read_text(encoding="utf-8")).items():
            assert got == {f"{path.stem}@statistics.example.org": whole[f"{path.stem}@statistics.example.org"]}, \
                f"{name}: {path.name}"


def test_a_release_in_a_year_oslo_left_the_eu_rule_stops_the_build(project, tmp_path):
    # Before 1996 Norway's summer time ended in September: the file's VTIMEZONE would be wrong.
    edit(project / "content/migration/releases.toml", "[[releases]]",
         '[[releases]]\nid = "migration-1990"\nperiod = 1990\ndate = 1990-10-15\nannounced = 1990-01-02\n\n[[releases]]')
    with pytest.raises(BuildError, match=r"releases.toml: release 'migration-1990': date 1990-10-15: Oslo's daylight"):
        build_site(project, tmp_path / "site")


def next_release_link(page: str) -> str:
    match = re.search(r'Next update:</dt> <dd>[^<]*<a href="([^"]+\.ics)">Add to calendar', page)
    assert match, "no add-to-calendar link by Next update"
    return match.group(1)


def test_statistic_pages_link_the_next_release_as_a_calendar_event(demo_site):
    for s in load_all(ROOT / "content"):
        upcoming = calendar.next_release(s, DEMO_NOW)
        page_path = demo_site / s.meta.short_name / "index.html"
        target = (page_path.parent / next_release_link(page_path.read_text(encoding="utf-8"))).resolve()
        events = read_icalendar(target.read_text(encoding="utf-8"))
        assert list(events) == [f"{upcoming.id}@statistics.example.org"]
        assert events[f"{upcoming.id}@statistics.example.org"] == upcoming.time_of_publication


def test_calendar_entries_link_their_event_files(demo_site):
    page = demo_site / "calendar" / "index.html"
    links = re.findall(r'<a class="add-event" href="([^"]+)">', page.read_text(encoding="utf-8"))
    upcoming = [r for s in load_all(ROOT / "content") for r in calendar.upcoming(s, DEMO_NOW)
                if r.status != "cancelled"]
    assert len(links) == len(upcoming) > 0
    for link in links:
        assert (page.parent / link).resolve().is_file(), link


# --- subscribing ----------------------------------------------------------------------------

def test_the_calendar_page_offers_webcal_and_https_addresses_of_the_calendar(demo_site):
    base = content.parse(ROOT / "site.toml", content.SiteConfig).base_url
    html = (demo_site / "calendar" / "index.html").read_text(encoding="utf-8")
    https = base + "calendar/releases.ics"
    assert f'<a href="webcal://{https.split("://", 1)[1]}">' in html
    assert f'<a href="{https}">' in html
    assert '<a href="releases.ics">' in html and '<a href="../releases.atom">' in html


@pytest.mark.parametrize("base_url", ["", "/statistics/"])
def test_a_relative_base_url_is_refused_since_calendar_clients_need_a_whole_address(project, tmp_path, base_url):
    """Feeds, the calendar's subscription and canonical links need an absolute address."""
    edit(project / "site.toml", 'base_url = "https://statistics.example.org/"', f'base_url = "{base_url}"')
    with pytest.raises(BuildError, match=r"site\.toml: field 'base_url'"):
        build_site(project, tmp_path / "site")


# --- Atom -----------------------------------------------------------------------------------

ATOM = "{http://www.w3.org/2005/Atom}"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def atom_problems(xml: bytes) -> list[str]:
    """What RFC 4287 (sections 4.1.1, 4.1.2, 4.2.7, 3.3) says a feed and its entries must have."""
    root = etree.fromstring(xml)
    if root.tag != f"{ATOM}feed":
        return [f"root element is {root.tag}"]
    problems = element_problems(root, "feed")
    entries = root.findall(f"{ATOM}entry")
    if not root.findall(f"{ATOM}author") and not all(e.findall(f"{ATOM}author") for e in entries):
        problems.append("feed: no author, and not every entry has one")
    if len([ln for ln in root.findall(f"{ATOM}link") if ln.get("rel") == "self"]) != 1:
        problems.append("feed: not exactly one link rel=self")
    for i, entry in enumerate(entries):
        problems += element_problems(entry, f"entry {i}")
        if not alternates(entry):
            problems.append(f"entry {i}: no alternate link")
    ids = [e.findtext(f"{ATOM}id") for e in entries]
    if len(set(ids)) != len(ids):
        problems.append("two entries share an id")
    return problems


def alternates(element) -> list:
    return [ln for ln in element.findall(f"{ATOM}link") if ln.get("rel", "alternate") == "alternate"]


def element_problems(element, what: str) -> list[str]:
    problems = []
    for child in ("id", "title", "updated"):
        if len(element.findall(f"{ATOM}{child}")) != 1:
            problems.append(f"{what}: not exactly one {child}")
    for author in element.findall(f"{ATOM}author"):
        if not author.findtext(f"{ATOM}name"):
            problems.append(f"{what}: author without name")
    for date in element.findall(f"{ATOM}updated") + element.findall(f"{ATOM}published"):
        if not RFC3339.match(date.text or ""):
            problems.append(f"{what}: {date.tag} {date.text!r} is not an RFC 3339 date-time")
    identifier = element.findtext(f"{ATOM}id") or ""
    if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", identifier):
        problems.append(f"{what}: id {identifier!r} is not an absolute IRI")
    kinds = [(ln.get("type"), ln.get("hreflang")) for ln in alternates(element)]
    if len(set(kinds)) != len(kinds):
        problems.append(f"{what}: two alternate links of the same type and language")
    return problems


def test_the_atom_check_finds_what_rfc_4287_forbids():
    good = (b'<feed xmlns="http://www.w3.org/2005/Atom"><id>tag:x,2024:f</id><title>t</title>'
            b'<updated>2025-03-13T08:00:00+01:00</updated><author><name>a</name></author>'
            b'<link rel="self" href="https://x/f.atom"/><entry><id>tag:x,2024:e</id><title>e</title>'
            b'<updated>2025-03-13T08:00:00+01:00</updated><link href="https://x/e/"/></entry></feed>')
    assert atom_problems(good) == []
    broken = {
        b"<author><name>a</name></author>": b"",
        b"<updated>2025-03-13T08:00:00+01:00</updated><link href": b"<updated>13.03.2025</updated><link href",
        b'<link href="https://x/e/"/>': b'<link href="https://x/e/"/><link href="https://x/other/"/>',
        b'<link rel="self" href="https://x/f.atom"/>': b"",
        b"<id>tag:x,2024:e</id>": b"",
    }
    for old, new in broken.items():
        assert atom_problems(good.replace(old, new)) != [], new


def site_file(site: Path, url: str, base_url: str) -> Path:
    """The file a URL of the site is served from."""
    assert url.startswith(base_url), url
    rel = url[len(base_url):]
    return site / (rel + "index.html" if rel == "" or rel.endswith("/") else rel)


def test_the_feed_passes_rfc_4287_and_feedparser_and_links_each_release_page(demo_site):
    base = content.parse(ROOT / "site.toml", content.SiteConfig).base_url
    xml = (demo_site / "releases.atom").read_bytes()
    assert atom_problems(xml) == []
    feed = feedparser.parse(xml)
    assert not feed.bozo
    published = {r.id: (s, r) for s in load_all(ROOT / "content") for r in calendar.published_releases(s, DEMO_NOW)}
    assert len(feed.entries) == len(published)
    for entry in feed.entries:
        s, r = published[entry.id.rsplit(":", 1)[1]]
        assert dt.datetime(*entry.updated_parsed[:6], tzinfo=UTC) == r.time_of_publication
        page = site_file(demo_site, entry.link, base)
        assert page.is_file(), entry.link
        # the release's own page: its title and date, whatever the latest release is
        assert f"{s.meta.name} – {r.period}" in page.read_text(encoding="utf-8")


def test_feed_entries_keep_their_ids_and_dates_across_builds(demo_site, tmp_path):
    s, r = next((s, r) for s in load_all(ROOT / "content") for r in s.releases if r.id == "migration-2024")
    build_site(ROOT, tmp_path / "earlier", r.time_of_publication - SECOND)
    entries = {}
    for site in (tmp_path / "earlier", demo_site):
        for e in feedparser.parse((site / "releases.atom").read_bytes()).entries:
            entries.setdefault(e.title, set()).add((e.id, e.updated, e.link))
    assert "Migration, 2023" in entries and "Migration, 2024" in entries
    assert all(len(versions) == 1 for versions in entries.values()), entries


# --- sitemap --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sitemap_schema():
    return etree.XMLSchema(etree.parse(str(SCHEMAS / "sitemap.xsd")))


def test_the_schema_rejects_what_the_sitemap_protocol_forbids(sitemap_schema):
    def doc(url):
        return etree.fromstring(f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{url}</urlset>')
    assert sitemap_schema.validate(doc("<url><loc>https://x.example/</loc><lastmod>2025-03-13</lastmod></url>"))
    for bad in ("<url><loc>https://x.example/</loc><lastmod>13.03.2025</lastmod></url>",
                "<url><lastmod>2025-03-13</lastmod></url>",
                "<url><loc>/a</loc></url>",
                "<url><loc>https://x.example/</loc><priority>2</priority></url>"):
        assert not sitemap_schema.validate(doc(bad)), bad


def test_the_sitemap_is_valid_and_dates_each_statistic_by_its_latest_release(demo_site, sitemap_schema):
    base = content.parse(ROOT / "site.toml", content.SiteConfig).base_url
    tree = etree.parse(str(demo_site / "sitemap.xml"))
    sitemap_schema.assertValid(tree)
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    lastmods = {u.findtext("s:loc", namespaces=ns): u.findtext("s:lastmod", namespaces=ns)
                for u in tree.findall("s:url", ns)}
    for loc in lastmods:
        assert site_file(demo_site, loc, base).is_file(), loc
    for s in load_all(ROOT / "content"):
        due = calendar.due(s, DEMO_NOW)
        assert lastmods[f"{base}{s.meta.short_name}/"] == (due.date.isoformat() if due else None)
    assert all(d is None or dt.date.fromisoformat(d) <= DEMO_NOW.date() for d in lastmods.values())
