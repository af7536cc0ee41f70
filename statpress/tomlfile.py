"""TOML text parsed by rtoml, a Rust parser: every build reads each statistic's statistic.toml,
releases.toml and tables.toml, and Python's tomllib took a quarter of a second for the 900 files
of 300 statistics, in every rebuild; rtoml takes a tenth of that. Standard library and rtoml
only: the up-to-date check (uptodate.py) reads releases with it before any engine is loaded."""

from __future__ import annotations

import datetime as dt
import re

import rtoml

Error = rtoml.TomlParsingError  # a ValueError; says what was expected "at line L column C"


# An offset date-time as TOML writes one: `T`, `t` or a space between date and time, then `Z`,
# `z` or ±HH:MM after the time (its seconds optional, as TOML 1.1 allows). Only a text holding
# one (or a string that looks like it) is walked by `standard`: walking every value of the 900
# files of 300 statistics took half as long as parsing them.
OFFSET_DATE_TIME = re.compile(r"\d[Tt ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:[Zz]|[+-]\d\d:\d\d)")


def loads(text: str) -> dict:
    """`text` parsed. An offset date-time gets a `datetime.timezone`, as tomllib gives it: rtoml's
    own time zone class cannot be pickled, and parsed values go into the build's caches."""
    parsed = rtoml.loads(text)
    return standard(parsed) if OFFSET_DATE_TIME.search(text) else parsed


def standard(value):
    if isinstance(value, dict):
        return {key: standard(item) for key, item in value.items()}
    if isinstance(value, list):
        return [standard(item) for item in value]
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=dt.timezone(value.utcoffset()))
    return value
