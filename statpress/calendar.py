"""Calendar stage: which release of a statistic the public may see at a given instant.

A release is due at its announced time (08:00 Europe/Oslo unless stated) and not one second
earlier; it is in the calendar from the day it was announced. Cancelled releases never publish.
"""

from __future__ import annotations

import datetime as dt

from .content import OSLO, Release, Statistic


def due(statistic: Statistic, now: dt.datetime) -> Release | None:
    """The latest release whose time has come, or None before the first."""
    past = [r for r in statistic.releases if r.status != "cancelled" and r.time_of_publication <= now]
    return past[-1] if past else None


def previous(statistic: Statistic, now: dt.datetime) -> list[Release]:
    """Releases due before the current one, newest first."""
    past = [r for r in statistic.releases if r.status != "cancelled" and r.time_of_publication <= now]
    return list(reversed(past[:-1]))


def upcoming(statistic: Statistic, now: dt.datetime) -> list[Release]:
    """Announced releases still to come (cancelled ones included, to show the cancellation)."""
    today = now.astimezone(OSLO).date()
    return [r for r in statistic.releases if r.time_of_publication > now and r.announced <= today]


def next_release(statistic: Statistic, now: dt.datetime) -> Release | None:
    coming = [r for r in upcoming(statistic, now) if r.status != "cancelled"]
    return coming[0] if coming else None


def parse_instant(text: str) -> dt.datetime:
    """An ISO 8601 instant; without an offset it is read as Oslo time."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--now: {text!r} is not an ISO 8601 date and time, "
                         "e.g. 2025-03-13T08:00:00+01:00") from None
    return value if value.tzinfo else value.replace(tzinfo=OSLO)
