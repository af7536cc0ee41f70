"""The table cache: a release's computed, protected tables, kept by the hash of all they depend on.

A build that finds its key computes nothing: no data is read and nothing is rounded. The key
covers every input of the computation, so a stale entry can never be served:
- the statistic's tables.toml and confidentiality settings, and the release's period;
- stats/datasets.toml and every classification file;
- each dataset the statistic's tables.toml names (every string in it that is a declared dataset's
  name, tables.Outline: all those its tables read): its size, modification time and a hash of its
  first and last MiB (a Parquet file ends with its metadata: schema, row groups, statistics);
- the engine: statpress's, DuckDB's and pydantic's versions and the source of the modules that
  compute and check (an entry stands for a tables.toml that passed its check: a rebuild that
  finds it does not check the file again).

`build.py build --no-cache` computes everything again and writes no entry, for audits.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import pickle
from dataclasses import dataclass
from pathlib import Path

from . import __version__, atomic

# i18n.py and tomlfile.py with them: with pydantic, they decide which tables.toml passes its check,
# which a cached entry stands for (tables.Outline)
ENGINE_MODULES = ("tables.py", "measures.py", "expressions.py", "model.py", "data.py", "engines.py",
                  "spark.py", "confidentiality.py", "rounding.py", "cache.py", "i18n.py", "tomlfile.py")
CHUNK = 1 << 20


def file_fingerprint(path: Path) -> str:
    """Size, modification time and the first and last MiB of a file; every file of a folder."""
    if path.is_dir():
        return hashlib.sha256("".join(f"{p.relative_to(path)}\0{file_fingerprint(p)}\n"
                                      for p in sorted(path.rglob("*")) if p.is_file()).encode()).hexdigest()
    stat = path.stat()
    return _fingerprint(path.resolve(), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=4096)
def _fingerprint(path: Path, size: int, mtime_ns: int) -> str:
    """Read once per process for a given size and modification time: 300 statistics share datasets."""
    digest = hashlib.sha256(f"{size}:{mtime_ns}:".encode())
    with path.open("rb") as f:
        digest.update(f.read(CHUNK))
        if size > CHUNK:
            f.seek(max(CHUNK, size - CHUNK))
            digest.update(f.read())
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def engine_fingerprint() -> str:
    # the installed version, as DuckDB itself reports it, without loading DuckDB (0.05 s)
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256(f"{__version__}:duckdb {importlib.metadata.version('duckdb')}:"
                            f"pydantic {importlib.metadata.version('pydantic')}".encode())
    for name in ENGINE_MODULES:
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
        if not self.enabled:
            return
        atomic.write(self.folder / f"{key}.pickle", pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
