"""`build.py server`: builds run by a process that has the engine loaded already.

Every `build.py build` starts Python, loads the engine, pandas and DuckDB, and checks what
changed: about a second of each rebuild of 300 statistics, more than the work a one-statistic
change needs (docs/scaling.md). An editor who rebuilds all day can start a build server once:

    python build.py server        # in a terminal of its own; Ctrl+C (or 30 idle minutes) stops it

While it runs, `build.py build` in the same project hands its command line to it instead of
loading the engine itself, over a Unix socket in `.cache/` that only the same user can open. The
server forks itself for each build (the fork has everything loaded, and starts from the same
state every time: no build sees what an earlier one left in memory), and the fork takes the
client's own standard input, output and error (passed over the socket), its working folder and
its environment, so the build prints and behaves exactly as it would have in the client's
process. Ctrl+C in the client interrupts the build. The client exits with the build's status.

A build is never handed over when the server could build differently from the client:

- the engine changed since the server started (statpress's source, build.py, requirements.txt):
  the server stops, and the client builds itself;
- the client's environment differs from the server's where a build reads it (`STATPRESS_*`, the
  time zone, the locale, `PATH`, Python's and the numerical libraries' settings), or its Python
  is another one;
- the build is an audit (`--no-cache`), which must not take anything an earlier build made, or
  `STATPRESS_BUILD_SERVER=off` is set.

Standard library only: the client side runs before the engine is loaded.
"""

from __future__ import annotations

import gc
import json
import os
import select
import signal
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Callable

from .errors import BuildError

SOCKET = Path(".cache") / "build-server.sock"
# the environment a build reads, directly or through what it runs (Pagefind, Java, Spark)
READ = ("STATPRESS_", "PYTHON", "TZ", "LANG", "LC_", "PATH", "JAVA_", "SPARK_", "HADOOP_", "OMP_",
        "OPENBLAS_", "MKL_", "MALLOC_")
IDLE = 30 * 60  # seconds without a build after which the server stops


def socket_path(root: Path) -> Path:
    return root / SOCKET


def read_settings(environ) -> dict[str, str]:
    return {k: v for k, v in environ.items() if k.startswith(READ) and k != "STATPRESS_BUILD_SERVER"}


def engine_state(root: Path) -> list[str]:
    """What the server's loaded engine was read from: statpress's source and the files beside it."""
    from .uptodate import ENGINE, FILES, listing  # standard library only, like this module

    return listing(ENGINE) + [line for name in FILES for line in listing(root / name)]


# -- the client --------------------------------------------------------------------------------

def forward(root: Path, argv: list[str]) -> int | None:
    """`build.py ARGV` run by the project's build server: the build's exit status, or None when
    there is no server, or it will not build this (then the caller builds itself)."""
    audit = any(arg.startswith("--no-c") for arg in argv)  # --no-cache, which argparse also takes abbreviated
    if argv[:1] != ["build"] or audit or os.environ.get("STATPRESS_BUILD_SERVER") == "off":
        return None
    path = socket_path(root)
    if not path.exists():
        return None
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(str(path))
        answers = conn.makefile("rb")
        request = {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ), "python": sys.executable}
        socket.send_fds(conn, [json.dumps(request).encode() + b"\n"], [0, 1, 2])
        first, interrupted = first_answer(conn, answers)
    except KeyboardInterrupt:  # before the request was sent: nothing started (after it, see `answer`)
        first, interrupted = {}, True
    except (OSError, ValueError):
        conn.close()
        return None  # a server that does not answer (one left by a crash): build here
    if interrupted and "started" not in first:
        conn.close()  # Ctrl+C before the server took the build: nothing is built, here or there
        print("interrupted: the previous site is unchanged", file=sys.stderr)
        return 130
    if "started" not in first:
        if "refused" in first:
            print(f"note: the build server did not build this: {first['refused']}; building here", file=sys.stderr)
        conn.close()
        return None
    with conn:
        return wait_for(conn, answers)


def first_answer(conn: socket.socket, answers) -> tuple[dict, bool]:
    """The server's first answer, and whether Ctrl+C came while the client waited for it. Ctrl+C
    is passed on, as during the build (`wait_for`): a build the server starts is interrupted, and
    a request it has not read yet no longer parses, so it starts none."""
    interrupted = False
    while True:
        try:
            line = answers.readline()
            break
        except KeyboardInterrupt:
            if not interrupted:
                interrupted = True
                try:
                    conn.sendall(b"interrupt\n")
                except OSError:
                    return {}, True  # the server has gone: it builds nothing for this client
        except OSError:
            if interrupted:
                return {}, True
            raise
    return json.loads(line or b"{}"), interrupted


def wait_for(conn: socket.socket, answers) -> int:
    """The build's status, as the server's fork sends it; Ctrl+C here interrupts the build."""
    while True:
        try:
            line = answers.readline()
        except KeyboardInterrupt:
            conn.sendall(b"interrupt\n")
            continue
        if not line:
            print("error: the build server's build stopped before it ended (the previous site is unchanged); "
                  "build again", file=sys.stderr)
            return 1
        answer = json.loads(line)
        if "status" in answer:
            return answer["status"]


# -- the server --------------------------------------------------------------------------------

def stop(signum, frame) -> None:
    raise KeyboardInterrupt


def say(text: str) -> None:
    print(text, flush=True)  # at once, also into a file or a pipe


def serve(root: Path, run: Callable[[list[str]], int], idle: float = IDLE, log=say) -> None:
    """Answer builds until Ctrl+C, `idle` seconds without one, or a change to the engine.
    `run` runs one command line in a fork and returns its status."""
    if not hasattr(os, "pidfd_open"):
        raise BuildError("the build server needs Linux (os.fork and pidfd_open); build with `build.py build` alone")
    path = socket_path(root)
    if answers(path):
        raise BuildError(f"{path}: a build server already runs for this project")
    # stopped by `kill` as by Ctrl+C: the socket goes with it
    signal.signal(signal.SIGTERM, stop)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    engine, settings = engine_state(root), read_settings(os.environ)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        umask = os.umask(0o177)  # the socket is the user's alone: whoever connects builds as them
        try:
            listener.bind(str(path))
        finally:
            os.umask(umask)
        listener.listen(8)
        listener.settimeout(idle)
        gc.freeze()  # what is loaded stays shared with every fork, untouched by their collections
        log(f"build server for {root}: `build.py build` there is built here (Ctrl+C to stop; "
            f"stops after {idle / 60:.0f} idle minutes)")
        try:
            while True:
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    log(f"stopping: no build for {idle / 60:.0f} minutes")
                    return
                with conn:
                    if not answer(conn, listener, root, run, engine, settings, log):
                        return
        finally:
            path.unlink(missing_ok=True)


def answers(path: Path) -> bool:
    """Does a server listen at `path`?"""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
            return True
        except OSError:
            return False


def answer(conn: socket.socket, listener: socket.socket, root: Path, run: Callable[[list[str]], int],
           engine: list[str], settings: dict[str, str], log) -> bool:
    """One client's build, in a fork; False when the server must stop (its engine changed)."""
    fds: list[int] = []
    try:
        try:
            conn.settimeout(10)
            data, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
            while not data.endswith(b"\n"):
                more = conn.recv(1 << 20)
                if not more:
                    return True
                data += more
            conn.settimeout(None)
            request = json.loads(data)
            if len(fds) != 3:
                raise ValueError("no standard streams")
        except (OSError, ValueError):
            return True  # not a client of ours
        why = refusal(request, root, engine, settings)
        if why is not None:
            conn.sendall(json.dumps({"refused": why}).encode() + b"\n")
            log(f"refused {' '.join(request['argv'])}: {why}")
            return not why.startswith("the engine changed")
        conn.sendall(b'{"started": true}\n')
        log(f"building {' '.join(request['argv'])}")
        start = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            listener.close()
            build_in_fork(conn, fds, request, run)  # never returns
        status = watch(conn, pid)
        log(f"built {' '.join(request['argv'])} in {time.perf_counter() - start:.1f} s (status {status})")
        return True
    finally:
        for fd in fds:
            os.close(fd)


def refusal(request: dict, root: Path, engine: list[str], settings: dict[str, str]) -> str | None:
    """Why this server must not run the request's build, or None."""
    if engine_state(root) != engine:
        return "the engine changed since the server started (it stops now; start it again)"
    if request.get("python") != sys.executable:
        return f"the client runs another Python ({request.get('python')}, the server {sys.executable})"
    differ = sorted(set(read_settings(request.get("env", {})).items()) ^ set(settings.items()))
    if differ:
        names = ", ".join(sorted({name for name, _ in differ}))
        return f"its environment differs from the server's in {names}"
    return None


def build_in_fork(conn: socket.socket, fds: list[int], request: dict, run: Callable[[list[str]], int]) -> None:
    """The fork: the client's streams, folder and environment taken, the build run, its status sent."""
    status = 1
    try:
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        time.tzset()
        sys.stdin = open(0, closefd=False)
        sys.stdout = open(1, "w", closefd=False, buffering=1 if os.isatty(1) else -1)
        sys.stderr = open(2, "w", closefd=False, buffering=1)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        try:
            status = run(request["argv"])
        except SystemExit as exc:  # argparse's errors and --help
            status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except KeyboardInterrupt:
            print("interrupted: the previous site is unchanged", file=sys.stderr)
            status = 130
        sys.stdout.flush()
        sys.stderr.flush()
    except KeyboardInterrupt:  # the client's Ctrl+C came before the build began
        status = 130
    except BaseException:  # noqa: BLE001 - told to the client, whose build it was
        traceback.print_exc()
    finally:
        try:
            conn.sendall(json.dumps({"status": status}).encode() + b"\n")
        finally:
            os._exit(status)  # the fork's objects are the operating system's to free (build.py)


def watch(conn: socket.socket, pid: int) -> int:
    """Wait for the fork to end, interrupting it if its client asks (Ctrl+C) or goes away."""
    pidfd = os.pidfd_open(pid)
    watching = [conn, pidfd]
    try:
        while True:
            ready = select.select(watching, [], [])[0]
            if pidfd in ready:
                return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
            if conn in ready:
                if not conn.recv(64):
                    watching.remove(conn)  # the client is gone: its build is interrupted too
                os.kill(pid, signal.SIGINT)
    finally:
        os.close(pidfd)
