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


def ahead(files: dict[str, bytes], cache: Path, made: dict[str, bytes] | None = None) -> threading.Thread:
    """Start compressing into the cache, in a thread, the copies of `files` that are slow to make
    (the assets' Brotli): begun when the build starts, this runs on the second core while the
    tables are computed and the charts drawn, instead of holding up the write stage of a build
    that finds the cache empty. A copy `made` ahead (by the name of its file) is put there as it
    is, once it is found to decompress to the file (a few milliseconds, where compressing the Vega
    runtime takes a second): one that does not (the runtime rebuilt without it) is made again.
    The write stage then reads the cache. Join the thread before writing. A failure here is left
    for the write stage to meet and report."""
    slow = {rel: data for rel, data in files.items()
            if PurePosixPath(rel).suffix in TEXT_SUFFIXES and compressors(rel)[".br"] is brotli_assets}
    made = made or {}

    def work() -> None:
        try:
            # the lowest priority: the build's own work (DuckDB, drawing the charts) goes first on
            # the second core, and this fills the time it leaves idle (measured: docs/scaling.md)
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        except OSError:
            pass  # a system without per-thread priorities compresses at the build's
        try:
            for rel, data in slow.items():
                path = cached(data, brotli_assets, ".br", cache)
                if path.exists():
                    continue  # made by an earlier build: nothing to read back here
                copy = made.get(PurePosixPath(rel).name)
                if copy is not None and decompresses_to(copy, data):
                    atomic.write(path, copy)
                else:
                    compressed(data, brotli_assets, ".br", cache)
        except OSError:
            pass  # the write stage compresses these itself, and says what went wrong

    thread = threading.Thread(target=work, name="compress-ahead", daemon=True)
    thread.start()
    return thread


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


def copies(rel: str, data: bytes, cache: Path | None = None, suffixes: tuple[str, ...] = ENCODINGS) -> dict[str, bytes]:
    """The precompressed copies of the file `rel` of the site (none for a file that is not text),
    by their paths: only those smaller than the file. `suffixes`: only the copies of these encodings."""
    if PurePosixPath(rel).suffix not in TEXT_SUFFIXES:
        return {}
    found = {rel + suffix: compressed(data, compressor, suffix, cache) for suffix, compressor in compressors(rel).items()
             if suffix in suffixes}
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
