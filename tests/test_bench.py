"""The benchmarks `make bench` runs still run: they call the engine directly, so a change of its
functions can break them without any other test noticing (bench_charts.py and bench_statistic.py
did, for sessions)."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT
from statpress.content import load_all
from statpress.tables import load_specs


def test_the_chart_benchmark_times_every_chart_of_the_demo():
    result = subprocess.run([sys.executable, "bench/bench_charts.py"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[1:]}
    expected = {f"{s.id}/{chart['id']}" for s in load_all(ROOT / "content")
                for chart in load_specs(ROOT / "stats", s.id)[1].charts}
    assert set(rows) == expected
    assert all(float(cold) > 0 and float(cached) >= 0 for cold, cached in rows.values())


def test_the_statistic_benchmark_protects_the_benchmark_table_through_the_build():
    """It reports its figures whether or not its time target is met (exit 1 then), but never fails
    with a traceback; the table's size is the benchmark's own, not the machine's."""
    result = subprocess.run([sys.executable, "bench/bench_statistic.py", "--base", "3"], cwd=ROOT, capture_output=True,
                            text=True, timeout=600)
    assert "Traceback" not in result.stderr, result.stderr
    assert "published cells: 73656 (372 rows × 198 columns)" in result.stdout
    assert "target (" in result.stdout.splitlines()[-1]


def test_the_lighthouse_benchmark_measures_the_demo_s_pages_in_every_language_by_default(demo_site, monkeypatch):
    """It once measured nothing, and said nothing, when no page was named."""
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    import bench_lighthouse

    pages = bench_lighthouse.arguments(["--site", str(demo_site)]).pages
    assert "migration/index.html" in pages and "nb/migration/index.html" in pages and len(pages) == 14
    assert bench_lighthouse.arguments(["--site", str(demo_site), "index.html"]).pages == ["index.html"]
