"""Precompressed copies of the site's text files, for web servers that serve them as they are
(nginx `gzip_static` and `brotli_static`, Apache's rewrite rules in docs/publishing.md): a phone
then downloads a fraction of each page, and the server compresses nothing per request.

`page.html` gets `page.html.gz` (gzip, level 9) and `page.html.br` (Brotli) beside it. Both are
deterministic: gzip's header carries no file name and the time 0, and Brotli has none, so the same
site gives byte-identical files. A copy that would not be smaller is not written: the server then
sends the file itself.

Brotli's best quality (11) takes about 1 MB/s. The site's own assets (`assets/`: the Vega runtime,
the stylesheet, the scripts) are the same in every build and on every page, so they get it, kept in
a cache by the hash of their content and so compressed once; the Vega runtime's copy is made when
the runtime is (`vega.js.br`, committed beside it: `made_ahead`), since it alone would take a second
of every project's first build. Everything else grows with
the number of statistics (76 MB of text for 300 of them) and gets quality 6 and gzip's level 9,
both about 50-70 MB/s, from the bytes in memory. A file the previous site holds unchanged keeps
its copies: the write stage links them from there (statpress/reuse.py), so a rebuild compresses
only what changed. `precompress = false` in site.toml makes no copies at all.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path, PurePosixPath

import brotli

from . import atomic

# Text a browser or a client downloads. Images (PNG), spreadsheets (XLSX, already zip) and
# Pagefind's index fragments (already gzip) gain nothing.
TEXT_SUFFIXES = frozenset({".html", ".css", ".js", ".json", ".jsonld", ".svg", ".xml", ".atom", ".ics",
                           ".csv", ".txt", ".ris", ".px", ".webmanifest"})
TEXT_ENDINGS = tuple(sorted(TEXT_SUFFIXES))  # for str.endswith: splitext costs seconds over 100 000 files
ENCODINGS = (".gz", ".br")


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0)


def brotli_fast(data: bytes) -> bytes:
    return brotli.compress(data, quality=6, mode=brotli.MODE_TEXT)


ASSETS_QUALITY = 11  # the cache's entries are named by it: a copy made at another quality is not reused


def brotli_assets(data: bytes) -> bytes:
    return brotli.compress(data, quality=ASSETS_QUALITY, mode=brotli.MODE_TEXT)


def compressors(rel: str) -> dict:
    """The compressor of each encoding for a file at `rel` (a POSIX path) in the site."""
    return {".gz": gzipped, ".br": brotli_assets if rel.startswith("assets/") else brotli_fast}


def compressed(data: bytes, compressor, suffix: str, cache: Path | None) -> bytes:
    """`data` compressed by `compressor`, from the cache when it was done before (only the slow
    Brotli of the assets)."""
    if cache is None or compressor is not brotli_assets:
        return compressor(data)
    path = cached(data, compressor, suffix, cache)
    if path.exists():
        return path.read_bytes()
    result = compressor(data)
    atomic.write(path, result)
    return result


def cached(data: bytes, compressor, suffix: str, cache: Path) -> Path:
    """Where the cache keeps the copy of `data` that `compressor` makes."""
    return cache / f"{hashlib.sha256(data).hexdigest()[:40]}-{compressor.__name__}-{ASSETS_QUALITY}{suffix}"


def made_ahead(folder: Path) -> dict[str, bytes]:
    """The Brotli copies committed beside the assets in `folder` (`vega.js.br`, made with the
    runtime by scripts/vega-runtime/build.sh), by the name of the file each is a copy of."""
    return {path.name[:-len(".br")]: path.read_bytes() for path in sorted(folder.glob("*.br"))}


class Ahead:
    """Copies made before the write stage asks for them. The build hands over each file as soon as
    it has made it (the assets when it starts, each statistic's pages as they are rendered, the
    site's own files at the end), and threads at the lowest priority compress the text files in
    the time the build leaves a core idle: the second core while a rebuild renders, the build's
    own while it waits for drawings. The slow ones, the assets' Brotli, land in `cache` for later
    builds too (`compressed`); a copy `made` ahead (by the name of its file) is put there as it is,
    once it is found to decompress to the file (a few milliseconds, where compressing the Vega
    runtime takes a second). The write stage then takes each file's copies (`take`) if they were
    made from the very bytes it stages, and compresses anything else itself; a failure here (the
    cache's disk) is met there, when it takes them. Leaving it as a context manager drops the copies
    not taken."""

    def __init__(self, cache: Path | None, made: dict[str, bytes] | None = None):
        self.cache, self.made = cache, made or {}
        self.pool = ThreadPoolExecutor(len(os.sched_getaffinity(0)), thread_name_prefix="compress-ahead",
                                       initializer=lowest_priority)
        self.underway: dict[str, tuple[bytes, Future]] = {}

    def __enter__(self) -> "Ahead":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        # waits for the copies being made, a file each at most: an audit's cache folder is removed
        # once the build ends, and no thread may write into it after
        self.pool.shutdown(cancel_futures=True)
        self.underway = {}

    def add(self, files: dict) -> None:
        """The text files among `files` to compress, unless handed over already: those made by this
        build (bytes), not those taken from the live site (reuse.Known), which has their copies."""
        for rel, data in files.items():
            if data.__class__ is bytes and rel.endswith(TEXT_ENDINGS) and rel not in self.underway:
                self.underway[rel] = data, self.pool.submit(self.copies, rel, data)

    def copies(self, rel: str, data: bytes) -> dict[str, bytes]:
        made = self.made.get(PurePosixPath(rel).name) if rel.startswith("assets/") else None
        if made is not None and self.cache is not None and decompresses_to(made, data):
            path = cached(data, brotli_assets, ".br", self.cache)
            if not path.exists():
                atomic.write(path, made)
        return copies(rel, data, self.cache)

    def take(self, rel: str, data: bytes) -> Future | None:
        """The copies of `rel` being made ahead (a future of `copies`' answer), if they are being
        made of these bytes; else None, and the write stage makes them."""
        found = self.underway.pop(rel, None)
        return found[1] if found is not None and found[0] == data else None


def lowest_priority() -> None:
    """The calling thread at the lowest priority: the build's own work (DuckDB, drawing the charts,
    rendering) goes first, and compressing fills the time it leaves idle (measured: docs/scaling.md)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except OSError:
        pass  # a system without per-thread priorities compresses at the build's


def decompresses_to(copy: bytes, data: bytes) -> bool:
    try:
        return brotli.decompress(copy) == data
    except brotli.error:
        return False


def names(rel: str) -> list[str]:
    """The paths the copies of the file `rel` may have (none for a file that is not text)."""
    if not rel.endswith(TEXT_ENDINGS):
        return []
    return [rel + suffix for suffix in ENCODINGS]


@functools.lru_cache(maxsize=1)
def fingerprint() -> str:
    """How copies are made (this module's source): a copy made otherwise is not reused
    (statpress/reuse.py)."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def copies(rel: str, data: bytes, cache: Path | None = None) -> dict[str, bytes]:
    """The precompressed copies of the file `rel` of the site (none for a file that is not text),
    by their paths: only those smaller than the file."""
    if PurePosixPath(rel).suffix not in TEXT_SUFFIXES:
        return {}
    found = {rel + suffix: compressed(data, compressor, suffix, cache) for suffix, compressor in compressors(rel).items()}
    return {name: copy for name, copy in found.items() if len(copy) < len(data)}


def precompress(folder: Path, cache: Path | None = None, done: frozenset[str] = frozenset()) -> int:
    """Write the compressed copies of every text file under `folder` but those in `done` (paths
    relative to it, whose copies are written already); the number written."""
    written = 0
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if rel in done or path.suffix not in TEXT_SUFFIXES or not path.is_file():
            continue
        for name, copy in copies(rel, path.read_bytes(), cache).items():
            with open(folder / name, "xb") as f:  # never into an existing (perhaps linked) file
                f.write(copy)
            written += 1
    return written


def is_copy(path: Path) -> bool:
    """Whether `path` is a precompressed copy of another file of the site."""
    return path.suffix in ENCODINGS and path.with_suffix("").suffix in TEXT_SUFFIXES


def original(path: Path, data: bytes) -> tuple[Path, bytes]:
    """The file a precompressed copy stands for, and its content (for tests and audits that read
    every file of a site); any other file as it is."""
    if not is_copy(path):
        return path, data
    decompress = gzip.decompress if path.suffix == ".gz" else brotli.decompress
    return path.with_suffix(""), decompress(data)
