"""Spark Connect: the demo's tables computed through a thin client equal DuckDB's, and a lost
connection is named.

One Spark Connect server (local[2]) runs for all these tests (`spark_connect_server` in
conftest.py), as a cluster would run it; each test points STATPRESS_SPARK_REMOTE at it. The
engine then sends query plans to the server and receives only the aggregates.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time

import pandas as pd
import pytest

from statpress import data, pipeline
from statpress.errors import BuildError
from statpress.spark import CONF, CONNECTED, MASTER, REMOTE, WAIT, SparkEngine, is_connect, retry_policy, \
    session_from_environment
from tests.conftest import DEMO_NOW, ROOT, copy_project, digest, free_port
from tests.test_spark import assert_same_site, assert_same_tables, compute_demo, failed_build, spark_copy, \
    spark_population

pytest.importorskip("pyspark.sql.connect.session", reason="the Spark Connect client: pip install -r requirements.txt")


@pytest.fixture
def remote(monkeypatch, spark_connect_server):
    connect_to(monkeypatch, spark_connect_server)
    return spark_connect_server


def connect_to(env: pytest.MonkeyPatch, address: str) -> None:
    """The environment of a build against a Spark Connect server: its address, no master."""
    env.setenv(REMOTE, address)
    env.delenv(MASTER, raising=False)
    env.delenv(CONF, raising=False)


@pytest.fixture(scope="module")
def connect_project(tmp_path_factory):
    return spark_copy(tmp_path_factory.mktemp("connect") / "project")


@pytest.fixture(scope="module")
def computed(connect_project, spark_connect_server):
    with pytest.MonkeyPatch.context() as env:
        connect_to(env, spark_connect_server)
        out, catalog = compute_demo(connect_project)
    # the tables came through the Connect server, not a local Spark of this process
    assert all(is_connect(catalog.engine(name)._spark) for name in catalog.spec.datasets)
    return out


def test_every_table_through_spark_connect_equals_duckdb_cell_for_cell(computed):
    assert_same_tables(computed)


def test_the_site_built_from_spark_connect_tables_equals_the_duckdb_site(computed, connect_project, demo_site,
                                                                         tmp_path, remote):
    assert_same_site(connect_project, demo_site, tmp_path / "site")


# ----------------------------------------------------------------------------------------------
# a build through Spark Connect, from the files and from the server's catalogue


@pytest.fixture
def broken(tmp_path, demo_site):
    """A project copy and a built site to fail over: (project, site)."""
    project = copy_project(tmp_path / "project")
    site = tmp_path / "site"
    shutil.copytree(demo_site, site)
    return project, site


def test_a_table_of_the_servers_catalogue_is_computed_at_every_build(broken, demo_site, remote, monkeypatch):
    """A client cannot list the files behind a table (no JVM here), so there is no fingerprint
    and the table cache never serves its statistics: each build asks the server again."""
    project, site = broken
    population = pd.read_csv(ROOT / "data" / "population.csv")
    rows = [(int(y), int(n)) for y, n in zip(population["year"], population["mean_population"])]
    session_from_environment({REMOTE: remote}).createDataFrame(rows, "year long, mean_population long") \
        .write.mode("overwrite").saveAsTable("population_register")
    spark_population(project, 'table = "population_register"')
    aggregated = []
    original = SparkEngine.aggregate

    def counted(self, source, *args):
        aggregated.append(source.name)
        return original(self, source, *args)

    monkeypatch.setattr(SparkEngine, "aggregate", counted)
    for _ in range(2):
        pipeline.build(pipeline.BuildOptions(project, site, DEMO_NOW, allow_withdraw=True))
        assert digest(site) == digest(demo_site)
    assert data.load_catalog(project).fingerprint("population") is None
    assert aggregated == ["population", "population"]


def test_a_local_and_a_connect_session_in_one_process(spark_connect_server, spark_session, monkeypatch):
    """pyspark has one process-wide switch between classic and Connect; the engine leaves it off
    and uses the functions of its own session, so local Spark still works after Connect (and
    the reverse), each giving DuckDB's figures."""
    from pyspark.sql.utils import is_remote

    def population(address):
        if address:
            connect_to(monkeypatch, address)
        else:
            monkeypatch.delenv(REMOTE, raising=False)
        catalog = data.load_catalog(ROOT, default="spark")
        frame = catalog.aggregate("population", ["year"], ["mean_population"])
        return frame, catalog.engine("population")._spark

    duck = data.load_catalog(ROOT).aggregate("population", ["year"], ["mean_population"])
    for address in (spark_connect_server, None, spark_connect_server, None):
        frame, session = population(address)
        pd.testing.assert_frame_equal(frame, duck, check_exact=True)
        assert is_connect(session) if address else session is spark_session
        assert not is_remote()


def test_spark_conf_reaches_the_connect_session(broken, remote, monkeypatch):
    """Session settings (spark.sql.*) of STATPRESS_SPARK_CONF apply on the server; one that only
    the server's start can set is refused with a message saying so."""
    session = session_from_environment({REMOTE: remote, CONF: "spark.sql.shuffle.partitions=3"})
    assert session.conf.get("spark.sql.shuffle.partitions") == "3"
    project, site = broken
    spark_population(project, 'file = "data/population.csv"')
    monkeypatch.setenv(CONF, "spark.executor.memory=8g")
    message = failed_build(project, site)
    assert "datasets.population.file: dataset 'population'" in message
    assert "the Spark Connect server refused a setting of STATPRESS_SPARK_CONF" in message
    assert "spark.executor.memory" in message and "set the others where the server is started" in message


# ----------------------------------------------------------------------------------------------
# a lost connection: the build stops with the dataset and STATPRESS_SPARK_REMOTE named, site/ untouched


def test_a_server_nobody_listens_on(broken, sessions, monkeypatch):
    project, site = broken
    spark_population(project, 'file = "data/population.csv"')
    address = f"sc://127.0.0.1:{free_port()}"
    monkeypatch.setenv(REMOTE, address)
    monkeypatch.setenv(WAIT, "0")
    started = time.monotonic()
    message = failed_build(project, site)
    assert "datasets.population.file: dataset 'population'" in message
    assert "lost the connection to Spark (SparkConnectGrpcException: UNAVAILABLE: " in message
    assert "Connection refused" in message
    assert f"check STATPRESS_SPARK_REMOTE or STATPRESS_SPARK_MASTER (now {address})" in message
    # not Spark Connect's own 10 minutes of retries: STATPRESS_SPARK_CONNECT_WAIT = 0
    assert time.monotonic() - started < 60
    assert_disconnected(sessions, address)


@pytest.fixture
def sessions(monkeypatch):
    """Every Spark Connect session the engine is handed during the test."""
    from statpress import spark

    made, connect = [], spark.connect_session

    def recorded(*args):
        made.append(connect(*args))
        return made[-1]

    monkeypatch.setattr(spark, "connect_session", recorded)
    return made


def assert_disconnected(sessions: list, address: str) -> None:
    """The lost session is closed (Python's exit would otherwise call the lost server once more)
    and forgotten, so that the next build connects afresh."""
    assert sessions and all(s.is_stopped for s in sessions)
    assert [k for k in CONNECTED if k[0] == address] == []


class Relay:
    """A TCP relay from a free port of 127.0.0.1 to the server: `cut()` drops every connection
    and stops listening, as a network failure between the build machine and the cluster does."""

    def __init__(self, address: str):
        self.target = ("127.0.0.1", int(address.rsplit(":", 1)[1]))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"sc://127.0.0.1:{self.listener.getsockname()[1]}"
        self.sockets: list[socket.socket] = []
        self.cut_done = False
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # cut
                return
            server = socket.create_connection(self.target)
            self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self.pump, args=(a, b), daemon=True).start()

    @staticmethod
    def pump(a: socket.socket, b: socket.socket):
        try:
            while chunk := a.recv(65536):
                b.sendall(chunk)
        except OSError:
            pass

    def cut(self):
        self.cut_done = True
        try:  # wakes the thread blocked in accept(), which close() alone does not
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        for s in self.sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


# pyspark's client retries the cut connection and, when the retries run out before the build
# notices, warns that they did: what this test does on purpose, not a problem of the build
@pytest.mark.filterwarnings(r"ignore:\[RETRIES_EXCEEDED\]:UserWarning")
def test_a_connection_lost_during_the_build(broken, sessions, spark_connect_server, monkeypatch):
    """The data check went through the server; then the network fails before the aggregation."""
    project, site = broken
    spark_population(project, 'file = "data/population.csv"')
    relay = Relay(spark_connect_server)
    monkeypatch.setenv(REMOTE, relay.address)
    monkeypatch.setenv(WAIT, "1")
    original = SparkEngine.aggregate

    def cut_first(self, *args):
        if not relay.cut_done:
            assert relay.sockets, "the check did not go through the relay"
            relay.cut()
        return original(self, *args)

    monkeypatch.setattr(SparkEngine, "aggregate", cut_first)
    try:
        message = failed_build(project, site)
    finally:
        relay.cut()
    assert "datasets.population.file: dataset 'population'" in message
    assert "lost the connection to Spark (SparkConnectGrpcException: UNAVAILABLE: " in message
    assert f"check STATPRESS_SPARK_REMOTE or STATPRESS_SPARK_MASTER (now {relay.address})" in message
    assert_disconnected(sessions, relay.address)


def test_the_wait_for_a_lost_server_is_bounded():
    """STATPRESS_SPARK_CONNECT_WAIT keeps the retries whose waits add up to at most that long."""
    def total(policy):
        wait, waited = policy.initial_backoff, 0
        for _ in range(policy.max_retries):
            waited, wait = waited + wait, min(policy.max_backoff, wait * policy.backoff_multiplier)
        return waited, wait

    assert retry_policy({WAIT: "0"}).max_retries == 0
    for seconds in (1, 30, 600):
        waited, following = total(retry_policy({WAIT: str(seconds)}))
        assert 0 < waited <= seconds * 1000 < waited + following
    assert retry_policy({}).max_retries == retry_policy({WAIT: "1e9"}).max_retries  # Spark's own: 15


def test_a_wait_that_is_not_seconds():
    address = f"sc://127.0.0.1:{free_port()}"
    with pytest.raises(BuildError) as err:
        session_from_environment({REMOTE: address, WAIT: "ten"})
    assert str(err.value) == "STATPRESS_SPARK_CONNECT_WAIT: expected a number of seconds, got 'ten'"
    assert [k for k in CONNECTED if k[0] == address] == []  # refused before a session was made
