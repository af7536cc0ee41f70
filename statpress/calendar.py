"""Calendar stage: which release of a statistic the public may see at a given instant.

A release is due at its announced time (08:00 Europe/Oslo unless stated) and not one second
earlier; it is in the calendar from the day it was announced. Cancelled releases never publish.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import NamedTuple

from dateutil.relativedelta import relativedelta

from .content import OSLO, Release, Statistic
from .instants import parse_instant  # noqa: F401  (the command line's and tests' name for it)


class Entry(NamedTuple):
    """A release as a listing shows it (the calendar, its feeds, the archive): with its statistic."""
    statistic: Statistic
    release: Release


class Month(NamedTuple):
    """The releases to come in one month of the calendar, by time."""
    first_day: dt.date
    entries: list[Entry]


class History(NamedTuple):
    """A statistic's published releases, the latest first, as the archive index lists them."""
    statistic: Statistic
    releases: list[Release]


def due(statistic: Statistic, now: dt.datetime) -> Release | None:
    """The latest release whose time has come, or None before the first."""
    past = published_releases(statistic, now)
    return past[-1] if past else None


def published_releases(statistic: Statistic, now: dt.datetime) -> list[Release]:
    """Every release due at `now`, oldest first."""
    return [r for r in statistic.releases if r.status != "cancelled" and r.time_of_publication <= now]


def previous(statistic: Statistic, now: dt.datetime) -> list[Release]:
    """Releases due before the current one, newest first."""
    return list(reversed(published_releases(statistic, now)[:-1]))


def upcoming(statistic: Statistic, now: dt.datetime) -> list[Release]:
    """Announced releases still to come (cancelled ones included, to show the cancellation)."""
    today = now.astimezone(OSLO).date()
    return [r for r in statistic.releases if r.time_of_publication > now and r.announced <= today]


def next_release(statistic: Statistic, now: dt.datetime) -> Release | None:
    coming = [r for r in upcoming(statistic, now) if r.status != "cancelled"]
    return coming[0] if coming else None


def next_due(statistic: Statistic, now: dt.datetime) -> Release | None:
    """The next release to be published after `now`, announced or not: what a preview shows."""
    coming = [r for r in statistic.releases if r.status != "cancelled" and r.time_of_publication > now]
    return coming[0] if coming else None


@functools.lru_cache(maxsize=4096)
def notice_ends(announced: dt.date) -> dt.date:
    """Three months after an announcement: a release dated earlier had short notice. Asked for
    every release of every statistic in every build, and relativedelta's arithmetic took 0.05 s of
    each for 3 300 releases; the same dates come again and again."""
    return announced + relativedelta(months=3)


def check_rules(statistic: Statistic) -> tuple[list[str], list[str]]:
    """(errors, warnings) about the statistic's releases, each naming the file and release."""
    where = statistic.folder / "releases.toml"
    errors, warnings = [], []
    for r in statistic.releases:
        if r.status == "postponed" and (r.postponed_from is None or not r.reason):
            errors.append(f"{where}: release '{r.id}': a postponed release needs 'postponed_from' and 'reason'")
        if r.status == "cancelled" and not r.reason:
            errors.append(f"{where}: release '{r.id}': a cancelled release needs a 'reason'")
        if r.status != "postponed" and r.postponed_from is not None:
            errors.append(f"{where}: release '{r.id}': 'postponed_from' given but status is '{r.status}'")
        first_date = r.postponed_from or r.date
        if r.announced > first_date:
            errors.append(f"{where}: release '{r.id}': announced ({r.announced}) after its date ({first_date})")
        elif notice_ends(r.announced) > first_date:
            warnings.append(f"{where}: release '{r.id}' was announced on {r.announced}, less than three "
                            f"months before its date {first_date}")
    periods = [r.period for r in statistic.releases if r.status != "cancelled"]
    if len(set(periods)) != len(periods):
        errors.append(f"{where}: two releases publish the same period")
    return errors, warnings
