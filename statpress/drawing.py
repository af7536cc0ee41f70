"""vl-convert, which turns the charts' Vega-Lite specifications into SVG, PNG and Vega, called in this
process or in a process of its own; and the charts laid out there with Altair (vegalite.py).

vl-convert holds the interpreter while it works: starting its JavaScript engine (0.4 s), laying
out a drawing and rasterising it (measured: a Python thread beside it stops; docs/scaling.md). In
the build's own process every chart would stop the build until it is drawn. `Helper` runs it in a
process of its own instead, started when the build knows it will draw (a cold build: before it
loads the engine): the engine starts on the other core while the tables are computed, and each
chart is asked for whole (laid out, its panels fitted, drawn and compiled there) while the build
goes on with the next statistic. `InProcess` calls it directly, for the worker processes of a
large build (every core is busy there already) and for tests.

Both answer with futures; vl-convert gives the same bytes in either process.
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import IO, Protocol

from .child import Child, with_engine
from .errors import BuildError

VEGA_SCHEMA = "https://vega.github.io/schema/vega/"
WARM_UP = {"mark": "point", "data": {"values": [{"x": 1}]}, "encoding": {"x": {"field": "x", "type": "quantitative"}}}


class Drawer(Protocol):
    def draw(self, kind: str, spec: dict) -> Future:
        """vl-convert's answer (see `call`) to request `kind` for the Vega-Lite spec `spec`."""

    def start(self) -> None:
        """Get ready to draw (a drawer that needs time to start starts now)."""


def drawn_before(charts: Path | None) -> bool:
    """Does the chart cache hold any drawing? None: there is no cache (--no-cache)."""
    if charts is None:
        return False  # not os.scandir(None), which lists the working folder
    try:
        with os.scandir(charts) as entries:
            return any(entries)
    except OSError:  # no cache yet
        return False


def call(kind: str, spec):
    """"svg": (the SVG, None); "svg+png": (the SVG, a PNG of it at twice its size); "vega": the
    spec compiled to Vega; "chart": a whole chart (`spec` a vegalite.Job) drawn for every layout,
    a vegalite.Drawn. A spec is Vega-Lite, or Vega when its "$schema" says so (as vega-embed
    tells them apart)."""
    if kind == "chart":
        from . import vegalite

        return vegalite.draw(spec, call)
    import vl_convert as vlc  # loaded only to draw

    if kind == "vega":
        return vlc.vegalite_to_vega(spec)
    is_vega = str(spec.get("$schema", "")).startswith(VEGA_SCHEMA)
    svg = vlc.vega_to_svg(spec) if is_vega else vlc.vegalite_to_svg(spec)
    # the PNG rasterises that drawing (the same bytes as vegalite_to_png, in half the time)
    return svg, vlc.svg_to_png(svg, scale=2) if kind == "svg+png" else None


class InProcess:
    """vl-convert called by the build itself, each answer ready when it is asked for."""

    def draw(self, kind: str, spec: dict) -> Future:
        future = Future()
        try:
            future.set_result(call(kind, spec))
        except Exception as exc:  # vl-convert's own errors, told as the helper tells them
            future.set_exception(refused(reason(exc)))
        return future

    def start(self) -> None:
        pass


class Helper:
    """vl-convert in a process of its own (`python -m statpress.drawing`), asked by pickled
    requests on its standard input and answering on its standard output; a thread reads the
    answers. A context manager: leaving it stops the process. It starts on the first request,
    or earlier with `start`."""

    def __init__(self) -> None:
        self.process: Child | None = None
        self.reader: threading.Thread | None = None
        self.pending: dict[int, Future] = {}
        self.lock = threading.Lock()
        self.last = 0
        self.ended = False  # the process stopped: nothing asked of it now is answered

    @classmethod
    def for_cold_build(cls, charts: Path) -> "Helper":
        """A helper for a build about to load the engine, started at once when the chart cache
        `charts` holds no drawing: such a build draws every chart, and the process's start (1.1 s:
        vl-convert's engine and Altair) then runs while the build loads the engine and reads its
        content, not after. A build that has its tables computed by worker processes never asks it
        (they draw their charts themselves) and stops it unused."""
        helper = cls()
        if not drawn_before(charts):
            helper.start()
        return helper

    def __enter__(self) -> "Helper":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        """The process started: it starts vl-convert's engine at once, before the first request."""
        if self.process is not None:
            return
        self.process, self.ended = Child([sys.executable, "-m", "statpress.drawing"], with_engine()), False
        self.reader = threading.Thread(target=self.read_answers, args=(self.process.stdout,), daemon=True)
        self.reader.start()

    def draw(self, kind: str, spec: dict) -> Future:
        self.start()
        future = Future()
        with self.lock:
            self.last += 1
            self.pending[self.last] = future
            message, ended = (self.last, kind, spec), self.ended
        try:
            if not ended:
                pickle.dump(message, self.process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                self.process.stdin.flush()
        except OSError:
            ended = True
        if ended:
            self.fail_pending()  # saying why the process stopped
        return future

    def read_answers(self, stdout: IO[bytes]) -> None:
        """The reader thread: each answer handed to the future that waits for it."""
        try:
            while True:
                number, ok, value = pickle.load(stdout)
                with self.lock:
                    future = self.pending.pop(number)
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(refused(value))
        except (EOFError, OSError, pickle.UnpicklingError):
            self.fail_pending()

    def fail_pending(self) -> None:
        """The process has stopped: whatever waits for it fails, saying why."""
        with self.lock:
            self.ended = True
            waiting, self.pending = list(self.pending.values()), {}
        if waiting:
            stopped = BuildError(f"the process drawing the charts stopped: {self.process.last_words()}")
            for future in waiting:
                if not future.done():
                    future.set_exception(stopped)

    def stop(self) -> None:
        """The process stopped: the build has every drawing it asked for, or has failed."""
        if self.process is None:
            return
        self.process.kill()
        self.reader.join()
        self.process.close()
        self.process = None


def serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    """The helper process: answer each request in turn until the input ends."""
    call("svg", WARM_UP)  # the engine starts now, while the build computes its tables
    import altair  # noqa: F401  and Altair loads, which lays out the charts (vegalite.py)
    while True:
        try:
            number, kind, spec = pickle.load(requests)
        except EOFError:
            return
        try:
            answer = (number, True, call(kind, spec))
        except Exception as exc:  # vl-convert's own errors: the build names the chart that caused them
            answer = (number, False, reason(exc))
        pickle.dump(answer, answers, protocol=pickle.HIGHEST_PROTOCOL)
        answers.flush()


def reason(exc: Exception) -> str:
    """vl-convert's message without the JavaScript stack: what failed, and the error that says why."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip() and not line.strip().startswith("at ")]
    return " ".join(lines) or type(exc).__name__


def refused(why: str) -> BuildError:
    return BuildError(f"vl-convert could not draw it: {why}")


if __name__ == "__main__":
    # the answers get standard output to themselves: anything else written there goes to standard error
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(sys.stdin.buffer, answers)
