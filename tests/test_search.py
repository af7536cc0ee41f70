"""The search index: of the pages being published, the current statistic pages only."""

from __future__ import annotations

import gzip
import json
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import DEMO_NOW, ROOT, build_site, digest, edit
from statpress import pipeline, reuse, search
from statpress.errors import BuildError

# each test changes something in a project built before (conftest.project)
pytestmark = pytest.mark.built_before


def fragments(site: Path, part: str = "") -> list[dict]:
    """The pages indexed in the first part of the site's search index, or in the part `part`."""
    out = []
    for path in sorted((site / "pagefind" / part / "fragment").glob("*.pf_fragment")):
        data = gzip.decompress(path.read_bytes())
        out.append(json.loads(data[data.index(b"{"):]))
    return out


def test_the_index_holds_the_current_statistic_pages_only(demo_site):
    pages = fragments(demo_site)
    # both languages' pages, in one index for the whole site
    assert sorted(p["url"] for p in pages) == ["/migration/index.html", "/naturalisations/index.html",
                                               "/nb/migration/index.html", "/nb/naturalisations/index.html"]
    assert next(p for p in pages if p["url"] == "/nb/migration/index.html")["meta"]["title"] == "Flytting"
    migration = next(p for p in pages if p["url"] == "/migration/index.html")
    assert "Ukraine" in migration["content"] and migration["meta"]["title"] == "Migration"


def test_figures_are_not_indexed_but_the_labels_of_their_rows_and_columns_are(demo_site):
    """A figure is no word a reader searches for; a country, a county or a column heading is."""
    import re

    page = (demo_site / "migration" / "index.html").read_text(encoding="utf-8")
    tables = re.findall(r'<table class="figures">.*?</table>', page, re.S)
    figures = {cell.replace("\u00a0", " ").replace("\u2212", "-")
               for table in tables for cell in re.findall(r"<td>([^<]+)</td>", table)}
    assert len(figures) > 500
    content = next(p for p in fragments(demo_site) if p["url"] == "/migration/index.html")["content"]
    # indexed, nearly every one was in the content (568 of 582); a few small ones are in its text
    assert sum(figure in content for figure in figures) < len(figures) / 10
    assert all(label in content for label in ("Ukraine", "Oslo", "Selected citizenship", "Immigration"))


def test_a_failed_index_leaves_the_previous_site_untouched(project, tmp_path, monkeypatch):
    out = tmp_path / "site"
    build_site(project, out)
    before = digest(out)
    # a page changed, to be indexed again (an unchanged index is taken from the live site)
    (project / "content" / "migration" / "about" / "definitions.md").open("a").write("\nEdited.\n")
    monkeypatch.setattr(search, "pagefind_executable", lambda: Path("/bin/false"))
    with pytest.raises(BuildError, match="search: Pagefind failed"):
        build_site(ROOT, out)
    assert digest(out) == before


PAGES = {f"{name}/index.html": (f'<!doctype html><html lang="en"><head><title>{name}</title></head><body>'
                                f'<main data-pagefind-body><h1>{name}</h1><p>Persons who moved to {name}.</p>'
                                f'</main></body></html>').encode() for name in ("oslo", "bergen", "tromso")}


def test_the_index_is_the_same_however_fast_the_pages_come(monkeypatch):
    """The build gives Pagefind each page as it is made, at whatever pace; the index's bytes must
    depend on the pages and their order only (tests/test_determinism.py compares whole builds)."""
    def index(pause: float) -> dict[str, bytes]:
        with search.Index() as index:
            index.start("en")
            for rel, page in PAGES.items():
                index.add({rel: page, "oslo/table.csv": b"not a page"})
                time.sleep(pause)
            return index.files()

    at_once, slowly = index(0), index(0.2)
    assert at_once == slowly
    assert {p["url"] for p in fragments_of(at_once)} == {"/oslo/index.html", "/bergen/index.html", "/tromso/index.html"}


def test_pagefind_s_answers_are_read_while_pages_are_added():
    """Each answer waits in a pipe until the build reads it; left there until the end, the answers
    of a few thousand pages would fill it and Pagefind would stop reading pages meanwhile."""
    with search.Index() as index:
        index.start("en")
        index.add(PAGES)
        deadline = time.monotonic() + 10
        while len(index.answers) < 1 + len(PAGES) and time.monotonic() < deadline:
            time.sleep(0.05)
            index.add({})  # nothing new: only what Pagefind has answered meanwhile is read
        assert {index.answers[index.added[rel]]["type"] for rel in PAGES} == {"IndexedFile"}


def test_a_page_pagefind_refuses_stops_the_build_with_the_page_named(tmp_path, monkeypatch):
    """A service that answers a page with an error (a stand-in speaking Pagefind's protocol)."""
    fake = tmp_path / "pagefind"
    fake.write_text(f"#!{sys.executable}\n" + textwrap.dedent('''
        import base64, json, sys
        def answer(message_id, payload):
            sys.stdout.buffer.write(base64.b64encode(json.dumps(
                {"message_id": message_id, "payload": payload}).encode()) + b",")
            sys.stdout.flush()
        data = b""
        while chunk := sys.stdin.buffer.read1(65536):
            *messages, data = (data + chunk).split(b",")
            for message in map(lambda m: json.loads(base64.b64decode(m)), messages):
                kind = message["payload"]["type"]
                if kind == "NewIndex":
                    answer(message["message_id"], {"type": "NewIndex", "index_id": 0})
                elif kind == "AddFile" and "tromso" in message["payload"]["file_path"]:
                    answer(message["message_id"], {"type": "Error", "message": "unreadable HTML"})
                elif kind == "AddFile":
                    answer(message["message_id"], {"type": "IndexedFile", "page_word_count": 1,
                                                   "page_url": "/", "page_meta": {}})
                else:
                    answer(message["message_id"], {"type": "GetFiles", "files": []})
        '''))
    fake.chmod(0o755)
    monkeypatch.setattr(search, "pagefind_executable", lambda: fake)
    with search.Index() as index:
        index.start("en")
        index.add(PAGES)
        with pytest.raises(BuildError, match="search: Pagefind failed on tromso/index.html: unreadable HTML"):
            index.files()


def fragments_of(files: dict[str, bytes]) -> list[dict]:
    out = []
    for rel, data in sorted(files.items()):
        if rel.endswith(".pf_fragment"):
            data = gzip.decompress(data)
            out.append(json.loads(data[data.index(b"{"):]))
    return out


@pytest.fixture
def parts(monkeypatch) -> dict[str, list[int]]:
    """One part per statistic (the demo's two fall into parts 0 and 1), and the number of each part
    whose pages were given to Pagefind, by page."""
    monkeypatch.setattr(search, "STATISTICS_PER_PART", 1)
    given: dict[str, list[int]] = {}
    real = search.Index.give

    def give(self, part, rel, data):
        given.setdefault(rel, []).append(part.number)
        return real(self, part, rel, data)

    monkeypatch.setattr(search.Index, "give", give)
    return given


def test_the_index_comes_in_parts_that_the_search_page_merges(project, tmp_path, parts):
    """Each statistic's pages, in both languages, in one part; the first in pagefind/ with Pagefind's
    scripts, the other in pagefind/part-1/ with its index only, listed in parts.js."""
    out = tmp_path / "site"
    build_site(project, out)
    assert parts == {"migration/index.html": [0], "nb/migration/index.html": [0],
                     "naturalisations/index.html": [1], "nb/naturalisations/index.html": [1]}
    assert sorted(p["url"] for p in fragments(out)) == ["/migration/index.html", "/nb/migration/index.html"]
    assert sorted(p["url"] for p in fragments(out, "part-1")) == ["/naturalisations/index.html", "/nb/naturalisations/index.html"]
    assert (out / "pagefind" / "pagefind.js").is_file() and (out / "pagefind" / "wasm.en.pagefind").is_file()
    assert not (out / "pagefind" / "part-1" / "pagefind.js").exists()
    assert not (out / "pagefind" / "part-1" / "wasm.en.pagefind").exists()
    assert (out / "pagefind" / "part-1" / "pagefind-entry.json").is_file()
    assert 'window.statpressSearchParts = ["part-1/"];' in (out / "pagefind" / "parts.js").read_text()


def test_only_the_part_of_a_changed_statistic_is_indexed_again(project, tmp_path, parts):
    """An About text of naturalisations changed: its part is indexed again, migration's is taken
    from the live site, and the site is the one a build without any cache makes."""
    out = tmp_path / "site"
    build_site(project, out)
    parts.clear()
    (project / "content" / "naturalisations" / "about" / "definitions.md").open("a").write("\nEdited.\n")
    build_site(project, out)
    assert parts == {"naturalisations/index.html": [1], "nb/naturalisations/index.html": [1]}
    assert any("Edited" in p["content"] for p in fragments(out, "part-1"))
    fresh = tmp_path / "fresh"
    pipeline.build(pipeline.BuildOptions(project, fresh, DEMO_NOW, use_cache=False, allow_withdraw=True))
    assert digest(out) == digest(fresh)
    # nothing changed: no part is indexed again
    parts.clear()
    build_site(project, out)
    assert parts == {}


def test_the_part_of_a_statistic_still_being_computed_is_indexed_before_its_pages_come(project, tmp_path, parts,
                                                                                      monkeypatch):
    """After migration's tables changed, its pages are made after the others' (a forked child
    computes its tables, or it is drawn last): its part is indexed again from the build's start
    (Index.expect), not only once its pages come, and the site is the one a build without any
    cache makes."""
    out = tmp_path / "site"
    build_site(project, out)
    parts.clear()
    indexed = []
    real = search.Index.index

    def index(self, part):
        indexed.append((part.number, [rel for rel, _ in part.pages]))
        return real(self, part)

    monkeypatch.setattr(search.Index, "index", index)
    edit(project / "stats" / "migration" / "tables.toml", 'label = "Immigration"', 'label = "Immigration, all"')
    build_site(project, out)
    assert indexed == [(0, [])]  # before any page of it came; naturalisations' part is taken as it was
    assert parts["migration/index.html"] == [0] and "naturalisations/index.html" not in parts
    fresh = tmp_path / "fresh"
    pipeline.build(pipeline.BuildOptions(project, fresh, DEMO_NOW, use_cache=False, allow_withdraw=True))
    assert digest(out) == digest(fresh)


def test_an_unchanged_page_is_not_read_to_see_whether_it_is_indexed(project, tmp_path, parts, monkeypatch):
    """Whether a page carries data-pagefind-body is noted by its hash: a rebuild after one
    statistic changed reads none of the other's pages, and its index is still what a build
    without any cache makes."""
    out = tmp_path / "site"
    build_site(project, out)
    read = []
    real = reuse.Known.read
    monkeypatch.setattr(reuse.Known, "read", lambda self: read.append(self.path) or real(self))
    (project / "content" / "naturalisations" / "about" / "definitions.md").open("a").write("\nEdited.\n")
    build_site(project, out)
    assert not [path for path in read if path.endswith("migration/index.html")]
    fresh = tmp_path / "fresh"
    pipeline.build(pipeline.BuildOptions(project, fresh, DEMO_NOW, use_cache=False, allow_withdraw=True))
    assert digest(out) == digest(fresh)
