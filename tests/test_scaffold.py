"""`build.py new NAME` scaffolds a statistic that passes `build.py check` at once, in a clear
"no data yet" state, and whose commented examples are valid table language once uncommented."""

from __future__ import annotations

import datetime as dt
import pytest

from conftest import build_site, copy_project, edit, run, runnable
from statpress import scaffold
from statpress.content import OSLO, load_all
from statpress.errors import BuildError


@pytest.fixture
def project(tmp_path):
    return runnable(copy_project(tmp_path / "project"))


def test_new_then_check_passes(project):
    made = run(project, "new", "x")
    assert made.returncode == 0, made.stderr
    assert "created content/x/statistic.toml" in made.stdout and "created stats/x/tables.toml" in made.stdout
    checked = run(project, "check")
    assert checked.returncode == 0, checked.stderr
    assert "  X: no release due yet; no tables yet in stats/x/tables.toml" in checked.stdout
    assert "check passed:" in checked.stdout and "warning" not in checked.stdout
    for rel in ("content/x/statistic.toml", "content/x/releases.toml", "stats/x/tables.toml"):
        first = (project / rel).read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("#:schema ../../schemas/") and (project / rel).parent.joinpath(
            first.removeprefix("#:schema ")).resolve().is_file()


def test_every_standard_about_heading_is_written(project):
    scaffold.create(project, "x")
    x = next(s for s in load_all(project / "content") if s.id == "x")
    written = (project / "content/x/about/production.md").read_text(encoding="utf-8")
    assert "## Scope\n" in written and "## Confidentiality\n" in written
    assert all(sub.markdown == "" for section in x.about for sub in section.subsections)  # "Not relevant"


def test_the_new_statistic_page_says_no_figures_yet(project, tmp_path):
    scaffold.create(project, "x")
    build_site(project, tmp_path / "site")
    page = (tmp_path / "site" / "x" / "index.html").read_text(encoding="utf-8")
    assert "No figures have been published for these statistics yet." in page


def test_a_release_due_without_tables_stops_the_build(project, tmp_path):
    scaffold.create(project, "x", today=dt.date(2025, 1, 6))
    before = sorted((project / "archive").rglob("*"))
    with pytest.raises(BuildError) as err:
        build_site(project, tmp_path / "site", dt.datetime(2026, 1, 1, tzinfo=OSLO))
    assert "stats/x/tables.toml: release 'x-2024' is due" in str(err.value) and "no table is declared" in str(err.value)
    assert sorted((project / "archive").rglob("*")) == before and not (tmp_path / "site").exists()


def test_bad_or_taken_names_are_refused(project):
    assert "not a valid short name" in run(project, "new", "Road Traffic").stderr
    assert "already exists" in run(project, "new", "migration").stderr


def uncomment_examples(path):
    """The scaffold's commented examples made live: one '# ' removed from the lines after the first."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = lines.index("# [[tables]]")
    body = [line[2:] if line.startswith("# ") else ("" if line == "#" else line) for line in lines[start:]]
    path.write_text("\n".join(lines[:start] + body) + "\n", encoding="utf-8")


def test_the_commented_examples_are_valid_tables(project, tmp_path):
    scaffold.create(project, "x", today=dt.date(2024, 1, 2))
    uncomment_examples(project / "stats/x/tables.toml")
    edit(project / "stats/x/tables.toml", 'dataset = "x"', 'dataset = "naturalisations"')
    report = build_site(project, tmp_path / "site")
    assert [s.release for s in report.statistics if s.name == "X"] == ["x-2023"]
    page = (tmp_path / "site" / "x" / "index.html").read_text(encoding="utf-8")
    assert "persons in 2023" in page and '<th scope="row">Aged 67 or more</th>' in page
    assert '<figure class="chart"' in page
