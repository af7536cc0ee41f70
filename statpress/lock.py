"""One build at a time: an exclusive lock on the archive and on each output folder.

Two builds running at once used to share staging folders, publish a site mixed from both, and
freeze the same release twice. A build now holds an exclusive `flock` on a lock file beside
`archive/` (for the whole build: it reads, repairs and extends the archive) and one beside its
output folder (the folder itself is replaced by a rename, so it cannot carry the lock). Locks are
always taken in that order, so two builds cannot wait for each other. The kernel releases a lock
when its process ends, even by SIGKILL: a crashed build never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path
from typing import Iterator

from .errors import BuildError

POLL = 0.2  # seconds between attempts while another build holds the lock


def lock_file(folder: Path) -> Path:
    """The lock file of a folder: beside it, hidden, named after it."""
    folder = folder.resolve()
    return folder.parent / f".{folder.name}.lock"


@contextlib.contextmanager
def exclusive(folder: Path, wait: float) -> Iterator[None]:
    """Hold the lock of `folder`, waiting at most `wait` seconds for another build to finish."""
    path = lock_file(folder)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise BuildError(f"{path}: cannot create the lock file ({exc.strerror}); "
                         f"check the permissions of {path.parent}") from None
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise BuildError(f"{folder}: another build is using it (lock {path} held); waited "
                                     f"{wait:g} s. Run again when that build has finished, or give "
                                     "--wait SECONDS") from None
                time.sleep(POLL)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
