"""Statistics computed side by side in worker processes (issue #12) give the site a serial build
from scratch gives, and the build then reads their tables from the cache instead of computing them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from conftest import DEMO_NOW, ROOT, digest
from statpress import calendar, content, downloads, pipeline, publish


def add_copies(project, source: str, count: int) -> list[str]:
    """`count` more statistics like `source`, each with its own short name and release ids."""
    names = []
    for i in range(count):
        name = f"{source}{i + 2}"
        shutil.copytree(project / "content" / source, project / "content" / name)
        shutil.copytree(project / "stats" / source, project / "stats" / name)
        meta = project / "content" / name / "statistic.toml"
        meta.write_text(meta.read_text(encoding="utf-8").replace(
            f'short_name = "{source}"', f'short_name = "{name}"'), encoding="utf-8")
        releases = project / "content" / name / "releases.toml"
        releases.write_text(releases.read_text(encoding="utf-8").replace(
            f'id = "{source}-', f'id = "{name}-'), encoding="utf-8")
        names.append(name)
    return names


def test_statistics_computed_in_workers_equal_a_serial_build(project, tmp_path, monkeypatch):
    add_copies(project, "naturalisations", 2)  # four statistics: more jobs than two workers
    latest = {(s.id, calendar.due(s, DEMO_NOW).period) for s in content.load_all(project / "content")}
    computed_here = []
    real = publish.protect_release

    def in_this_process(s, catalog, period):
        computed_here.append((s.id, period))
        return real(s, catalog, period)

    monkeypatch.setattr(publish, "protect_release", in_this_process)
    released = {calendar.due(s, DEMO_NOW).id for s in content.load_all(project / "content")}
    downloads_here = []
    made = downloads.table_downloads
    monkeypatch.setattr(downloads, "table_downloads", lambda table, prov, locale: (
        downloads_here.append(prov.release), made(table, prov, locale))[1])
    options = dict(now=DEMO_NOW, allow_withdraw=True, freeze=False)
    pipeline.build(pipeline.BuildOptions(project, tmp_path / "parallel", workers=2, **options))
    # the workers computed every statistic's latest release; older ones (for new snapshots) are computed here
    assert len(latest) == 4 and not latest & set(computed_here)
    # and made its downloads in every language: the pages stage found them in the cache
    assert released and not released & set(downloads_here)

    pipeline.build(pipeline.BuildOptions(project, tmp_path / "serial", use_cache=False, **options))
    assert digest(tmp_path / "parallel") == digest(tmp_path / "serial")


def threads_after_numpy(env: dict[str, str]) -> int:
    """How many threads the command line's process has once numpy is loaded."""
    script = ("import os, sys; sys.argv = ['build.py']; sys.path.insert(0, os.getcwd()); "
              "import build, numpy; print(len(os.listdir('/proc/self/task')))")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return int(done.stdout.strip())


def test_the_command_line_starts_no_blas_threads():
    """The build's parallel work is its own processes: numpy's OpenBLAS, left to itself, starts a
    thread per core that spins, 0.1 s of the other core's time in every build (build.py)."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    assert threads_after_numpy(env) == 1
    assert threads_after_numpy({**env, "OPENBLAS_NUM_THREADS": "2"}) == 2  # a setting of one's own is kept
