"""Machine-readable outputs of the release calendar: iCalendar (RFC 5545), Atom and a sitemap.

Each lists only what the public may see at the build's instant: the calendar file carries
announced dates and no figures, the feed and the sitemap only releases that are due.
"""

from __future__ import annotations

import datetime as dt
from xml.sax.saxutils import escape

import icalendar
from feedgen.feed import FeedGenerator

from . import __version__
from .content import OSLO, Release, Statistic


def release_uid(release: Release, host: str) -> str:
    # Stable across builds and date changes, so a postponement updates the reader's entry.
    return f"{release.id}@{host}"


def ics(entries: list[tuple[Statistic, Release]], base_url: str, host: str, title: str) -> bytes:
    cal = icalendar.Calendar()
    cal.add("prodid", "-//statpress//release calendar//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", title)
    cal.add("x-wr-timezone", "Europe/Oslo")
    for s, r in entries:
        event = icalendar.Event()
        event.add("uid", release_uid(r, host))
        event.add("dtstamp", dt.datetime.combine(r.announced, dt.time(0, 0), tzinfo=dt.timezone.utc))
        start = r.time_of_publication
        event.add("dtstart", start)
        event.add("dtend", start + dt.timedelta(minutes=30))
        event.add("summary", f"{s.meta.name}, {r.period}")
        event.add("url", f"{base_url}{s.meta.short_name}/")
        event.add("sequence", 1 if r.status == "postponed" else 0)
        if r.status == "cancelled":
            event.add("status", "CANCELLED")
        else:
            event.add("status", "CONFIRMED")
        if r.reason:
            event.add("description", r.reason)
        cal.add_component(event)
    cal.add_missing_timezones()
    return cal.to_ical()


def atom(published: list[tuple[Statistic, Release]], base_url: str, host: str, title: str) -> bytes:
    fg = FeedGenerator()
    fg.id(f"tag:{host},2024:releases")
    fg.title(title)
    fg.link(href=f"{base_url}releases.atom", rel="self")
    fg.link(href=base_url, rel="alternate")
    fg.language("en")
    fg.generator("statpress", __version__)
    latest = max((r.time_of_publication for _, r in published), default=dt.datetime(2000, 1, 1, tzinfo=OSLO))
    fg.updated(latest)
    for s, r in sorted(published, key=lambda e: (e[1].time_of_publication, e[1].id)):
        entry = fg.add_entry(order="prepend")
        entry.id(f"tag:{host},2024:release:{r.id}")
        entry.title(f"{s.meta.name}, {r.period}")
        entry.link(href=f"{base_url}{s.meta.short_name}/")
        entry.published(r.time_of_publication)
        entry.updated(r.time_of_publication)
        entry.summary(s.meta.summary)
    return fg.atom_str(pretty=True)


def sitemap(urls: list[tuple[str, dt.date | None]]) -> bytes:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    for loc, lastmod in urls:
        lines.append(f"  <url><loc>{escape(loc)}</loc>"
                     + (f"<lastmod>{lastmod.isoformat()}</lastmod>" if lastmod else "") + "</url>")
    lines.append("</urlset>")
    return ("\n".join(lines) + "\n").encode("utf-8")
