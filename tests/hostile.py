"""A project whose every text field a user can write carries markup that would run a script,
break the page or hide the rest of it, if it were passed on as HTML (tests/test_bad_inputs.py
and tests/browser/test_hostile_content.py)."""

from __future__ import annotations

from pathlib import Path

from conftest import edit


def payload(tag: str) -> str:
    """Text marked `Z<tag>Z`, then a script, an event handler, and a comment opener that, inside
    a <script> element, makes the HTML parser swallow the rest of the page."""
    return f"Z{tag}Z<script>alert('{tag}')</script><img src=x onerror=alert('{tag}')><!--<script>"


NAT = "content/naturalisations"
TABLES = "stats/naturalisations/tables.toml"
# field → (file, text in it, replacement): one edit per field of the shipped demo
FIELDS = {
    "name": (f"{NAT}/statistic.toml", 'name = "Naturalisations"', 'name = "{p}"'),
    "summary": (f"{NAT}/statistic.toml", 'summary = """The statistics', 'summary = """{p} The statistics'),
    "contact": (f"{NAT}/statistic.toml", 'name = "Christian Sørlien Molstad"', 'name = "{p}"'),
    "phone": (f"{NAT}/statistic.toml", 'phone = "+47 46 65 99 12"', 'phone = "{p}"'),
    "notice-title": (f"{NAT}/releases.toml", 'title = "Numbers at municipal', 'title = "{p} Numbers at municipal'),
    "notice-text": (f"{NAT}/releases.toml", 'text = """Numbers at municipal', 'text = """{p} Numbers at municipal'),
    "correction": (f"{NAT}/releases.toml", 'text = """Figures for the years', 'text = """{p} Figures for the years'),
    "reason": (f"{NAT}/releases.toml", 'reason = "The transition', 'reason = "{p} The transition'),
    "classification": ("stats/classifications/naturalisation_groups.csv", "EUROPE,Europe except Cyprus",
                       "EUROPE,{p}"),
    "table-title": (TABLES, 'title = "Naturalisations, by previous citizenship"\n', 'title = "{p}"\n'),
    "column": (TABLES, 'label = "Total, in period"', 'label = "{p}"'),
    "group": (TABLES, 'group = "Absolute numbers"', 'group = "{p}"'),
    "key-figure": (TABLES, 'text = "naturalisations in {year}"', 'text = "{p} in {year}"'),
    "chart-title": (TABLES, 'title = "Naturalisations, by previous citizenship. {year}"',
                    'title = "{p} {year}"'),
    "footnote": ("stats/migration/tables.toml", 'notes = ["Except migration', 'notes = ["{p} Except migration'),
}
# About texts are Markdown: raw HTML, and a link to a script
# (last, the payload: in Markdown, its '<!--' opens a comment that hides the rest of the text)
ABOUT = (f"{NAT}/about/background.md", "\n\n<p onmouseover=\"alert('about-attr')\">x</p>\n\n"
         "[a link](javascript:alert('about-link'))\n\n{p}\n")


def make_hostile(project: Path) -> None:
    for tag, (rel, old, new) in FIELDS.items():
        edit(project / rel, old, new.replace("{p}", payload(tag)))
    about = project / ABOUT[0]
    about.write_text(about.read_text(encoding="utf-8") + ABOUT[1].replace("{p}", payload("about")),
                     encoding="utf-8")
