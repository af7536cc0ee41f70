"""What a build is doing while it works, and how long each stage took.

On a terminal a live display (rich) names the stage and the statistic being computed and
vanishes when the build ends; otherwise (a log, a timer's journal) each stage writes one plain
line when it ends. `--quiet` shows neither, `--verbose` adds a line per statistic and release.
Whatever is shown, every stage's time is kept, for the summary at the end of a build
(`time: content 0.0 s, data 0.4 s, …`).

Stages nest (data is read while tables are computed, rounding and charts are parts of a
statistic's publication): a stage's time excludes the stages inside it, so the summary adds up
to the build's time.
"""

from __future__ import annotations

import contextlib
import sys
import time
from contextvars import ContextVar
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")

STAGES = ("content", "data", "tables", "rounding", "charts", "pages", "archive", "write")


class Progress:
    def __init__(self, mode: str = "silent", verbose: bool = False, stream=None):
        """mode: 'rich' (a live display), 'plain' (a line per stage), 'silent' (times only)."""
        self.mode, self.verbose = mode, verbose
        self.stream = stream or sys.stdout
        self.times: dict[str, float] = {}
        self.stack: list[list] = []  # [stage, start, time of nested stages]
        self.live = None
        self.task = None

    @classmethod
    def for_terminal(cls, quiet: bool = False, verbose: bool = False) -> "Progress":
        if quiet:
            return cls("silent")
        return cls("rich" if sys.stdout.isatty() else "plain", verbose)

    # -- timing ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def stage(self, name: str, what: str = "") -> Iterator[None]:
        """Time a stage (nested stages are subtracted); say it started and ended."""
        outermost = not any(s[0] == name for s in self.stack)
        self.stack.append([name, time.perf_counter(), 0.0])
        if outermost:
            self._show(what or name)
        try:
            yield
        finally:
            _, start, nested = self.stack.pop()
            spent = time.perf_counter() - start
            self.times[name] = self.times.get(name, 0.0) + spent - nested
            if self.stack:
                self.stack[-1][2] += spent
            if outermost and not self.stack and self.mode == "plain" and what:
                self.line(f"[{name}] {what} ({spent:.1f} s)")

    def track(self, items: Iterable[T], name: str, label) -> Iterator[T]:
        """Iterate over `items` (statistics, releases) showing each with `label(item)`."""
        items = list(items)
        if self.mode == "rich" and self.live is not None:
            self.live.update(self.task, total=len(items), completed=0)
        for i, item in enumerate(items, 1):
            if self.mode == "rich" and self.live is not None:
                self.live.update(self.task, description=f"{name}: {label(item)}", completed=i - 1)
            if self.verbose and self.mode != "rich":
                self.line(f"  [{name}] {i}/{len(items)} {label(item)}")
            yield item
        if self.mode == "rich" and self.live is not None:
            self.live.update(self.task, completed=len(items))

    @staticmethod
    def summary_of(times: dict[str, float]) -> str:
        """One line: every stage's time, in the order the build runs them."""
        order = [s for s in STAGES if s in times] + [s for s in times if s not in STAGES]
        return "time: " + ", ".join(f"{s} {times[s]:.1f} s" for s in order)

    # -- showing ---------------------------------------------------------------------------

    def line(self, text: str) -> None:
        if self.mode == "rich" and self.live is not None:
            self.live.console.print(text, highlight=False, markup=False)
        elif self.mode != "silent":
            print(text, file=self.stream, flush=True)

    def _show(self, what: str) -> None:
        if self.mode == "rich" and self.live is not None:
            self.live.update(self.task, description=what, total=None, completed=0)

    @contextlib.contextmanager
    def running(self) -> Iterator["Progress"]:
        """The live display for the duration of a build (rich mode), and this reporter as current."""
        token = CURRENT.set(self)
        try:
            if self.mode == "rich":
                from rich.progress import (BarColumn, MofNCompleteColumn, SpinnerColumn, TextColumn,
                                           TimeElapsedColumn)
                from rich.progress import Progress as Display
                with Display(
                        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), transient=True) as live:
                    self.live, self.task = live, live.add_task("starting", total=None)
                    yield self
                self.live = None
            else:
                yield self
        finally:
            CURRENT.reset(token)


CURRENT: ContextVar[Progress] = ContextVar("statpress_progress", default=Progress("silent"))


def stage(name: str, what: str = ""):
    """Time a stage with the build's reporter (a silent one outside a build)."""
    return CURRENT.get().stage(name, what)


def track(items: Iterable[T], name: str, label) -> Iterator[T]:
    return CURRENT.get().track(items, name, label)
