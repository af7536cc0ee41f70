"""Shared fixtures: the repository, a copy of it to break, and the demo site built once."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from statpress import pipeline
from statpress.content import OSLO

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
# An instant after every shipped release of the demo: the site a reader sees today.
DEMO_NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=OSLO)


class Calls:
    """What a spied function was called for, in order, noted in a file: a rebuild computes a few
    statistics in a child forked from the build (publish.compute_ahead), whose calls a list in
    the test's process would not see. Reads as a list of strings; `clear` forgets them."""

    def __init__(self, log: Path):
        self.log = log

    def note(self, value: object) -> None:
        with self.log.open("a", encoding="utf-8") as f:
            f.write(f"{value}\n")

    def clear(self) -> None:
        self.log.unlink(missing_ok=True)

    def __iter__(self):
        return iter(self.log.read_text(encoding="utf-8").splitlines() if self.log.exists() else [])

    def __eq__(self, other) -> bool:
        return list(self) == other

    __hash__ = None


# The test modules that use a Spark fixture (a JVM each, many seconds to start). `make test` runs
# the suite on every core (pytest-xdist, one module to a worker at a time), and each worker makes
# the session fixtures it needs for itself: these modules run on one worker, so Spark starts once.
SPARK_MODULES = ("tests/test_spark.py", "tests/test_pushdown.py", "tests/test_spark_connect.py")


def pytest_xdist_make_scheduler(config, log):
    """`--dist loadfile`, but with the modules of SPARK_MODULES as one unit of work. (xdist's own
    `loadgroup` cannot be used: it marks a test's group in its node id, which pytest 9 no longer
    lets a plugin change.)"""
    from xdist.scheduler import LoadFileScheduling

    class Scheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = super()._split_scope(nodeid)
            return "+".join(SPARK_MODULES) if module in SPARK_MODULES else module

    return Scheduling(config, log)


def build_site(root: Path, out: Path, now: dt.datetime = DEMO_NOW) -> pipeline.BuildReport:
    # The site as it was at `now`, which may be before archived releases: a look back, not a
    # publication (tests/test_bad_inputs.py checks that the command line refuses to withdraw them).
    return pipeline.build(pipeline.BuildOptions(root, out, now, allow_withdraw=True))


@pytest.fixture(scope="session")
def demo_site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "site"
    build_site(ROOT, out)
    return out


# what the `project` fixture copies of an earlier build, when a test is marked `built_before`
CACHES_OF_AN_EARLIER_BUILD = ("tables", "charts")


@pytest.fixture
def project(tmp_path, request) -> Path:
    """A copy of the repository's inputs to break; the big data files are linked, not copied.

    Marked `built_before` (a test, or a module by `pytestmark`), the copy also holds the table and
    chart caches of an earlier build of the same inputs, as an editor's working copy does: its
    first build renders and writes every page, but computes no table and draws no chart. Their
    keys are hashes of the inputs (cache.py), so any change a test then makes misses them as it
    would in a working copy. Most tests that change one thing start from a built site, and
    computing it cold each time took a fifth of the test run."""
    dest = copy_project(tmp_path / "project")
    if request.node.get_closest_marker("built_before"):
        earlier = request.getfixturevalue("earlier_caches")
        for name in CACHES_OF_AN_EARLIER_BUILD:
            shutil.copytree(earlier / name, dest / ".cache" / name)
    return dest


@pytest.fixture(scope="session")
def earlier_caches(tmp_path_factory) -> Path:
    """The `.cache` folder of one cold build of a copy of the repository (see `project`), made by
    the command line in a process of its own: the first test to ask for it may have spies and
    patches in place already, and they must not see (or change) this build."""
    dest = runnable(copy_project(tmp_path_factory.mktemp("built-before") / "project"))
    result = run(dest, "build", "--now", DEMO_NOW.isoformat())
    assert result.returncode == 0, result.stderr
    return dest / ".cache"


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


def interruptible() -> None:
    """Ctrl+C as a terminal gives it to a command (a `preexec_fn`): a test run started in the
    background (a shell's `command &`) hands its processes SIGINT ignored, and Python keeps a
    signal ignored at start."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def interrupt_soon():
    """Ctrl+C in 0.2 s, as a terminal gives it to the build: a KeyboardInterrupt in the main
    thread, wherever it is then (a test run in the background has SIGINT itself ignored)."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt
    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.2)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


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


# Spark Connect: a server as a cluster runs one, here in local[2] on this machine
CONNECT_SERVER = "org.apache.spark.sql.connect.service.SparkConnectServer"
CONNECT_START_SECONDS = 180  # about 10 s on an idle machine; the 2 cores may be shared


@pytest.fixture(scope="session")
def spark_connect_server(tmp_path_factory):
    """One Spark Connect server for every test that needs it: its address, `sc://127.0.0.1:PORT`,
    for STATPRESS_SPARK_REMOTE. Started with the spark-submit that pyspark's wheel ships (with
    the server's jar), bound to 127.0.0.1 on a free port, and stopped after the last test."""
    import pyspark

    from statpress.spark import LOG_SETTINGS

    java_home = os.environ.get("JAVA_HOME")
    if not shutil.which("java") and not (java_home and (Path(java_home) / "bin" / "java").exists()):
        pytest.skip("no Java to run a Spark Connect server (scripts/install-test-deps.sh installs it)")
    home = Path(pyspark.__file__).parent
    folder = tmp_path_factory.mktemp("spark-connect")
    port = free_port()
    settings = {"spark.connect.grpc.binding.address": "127.0.0.1", "spark.connect.grpc.binding.port": port,
                "spark.ui.enabled": "false", "spark.sql.shuffle.partitions": 4,
                "spark.sql.warehouse.dir": folder / "warehouse",
                "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile={LOG_SETTINGS.as_uri()}"}
    command = [str(home / "bin" / "spark-submit"), "--class", CONNECT_SERVER, "--master", "local[2]",
               "--name", "statpress-tests", *[a for k, v in settings.items() for a in ("--conf", f"{k}={v}")]]
    log = folder / "server.log"
    with log.open("wb") as out:  # spark-submit ends in `exec java`: this process is the server's JVM
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=folder,
                                  env={**os.environ, "SPARK_HOME": str(home)})
    try:
        wait_for_port(server, port, log)
        yield f"sc://127.0.0.1:{port}"
    finally:
        release_sessions(f"sc://127.0.0.1:{port}")
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def release_sessions(address: str) -> None:
    """Stop the engine's Spark Connect sessions with a server, before the server stops."""
    from statpress.spark import CONNECTED

    for key in [k for k in CONNECTED if k[0] == address]:
        CONNECTED.pop(key).stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(server: subprocess.Popen, port: int, log: Path) -> None:
    """Until the server accepts connections on `port`; a failure names what happened, with the log."""
    deadline = time.monotonic() + CONNECT_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the Spark Connect server exited with status {server.returncode} before it listened "
                        f"on 127.0.0.1:{port}; its log ({log}):\n{tail(log)}", pytrace=False)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.25)
    pytest.fail(f"the Spark Connect server did not accept connections on 127.0.0.1:{port} within "
                f"{CONNECT_START_SECONDS} s; its log ({log}):\n{tail(log)}", pytrace=False)


def tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
