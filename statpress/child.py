"""A process the build talks to over pipes: Pagefind's service (search.py) and vl-convert's
process (drawing.py). Its standard error goes to a file, so that a full pipe never stalls it and
what it said last can be told when it stops."""

from __future__ import annotations

import fcntl
import os
import subprocess
import tempfile
from pathlib import Path


def with_engine() -> dict[str, str]:
    """The environment for a Python child that imports statpress: this one's, with the folder that
    holds the package first on its PYTHONPATH (the child need not start in the project)."""
    package = str(Path(__file__).resolve().parent.parent)
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package, os.environ.get("PYTHONPATH")]))}


# How much lower a checking child's priority is than the build's (os.nice): see `with_background`.
BACKGROUND = 10


def with_background(script: str) -> str:
    """The program `script` (for `python -c`), given a function `background()` that lowers its
    priority below the build's, once. The checks a build starts beside itself (which of the
    output's files changed, reuse.Signatures; the archive's entries, uptodate.ArchiveListing) take
    a second of processor time in a rebuild of 300 statistics, and most of their answers are
    waited for late, while a rebuild after a `tables.toml` change has the build itself and the
    child computing the tables to run on two cores as well: from `background()` on, a check takes
    what those leave (docs/scaling.md)."""
    return (f"import os\n_lowered = False\n\ndef background():\n    global _lowered\n"
            f"    if not _lowered:\n        os.nice({BACKGROUND})\n        _lowered = True\n\n{script}")


class Child:
    def __init__(self, command: list[str], env: dict[str, str] | None = None) -> None:
        self.errors = tempfile.TemporaryFile()
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=self.errors, env=env)
        self.stdin, self.stdout = self.process.stdin, self.process.stdout
        for pipe in (self.stdin, self.stdout):
            try:  # room for many pages or chart specifications: the build hands them over and goes on
                fcntl.fcntl(pipe, fcntl.F_SETPIPE_SZ, 1 << 20)
            except OSError:
                pass  # a smaller pipe only makes the two wait for each other more often

    def last_words(self) -> str:
        """Why it stopped, as it said on its standard error (once it has)."""
        self.process.wait()
        self.errors.seek(0)
        detail = self.errors.read().decode("utf-8", "replace").strip().splitlines()
        return detail[-1] if detail else f"it stopped (exit status {self.process.returncode})"

    def kill(self) -> None:
        """Stopped, killed if it still runs."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def close(self) -> None:
        """Its pipes and error file closed (once stopped, and whatever reads its output has ended)."""
        for pipe in (self.stdin, self.stdout, self.errors):
            try:
                pipe.close()
            except OSError:
                pass  # a pipe to a killed process: nothing left to flush
