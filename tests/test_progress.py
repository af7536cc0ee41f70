"""Progress while a build works (plain lines when stdout is not a terminal, a live display when it
is), --quiet and --verbose, and the time each stage took."""

from __future__ import annotations

import io

from conftest import DEMO_NOW, copy_project, run, runnable
from statpress import pipeline
from statpress.content import load_all
from statpress.progress import STAGES, Progress

NOW = DEMO_NOW.isoformat()


def test_plain_lines_then_the_report_then_the_stage_times(tmp_path):
    project = runnable(copy_project(tmp_path / "project"))
    result = run(project, "build", "--now", NOW, "--no-cache")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split("]")[0] + "]" for line in lines if line.startswith("[")] == [
        "[content]", "[data]", "[tables]", "[pages]", "[archive]", "[write]"]
    report = lines.index(next(line for line in lines if line.startswith("statpress ")))
    assert lines[report + 1].startswith("  Migration: release migration-2024, ")  # describe() as documented
    assert lines[-2].startswith("wrote ") and lines[-1].startswith("time: content ")
    assert [part.split()[0] for part in lines[-1].removeprefix("time: ").split(", ")] == list(STAGES)


def test_quiet_prints_the_last_line_only_and_verbose_every_statistic(tmp_path):
    project = runnable(copy_project(tmp_path / "project"))
    quiet = run(project, "check", "--now", NOW, "--quiet")
    assert quiet.returncode == 0 and quiet.stdout.splitlines()[0].startswith("check passed: ")
    assert len(quiet.stdout.splitlines()) == 1
    verbose = run(project, "check", "--now", NOW, "--verbose")
    count = len(load_all(project / "content"))
    assert f"  [tables] 1/{count} Migration" in verbose.stdout
    assert "  [archive] " in verbose.stdout and "time: " in verbose.stdout


def test_stage_times_add_up_to_the_build(tmp_path):
    project = copy_project(tmp_path / "project")
    report = pipeline.build(pipeline.BuildOptions(project, tmp_path / "site", DEMO_NOW, use_cache=False))
    assert set(report.stages) == set(STAGES)
    assert abs(sum(report.stages.values()) - report.seconds) < 0.25 * report.seconds + 0.2


def test_the_live_display_runs_a_whole_build(tmp_path):
    project = copy_project(tmp_path / "project")
    progress = Progress("rich", stream=io.StringIO())
    report = pipeline.build(pipeline.BuildOptions(project, tmp_path / "site", DEMO_NOW), progress=progress)
    assert report.files > 50 and progress.live is None and "tables" in report.stages
