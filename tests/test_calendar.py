"""Release calendar and embargo: nothing before its time, in any file."""

import csv
import datetime as dt
import gzip
import io
import re
import zipfile

import feedparser
import icalendar
import pytest
from lxml import etree

from conftest import ROOT, build_site, edit
from statpress import calendar, compress, feeds, pipeline, publish, render
from statpress.content import OSLO, load_all
from statpress.data import load_catalog
from statpress.errors import BuildError

UTC = dt.timezone.utc
SECOND = dt.timedelta(seconds=1)


def release(stat_id, release_id):
    s = next(s for s in load_all(ROOT / "content") if s.id == stat_id)
    return s, next(r for r in s.releases if r.id == release_id)


def test_0800_oslo_is_0700_utc_in_winter_and_0600_utc_in_summer():
    _, winter = release("migration", "migration-2024")
    _, summer = release("naturalisations", "naturalisations-2023")
    assert winter.time_of_publication.astimezone(UTC) == dt.datetime(2025, 3, 13, 7, 0, tzinfo=UTC)
    assert summer.time_of_publication.astimezone(UTC) == dt.datetime(2024, 5, 2, 6, 0, tzinfo=UTC)


def test_due_switches_at_the_exact_second():
    s, r = release("migration", "migration-2024")
    assert calendar.due(s, r.time_of_publication - SECOND).id == "migration-2023"
    assert calendar.due(s, r.time_of_publication).id == "migration-2024"


def figures(stat_id, period):
    """Every count and figure a release's tables show, as digit strings."""
    out = set()
    s = next(s for s in load_all(ROOT / "content") if s.id == stat_id)
    # a period without a release of its own (the year before the first) is computed as one would be
    release = s.releases[0].model_copy(update={"period": period, "corrections": [], "provisional": []})
    computed, _ = publish.compute_release(s, load_catalog(ROOT), release)
    for t in computed.tables:
        for m in t.visible_measures:
            for v in t.column(m.id):
                if v == v and abs(v) >= 1000:
                    out.add(str(int(round(abs(v)))))
    # figures that read like a year cannot be told from the years the pages name
    return {n for n in out if not 1900 <= int(n) <= 2100}


def file_text(path):
    """What a reader can see in one file of a site, as text: text files whole; of SVG charts their
    text (the drawing's coordinates are not figures); of XLSX workbooks every XML part (figures
    are in the sheets, texts in the shared strings); of Pagefind's search index every file
    decompressed (fragments hold each page's text, the index its words; Pagefind's own counts
    are left out). PNG charts are drawn
    from the same specification as the SVG ones; vega.js and Pagefind's own scripts, styles and
    WebAssembly are code, the same in every build (their escaped characters read like figures).
    A precompressed copy (.gz, .br) is read decompressed, as the file it stands for."""
    path, data = compress.original(path, path.read_bytes())
    if path.suffix == ".png" or path.name == "vega.js":
        return ""
    if "pagefind" in path.parts and path.suffix in (".js", ".css"):
        return ""
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return "\n".join(z.read(n).decode("utf-8") for n in sorted(z.namelist()) if n.endswith(".xml"))
    if "pagefind" in path.parts and data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
        if b"\0asm" in data[:64]:
            return ""
        # nor are a fragment's count of its page's words and the word positions of its headings
        return re.sub(r'"(?:word_count|location)":\d+', "", data.decode("utf-8", errors="replace"))
    text = data.decode("utf-8")
    if path.suffix == ".csv":  # cells apart: a comma before a figure reads as a decimal mark
        text = "\n".join("\t".join(row) for row in csv.reader(io.StringIO(text)))
    if path.suffix == ".svg":
        text = " ".join(re.findall(r"<(?:text|title|desc)[^>]*>([^<]*)<", text))
    elif path.suffix == ".html":  # the size a page gives a chart's <img> is not a figure
        text = re.sub(r"<img\b[^>]*>", lambda m: re.sub(r'\s(?:width|height)="[0-9]+"', "", m.group(0)), text)
    if path.suffix in (".html", ".jsonld"):  # nor is a download's size in bytes (schema.org, DCAT)
        text = re.sub(r'"contentSize":\s*"\d+ B"|"dcat:byteSize":\s*\{\s*"@value":\s*"\d+"', "", text)
    return text


def normalise(text):
    # one form for every way a page or download may print a number: "66 077", "66\u00a0077", "66077"
    return re.sub(r"(?<=\d)[\u00a0\u202f ](?=\d{3}\b)", "", text)


def site_texts(folder):
    """Every file of a built site, by relative path, as file_text reads it (numbers normalised)."""
    return {p.relative_to(folder).as_posix(): normalise(file_text(p))
            for p in sorted(folder.rglob("*")) if p.is_file()}


def site_text(folder):
    """Everything a reader can see in the site's files, in one text."""
    return "\n".join(site_texts(folder).values())


# every kind of download and the search index's page texts, by a pattern of their relative path
# (the index's word lists are read too, but hold no whole figure: "66 077" is two words there)
KINDS = {"page": r"^[a-z-]+/index\.html$", "csv": r"/tables/.*\.csv$", "xlsx": r"/tables/.*\.xlsx$",
         "json-stat": r"/tables/.*\.json$", "px": r"/tables/.*\.px$", "search fragment": r"^pagefind/fragment/",
         # and each of them in the second language: the leak check reads every file of both
         "Norwegian page": r"^nb/[a-z-]+/index\.html$", "Norwegian csv": r"^nb/.*/tables/.*\.csv$",
         "Norwegian xlsx": r"^nb/.*/tables/.*\.xlsx$", "Norwegian px": r"^nb/.*/tables/.*\.px$"}


def numbers(text):
    """Every whole number a text shows, as digit strings: each run of digits that is not the end of
    a longer number (after a digit, a decimal point or a comma). One pass: searching the text once
    per figure took ten seconds a site."""
    return set(re.findall(r"(?<![\d.,])\d+", text))


@pytest.mark.parametrize("stat_id, release_id, previous_period", [
    ("migration", "migration-2024", 2023),
    ("migration", "migration-2023", 2022),
    ("naturalisations", "naturalisations-2023", None),
])
def test_no_figure_of_a_release_appears_one_second_before_it(tmp_path, stat_id, release_id, previous_period):
    s, r = release(stat_id, release_id)
    new = figures(stat_id, r.period) - (figures(stat_id, previous_period) if previous_period else set())
    # a figure another statistic shows at the same time may coincide with one of this release
    for other in load_all(ROOT / "content"):
        shown = calendar.due(other, r.time_of_publication - SECOND)
        if other.id != stat_id and shown is not None:
            new -= figures(other.id, shown.period)
    assert len(new) > 10
    before, at = tmp_path / "before", tmp_path / "at"
    build_site(ROOT, before, r.time_of_publication - SECOND)
    build_site(ROOT, at, r.time_of_publication)
    texts_before, texts_at = site_texts(before), site_texts(at)
    leaked = sorted(new & numbers("\n".join(texts_before.values())))
    assert leaked == [], f"figures of {release_id} published early: {leaked[:10]}"
    missing = sorted(new - numbers("\n".join(texts_at.values())))
    assert missing == [], f"figures of {release_id} missing at release time: {missing[:10]}"
    # the test reads every kind of file: at release time, each kind shows figures of the release
    for kind, pattern in KINDS.items():
        text = "\n".join(t for path, t in texts_at.items() if re.search(pattern, path))
        assert new & numbers(text), f"no figure of {release_id} found in any {kind} file"


def test_the_calendar_file_parses_and_has_stable_uids(demo_site):
    cal = icalendar.Calendar.from_ical((demo_site / "calendar" / "releases.ics").read_bytes())
    events = {str(e["uid"]): e for e in cal.walk("VEVENT")}
    assert "migration-2024@statistics.example.org" in events
    start = events["migration-2024@statistics.example.org"].decoded("dtstart")
    assert start.astimezone(UTC) == dt.datetime(2025, 3, 13, 7, 0, tzinfo=UTC)
    postponed = events["migration-2025@statistics.example.org"]
    assert postponed["sequence"] == 1 and "FREG" in str(postponed["description"])


def test_the_feed_parses_and_lists_published_releases_only(tmp_path):
    _, r = release("migration", "migration-2024")
    out = tmp_path / "site"
    build_site(ROOT, out, r.time_of_publication - SECOND)
    feed = feedparser.parse((out / "releases.atom").read_bytes())
    assert not feed.bozo
    titles = [e.title for e in feed.entries]
    assert "Migration, 2023" in titles and "Naturalisations, 2023" in titles
    assert "Migration, 2024" not in titles


def test_the_calendar_page_and_the_feed_list_the_latest_releases_and_the_archive_all(tmp_path, monkeypatch):
    """An office's calendar would otherwise list every release it ever published (680 KB for 300
    statistics): the latest render.LATEST, the latest first, and a link to the archive's full list;
    the iCalendar file keeps them all."""
    everything = build_site(ROOT, tmp_path / "all").out
    monkeypatch.setattr(render, "LATEST", 2)
    latest = build_site(ROOT, tmp_path / "latest").out
    feeds = [feedparser.parse((site / "releases.atom").read_bytes()).entries for site in (everything, latest)]
    assert len(feeds[0]) > 2
    newest = sorted(feeds[0], key=lambda e: e.updated_parsed, reverse=True)[:2]
    assert sorted(e.id for e in feeds[1]) == sorted(e.id for e in newest)
    recent = [(site / "calendar" / "index.html").read_text(encoding="utf-8").split('id="recent-title"')[1]
              for site in (everything, latest)]
    assert recent[1].count("<li>") == 2 and recent[0].count("<li>") == len(feeds[0])
    assert "All archived releases" in recent[1] and "All archived releases" not in recent[0]
    assert (latest / "calendar" / "releases.ics").read_bytes() == (everything / "calendar" / "releases.ics").read_bytes()


def test_calendar_page_groups_upcoming_by_month_and_shows_postponement(demo_site):
    html = (demo_site / "calendar" / "index.html").read_text(encoding="utf-8")
    assert "March 2027" in html and "February 2027" in html
    assert html.index("February 2027") < html.index("March 2027")
    assert "Postponed from 12 March 2026" in html
    page = (demo_site / "migration" / "index.html").read_text(encoding="utf-8")
    assert "postponed from 12 March 2026 to 11 March 2027" in page


def test_an_unannounced_release_is_not_in_the_calendar(tmp_path):
    out = tmp_path / "site"
    build_site(ROOT, out, dt.datetime(2025, 9, 30, 12, 0, tzinfo=OSLO))  # migration-2025 announced 1 Oct
    assert "migration-2025" not in (out / "calendar" / "releases.ics").read_text(encoding="utf-8")
    assert "Not yet determined" in (out / "migration" / "index.html").read_text(encoding="utf-8")


def test_short_notice_is_a_warning_and_an_error_when_strict(project, tmp_path):
    edit(project / "content/migration/releases.toml", "announced = 2024-10-01", "announced = 2025-01-20")
    report = pipeline.build(pipeline.BuildOptions(project, tmp_path / "a", dt.datetime(2025, 4, 1, tzinfo=OSLO)))
    assert any("less than three months" in w and "migration-2024" in w for w in report.warnings)
    with pytest.raises(BuildError, match="less than three months"):
        pipeline.build(pipeline.BuildOptions(project, tmp_path / "b", dt.datetime(2025, 4, 1, tzinfo=OSLO), strict=True))


@pytest.mark.parametrize("announced, warned", [("2024-11-30", False), ("2024-12-01", True)])
def test_three_months_notice_ends_on_the_last_day_of_a_shorter_month(project, announced, warned):
    # 30 November + three months is 28 February (there is no 30 February): a release on
    # 28 February announced on 30 November had its three months, one announced a day later did not
    edit(project / "content/migration/releases.toml", "date = 2025-03-13", "date = 2025-02-28")
    edit(project / "content/migration/releases.toml", "announced = 2024-10-01", f"announced = {announced}")
    warnings = pipeline.check_calendar(load_all(project / "content"), strict=False)
    assert any("migration-2024' was announced" in w for w in warnings) == warned


def test_postponed_release_needs_a_reason(project):
    edit(project / "content/migration/releases.toml", 'reason = "The transition', '# reason = "The transition')
    edit(project / "content/migration/releases.toml", 'reason_nb = ', '# reason_nb = ')
    with pytest.raises(BuildError, match="migration-2025': a postponed release needs"):
        pipeline.check_calendar(load_all(project / "content"), strict=False)


def test_duplicate_release_id_across_statistics(project):
    edit(project / "content/naturalisations/releases.toml", 'id = "naturalisations-2024"', 'id = "migration-2024"')
    with pytest.raises(BuildError, match="release id 'migration-2024' is used twice"):
        load_all(project / "content")


def test_preview_marks_embargoed_pages_and_never_writes_site(tmp_path):
    _, r = release("migration", "migration-2024")
    with pytest.raises(BuildError, match="never written to site/"):
        pipeline.build(pipeline.BuildOptions(ROOT, ROOT / "site", r.time_of_publication - SECOND, preview=True))
    out = tmp_path / "preview"
    pipeline.build(pipeline.BuildOptions(ROOT, out, r.time_of_publication - SECOND, preview=True))
    page = (out / "migration" / "index.html").read_text(encoding="utf-8")
    assert "Embargoed until 13 March 2025 08:00 — not for publication" in page
    assert '<meta name="robots" content="noindex, nofollow">' in page
    assert "66\u00a0077" in page
    assert not (out / "sitemap.xml").exists()


def test_a_cancelled_release_is_announced_as_cancelled_and_never_published(project, tmp_path):
    path = project / "content/naturalisations/releases.toml"
    text = path.read_text(encoding="utf-8")
    text = text.replace('status = "postponed"\npostponed_from = 2025-05-06\n', 'status = "cancelled"\n')
    path.write_text(text, encoding="utf-8")
    build_site(project, tmp_path / "site")
    page = (tmp_path / "site" / "calendar" / "index.html").read_text(encoding="utf-8")
    assert "Cancelled: The transition to the modernised Population Register" in page
    cal = icalendar.Calendar.from_ical((tmp_path / "site" / "calendar" / "releases.ics").read_bytes())
    event = next(e for e in cal.walk("VEVENT") if str(e["uid"]).startswith("naturalisations-2024@"))
    assert str(event["status"]) == "CANCELLED"
    stat_page = (tmp_path / "site" / "naturalisations" / "index.html").read_text(encoding="utf-8")
    assert "Next update:</dt> <dd>Not yet determined" in stat_page
    s = next(s for s in load_all(project / "content") if s.id == "naturalisations")
    assert calendar.due(s, dt.datetime(2030, 1, 1, tzinfo=OSLO)).id == "naturalisations-2023"


def test_the_sitemap_escapes_what_xml_must_in_an_address():
    xml = feeds.sitemap([("https://statistics.example.org/a?b=1&c=<2>", dt.date(2025, 3, 13))])
    assert b"<loc>https://statistics.example.org/a?b=1&amp;c=&lt;2&gt;</loc>" in xml
    loc = etree.fromstring(xml).find(".//{http://www.sitemaps.org/schemas/sitemap/0.9}loc")
    assert loc.text == "https://statistics.example.org/a?b=1&c=<2>"
