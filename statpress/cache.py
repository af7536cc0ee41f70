"""The table cache: a release's computed, protected tables, kept by the hash of all they depend on.

A build that finds its key computes nothing: no data is read and nothing is rounded. The key
covers every input of the computation, so a stale entry can never be served:
- the statistic's tables.toml and confidentiality settings, and the release's period;
- stats/datasets.toml and every classification file;
- each dataset the statistic's tables.toml names (every string in it that is a declared dataset's
  name, tables.Outline: all those its tables read): its size, modification time and a hash of all
  its bytes (content_digest);
- the engine: statpress's, DuckDB's and pydantic's versions and the source of the modules that
  compute and check (an entry stands for a tables.toml that passed its check: a rebuild that
  finds it does not check the file again).

An entry is read in two parts (`PickleCache.put_split`): what every build needs of a release (its
key figure, charts, rounding audit and number of tables) at once, its tables only when its pages are
rendered again (`Deferred`).

`build.py build --no-cache` computes everything again and writes no entry, for audits.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable

from . import __version__, atomic
from .filememo import FileMemo

# The code that makes a release's cached tables: computes, protects (publish.protect keeps the inner
# cells out of the entry) and lays them out (publish.store_release); i18n.py and tomlfile.py with
# them: with pydantic, they decide which tables.toml passes its check, which an entry stands for
# (tables.Outline)
ENGINE_MODULES = ("tables.py", "measures.py", "expressions.py", "model.py", "data.py", "engines.py",
                  "spark.py", "confidentiality.py", "rounding.py", "publish.py", "cache.py", "i18n.py", "tomlfile.py")
CHUNK = 1 << 20


def file_fingerprint(path: Path, memo: FileMemo | None = None) -> str:
    """Size, modification time and content of a file (content_digest); every file of a folder.
    `memo` keeps it between builds while the file's signature is the same (filememo.py): a file
    is read only when it may have changed."""
    if path.is_dir():
        return hashlib.sha256("".join(f"{p.relative_to(path)}\0{file_fingerprint(p, memo)}\n"
                                      for p in sorted(path.rglob("*")) if p.is_file()).encode()).hexdigest()
    if memo is not None:
        return memo.of_file(path, "content fingerprint", lambda f, st: content_digest(f, st.st_size, st.st_mtime_ns))
    stat = path.stat()
    return _fingerprint(path.resolve(), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=4096)
def _fingerprint(path: Path, size: int, mtime_ns: int) -> str:
    """Read once per process for a given size and modification time: 300 statistics share datasets."""
    with path.open("rb") as f:
        return content_digest(f, size, mtime_ns)


def content_digest(f: BinaryIO, size: int, mtime_ns: int) -> str:
    """The hash of an open file's size, modification time and every byte. Not a Parquet file's
    metadata alone: an export written into the file it replaces, its size and time kept, can
    change a value and no column chunk's size or statistics, and the tables and passed check of
    the file as it was would then be served. Hashing is done once per change of the file (the
    build's file memo keeps the fingerprint while its size, times and inode stay), and costs
    0.3 s for the 10⁸-row register of bench/bench_scale.py (245 MB), which the tables then read
    whole anyway."""
    digest = hashlib.sha256(f"{size}:{mtime_ns}:".encode())
    for block in iter(lambda: f.read(CHUNK), b""):
        digest.update(block)
    return digest.hexdigest()


def engine_fingerprint() -> str:
    return code_fingerprint(ENGINE_MODULES, ("duckdb", "pydantic"))


@functools.lru_cache(maxsize=16)  # 0.02 s a lookup: the metadata of every installed package is scanned
def installed_version(package: str) -> str:
    return importlib.metadata.version(package)


@functools.lru_cache(maxsize=8)
def code_fingerprint(modules: tuple[str, ...], packages: tuple[str, ...]) -> str:
    """The code a cached value was made by: statpress's version, the source of its `modules` and the
    installed versions of `packages` (as their metadata says: DuckDB's without loading it, 0.05 s)."""
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256(":".join([__version__] + [f"{name} {installed_version(name)}"
                                                       for name in packages]).encode())
    for name in modules:
        digest.update((here / name).read_bytes())
    return digest.hexdigest()


@dataclass
class PickleCache:
    """Values kept in a folder by key: computed tables (.cache/tables), drawn charts (.cache/charts)."""
    folder: Path
    enabled: bool = True

    def has(self, key: str) -> bool:
        return self.enabled and (self.folder / f"{key}.pickle").exists()

    def get(self, key: str):
        path = self.folder / f"{key}.pickle"
        if not self.enabled or not path.exists():
            return None
        try:
            with path.open("rb") as f:
                return pickle.load(f)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            return None  # a damaged or outdated entry is computed again

    def put(self, key: str, value) -> None:
        self.put_split(key, value)

    def put_split(self, key: str, head, *body) -> None:
        """`head` and then `body`, one pickle after the other in one entry: `get` reads the head,
        `get_split` gives the head at once and the body when asked."""
        if not self.enabled:
            return
        atomic.write(self.folder / f"{key}.pickle",
                     b"".join(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL) for value in (head, *body)))

    def get_split(self, key: str) -> tuple[object, Callable[[], object]] | None:
        """(the head, a function reading the body) of an entry `put_split` wrote, or None. Reading
        the body raises what reading the file does (OSError, pickle.UnpicklingError, EOFError) if the
        entry was damaged since."""
        head = self.get(key)
        if head is None:
            return None
        path = self.folder / f"{key}.pickle"

        def body():
            with path.open("rb") as f:
                pickle.load(f)
                return pickle.load(f)
        return head, body


class Deferred(Sequence):
    """A list of a known length, read when an item is first asked for: the tables of a cached
    release are read only if its pages are rendered again. Reading all 300 statistics' tables
    took 0.06 s of a rebuild in which one statistic changed."""

    def __init__(self, length: int, load: Callable[[], list]):
        self.length, self.load, self.items = length, load, None

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index):
        return self.loaded()[index]

    def __iter__(self):
        return iter(self.loaded())

    def __repr__(self) -> str:
        return f"Deferred({self.items!r})" if self.items is not None else f"Deferred(<{self.length} not read>)"

    def loaded(self) -> list:
        if self.items is None:
            self.items = self.load()
        return self.items
