"""`build.py server`: a build handed to it gives what the same build gives alone, and a build it
must not run (another engine, another environment, an audit) is built by the client itself."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import DEMO_NOW, digest, interruptible, run, runnable
from statpress import buildserver

pytestmark = pytest.mark.built_before
NOW = DEMO_NOW.isoformat()


class Server:
    """`build.py server` running in a project copy, its log read as it writes it."""

    def __init__(self, project: Path, env: dict | None = None):
        self.project, self.log = project, project / "server.log"
        self.process = subprocess.Popen([sys.executable, str(project / "build.py"), "server", "--idle", "10"],
                                        cwd=project, stdout=self.log.open("w"), stderr=subprocess.STDOUT,
                                        env=env)
        self.wait_for("build server for")

    def wait_for(self, text: str, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while text not in self.log.read_text():
            assert self.process.poll() is None or text in self.log.read_text(), self.log.read_text()
            assert time.monotonic() < end, f"no {text!r} in the server's log: {self.log.read_text()}"
            time.sleep(0.05)

    def builds(self) -> int:
        return self.log.read_text().count("\nbuilt build")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)


@pytest.fixture
def server(project):
    running = Server(runnable(project))
    yield running
    running.stop()


def alone(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """The command line with the server left out."""
    return subprocess.run([sys.executable, str(project / "build.py"), *args], capture_output=True, text=True,
                          cwd=project, env={**os.environ, "STATPRESS_BUILD_SERVER": "off", **env})


def test_a_build_handed_to_the_server_is_the_build_alone_byte_for_byte(server):
    project = server.project
    served = run(project, "build", "--now", NOW, "--out", "served")
    assert served.returncode == 0, served.stderr
    assert server.builds() == 1  # the server built it, and the client's output is the build's
    assert "wrote" in served.stdout and "Migration: release" in served.stdout
    by_itself = alone(project, "build", "--now", NOW, "--out", "alone")
    assert by_itself.returncode == 0, by_itself.stderr
    assert digest(project / "served") == digest(project / "alone")
    assert server.builds() == 1

    # an edit is seen by the next build the server makes: each build is a fork that reads the inputs anew
    about = project / "content" / "migration" / "about" / "definitions.md"
    about.write_text(about.read_text() + "\nA sentence added by the test.\n")
    again = run(project, "build", "--now", NOW, "--out", "served")
    assert again.returncode == 0, again.stderr
    assert server.builds() == 2
    assert "A sentence added by the test." in (project / "served" / "migration" / "index.html").read_text()

    # and a bad input stops it with the message the build alone gives
    (project / "stats" / "migration" / "tables.toml").write_text("[[tables]\n")
    broken = run(project, "build", "--now", NOW, "--out", "served")
    alone_broken = alone(project, "build", "--now", NOW, "--out", "alone")
    assert broken.returncode == alone_broken.returncode == 1
    assert broken.stderr == alone_broken.stderr and "tables.toml" in broken.stderr


def test_what_the_server_must_not_build_the_client_builds_itself(server):
    project = server.project
    for flag in ("--no-cache", "--no-cach"):  # argparse takes the flag abbreviated too
        audit = run(project, "build", "--now", NOW, flag, "--out", "audit")
        assert audit.returncode == 0, audit.stderr
    assert server.builds() == 0  # an audit takes nothing an earlier build made, not even a loaded engine

    other = alone(project, "build", "--now", NOW, STATPRESS_BUILD_SERVER="on", STATPRESS_SPARK_CONF="x=1")
    assert other.returncode == 0, other.stderr
    assert "the build server did not build this: its environment differs from the server's in " \
           "STATPRESS_SPARK_CONF" in other.stderr
    assert server.builds() == 0

    # the engine changed since the server loaded it: it stops, and the client builds with the new one
    (project / "build.py").write_text((project / "build.py").read_text() + "\n# changed\n")
    changed = run(project, "build", "--now", NOW)
    assert changed.returncode == 0, changed.stderr
    assert "the engine changed since the server started" in changed.stderr
    server.process.wait(timeout=30)
    assert not buildserver.socket_path(project).exists()
    after = run(project, "build", "--now", NOW)  # no server now: built alone, silently
    assert after.returncode == 0 and after.stderr.count("note:") == 0, after.stderr


def test_a_build_that_dies_in_the_server_says_so_and_leaves_the_site(project):
    project = runnable(project)
    assert run(project, "build", "--now", NOW).returncode == 0
    before = digest(project / "site")
    about = project / "content" / "migration" / "about" / "definitions.md"
    about.write_text(about.read_text() + "\nNever published.\n")
    env = {**os.environ, "STATPRESS_FAULT": "write-site"}  # the fork is killed while it writes
    server = Server(project, env)
    try:
        died = subprocess.run([sys.executable, str(project / "build.py"), "build", "--now", NOW], cwd=project,
                              capture_output=True, text=True, env=env)
        assert died.returncode == 1
        assert "the build server's build stopped before it ended (the previous site is unchanged)" in died.stderr
        assert digest(project / "site") == before
        assert server.process.poll() is None  # the server goes on
    finally:
        server.stop()


def test_ctrl_c_in_the_client_interrupts_the_build_in_the_server(project):
    project = runnable(project)
    shutil.rmtree(project / ".cache")  # a cold build, seconds long: from the caches it took 0.5 s, done before Ctrl+C
    server = Server(project)
    try:
        client = subprocess.Popen([sys.executable, str(project / "build.py"), "build", "--now", NOW], cwd=project,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  preexec_fn=interruptible)
        server.wait_for("building build")
        time.sleep(0.5)
        client.send_signal(signal.SIGINT)
        _, err = client.communicate(timeout=60)
        assert client.returncode == 130, err
        assert "interrupted: the previous site is unchanged" in err
        assert not (project / "site" / "index.html").exists()
        server.wait_for("(status 130)")
    finally:
        server.stop()


def test_ctrl_c_before_the_server_answers_builds_nothing(project):
    """Ctrl+C while the client waits for the server's first answer is passed on, as during a
    build: the client does not go on to build by itself, and exits as an interrupted build does."""
    project = runnable(project)
    path = buildserver.socket_path(project)
    path.parent.mkdir(parents=True, exist_ok=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:  # a server slow to answer
        listener.bind(str(path))
        listener.listen(1)
        client = subprocess.Popen([sys.executable, str(project / "build.py"), "build", "--now", NOW], cwd=project,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  preexec_fn=interruptible)
        conn, _ = listener.accept()
        with conn:
            data, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
            for fd in fds:
                os.close(fd)
            while not data.endswith(b"\n"):
                data += conn.recv(1 << 20)
            time.sleep(0.3)  # the client waits for the answer
            client.send_signal(signal.SIGINT)
            conn.settimeout(30)
            assert conn.recv(64) == b"interrupt\n"
            conn.sendall(b'{"refused": "a reason the client must not act on now"}\n')
            _, err = client.communicate(timeout=60)
    assert client.returncode == 130, err
    assert "interrupted: the previous site is unchanged" in err and "building here" not in err
    assert not (project / "site").exists()
