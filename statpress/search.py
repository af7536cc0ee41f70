"""Search stage: a Pagefind index of the published pages, built on the staged site.

Pagefind (the `pagefind-bin` package ships its binary) reads the written HTML and writes a
static index and search interface to `pagefind/` in the site; the search page loads both from
there, so a search asks no other host. It runs on the staging folder before the swap, so the
index holds exactly the pages being published: a release not yet due is in no page, hence in no
index fragment.

Only the elements marked `data-pagefind-body` are indexed: the content of the current statistic
pages (not the archive, calendar or symbol pages). Pagefind's output is deterministic for the
same pages (checked by tests/test_determinism.py).
"""

from __future__ import annotations

import glob
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .errors import BuildError

OUTPUT = "pagefind"
# The pages that can carry data-pagefind-body: the site's own pages, at most two folders deep
# (<statistic>/index.html, <language>/<statistic>/index.html). Archived snapshots lie deeper
# (archive/<statistic>/<release>/…) and are never indexed; reading their thousands of pages took
# Pagefind a second in every build of a 300-statistic site, for the same index.
PAGE_PATTERNS = ("index.html", "*/index.html", "*/*/index.html")
PAGES = "{" + ",".join(PAGE_PATTERNS) + "}"  # as Pagefind's --glob takes them


def pagefind_executable() -> Path:
    try:
        from pagefind_bin import get_executable
        return get_executable()
    except (ImportError, FileNotFoundError) as exc:
        raise BuildError(f"search: Pagefind is not installed ({exc}); run pip install -r requirements.txt") from None


def pages_in(site: Path) -> list[str]:
    """The files of `site` that Pagefind would read (PAGES), as paths relative to it."""
    return sorted(found for pattern in PAGE_PATTERNS for found in glob.glob(pattern, root_dir=site))


def reads(rel: str) -> bool:
    """Whether Pagefind reads the file `rel` of the site (a POSIX path): PAGES."""
    return (rel == "index.html" or rel.endswith("/index.html")) and rel.count("/") <= 2


@dataclass
class Index:
    """Pagefind indexing a staged site in `language`. The write stage starts it as soon as the
    pages it reads (see `reads`) are staged and stages the rest meanwhile: Pagefind runs on the
    other core, and a rebuild of a 300-statistic site no longer waits 1.5 s for it."""
    language: str
    site: Path | None = None
    process: subprocess.Popen | None = None
    errors: IO[bytes] | None = None

    def start(self, site: Path) -> None:
        command = [str(pagefind_executable()), "--site", str(site), "--output-subdir", OUTPUT,
                   "--force-language", self.language, "--keep-index-url", "--silent", "--glob", PAGES]
        self.site, self.errors = site, tempfile.TemporaryFile()  # a file: a full pipe would stall it
        self.process = subprocess.Popen(command, stdout=self.errors, stderr=subprocess.STDOUT)

    def wait(self) -> list[Path]:
        """The folders Pagefind wrote, once it is done; a BuildError if it failed."""
        status = self.process.wait()
        self.errors.seek(0)
        detail = self.errors.read().decode("utf-8", "replace").strip().splitlines()
        self.errors.close()
        if status != 0:
            raise BuildError(f"search: Pagefind failed on {self.site}: {detail[-1] if detail else status}")
        return [self.site / OUTPUT]

    def stop(self) -> None:
        """Pagefind killed, if it still runs (the build failed while it indexed)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.errors is not None:
            self.errors.close()

