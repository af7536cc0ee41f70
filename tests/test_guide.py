"""docs/guide.md followed literally: its commands run and its files written as it says, in a copy
of the project, produce a published statistic read from a gzipped CSV file. The figures of the
page and its CSV are then checked against counts computed here, independently, from the same
records (as the seed-figure check does for the demo)."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import re
import sys
from collections import Counter

from conftest import ROOT, copy_project, runnable, run
from statpress import pipeline
from statpress.content import OSLO

GUIDE = ROOT / "docs" / "guide.md"
FILE = re.compile(r"^\*\*`(?P<path>[^`]+)`\*\* \((?P<how>the whole file|add at the end)\):\n\n```\w*\n(?P<body>.*?)^```",
                  re.MULTILINE | re.DOTALL)
COMMANDS = re.compile(r"^```sh\n(?P<body>.*?)^```", re.MULTILINE | re.DOTALL)
BANDS = [("0-17", 0, 17), ("18-29", 18, 29), ("30-44", 30, 44), ("45-66", 45, 66), ("67+", 67, 200)]


def steps():
    """The guide's commands and files, in the order a reader meets them."""
    found = [(m.start(), "file", m) for m in FILE.finditer(GUIDE.read_text(encoding="utf-8"))]
    found += [(m.start(), "commands", m) for m in COMMANDS.finditer(GUIDE.read_text(encoding="utf-8"))]
    return [(kind, m) for _, kind, m in sorted(found, key=lambda f: f[0])]


def records() -> list[tuple[int, str, int]]:
    """Deaths: every crossing of year, sex and age band has at least five, so rounding keeps them."""
    rows = []
    for year in (2023, 2024):
        for s, sex in enumerate("MF"):
            for b, (_, low, high) in enumerate(BANDS):
                for i in range(5 + 7 * b + 3 * s + (year - 2023) * (4 + b)):
                    rows.append((year, sex, low + i % (min(high, 110) - low + 1)))
    return rows


def write_data(project):
    text = "year,sex,age\n" + "".join(f"{y},{s},{a}\n" for y, s, a in records())
    with gzip.open(project / "data" / "deaths.csv.gz", "wt", encoding="utf-8") as f:
        f.write(text)


def expected() -> dict[str, tuple[int, int]]:
    """Row label → (deaths 2023, deaths 2024), counted here from the records."""
    counts: Counter = Counter()
    band = {code: (low, high) for code, low, high in BANDS}
    names = {"M": "Males", "F": "Females", "0-17": "0-17 years", "18-29": "18-29 years",
             "30-44": "30-44 years", "45-66": "45-66 years", "67+": "67 years or older"}
    for year, sex, age in records():
        counts[("Total", year)] += 1
        counts[(names[sex], year)] += 1
        code = next(c for c, (low, high) in band.items() if low <= age <= high)
        counts[(names[code], year)] += 1
    labels = {label for label, _ in counts}
    return {label: (counts[(label, 2023)], counts[(label, 2024)]) for label in labels}


def test_following_the_guide_publishes_a_statistic_from_gzipped_csv(tmp_path):
    project = runnable(copy_project(tmp_path / "project"))
    written = set()
    for kind, m in steps():
        if kind == "file":
            path = project / m["path"]
            if m["how"] == "the whole file":
                path.write_text(m["body"], encoding="utf-8")
            else:
                path.write_text(path.read_text(encoding="utf-8").rstrip("\n") + "\n\n" + m["body"], encoding="utf-8")
            written.add(m["path"])
            if m["path"] == "stats/datasets.toml":
                write_data(project)  # "put the data where they belong": the one step the reader supplies
            continue
        for line in m["body"].splitlines():
            assert line.startswith(".venv/bin/python build.py "), line
            result = run(project, *line.removeprefix(".venv/bin/python build.py ").split())
            assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"
            if " check" in line and "--now" not in line:
                assert "  Deaths: no release due yet; no tables yet in stats/deaths/tables.toml" in result.stdout
            if " check --now" in line:
                assert "note: a build at this instant would freeze archive/deaths/deaths-2024 for good" in result.stdout
                assert "  Deaths: release deaths-2024, 1 tables" in result.stdout
                assert "rounded deaths (base 3): " in result.stdout
            if " build --now" in line:
                assert "froze archive/deaths/deaths-2024: first published by this build" in result.stdout
    assert {"content/deaths/statistic.toml", "content/deaths/about/definitions.md", "stats/datasets.toml",
            "stats/deaths/tables.toml", "content/deaths/releases.toml"} <= written

    site = project / "site"
    page = (site / "deaths" / "index.html").read_text(encoding="utf-8")
    want = expected()
    total_2023, total_2024 = want["Total"]
    assert f"{total_2024:,}".replace(",", "\u00a0") in page and "deaths in 2024" in page
    assert '<figure class="chart"' in page and "A death is counted in the year it occurred" in page
    published = list(csv.reader(io.StringIO((site / "deaths" / "tables" / "by-age.csv").read_text(encoding="utf-8"))))
    rows = {row[0]: row[1:] for row in published[1:]}
    assert set(rows) == set(want)
    for label, (before, now) in want.items():
        change = round((now - before) / before * 100 + sys.float_info.epsilon, 1)
        assert rows[label] == [str(before), str(now), f"{change:.1f}"], label
    assert (project / "archive" / "deaths" / "deaths-2024" / "manifest.json").exists()
    audit = json.loads((project / "site-audit" / "confidentiality.json").read_text(encoding="utf-8"))
    assert audit["deaths-2024"]["deaths"]["changed"] == 0  # no small counts: nothing to round

    # the suite's leak invariant on the new statistic: one second before its release, no figure of it
    early = tmp_path / "early"
    pipeline.build(pipeline.BuildOptions(project, early, dt.datetime(2025, 3, 20, 7, 59, 59, tzinfo=OSLO),
                                         allow_withdraw=True))  # a look back, not a publication
    page = (early / "deaths" / "index.html").read_text(encoding="utf-8")
    assert "No figures have been published for these statistics yet." in page
    assert f"{total_2024:,}".replace(",", "\u00a0") not in page and not (early / "deaths" / "tables").exists()
    assert not (early / "archive" / "deaths").exists()
    assert "deaths-2024" not in (early / "releases.atom").read_text(encoding="utf-8")


def test_the_guide_lists_the_about_headings_the_engine_accepts():
    from statpress.content import ABOUT_SECTIONS, GENERATED_SUBSECTIONS
    text = GUIDE.read_text(encoding="utf-8")
    for sid, (_, subsections) in ABOUT_SECTIONS.items():
        listed = re.search(rf"^\| `{sid}\.md` \| (.+) \|$", text, re.MULTILINE)
        assert listed, f"{sid}.md is not in the guide's table of headings"
        assert listed[1].split("; ") == [s for s in subsections if s not in GENERATED_SUBSECTIONS]
