"""Machine-readable outputs of the release calendar: iCalendar (RFC 5545), Atom and a sitemap.

Each lists only what the public may see at the build's instant: the calendar file carries
announced dates and no figures, the feed and the sitemap only releases that are due.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import pickle
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple
from html import escape  # not xml.sax.saxutils's: it loads urllib.request and ssl, 25 ms a build

from . import __version__, atomic
from .calendar import Entry
from .content import OSLO, Release, Statistic
from .errors import BuildError

# icalendar and feedgen are imported where they are used: a rebuild whose calendar and feed come
# from the page cache does not load them (0.05 s of every start).
if TYPE_CHECKING:
    import icalendar


def release_uid(release: Release, host: str) -> str:
    # Stable across builds and date changes, so a postponement updates the reader's entry.
    return f"{release.id}@{host}"


def event_path(release: Release) -> str:
    """Where a release's single-event calendar file is, relative to the site root."""
    # A folder of its own, so no release id can clash with calendar/releases.ics.
    return f"calendar/releases/{release.id}.ics"


# Europe/Oslo as clients expect it: the EU rule since 1996, summer time from the last Sunday of
# March at 02:00 to the last Sunday of October at 03:00 local time. icalendar's own VTIMEZONE
# lists every change as an RDATE; vobject (behind CalDAV servers such as Radicale) misreads that
# and puts summer releases an hour late. `check_summer_time_rule` proves the rule is Oslo's for
# every year the calendar covers.
class Observance(NamedTuple):
    """One half of the year in the VTIMEZONE: from the last Sunday of `month` at local `start`."""
    name: str
    month: int
    start: dt.time
    offset_from: dt.timedelta
    offset_to: dt.timedelta


SUMMER = Observance("CEST", 3, dt.time(2, 0), dt.timedelta(hours=1), dt.timedelta(hours=2))
WINTER = Observance("CET", 10, dt.time(3, 0), dt.timedelta(hours=2), dt.timedelta(hours=1))


def oslo_timezone() -> icalendar.Timezone:
    import icalendar

    tz = icalendar.Timezone()
    tz.add("tzid", OSLO.key)
    for part, rule in ((icalendar.TimezoneDaylight(), SUMMER), (icalendar.TimezoneStandard(), WINTER)):
        part.add("tzname", rule.name)
        part.add("tzoffsetfrom", rule.offset_from)
        part.add("tzoffsetto", rule.offset_to)
        # first onset in 1970, as Outlook and Google write it; the RRULE gives every later one
        part.add("dtstart", dt.datetime.combine(last_sunday(1970, rule.month), rule.start))
        part.add("rrule", {"freq": "yearly", "bymonth": rule.month, "byday": "-1su"})
        tz.add_component(part)
    return tz


def last_sunday(year: int, month: int) -> dt.date:
    last = dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() + 1) % 7)


def follows_summer_time_rule(year: int) -> bool:
    """Whether Oslo's offsets in `year` are those the VTIMEZONE above describes."""
    second = dt.timedelta(seconds=1)
    for rule in (SUMMER, WINTER):
        local = dt.datetime.combine(last_sunday(year, rule.month), rule.start)
        change = (local - rule.offset_from).replace(tzinfo=dt.timezone.utc)
        if (change - second).astimezone(OSLO).utcoffset() != rule.offset_from \
                or change.astimezone(OSLO).utcoffset() != rule.offset_to:
            return False
    return True


def check_summer_time_rule(entries: list[Entry]) -> None:
    for s, r in entries:
        if not follows_summer_time_rule(r.date.year):
            raise BuildError(f"{s.folder / 'releases.toml'}: release '{r.id}': date {r.date}: Oslo's daylight "
                             "saving time that year differs from the EU rule the calendar file describes")


def event(s: Statistic, r: Release, base_url: str, host: str, language: str | None = None) -> icalendar.Event:
    """A release as a calendar event: its title and announced time, never a figure. The same
    release has the same UID in every language's calendar: importing both updates one entry."""
    import icalendar

    texts = {"LANGUAGE": language} if language else {}
    ev = icalendar.Event()
    ev.add("uid", release_uid(r, host))
    ev.add("dtstamp", dt.datetime.combine(r.announced, dt.time(0, 0), tzinfo=dt.timezone.utc))
    start = r.time_of_publication
    ev.add("dtstart", start)
    ev.add("dtend", start + dt.timedelta(minutes=30))
    ev.add("summary", f"{s.meta.name}, {r.period}", parameters=texts)
    ev.add("url", f"{base_url}{s.meta.short_name}/")
    ev.add("sequence", 1 if r.status == "postponed" else 0)
    ev.add("status", "CANCELLED" if r.status == "cancelled" else "CONFIRMED")
    if r.reason:
        ev.add("description", r.reason, parameters=texts)
    return ev


class EventCache:
    """Each release's calendar event as iCalendar text, kept between builds in one file per
    language (.cache/events/): writing the 6 600 events of a 300-statistic site's two calendars
    through icalendar took about 3 s in every build. An event is keyed by everything it shows
    (`event_key`); the file keeps only the events of the last build."""

    def __init__(self, path: Path | None):
        self.path, self.used = path, {}
        try:
            self.kept = pickle.loads(path.read_bytes()) if path is not None else {}
        except (OSError, pickle.UnpicklingError, EOFError, ValueError):
            self.kept = {}  # none yet, or damaged: written again

    def text(self, s: Statistic, r: Release, base_url: str, host: str, language: str | None) -> bytes:
        key = event_key(s, r, base_url, host, language)
        found = self.kept.get(key) or self.used.get(key) or event(s, r, base_url, host, language).to_ical()
        self.used[key] = found
        return found

    def save(self) -> None:
        if self.path is not None and self.used != self.kept:
            atomic.write(self.path, pickle.dumps(self.used, protocol=pickle.HIGHEST_PROTOCOL))


def event_key(s: Statistic, r: Release, base_url: str, host: str, language: str | None) -> str:
    """What `event` reads, and the code and library that write it."""
    import icalendar

    parts = [FEEDS_SOURCE, icalendar.__version__, str(s.meta.name), s.meta.short_name, r.model_dump_json(),
             base_url, host, str(language)]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


FEEDS_SOURCE = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
END = b"END:VCALENDAR\r\n"


def ics(entries: list[Entry], base_url: str, host: str, title: str | None = None,
        language: str | None = None, events: EventCache | None = None) -> bytes:
    """An iCalendar file of the given releases, times in Oslo time with the zone defined inside.

    `title` names a calendar to subscribe to; a single event to import has none, so that
    clients add it to the reader's own calendar instead of offering a new one. `events` gives
    each event's text as written before (icalendar writes a calendar as its header, its
    components one after the other and END:VCALENDAR, so the bytes are the same).
    """
    import icalendar

    check_summer_time_rule(entries)
    cal = icalendar.Calendar()
    cal.add("prodid", "-//statpress//release calendar//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if title is not None:
        cal.add("x-wr-calname", title)
        cal.add("x-wr-timezone", OSLO.key)
    cal.add_component(oslo_timezone())
    if events is None:
        for s, r in entries:
            cal.add_component(event(s, r, base_url, host, language))
        return cal.to_ical()
    head = cal.to_ical()
    if not head.endswith(END):
        raise BuildError(f"icalendar {icalendar.__version__} ends a calendar otherwise than statpress expects")
    return head[:-len(END)] + b"".join(events.text(s, r, base_url, host, language) for s, r in entries) + END


def subscription(base_url: str) -> dict[str, str] | None:
    """The calendar's absolute addresses for calendar apps: webcal:// opens the subscribe dialog,
    https:// is what to paste where webcal is not understood. None without an absolute base_url."""
    scheme, sep, rest = base_url.partition("://")
    if not sep or scheme not in ("http", "https") or not rest.split("/", 1)[0]:
        return None
    return {"webcal": f"webcal://{rest}calendar/releases.ics", "https": f"{base_url}calendar/releases.ics"}


def atom(published: list[Entry], base_url: str, host: str, title: str,
         author: str, language: str = "en", snapshot_url=None, tag_suffix: str = "") -> bytes:
    """An Atom feed (RFC 4287) of published releases, each linking to the release's own archived
    page (`snapshot_url(statistic, release)`, by default in base_url's archive/). Each language's
    feed is a feed of its own: `tag_suffix` (":nb") sets its ids apart from the default language's."""
    from feedgen.feed import FeedGenerator

    snapshot_url = snapshot_url or (lambda s, r: f"{base_url}archive/{s.meta.short_name}/{r.id}/")
    fg = FeedGenerator()
    fg.id(f"tag:{host},2024:releases{tag_suffix}")
    fg.title(title)
    fg.author({"name": author, "uri": base_url})
    fg.link(href=f"{base_url}releases.atom", rel="self")
    fg.link(href=base_url, rel="alternate")
    fg.language(language)  # the locale's: ready for a feed per language
    fg.generator("statpress", __version__)
    latest = max((r.time_of_publication for _, r in published), default=dt.datetime(2000, 1, 1, tzinfo=OSLO))
    fg.updated(latest)
    for s, r in sorted(published, key=lambda e: (e[1].time_of_publication, e[1].id)):
        entry = fg.add_entry(order="prepend")
        entry.id(f"tag:{host},2024:release:{r.id}{tag_suffix}")
        entry.title(f"{s.meta.name}, {r.period}")
        # The archived page shows this release for good; the statistic page moves on to the next.
        # One link only: feedgen 1.0.0 drops an entry link's rel, and two links without rel would
        # be two alternates, which RFC 4287 forbids.
        entry.link(href=snapshot_url(s, r), rel="alternate")
        entry.published(r.time_of_publication)
        entry.updated(r.time_of_publication)
        entry.summary(s.meta.summary)
    return fg.atom_str(pretty=True)


def sitemap(urls: list[tuple[str, dt.date | None]]) -> bytes:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    for loc, lastmod in urls:
        lines.append(f"  <url><loc>{escape(loc, quote=False)}</loc>"
                     + (f"<lastmod>{lastmod.isoformat()}</lastmod>" if lastmod else "") + "</url>")
    lines.append("</urlset>")
    return ("\n".join(lines) + "\n").encode("utf-8")
