"""Work done beside the build by a child forked from it (docs/scaling.md, "Parallel builds").

The child holds everything the build had loaded and made at that instant (the engine, the
content, the renderers): nothing is imported again or pickled to reach it. Only what it returns
is pickled, through a pipe, and read when the build asks for it. A fork copies only the thread
that made it, so the child touches nothing that another thread of the build looks after (the
live display, Pagefind's pipe, the drawing helper's answers) and writes nothing to the
terminal. It never collects what it inherits: a finaliser of the build's garbage (a library's
object, tied to a thread the fork did not copy) would run there, and its collections would
touch, so copy, every inherited page.
"""

from __future__ import annotations

import gc
import os
import pickle
import signal
import sys
from typing import Callable, Generic, TypeVar

from .errors import BuildError
from .progress import CURRENT, Progress

T = TypeVar("T")


def available() -> bool:
    """Can this process fork (Linux, macOS; not Windows)?"""
    return hasattr(os, "fork")


class Failed(Exception):
    """The child ended without an answer (killed, out of memory, or an error that is not the
    content's): the build does the work itself."""


class Forked(Generic[T]):
    """`work()` run in a child forked now, while this process goes on; `result` waits for it."""

    def __init__(self, work: Callable[[], T]):
        reader, writer = os.pipe()
        frozen = gc.get_freeze_count()  # a build server's fork has frozen what it inherited already
        gc.freeze()
        try:
            pid = os.fork()
        except OSError:  # no room for another process: `result` says so, and the build does the work
            pid = None
        if pid == 0:
            os.close(reader)
            answer(work, writer)  # never returns
        if not frozen:
            gc.unfreeze()
        os.close(writer)
        # The answer's end held as a file object: closing it again (the build's cleanup after a
        # Ctrl+C in `result`) does nothing, where closing the number again said "Bad file
        # descriptor" in place of the interrupt, or closed a file opened since under that number.
        self.answers = os.fdopen(reader, "rb")
        if pid is None:
            self.answers.close()
        self.pid, self.waited = pid, pid is None

    def result(self) -> T:
        """What `work` returned. A BuildError it raised (bad content) is raised here, with its
        message; should the child have failed otherwise, or not have started, `Failed`."""
        if self.pid is None:
            raise Failed("no child could be forked")
        with self.answers:
            data = self.answers.read()
        self.wait()
        try:
            done, value = pickle.loads(data)
        except Exception as exc:  # noqa: BLE001 - nothing, or a part of an answer: the child died
            raise Failed("the child ended without an answer") from exc
        if done:
            return value
        if isinstance(value, BuildError):
            raise value
        raise Failed(value)

    def result_or(self, fallback: T) -> T:
        """What `work` returned, or `fallback` should the child have failed otherwise than on the
        content (the build then does the work itself); a BuildError is raised as in `result`."""
        try:
            return self.result()
        except Failed:
            return fallback

    def close(self) -> None:
        """The build failed: the child is waited for, so that no process of the build outlives it.
        Its answer is not read: once the pipe is closed, writing it ends the child."""
        self.answers.close()
        self.wait()

    def wait(self) -> None:
        """The child ended and reaped, once."""
        if self.waited:
            return
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:  # reaped by the `result` a Ctrl+C interrupted just after it
            pass
        self.waited = True


class Waiting(Forked[T]):
    """A child forked now that makes itself ready (`prepare`, e.g. imports a library) and then
    waits to be told what to do: `give(value)` has it return `work(value)`. Should it never be
    given anything (`result` or `close` first), it returns None once ready."""

    def __init__(self, prepare: Callable[[], None], work: Callable[[object], T]):
        reader, writer = os.pipe()

        def run():
            os.close(writer)
            prepare()
            with os.fdopen(reader, "rb") as f:
                data = f.read()
            return work(pickle.loads(data)) if data else None

        super().__init__(run)
        os.close(reader)
        self.inbox = os.fdopen(writer, "wb")  # a file object, for the reason in `Forked`

    def give(self, value) -> None:
        """What the child is to work on: `work(value)` is what `result` then returns."""
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            with self.inbox:
                self.inbox.write(data)
        except BrokenPipeError:  # the child ended first: `result` says so
            pass

    def untold(self) -> None:
        """Nothing to give: the child returns None (or ends, if it is already reading)."""
        self.inbox.close()

    def result(self) -> T:
        self.untold()
        return super().result()

    def close(self) -> None:
        """As `Forked.close`; a child never given anything is only getting ready, and is ended."""
        if not self.inbox.closed and self.pid is not None:
            os.kill(self.pid, signal.SIGKILL)
        self.untold()
        super().close()


def answer(work: Callable, writer: int) -> None:
    """In the child: `work` done, and what it returned (or the BuildError it raised, or what else
    went wrong, as text) pickled into `writer`; then the child ends at once (os._exit), leaving
    the build's objects and threads to the build."""
    try:
        silenced()
        try:
            told = (True, work())
        except BuildError as exc:
            told = (False, exc)
        except BaseException as exc:  # noqa: BLE001 - told to the build, which does the work itself
            told = (False, f"{type(exc).__name__}: {exc}")
        with os.fdopen(writer, "wb") as f:
            pickle.dump(told, f, protocol=pickle.HIGHEST_PROTOCOL)
    finally:
        os._exit(0)


def silenced() -> None:
    """Nothing shown, nothing written to the terminal. The build's live display writes from a
    thread the fork did not copy; had it held the stream's lock at that instant, the child's first
    flush would wait for it forever (CPython issue 91776). The terminal's streams are left as they
    are, unflushed: the child ends with os._exit."""
    CURRENT.set(Progress("silent"))
    sys.stdout = sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - until the child ends
