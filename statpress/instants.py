"""Instants in Oslo time: read from the command line and content. Standard library only, so the
command line can tell whether anything changed without loading the engine."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

OSLO = ZoneInfo("Europe/Oslo")


def parse_instant(text: str) -> dt.datetime:
    """An ISO 8601 instant; without an offset it is read as Oslo time."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--now: {text!r} is not an ISO 8601 date and time, "
                         "e.g. 2025-03-13T08:00:00+01:00") from None
    return value if value.tzinfo else value.replace(tzinfo=OSLO)
