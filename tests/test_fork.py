"""A child forked from the build (fork.py): its answer, its failures, and what it leaves alone."""

from __future__ import annotations

import gc
import os
import time
from pathlib import Path

import pytest

from statpress import fork
from statpress.errors import BuildError


class Finalised:
    """A cycle of garbage whose finaliser notes the process it ran in."""

    def __init__(self, log: Path):
        self.log = log
        self.itself = self

    def __del__(self):
        with self.log.open("a", encoding="utf-8") as f:
            f.write(f"{os.getpid()}\n")


def test_the_child_answers_with_what_its_work_returned_and_holds_what_the_build_made():
    made = {"pages": [b"x" * 300_000, "\u00e6\u00f8\u00e5"]}  # more than a pipe holds at once
    pid, got = fork.Forked(lambda: (os.getpid(), made)).result()
    assert pid != os.getpid() and got == made


def test_the_content_s_error_in_the_child_stops_the_build_with_its_message():
    def bad():
        raise BuildError("stats/x/tables.toml: line 3: no such column")
    with pytest.raises(BuildError, match="line 3: no such column"):
        fork.Forked(bad).result()
    with pytest.raises(BuildError, match="line 3: no such column"):
        fork.Forked(bad).result_or(None)  # not left to the build: it would fail the same way


@pytest.mark.parametrize("how", ["killed", "a bug"])
def test_a_child_that_fails_otherwise_leaves_the_work_to_the_build(how):
    def work():
        if how == "killed":
            os._exit(9)
        return 1 / 0
    with pytest.raises(fork.Failed):
        fork.Forked(work).result()
    assert fork.Forked(work).result_or("done here") == "done here"


def test_where_no_child_can_be_forked_the_work_is_left_to_the_build(monkeypatch):
    def refused():
        raise BlockingIOError(11, "Resource temporarily unavailable")
    monkeypatch.setattr(os, "fork", refused)
    child = fork.Forked(lambda: 1)
    with pytest.raises(fork.Failed):
        child.result()
    child.close()
    assert gc.get_freeze_count() == 0


def test_a_build_that_fails_waits_for_its_child_without_reading_its_answer(tmp_path):
    done = tmp_path / "done"
    child = fork.Forked(lambda: time.sleep(0.3) or done.write_text("x") or b"y" * 1_000_000)
    child.close()
    assert done.exists()  # waited for
    child.close()  # and only once


def test_the_child_never_collects_what_it_inherits(tmp_path):
    """A finaliser of the build's garbage (a library's object, tied to a thread that the fork did
    not copy) must not run in the child: once seen as a crash there. Only the build runs it."""
    log = tmp_path / "finalised"
    gc.disable()
    try:
        Finalised(log)
        fork.Forked(gc.collect).result()
        gc.collect()
    finally:
        gc.enable()
    assert log.read_text(encoding="utf-8").split() == [str(os.getpid())]


def test_a_waiting_child_gets_ready_first_and_then_does_what_it_is_given(tmp_path):
    """fork.Waiting: `prepare` runs at once (before the build knows what to give it), `work` on
    what it is given; given nothing, the child answers None once ready."""
    ready = tmp_path / "ready"
    child = fork.Waiting(lambda: ready.write_text(str(time.monotonic())), lambda jobs: (os.getpid(), jobs, time.monotonic()))
    time.sleep(0.2)
    given = time.monotonic()
    child.give([("migration", "migration-2024")] * 10_000)  # more than a pipe holds at once
    pid, jobs, worked = child.result()
    assert pid != os.getpid() and jobs == [("migration", "migration-2024")] * 10_000
    assert float(ready.read_text(encoding="utf-8")) < given < worked
    assert fork.Waiting(lambda: None, lambda jobs: 1 / 0).result() is None


def test_a_waiting_child_never_given_work_is_ended_not_waited_for(tmp_path):
    """A build that finds nothing for the child to do (or fails first) ends it: its preparing
    (loading pandas) would only take processor time from the build."""
    done = tmp_path / "done"
    child = fork.Waiting(lambda: time.sleep(30) or done.write_text("x"), lambda jobs: jobs)
    started = time.monotonic()
    child.close()
    assert time.monotonic() - started < 10 and not done.exists()
    with pytest.raises(ProcessLookupError):  # ended, and reaped
        os.kill(child.pid, 0)
    child.close()  # and only once


def test_a_waiting_child_that_ended_before_it_was_given_work_fails_as_any_child():
    child = fork.Waiting(lambda: os._exit(3), lambda jobs: jobs)
    time.sleep(0.2)
    child.give(["x" * 1_000_000])  # no one reads: not an error here
    with pytest.raises(fork.Failed):
        child.result()
    assert fork.Waiting(lambda: os._exit(3), lambda jobs: jobs).result_or("done here") == "done here"


@pytest.mark.parametrize("kind", ["forked", "waiting"])
def test_ctrl_c_while_the_build_waits_for_the_answer_ends_the_child_and_stays_an_interrupt(kind, interrupt_soon):
    """The build's cleanup (`close`, in a `finally`) after Ctrl+C in `result` ends the child without
    an error of its own: closing the pipe a second time once said "Bad file descriptor", which
    took the place of the interrupt (a build server's build said that instead of "interrupted")."""
    if kind == "forked":
        child = fork.Forked(lambda: time.sleep(1) or b"y" * 1_000_000)
    else:
        child = fork.Waiting(lambda: None, lambda jobs: time.sleep(1) or jobs)
        child.give(b"y")  # small: given at once, well before the Ctrl+C
    with pytest.raises(KeyboardInterrupt):
        try:
            child.result()
        finally:
            child.close()
    with pytest.raises(ChildProcessError):  # waited for, and only once
        os.waitpid(child.pid, 0)
    child.close()
