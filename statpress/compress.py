"""Precompressed copies of the site's text files, for web servers that serve them as they are
(nginx `gzip_static` and `brotli_static`, Apache's rewrite rules in docs/publishing.md): a phone
then downloads a fraction of each page, and the server compresses nothing per request.

`page.html` gets `page.html.gz` (gzip, level 9) and `page.html.br` (Brotli) beside it. Both are
deterministic: gzip's header carries no file name and the time 0, and Brotli has none, so the same
site gives byte-identical files. A copy that would not be smaller is not written: the server then
sends the file itself. Each result is kept in a cache by the hash of the content, so a build
compresses only what changed.

Brotli's best quality (11) takes about 1 MB/s; quality 6 takes 15 MB/s or more and makes pages
and drawings less than 1 % larger than quality 9. The site's own assets (`assets/`: the Vega
runtime, the stylesheet, the scripts) are the same in every build and on every page, so they get
quality 11, once; everything else, which grows with the number of statistics, gets quality 6.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import brotli

from . import atomic

# Text a browser or a client downloads. Images (PNG), spreadsheets (XLSX, already zip) and
# Pagefind's index fragments (already gzip) gain nothing.
TEXT_SUFFIXES = frozenset({".html", ".css", ".js", ".json", ".jsonld", ".svg", ".xml", ".atom", ".ics",
                           ".csv", ".txt", ".ris", ".px", ".webmanifest"})
ENCODINGS = (".gz", ".br")


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0)


def brotli_fast(data: bytes) -> bytes:
    return brotli.compress(data, quality=6, mode=brotli.MODE_TEXT)


def brotli_best(data: bytes) -> bytes:
    return brotli.compress(data, quality=11, mode=brotli.MODE_TEXT)


def compressors(rel: Path) -> dict:
    """The compressor of each encoding for a file at `rel` in the site."""
    return {".gz": gzipped, ".br": brotli_best if rel.parts[0] == "assets" else brotli_fast}


def compressed(data: bytes, compressor, suffix: str, cache: Path | None) -> bytes:
    """`data` compressed by `compressor`, from the cache when it was done before."""
    if cache is None:
        return compressor(data)
    path = cache / (hashlib.sha256(data).hexdigest()[:40] + "-" + compressor.__name__ + suffix)
    if path.exists():
        return path.read_bytes()
    result = compressor(data)
    atomic.write(path, result)
    return result


def precompress(folder: Path, cache: Path | None = None) -> int:
    """Write the compressed copies of every text file under `folder`; the number written."""
    written = 0
    for path in sorted(folder.rglob("*")):
        if path.suffix not in TEXT_SUFFIXES or not path.is_file():
            continue
        data = path.read_bytes()
        for suffix, compressor in compressors(path.relative_to(folder)).items():
            smaller = compressed(data, compressor, suffix, cache)
            if len(smaller) < len(data):
                path.with_name(path.name + suffix).write_bytes(smaller)
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
