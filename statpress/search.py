"""Search stage: a Pagefind index of the published pages, in parts, fed to Pagefind as the build
makes them.

Pagefind (the `pagefind-bin` package ships its binary) runs as a service (`pagefind --service`)
from the start of the pages stage: each page it would index is handed to it from memory as soon
as it is rendered, and it indexes them on the other core while the build renders the rest, makes
the archive and stages the site. The write stage then asks for the index's files and stages them
like any other file of the site, into `pagefind/`; the search page loads the index and Pagefind's
interface from there, so a search asks no other host.

**The index is made in parts** (`Part`), each holding the pages of the statistics whose names
fall into it (`part_of`), about `STATISTICS_PER_PART` statistics each. Pagefind cannot replace one
page of an index: it indexes every page again, 3–4 ms a page, two seconds for the 600 pages of
300 statistics. A part whose pages are exactly those of the previous build, in the same order,
is not indexed again: its files are those the live site holds (kept in `.cache/search/` by the
hash of its pages, as the page cache keeps pages, statpress/pagecache.py). A page rendered afresh
marks its part as changed, and from then on the part's pages are handed over as they come. The
first part with pages (the primary) lies in `pagefind/` with Pagefind's scripts and WebAssembly;
each other part in `pagefind/part-N/`, with only its index files, and `pagefind/parts.js` lists
them for the search page, whose Pagefind merges them (`mergeIndex`; a merged part loads no
WebAssembly of its own). A site of fewer than `STATISTICS_PER_PART` statistics has one part.

The index holds exactly the pages being published: a release not yet due is in no page, hence in
no index fragment. Only the pages with an element marked `data-pagefind-body` are given to
Pagefind (the current statistic pages, not the archive, calendar or symbol pages), and only that
element is indexed, without the figure cells of its tables (`FIGURES`). Pagefind's output is the
same for the same pages given in the same order, whatever the timing (tests/test_search.py,
tests/test_determinism.py).

The service speaks base64-encoded JSON messages, each ended by a comma, on its standard input and
output: the protocol of Pagefind's own Python and Node wrappers. statpress talks it itself because
the Python wrapper (`pagefind` on PyPI) waits 0.1 s before reading each answer, a minute for the
600 pages of a 300-statistic site; the pinned version (requirements.txt) keeps the protocol fixed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import queue
import select
import shutil
import threading
import zlib
from dataclasses import dataclass, field
from typing import IO

from . import reuse
from .cache import PickleCache, installed_version
from .child import Child
from .errors import BuildError

OUTPUT = "pagefind"
# The figures of the build's own tables and chart tables are not indexed: a number is no word a
# reader searches for (its digit groups became tokens such as "66" and "077"), and they were two
# thirds of the word index every search downloads and a quarter of Pagefind's work. The labels
# of their rows and columns (<th>) are indexed, and so are tables written in About texts.
FIGURES = "table.figures td"
BODY = b"data-pagefind-body"
# The cache entry that says, by their SHA-256, which pages of the last build carry BODY
BODIES = "pages-with-body"
# About 60 pages a part in two languages: indexed again in a quarter of a second, while the
# search page loads one more small index (its entry and metadata files) per part.
STATISTICS_PER_PART = 30
# What a part other than the primary keeps of Pagefind's files: the index, not the scripts.
PART_FILES = ("pagefind-entry.json", "index/", "fragment/", "filter/")


def pagefind_executable():
    try:
        from pagefind_bin import get_executable
        return get_executable()
    except (ImportError, FileNotFoundError) as exc:
        raise BuildError(f"search: Pagefind is not installed ({exc}); run pip install -r requirements.txt") from None


def reads(rel: str) -> bool:
    """Whether Pagefind may be given the file `rel` of the site (a POSIX path): the pages that can carry
    data-pagefind-body, the site's own pages at most two folders deep (<statistic>/index.html,
    <language>/<statistic>/index.html). Archived snapshots lie deeper (archive/<statistic>/<release>/…)
    and are never indexed: their thousands of pages took Pagefind a second in every build of a
    300-statistic site, for the same index."""
    return (rel == "index.html" or rel.endswith("/index.html")) and rel.count("/") <= 2


def part_of(rel: str, languages: tuple[str, ...], parts: int) -> int:
    """The part holding the page `rel`: its statistic's (`part_named`), by the page's folder, below
    a language's folder."""
    folders = rel.split("/")
    return part_named(folders[1] if len(folders) > 2 and folders[0] in languages else folders[0], parts)


def part_named(name: str, parts: int) -> int:
    """The part holding the pages of the statistic whose folder is `name`: by that name, so that
    its pages in every language lie in one part, and a statistic keeps its part while others are
    added, as long as the number of parts stays the same."""
    return zlib.crc32(name.encode("utf-8")) % parts


@dataclass
class Part:
    """One part of the index: its pages in the order given, and its Pagefind index once it has one."""
    number: int
    pages: list[tuple[str, bytes | reuse.Known]] = field(default_factory=list)
    index_id: int | None = None  # its index in the service, once its pages are being given
    asked: int | None = None  # the message asking for its files
    kept: dict[str, reuse.Known] | None = None  # its files in the live site, when they are still right

    def key(self, config: str) -> str:
        """What the part's files are made from: Pagefind, its settings and the pages, in order."""
        digest = hashlib.sha256(config.encode())
        for rel, data in self.pages:
            sha = data.sha if isinstance(data, reuse.Known) else reuse.digest(data)
            digest.update(f"\n{rel}\0{sha}".encode())
        return digest.hexdigest()


class Index:
    """Pagefind's indexing service, fed pages one by one (`add`), asked for its files at the end
    (`finish`, `files`). A context manager: leaving it stops the service, whatever happened.

    A thread writes the pages to the service, so that the build never waits for Pagefind to
    catch up. Its answers are read by the build itself, whenever it adds pages and at the end: a
    thread reading them as they came would take turns with the build for the interpreter, which
    slowed the build more than Pagefind's work on the other core did."""

    def __init__(self) -> None:
        self.service: Child | None = None
        self.outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self.writer: threading.Thread | None = None
        self.answers: dict[int | None, dict] = {}
        self.unread = b""  # the start of an answer not read whole yet
        self.last = 0  # the last message id sent
        self.language = "en"
        self.languages: tuple[str, ...] = ()
        self.parts: list[Part] = [Part(0)]
        self.previous: reuse.Previous | None = None
        self.cache: PickleCache | None = None
        self.finished = False
        self.seen: set[str] = set()  # every page looked at, given or not
        self.noted: dict[str, bool] = {}  # does the page with this SHA-256 carry BODY, as the last build found
        self.bodies: dict[str, bool] = {}  # the same, for this build's pages
        self.added: dict[str, int] = {}  # each page handed over, with the id of its message

    def __enter__(self) -> "Index":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self, language: str, languages: tuple[str, ...] = (), statistics: int = 1,
              previous: reuse.Previous | None = None, cache: PickleCache | None = None) -> None:
        """The service started, for a site in `language` whose other languages' pages lie in the
        folders `languages`, with `statistics` statistics. A part whose pages are those `previous`
        (the live site) was indexed from, as `cache` notes, is taken from there. The service
        runs at a lower priority than the build, whose work it must not hold up."""
        self.language, self.languages = language, tuple(languages)
        self.parts = [Part(n) for n in range(max(1, math.ceil(statistics / STATISTICS_PER_PART)))]
        self.previous, self.cache = previous, cache
        self.noted = (cache.get(BODIES) if cache is not None else None) or {}
        # through nice(1): lowered in the child before Pagefind starts its threads, which inherit it
        nice = [found, "-n", "10"] if (found := shutil.which("nice")) else []
        self.service = Child([*nice, str(pagefind_executable()), "--service"])
        self.writer = threading.Thread(target=self.send_all, args=(self.service.stdin,), daemon=True)
        self.writer.start()

    @property
    def config(self) -> dict:
        return {"force_language": self.language, "keep_index_url": True, "exclude_selectors": [FIGURES]}

    def add(self, files: dict[str, bytes | reuse.Known]) -> None:
        """The pages of `files` that Pagefind reads (`reads`) and has not been given yet, in order:
        each to its part, and handed over at once if the part is being indexed again."""
        for rel in sorted(rel for rel in files if reads(rel) and rel not in self.seen):  # the whole site, once
            if self.finished:
                raise RuntimeError(f"{rel}: a page given to the search index after it was finished")
            self.seen.add(rel)
            data = files[rel]
            if not self.carries_body(data):
                continue
            part = self.parts[part_of(rel, self.languages, len(self.parts))]
            part.pages.append((rel, data))
            if part.index_id is not None:
                self.give(part, rel, data)
            elif isinstance(data, bytes):  # rendered afresh: the part is indexed again
                self.index(part)
        # the answers so far, without waiting: a site of thousands of pages must not fill the pipe,
        # or Pagefind would stop reading pages until the end
        while select.select([self.service.stdout], [], [], 0)[0] and self.receive():
            pass

    def expect(self, names: list[str]) -> None:
        """The statistics whose folders are `names` will have their pages rendered afresh after
        those around them (their tables or charts are still being made): their parts are indexed
        again from now on, each page handed over as it comes. Left to the first page rendered
        afresh, a part's sixty pages went to Pagefind at once as the build's last pages were made,
        and their indexing was the tail of a rebuild after one statistic's tables changed. The
        pages are given in the same order either way: the index is the same."""
        for name in names:
            part = self.parts[part_named(name, len(self.parts))]
            if part.index_id is None:
                self.index(part)

    def carries_body(self, page: bytes | reuse.Known) -> bool:
        """Does the page carry BODY? Noted by its hash for the next build, which then need not read
        it from disk to know: reading (and hashing, see reuse.Known) the 600 unchanged pages of 300
        statistics took 0.07 s of a rebuild."""
        if isinstance(page, bytes):
            found = self.bodies[reuse.digest(page)] = BODY in page
            return found
        if page.sha not in self.bodies:
            noted = self.noted.get(page.sha)
            self.bodies[page.sha] = noted if noted is not None else BODY in page.read()
        return self.bodies[page.sha]

    def index(self, part: Part) -> None:
        """A new index for `part` in the service, given the part's pages so far."""
        part.index_id = self.answer(self.send({"type": "NewIndex", "config": self.config}))["index_id"]
        for rel, data in part.pages:
            self.give(part, rel, data)

    def give(self, part: Part, rel: str, data: bytes | reuse.Known) -> None:
        self.added[rel] = self.send({"type": "AddFile", "index_id": part.index_id, "file_path": rel,
                                     "url": None, "file_contents": reuse.content(data).decode("utf-8")})

    def finish(self) -> None:
        """Every page given: each part not indexed again is taken from the live site if it holds
        its files, else indexed now, and Pagefind starts making the files of the parts it indexed."""
        if self.finished:
            return
        self.finished = True
        primary = self.primary()
        for part in self.parts:
            if part.index_id is None and (part.pages or part is primary):
                part.kept = self.kept(part)
                if part.kept is None:
                    self.index(part)
            if part.index_id is not None and (part.pages or part is primary):  # expected, but given none
                part.asked = self.send({"type": "GetFiles", "index_id": part.index_id})

    def primary(self) -> Part:
        """The part the search page loads first, with Pagefind's scripts: the first with pages."""
        return next((part for part in self.parts if part.pages), self.parts[0])

    def folder(self, part: Part) -> str:
        return f"{OUTPUT}/" if part is self.primary() else f"{OUTPUT}/part-{part.number}/"

    def part_key(self, part: Part) -> str:
        version = installed_version("pagefind-bin")  # once a build, not once a part
        return part.key(f"pagefind {version}\n{json.dumps(self.config, sort_keys=True)}\n{self.folder(part)}")

    def kept(self, part: Part) -> dict[str, reuse.Known] | None:
        """The part's files as the live site holds them, if it was made from exactly these pages."""
        found = self.cache.get(self.part_key(part)) if self.cache is not None and self.previous is not None else None
        if found is None or not all(self.previous.unchanged(rel, sha) for rel, sha in found.items()):
            return None
        return {rel: reuse.Known(self.previous.path(rel), sha) for rel, sha in found.items()}

    def files(self) -> dict[str, bytes | reuse.Known]:
        """The index's files, by their paths in the site, once every page given has been indexed:
        every part's, and `parts.js`, which lists the parts other than the primary."""
        self.finish()
        files: dict[str, bytes | reuse.Known] = {}
        for part in self.parts:
            if part.kept is not None:
                files.update(part.kept)
            elif part.asked is not None:
                made = self.made(part)
                if self.cache is not None:
                    self.cache.put(self.part_key(part), {rel: reuse.digest(data) for rel, data in made.items()})
                files.update(made)
        if self.cache is not None and self.bodies != self.noted:
            self.cache.put(BODIES, self.bodies)
            self.noted = self.bodies
        merged = [f"part-{part.number}/" for part in self.parts if part.pages and part is not self.primary()]
        files[f"{OUTPUT}/parts.js"] = ("// The parts of the search index merged into the first (statpress/search.py)\n"
                                       f"window.statpressSearchParts = {json.dumps(merged)};\n").encode("utf-8")
        return files

    def made(self, part: Part) -> dict[str, bytes]:
        """The files Pagefind made for `part`, in its folder: all of them for the primary, only the
        index for the others."""
        answer = self.answer(part.asked)
        for rel, _ in part.pages:
            if self.answers.get(self.added.get(rel), {}).get("type") == "Error":
                raise BuildError(f"search: Pagefind failed on {rel}: {self.answers[self.added[rel]]['message']}")
        primary = part is self.primary()
        return {self.folder(part) + f["path"]: base64.b64decode(f["content"]) for f in answer["files"]
                if primary or f["path"].endswith(".pf_meta") or f["path"].startswith(PART_FILES)}

    def send(self, payload: dict) -> int:
        self.last += 1
        message = {"message_id": self.last, "payload": payload}
        self.outbox.put(base64.b64encode(json.dumps(message).encode("utf-8")) + b",")
        return self.last

    def answer(self, message: int) -> dict:
        """The service's answer to `message`, read with every answer before it; a BuildError if
        it failed or stopped."""
        while message not in self.answers and None not in self.answers:
            if not self.receive():
                raise BuildError(f"search: Pagefind failed: {self.service.last_words()}")
        payload = self.answers.get(message) or self.answers[None]  # None: a message it could not read
        if payload.get("type") == "Error":
            raise BuildError(f"search: Pagefind failed: {payload.get('message')}")
        return payload
    def receive(self) -> bool:
        """The answers the service has written (waiting for one if there is none yet); False once
        it has stopped."""
        chunk = self.service.stdout.read1(1 << 20)
        *complete, self.unread = (self.unread + chunk).split(b",")
        for data in complete:
            answer = json.loads(base64.b64decode(data))
            self.answers[answer.get("message_id")] = answer["payload"]
        return bool(chunk)

    def send_all(self, stdin: IO[bytes]) -> None:
        """The writer thread: a page is handed over at once, however far behind Pagefind is."""
        try:
            while (data := self.outbox.get()) is not None:
                stdin.write(data)
                stdin.flush()
        except OSError:
            pass  # the service stopped; reading its answers says so
        finally:
            try:
                stdin.close()
            except OSError:
                pass

    def stop(self) -> None:
        """The service stopped (killed, if it still runs)."""
        if self.service is None:
            return
        self.outbox.put(None)
        self.service.kill()
        self.writer.join()
        self.service.close()
        self.service = None
