"""The page cache: a statistic's page and downloads in one language, kept between builds by the
hash of everything they are made from (issue #12).

Rendering a statistic's page means localising its tables, reading its charts back, formatting
every figure and running the templates: for 300 statistics in two languages, seven seconds of a
rebuild in which one of them changed. A page depends on more than its statistic, and a key that
misses one input would publish a stale page, so the key is the page's whole dependency record:

- how pages are made: statpress's own source, the versions of the libraries that render,
  format and draw, every file of templates/ and of locales/ (the About headings of every
  language decide how About texts are read), the language's catalogue as loaded, the site's
  settings in that language, the renderer's language folder and address, and whether it is a
  preview;
- the statistic: every file of its content folder (metadata, releases, About texts), and which of
  its releases are published, previous and announced next at the build's instant;
- its tables: the table cache's key (cache.py: tables.toml, datasets, classifications,
  confidentiality settings, the period); no key (a dataset on a cluster) means no page cache;
- the statistics it links to: their metadata (statistic.toml), the only part of them its page is
  given;
- which archived snapshots its links point to, in which language (render.Renderer.snapshot_link).

An entry holds no bytes: only each file's path and SHA-256, its sitemap entry and its node of the
data catalogue. The files are those the live site holds: an entry is used only when the previous
build's note (reuse.py) says the output has every one of them, unchanged, and the write stage then
links them from there. Anything else, a fresh output folder included, renders the page again.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

from . import __version__, calendar, reuse, uptodate
from .content import Statistic
from .filememo import FileMemo
from .metadata import Node
from .render import Published, Renderer, StatisticPages

ENGINE = Path(__file__).resolve().parent
# what a page's bytes depend on besides statpress itself
PACKAGES = ("jinja2", "markupsafe", "babel", "markdown", "nh3", "vl-convert-python", "altair", "lxml", "pandas",
            "numpy", "pyarrow", "pydantic", "xlsxwriter")


@dataclass(frozen=True)
class Entry:
    files: dict[str, str]  # path in the site → SHA-256 of its bytes
    sitemap: tuple
    dataset: Node | None  # its node of the data catalogue, as JSON text (metadata.Node)


@functools.lru_cache(maxsize=1)
def engine() -> str:
    digest = hashlib.sha256(__version__.encode())
    for name in PACKAGES:
        try:
            digest.update(f"{name} {importlib.metadata.version(name)}\n".encode())
        except importlib.metadata.PackageNotFoundError:
            digest.update(f"{name} none\n".encode())
    for path in sorted(ENGINE.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(ENGINE).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


class Digests:
    """The SHA-256 of folders and files, each read once per build: every language's pages are keyed
    by their statistic's content folder, and every page by the metadata of the statistics it links
    to. Made anew for each build, since content changes between the builds of `serve`; a file that
    did not change since the last build is not read again (`memo`, filememo.py)."""

    def __init__(self, memo: FileMemo | None = None) -> None:
        self.known: dict[Path, str] = {}
        self.memo = memo or FileMemo()

    def folder(self, folder: Path) -> str:
        if folder not in self.known:
            self.known[folder] = folder_digest(folder, self.memo)
        return self.known[folder]

    def file(self, path: Path) -> str:
        if path not in self.known:
            self.known[path] = self.memo.sha256(path)
        return self.known[path]


def folder_digest(folder: Path, memo: FileMemo | None = None) -> str:
    """Every file below `folder`, by path and SHA-256 of its bytes."""
    memo = memo or FileMemo()
    digest = hashlib.sha256()
    root = str(folder)
    for rel in sorted((rel for rel, _ in uptodate.files_below(root)), key=lambda rel: rel.split("/")):
        digest.update(f"{rel}\0{memo.sha256(f'{root}/{rel}')}\0".encode())
    return digest.hexdigest()


def renderer_key(r: Renderer, site_json: str, preview: bool, digests: Digests | None = None) -> str:
    """How the pages of one language are made (see the module's docstring)."""
    # every language's catalogue (locales/), not only this one's: the About headings of each
    # language decide how every statistic's About texts are read
    digests = digests or Digests()
    parts = [engine(), digests.folder(r.templates), digests.folder(r.templates.parent / "locales"), r.locale.language,
             r.locale.catalogue.model_dump_json(), site_json, r.prefix, r.base_url, repr(list(r.languages.items())),
             str(preview)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def key(renderer: str, p: Published, tables: str, related: list[Path], links: str, digests: Digests) -> str:
    """The key of a statistic's pages: `renderer` from renderer_key, `tables` the table cache's key,
    `related` the metadata files (statistic.toml) of the statistics it links to, `links` where its
    links to archived snapshots point (as text: the renderer's snapshot links' repr); the files are
    read through `digests`."""
    releases = [p.release, p.next_release, *p.previous]
    parts = [renderer, digests.folder(p.statistic.folder), str(p.embargoed), tables,
             repr([r.id if r else None for r in releases]), links]
    parts += [f"{path}:{digests.file(path)}" for path in related]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def listing_state(published: list[Published], now, digests: Digests) -> list[tuple[Statistic, str]]:
    """What the pages that list statistics are made from of each statistic, in order, the same in
    every language (listing_key): its metadata and releases (statistic.toml, releases.toml: the
    About texts are on its own page only), and which of its releases are published and announced
    at the build's instant `now`. Taken once for all languages: asking the calendar of 300
    statistics twice took 0.05 s of every rebuild."""
    state = []
    for p in published:
        s = p.statistic
        releases = [p.release, p.next_release, *p.previous]
        state.append((s, repr((s.id, digests.file(s.folder / "statistic.toml"), digests.file(s.folder / "releases.toml"),
                               [r.id if r else None for r in releases], p.embargoed,
                               [r.id for r in calendar.published_releases(s, now)],
                               [r.id for r in calendar.upcoming(s, now)]))))
    return state


def listing_key(renderer: str, state: list[tuple[Statistic, str]], links) -> str:
    """The key of the pages that list statistics in one language (the front page, the calendar and
    its feeds, the archive's index, and the symbols and search pages with them): `renderer` from
    renderer_key, each statistic's `listing_state`, and where `links(statistic)` says its snapshots
    are linked in the language. The instant itself is not in the key: the pages show what it makes
    due, not the instant."""
    parts = [renderer, "listing", *(f"{text}{links(s)}" for s, text in state)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def entry(pages: StatisticPages) -> Entry:
    return Entry({name: reuse.digest(data) for name, data in pages.files.items()}, pages.sitemap, pages.dataset)


def pages(found: Entry, previous: reuse.Previous) -> StatisticPages | None:
    """The pages of an entry as files of the previous site, or None when it lacks one of them or
    one changed since it was written."""
    files_found = files(found.files, previous)
    return None if files_found is None else StatisticPages(files_found, found.sitemap, found.dataset)


def files(found: dict[str, str], previous: reuse.Previous) -> dict[str, reuse.Known] | None:
    """Files noted by path and SHA-256, as the previous site holds them; None when it lacks one of
    them or one changed since it was written."""
    if not all(previous.unchanged(name, sha) for name, sha in found.items()):
        return None
    return {name: reuse.Known(previous.path(name), sha) for name, sha in found.items()}
