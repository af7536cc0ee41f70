"""Shared fixtures: the repository, a copy of it to break, and the demo site built once."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from statpress import pipeline
from statpress.content import OSLO

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
# An instant after every shipped release of the demo: the site a reader sees today.
DEMO_NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=OSLO)


def build_site(root: Path, out: Path, now: dt.datetime = DEMO_NOW) -> pipeline.BuildReport:
    # The site as it was at `now`, which may be before archived releases: a look back, not a
    # publication (tests/test_bad_inputs.py checks that the command line refuses to withdraw them).
    return pipeline.build(pipeline.BuildOptions(root, out, now, allow_withdraw=True))


@pytest.fixture(scope="session")
def demo_site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "site"
    build_site(ROOT, out)
    return out


@pytest.fixture
def project(tmp_path) -> Path:
    """A copy of the repository's inputs to break; the big data files are linked, not copied."""
    return copy_project(tmp_path / "project")


def copy_project(dest: Path) -> Path:
    for name in ("content", "stats", "templates", "locales", "archive", "schemas"):
        shutil.copytree(ROOT / name, dest / name)
    shutil.copy(ROOT / "site.toml", dest / "site.toml")
    (dest / "data").mkdir()
    for f in (ROOT / "data").iterdir():  # every format the engine reads: Parquet, CSV, CSV.gz
        (dest / "data" / f.name).symlink_to(f)
    return dest


def replace_data(project: Path, name: str, text: str) -> Path:
    """Write `text` as data file `name` (e.g. naturalisations.csv) in place of that dataset's file."""
    path = project / "data" / name
    dataset = name.split(".")[0]
    for old in (project / "data").glob(dataset + ".*"):
        old.unlink()
    path.write_text(text, encoding="utf-8")
    catalog = project / "stats" / "datasets.toml"
    lines = catalog.read_text(encoding="utf-8").splitlines(keepends=True)
    declared = f'file = "data/{dataset}.'
    catalog.write_text("".join(f'file = "data/{name}"\n' if line.startswith(declared) else line for line in lines),
                       encoding="utf-8")
    return path


def digest(folder: Path) -> dict[str, str]:
    """SHA-256 of every file below a folder, by relative path: to compare two trees byte for byte."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def served_digest(folder: Path) -> dict[str, str]:
    """`digest` of a folder as a site serves it, without the precompressed copies the build adds
    beside each text file; each copy is checked to hold exactly the file it stands for."""
    from statpress import compress
    found = digest(folder)
    for rel in [r for r in found if r.endswith(compress.ENCODINGS)]:
        copy = folder / rel
        original, data = compress.original(copy, copy.read_bytes())
        assert hashlib.sha256(data).hexdigest() == found[original.relative_to(folder).as_posix()], rel
        del found[rel]
    return found


def edit(path: Path, old: str, new: str) -> None:
    """Replace the first `old` in a text file, failing if it is not there."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def drop_snapshot(project: Path, key: str = "migration/migration-2024") -> None:
    """The project as before `key` was frozen: its snapshot and its ledger line gone."""
    from statpress import archive

    shutil.rmtree(project / "archive" / key)
    ledger = project / "archive" / archive.LEDGER
    release = key.split("/")[1]
    lines = [line for line in ledger.read_text().splitlines(keepends=True)
             if json.loads(line)["release"] != release]
    ledger.write_text("".join(lines))


def runnable(project: Path) -> Path:
    """A copy of the project with its own build.py (whose ROOT is the copy) and the engine linked."""
    (project / "build.py").write_bytes((ROOT / "build.py").read_bytes())
    (project / "statpress").symlink_to(ROOT / "statpress")
    return project


def run(project: Path, *args: str) -> subprocess.CompletedProcess:
    """`build.py ARGS` in a runnable project copy, output captured (stdout is not a terminal)."""
    return subprocess.run([sys.executable, str(project / "build.py"), *args], capture_output=True, text=True,
                          cwd=project)


@pytest.fixture(scope="session")
def spark_session(tmp_path_factory):
    """One local Spark (local[2]) for every test that needs it: starting one costs seconds. The
    Spark engine's `getOrCreate` finds it, so every catalogue in the test run shares it. Its
    catalogue's tables are written to a temporary folder, not the working directory."""
    from statpress.spark import session_from_environment

    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    session = session_from_environment({"STATPRESS_SPARK_MASTER": "local[2]",
                                        "STATPRESS_SPARK_CONF": f"spark.sql.warehouse.dir={warehouse}"})
    yield session
    session.stop()
