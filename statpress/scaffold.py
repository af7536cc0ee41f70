"""`build.py new NAME`: the files of a new statistic, valid from the first minute.

The statistic starts in a clear "no data yet" state: its first release is announced for more than
three months ahead (so the calendar rules hold and nothing is published by accident) and its
tables.toml declares no table yet, only commented examples of every feature of the table language
(docs/tables.md). `build.py check` passes at once; the page says "No figures have been published
for these statistics yet." until a release is due, and a release that falls due while the
statistic still has no table stops the build rather than publish an empty page.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from dateutil.relativedelta import relativedelta

from .content import ABOUT_SECTIONS, GENERATED_SUBSECTIONS, OSLO, read_toml
from .errors import BuildError
from .schemas import directive

NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")

STATISTIC = '''{schema}# The statistic's metadata. Every key is checked: a missing or unknown key stops the build with
# this file and the key named. See docs/guide.md, "Add a statistic".
name = "{title}"
short_name = "{name}"          # the folder under content/ and stats/, and the page's URL
topic = "Population"           # statistics are grouped by topic on the front page
summary = """One or two sentences on what the statistics show."""
division = "Division for ..."
regional_level = "The nation"
frequency = "Annual"
about_updated = {today}        # the day the About texts were last reviewed
related = []                   # short names of related statistics, e.g. ["migration"]
{fallback}
# Small-count rounding of every count of every table of this statistic, jointly: see
# docs/guide.md, "Protect a statistic". Uncomment before the first release if the data are persons.
# [confidentiality]
# method = "pls"
# base = 3

[[contacts]]
name = "Your name"
phone = "+47 00 00 00 00"
# email = "you@example.org"
'''

RELEASES = '''{schema}# One [[releases]] per release. Figures are published at `time` (default 08:00, Europe/Oslo) on
# `date`, and not one second earlier. `announced` is the day the release entered the calendar:
# at least three months before `date` (a shorter notice is a warning, an error with --strict).
# The first build at or after a release's time freezes it into archive/ for good: try changes
# with `build.py check --now ...` or `build.py build --preview --now ...` first (docs/guide.md).

[[releases]]
id = "{name}-{period}"
period = {period}              # the reference year: {{year}} in tables.toml
date = {date}
announced = {today}
'''

TABLES = '''{schema}# The tables, key figure and charts of this statistic. No table is declared yet: until one is,
# the statistic shows "no figures yet", and a release that falls due stops the build.
# Every feature of the table language, one example each (docs/tables.md has them all in full).
# Uncomment and adapt; the column names must be columns of a dataset in stats/datasets.toml.

# [[tables]]
# id = "by-sex"                              # the CSV download is tables/by-sex.csv
# title = "Persons, by sex. {{year}}"          # {{year}} is the release's period, {{year-1}} the one before
# dataset = "{name}"                         # a dataset declared in stats/datasets.toml
# stub = "Sex"                               # header of the row-label column
# notes = ["Provisional figures."]           # footnotes
# title_notes = [1]                          # footnote marks after the title
#
# # rows: a single row (the total, or rows matching a filter) ...
# [[tables.rows]]
# label = "Total"
#
# [[tables.rows]]
# label = "Aged 67 or more"
# id = "old"
# where = "age >= 67"
#
# # ... one row per code of a dimension (codes / skip_codes pick some) ...
# [[tables.rows]]
# heading = "By sex"
# by = "sex"
# classification = "sexes"
# skip_codes = []
#
# # ... one row per age band (bands = {{ age_group = "age_groups" }} on the age column in
# # stats/datasets.toml, with a classification code,name,from,to) ...
# [[tables.rows]]
# by = "age_group"
# classification = "age_groups"
#
# # ... or one row per year.
# # [[tables.rows]]
# # by = "year"
# # years = "{{year-9}}-{{year}}"
#
# # columns: a count (the default kind; protected) ...
# [[tables.columns]]
# id = "now"
# label = "Persons"
# period = "{{year}}"
# where = "year == {{year}}"
#
# [[tables.columns]]
# id = "before"
# label = "Persons"
# period = "{{year-1}}"
# where = "year == {{year-1}}"
#
# # ... a sum of a value column (not protected) ...
# # [[tables.columns]]
# # id = "income"
# # kind = "sum"
# # sum = "income"
#
# # ... one value for every row, such as a denominator (rows' filters do not apply) ...
# # [[tables.columns]]
# # id = "population"
# # kind = "broadcast"
# # dataset = "population"
# # sum = "mean_population"
# # where = "year == {{year}}"
# # hidden = true
#
# # ... and a formula over the other columns, computed after protection.
# [[tables.columns]]
# id = "change"
# kind = "formula"
# label = "Change"
# period = "{{year-1}} - {{year}}"
# unit = "per cent"
# formula = "(now - before) / before * 100"
# decimals = 1
# on_zero = ".."                             # shown when `before` is 0
#
# # A count may break down by another column than the row's (moves *into* each county):
# # dims = {{ county = "to_county" }}
# # breakdown_where = "from_county != to_county"

# [key_figure]                               # the large figure at the top of the page
# table = "by-sex"
# row = "total"                              # a row id: "total", or "<dimension>:<code>"
#
# [[key_figure.facts]]
# column = "now"
# text = "persons in {{year}}"
#
# [[key_figure.facts]]
# column = "change"
# text = "per cent change from {{year-1}}"
# sign = true

# [[charts]]                                 # from the protected table, never from the data
# id = "by-sex"
# table = "by-sex"
# title = "Persons, by sex. {{year}}"
# kind = "bar"                               # or "line"
# rows = "sex"                               # only the rows of this dimension
# series = ["now", "before"]
# y_title = "Persons"
'''


def about(section_id: str) -> str:
    _, subsections = ABOUT_SECTIONS[section_id]
    lines = []
    for sub in subsections:
        if sub in GENERATED_SUBSECTIONS:
            continue  # written by the engine from the release calendar
        lines.append(f"## {sub}\n\n")
    return "".join(lines)


def fallback(languages: list[str]) -> str:
    """On a site in several languages, the other languages show the first one's texts, with a
    notice, until the statistic's translations are written (docs/languages.md)."""
    if len(languages) < 2:
        return ""
    others = ", ".join(languages[1:])
    return (f"# Translations: each text also as <key>_<language> (name_{languages[1]} = \"...\") and each About\n"
            f"# file also as about/<section>.<language>.md, for {others}. Until then the pages in {others}\n"
            f"# show these texts with a notice. Delete this line when the translations are written.\n"
            f"fallback = \"{languages[0]}\"\n")


def files(name: str, today: dt.date, languages: list[str] | None = None) -> dict[str, str]:
    """The scaffold's files, by path relative to the project root."""
    first = today + relativedelta(months=4)
    content, stats = f"content/{name}", f"stats/{name}"
    out = {
        f"{content}/statistic.toml": STATISTIC.format(
            schema=directive("statistic", f"{content}/statistic.toml"), name=name,
            title=name.replace("-", " ").capitalize(), today=today.isoformat(),
            fallback=fallback(languages or ["en"])),
        f"{content}/releases.toml": RELEASES.format(
            schema=directive("releases", f"{content}/releases.toml"), name=name, period=first.year - 1,
            date=first.isoformat(), today=today.isoformat()),
        f"{stats}/tables.toml": TABLES.format(schema=directive("tables", f"{stats}/tables.toml"), name=name),
    }
    for sid in ABOUT_SECTIONS:
        out[f"{content}/about/{sid}.md"] = about(sid)
    return out


def create(root: Path, name: str, today: dt.date | None = None) -> list[Path]:
    """Write the scaffold of statistic `name`; refuses a bad name or an existing statistic."""
    if not NAME.match(name):
        raise BuildError(f"new: {name!r} is not a valid short name: lower-case letters, digits and '-', "
                         "starting with a letter or digit (it becomes the page's URL)")
    for folder in (root / "content" / name, root / "stats" / name):
        if folder.exists():
            raise BuildError(f"{folder}: already exists; a new statistic needs a new name")
    today = today or dt.datetime.now(OSLO).date()
    languages = read_toml(root / "site.toml").get("languages", ["en"]) if (root / "site.toml").is_file() else ["en"]
    written = []
    for rel, text in files(name, today, languages).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def next_steps(name: str) -> str:
    return "\n".join([
        f"next: fill in content/{name}/statistic.toml and the About texts in content/{name}/about/,",
        f"      declare the data in stats/datasets.toml, the tables in stats/{name}/tables.toml,",
        "      then run build.py check (docs/guide.md walks through every step).",
    ])
