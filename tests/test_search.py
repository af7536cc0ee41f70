"""The search index: built on the staged site, of the current statistic pages only."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from conftest import ROOT, build_site, digest
from statpress import search
from statpress.errors import BuildError


def fragments(site: Path) -> list[dict]:
    out = []
    for path in sorted((site / "pagefind" / "fragment").glob("*.pf_fragment")):
        data = gzip.decompress(path.read_bytes())
        out.append(json.loads(data[data.index(b"{"):]))
    return out


def test_the_index_holds_the_current_statistic_pages_only(demo_site):
    pages = fragments(demo_site)
    # each language's pages, which Pagefind keeps in an index per language (by <html lang>)
    assert sorted(p["url"] for p in pages) == ["/migration/index.html", "/naturalisations/index.html",
                                               "/nb/migration/index.html", "/nb/naturalisations/index.html"]
    assert next(p for p in pages if p["url"] == "/nb/migration/index.html")["meta"]["title"] == "Flytting"
    migration = next(p for p in pages if p["url"] == "/migration/index.html")
    assert "Ukraine" in migration["content"] and migration["meta"]["title"] == "Migration"
    # the page's content, not the header, footer or archive pages
    assert "Skip to main content" not in migration["content"]
    assert (demo_site / "search" / "index.html").is_file() and (demo_site / "pagefind" / "pagefind-ui.js").is_file()


def test_a_failed_index_leaves_the_previous_site_untouched(tmp_path, monkeypatch):
    out = tmp_path / "site"
    build_site(ROOT, out)
    before = digest(out)
    monkeypatch.setattr(search, "pagefind_executable", lambda: Path("/bin/false"))
    with pytest.raises(BuildError, match="search: Pagefind failed"):
        build_site(ROOT, out)
    assert digest(out) == before
