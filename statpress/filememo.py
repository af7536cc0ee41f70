"""What a build computes from a file's bytes, kept between builds by the file's signature
(`.cache/files.pickle`), so that a file that did not change is not read again.

A rebuild of 300 statistics read every statistic's metadata, release calendar and About texts, and
every tables.toml, to hash or parse them, though one file had changed: about a third of a second
(docs/scaling.md). Like the up-to-date check (uptodate.py), which stats every input instead of
reading it, a memo entry stands for a file while its signature is the same: its size, its
modification and change times and its inode. Writing into a file changes its times, and its
change time cannot be set back (only the machine's clock can); replacing it changes its inode.

The file system's clock ticks in steps of a few milliseconds, so a file written twice within one
step, to the same size, keeps its signature. An entry is therefore kept only for a file that had
settled when it was read: changed more than SETTLE_NS before (git's "racily clean" entries are the
same problem). A file saved a moment ago is read again by the next build, and kept then.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, TypeVar

from . import atomic

T = TypeVar("T")
SETTLE_NS = 2_000_000_000  # far longer than any file system's clock step
FORMAT = 1


def signature(st: os.stat_result) -> str:
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}"


@dataclass
class FileMemo:
    """{(what, path): (signature, value)} for one build, read from and saved to `path` (None: a
    build without its cache, which keeps nothing and reads every file)."""
    path: Path | None = None
    known: dict[tuple[str, str], tuple[str, object]] = field(default_factory=dict)
    changed: bool = False
    # what this build took of each file: one version of it for the whole build (the content stage
    # and the page cache's keys hash the same files), and one stat, not one per question
    taken: dict[tuple[str, str], object] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None) -> "FileMemo":
        if path is None:
            return cls()
        try:
            with open(path, "rb") as f:
                version, known = pickle.load(f)
            if version == FORMAT and isinstance(known, dict):
                return cls(path, known)
        except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError):
            pass  # none yet, or damaged: every file is read
        return cls(path)

    def value(self, file: Path | str, what: str, derive: Callable[[bytes], T]) -> T:
        """`derive(bytes of file)`, taken from the memo while the file's signature is the noted one.
        `what` names the derivation: two kinds of value of one file are kept apart. Raises what
        opening or reading the file raises (OSError), and what `derive` raises."""
        return self.of_file(file, what, lambda f, st: derive(f.read()))

    def of_file(self, file: Path | str, what: str, derive: Callable[[BinaryIO, os.stat_result], T]) -> T:
        """`derive(the open file, its stat)`, as `value`: for what is made from a part of a file
        (a dataset's fingerprint hashes it in chunks, not read whole into memory)."""
        name = str(file)
        if (what, name) in self.taken:
            return self.taken[what, name]
        found = self.known.get((what, name)) if self.path is not None else None
        if found is not None and found[0] == signature(os.stat(name)):
            self.taken[what, name] = found[1]
            return found[1]
        with open(name, "rb") as f:
            # the signature before the bytes: a file written between the two is read again next time
            st = os.fstat(f.fileno())
            value = derive(f, st)
        if self.path is not None and time.time_ns() - st.st_ctime_ns > SETTLE_NS:
            self.known[what, name] = (signature(st), value)
            self.changed = True
        self.taken[what, name] = value
        return value

    def sha256(self, file: Path | str) -> str:
        """The SHA-256 of the file's bytes, in hex."""
        return self.value(file, "sha256", lambda data: hashlib.sha256(data).hexdigest())

    def save(self) -> None:
        """The memo written for the next build, if anything was added (files no longer there are
        dropped)."""
        if self.path is None or not self.changed:
            return
        known = {key: found for key, found in self.known.items() if os.path.exists(key[1])}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic.write(self.path, pickle.dumps((FORMAT, known), protocol=pickle.HIGHEST_PROTOCOL))
        except OSError:
            pass  # without it the next build reads the files
