"""Search stage: a Pagefind index of the published pages, fed to Pagefind as the build makes them.

Pagefind (the `pagefind-bin` package ships its binary) runs as a service (`pagefind --service`)
from the start of the pages stage: each page it would index is handed to it from memory as soon
as it is rendered (or recalled from the page cache), and it indexes them on the other core while
the build renders the rest, makes the archive and stages the site. The write stage then asks for
the index's files and stages them like any other file of the site, into `pagefind/`; the search
page loads the index and Pagefind's interface from there, so a search asks no other host.

The index holds exactly the pages being published: a release not yet due is in no page, hence in
no index fragment. Only the elements marked `data-pagefind-body` are indexed: the content of the
current statistic pages (not the archive, calendar or symbol pages), without the figure cells of
their tables (`FIGURES`). Pagefind's output is the same
for the same pages given in the same order, whatever the timing (tests/test_search.py,
tests/test_determinism.py).

The service speaks base64-encoded JSON messages, each ended by a comma, on its standard input and
output: the protocol of Pagefind's own Python and Node wrappers. statpress talks it itself because
the Python wrapper (`pagefind` on PyPI) waits 0.1 s before reading each answer, a minute for the
600 pages of a 300-statistic site; the pinned version (requirements.txt) keeps the protocol fixed.
"""

from __future__ import annotations

import base64
import json
import queue
import select
import shutil
import threading
from pathlib import Path
from typing import IO

from . import reuse
from .child import Child
from .errors import BuildError

OUTPUT = "pagefind"
# The figures of the build's own tables and chart tables are not indexed: a number is no word a
# reader searches for (its digit groups became tokens such as "66" and "077"), and they were two
# thirds of the word index every search downloads and a quarter of Pagefind's work. The labels
# of their rows and columns (<th>) are indexed, and so are tables written in About texts.
FIGURES = "table.figures td"


def pagefind_executable() -> Path:
    try:
        from pagefind_bin import get_executable
        return get_executable()
    except (ImportError, FileNotFoundError) as exc:
        raise BuildError(f"search: Pagefind is not installed ({exc}); run pip install -r requirements.txt") from None


def reads(rel: str) -> bool:
    """Whether Pagefind is given the file `rel` of the site (a POSIX path): the pages that can carry
    data-pagefind-body, the site's own pages at most two folders deep (<statistic>/index.html,
    <language>/<statistic>/index.html). Archived snapshots lie deeper (archive/<statistic>/<release>/…)
    and are never indexed: their thousands of pages took Pagefind a second in every build of a
    300-statistic site, for the same index."""
    return (rel == "index.html" or rel.endswith("/index.html")) and rel.count("/") <= 2


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
        self.index_id: int | None = None
        self.asked: int | None = None  # the message asking for the index's files, once sent
        self.added: dict[str, int] = {}  # each page handed over, with the id of its message

    def __enter__(self) -> "Index":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self, language: str) -> None:
        """The service started, with one index for the whole site in `language`. It runs at a
        lower priority than the build, whose work it must not hold up."""
        # through nice(1): lowered in the child before Pagefind starts its threads, which inherit it
        nice = [found, "-n", "10"] if (found := shutil.which("nice")) else []
        self.service = Child([*nice, str(pagefind_executable()), "--service"])
        self.writer = threading.Thread(target=self.send_all, args=(self.service.stdin,), daemon=True)
        self.writer.start()
        self.index_id = self.answer(self.send({"type": "NewIndex", "config": {
            "force_language": language, "keep_index_url": True, "exclude_selectors": [FIGURES]}}))["index_id"]

    def add(self, files: dict[str, bytes | reuse.Known]) -> None:
        """The pages of `files` that Pagefind reads (`reads`) and has not been given yet, in order."""
        for rel in sorted(rel for rel in files if reads(rel) and rel not in self.added):  # the whole site, once
            if self.asked is not None:
                raise RuntimeError(f"{rel}: a page given to the search index after it was finished")
            html = reuse.content(files[rel]).decode("utf-8")
            self.added[rel] = self.send({"type": "AddFile", "index_id": self.index_id, "file_path": rel,
                                         "url": None, "file_contents": html})
        # the answers so far, without waiting: a site of thousands of pages must not fill the pipe,
        # or Pagefind would stop reading pages until the end
        while select.select([self.service.stdout], [], [], 0)[0] and self.receive():
            pass

    def finish(self) -> None:
        """Every page given: Pagefind starts making the index's files (half a second for 600 pages)."""
        if self.asked is None:
            self.asked = self.send({"type": "GetFiles", "index_id": self.index_id})

    def files(self) -> dict[str, bytes]:
        """The index's files, by their paths in the site, once every page given has been indexed."""
        self.finish()
        answer = self.answer(self.asked)
        for rel, message in self.added.items():
            if self.answers.get(message, {}).get("type") == "Error":
                raise BuildError(f"search: Pagefind failed on {rel}: {self.answers[message]['message']}")
        return {f"{OUTPUT}/{f['path']}": base64.b64decode(f["content"]) for f in answer["files"]}

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
