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

import subprocess
from pathlib import Path

from .errors import BuildError

OUTPUT = "pagefind"
# The pages that can carry data-pagefind-body: the site's own pages, at most two folders deep
# (<statistic>/index.html, <language>/<statistic>/index.html). Archived snapshots lie deeper
# (archive/<statistic>/<release>/…) and are never indexed; reading their thousands of pages took
# Pagefind a second in every build of a 300-statistic site, for the same index.
PAGES = "{index.html,*/index.html,*/*/index.html}"


def pagefind_executable() -> Path:
    try:
        from pagefind_bin import get_executable
        return get_executable()
    except (ImportError, FileNotFoundError) as exc:
        raise BuildError(f"search: Pagefind is not installed ({exc}); run pip install -r requirements.txt") from None


def index(site: Path, language: str) -> list[Path]:
    """Write the search index of the site in `site` to `site/pagefind/`; the folders written."""
    command = [str(pagefind_executable()), "--site", str(site), "--output-subdir", OUTPUT,
               "--force-language", language, "--keep-index-url", "--silent", "--glob", PAGES]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise BuildError(f"search: Pagefind failed on {site}: {detail[-1] if detail else result.returncode}")
    return [site / OUTPUT]
