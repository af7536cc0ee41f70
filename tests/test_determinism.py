"""The same inputs give byte-identical output."""

from pathlib import Path

import pytest

from conftest import ROOT, build_site, digest
from statpress import compress


def test_two_builds_are_byte_identical(demo_site, tmp_path):
    again = tmp_path / "again"
    build_site(ROOT, again)
    assert digest(again) == digest(demo_site)


def test_every_text_file_has_deterministic_precompressed_copies_equal_to_it(demo_site, tmp_path):
    """A server may send page.html.gz or page.html.br for page.html: each must hold exactly the
    file, and be the same bytes in every build (gzip without a name or a time)."""

    checked = 0
    for path in sorted(demo_site.rglob("*")):
        if path.is_file() and path.suffix in compress.TEXT_SUFFIXES and path.stat().st_size > 1000:
            for suffix in compress.ENCODINGS:
                copy = path.with_name(path.name + suffix)
                assert copy.is_file(), copy
                assert compress.original(copy, copy.read_bytes()) == (path, path.read_bytes()), copy
                checked += 1
    assert checked > 100
    page = (demo_site / "migration" / "index.html.gz").read_bytes()
    assert page[4:8] == b"\0\0\0\0" and not page[3] & 0x08  # no time, no file name
    compress.precompress(tmp_path)  # nothing to do in an empty folder, and no cache needed
    (tmp_path / "a.html").write_bytes((demo_site / "migration" / "index.html").read_bytes())
    assert compress.precompress(tmp_path) == 2
    assert (tmp_path / "a.html.br").read_bytes() == (demo_site / "migration" / "index.html.br").read_bytes()


def test_assets_compressed_ahead_are_the_copies_the_write_stage_makes(tmp_path):
    """compress.ahead fills the cache the write stage reads, with the very bytes it would make:
    a cold build gives the same copies whether or not the compression ahead finished first."""
    from statpress import render

    assets = render.assets(ROOT)
    cache = tmp_path / "cache"
    compress.ahead(assets, cache).join()
    cached = sorted(p.name for p in cache.iterdir())
    slow = [rel for rel in assets if compress.names(rel) and rel.endswith((".js", ".css"))]
    assert slow and len(cached) == len(slow)  # each text asset's Brotli (quality 11), nothing else
    for rel in slow:
        assert compress.copies(rel, assets[rel], cache) == compress.copies(rel, assets[rel]), rel


def test_the_committed_copy_of_the_vega_runtime_is_the_one_the_build_would_make(demo_site):
    """vega.js.br is made with vega.js (scripts/vega-runtime/build.sh): the build takes it instead
    of compressing the runtime for a second, so it must be the very bytes it would make, and the
    site serves it as the runtime's Brotli copy."""
    from statpress import render

    folder = ROOT / "templates" / "assets"
    runtime = (folder / "vega.js").read_bytes()
    assert compress.made_ahead(folder) == {"vega.js": compress.brotli_assets(runtime)}
    assert "assets/vega.js.br" not in render.assets(ROOT)  # a copy, not an asset of its own
    assert (demo_site / "assets" / "vega.js.br").read_bytes() == (folder / "vega.js.br").read_bytes()


def test_a_copy_made_ahead_is_used_only_when_it_decompresses_to_its_file(tmp_path, monkeypatch):
    import brotli

    runtime = (ROOT / "templates" / "assets" / "vega.js").read_bytes()
    small = b"function f() { return 1; }\n" * 200
    made = {"vega.js": (ROOT / "templates" / "assets" / "vega.js.br").read_bytes(),
            "site.js": brotli.compress(b"something else"), "search.js": b"not brotli at all"}
    compressing = brotli.compress
    monkeypatch.setattr(compress.brotli, "compress", lambda data, **kw: (
        pytest.fail("the runtime was compressed again") if data == runtime else compressing(data, **kw)))
    files = {"assets/vega.js": runtime, "assets/site.js": small, "assets/search.js": small + b"//"}
    cache = tmp_path / "cache"
    compress.ahead(files, cache, made).join()
    for rel, data in files.items():
        copy = compress.compressed(data, compress.brotli_assets, ".br", cache)
        assert brotli.decompress(copy) == data, rel  # the stale and broken copies were not taken
    assert compress.compressed(runtime, compress.brotli_assets, ".br", cache) == made["vega.js"]


def test_a_build_without_the_cache_takes_the_committed_copy_too(project, monkeypatch):
    """An audit (--no-cache) takes nothing an earlier build made, but the runtime's committed copy is
    an input like the runtime: it is taken, not made again, and the folder the audit kept the
    assets' copies in is gone once it ends."""
    import tempfile

    import brotli

    from conftest import DEMO_NOW
    from statpress import pipeline

    assets = project / "templates" / "assets"
    runtime = (assets / "vega.js").read_bytes()
    compressing = brotli.compress
    monkeypatch.setattr(compress.brotli, "compress", lambda data, **kw: (
        pytest.fail("the runtime was compressed again") if data == runtime else compressing(data, **kw)))
    # a temporary folder of this test's own: other tests' builds may run beside it (make test runs
    # the suite on every core), and their scratch folders are not this build's
    scratch = project.parent / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    made = []
    making = tempfile.mkdtemp
    monkeypatch.setattr(tempfile, "mkdtemp", lambda *a, **kw: made.append(making(*a, **kw)) or made[-1])
    pipeline.build(pipeline.BuildOptions(project, project / "site", DEMO_NOW, allow_withdraw=True, use_cache=False))
    assert (project / "site" / "assets" / "vega.js.br").read_bytes() == (assets / "vega.js.br").read_bytes()
    assert any(Path(m).parent == scratch and Path(m).name.startswith("statpress-copies-") for m in made)
    assert not (project / ".cache" / "compressed").exists() and list(scratch.iterdir()) == []


def test_assets_are_compressed_ahead_at_the_lowest_priority(tmp_path, monkeypatch):
    """The compression ahead is background work: its thread yields the second core to the build's
    own (DuckDB's threads, the drawing process) and uses what they leave idle."""
    import os
    import threading

    from statpress import render

    seen = []
    monkeypatch.setattr(compress.os, "setpriority", lambda which, who, value: seen.append(
        (which, who == threading.get_native_id() and threading.current_thread() is not threading.main_thread(),
         value)))
    compress.ahead(render.assets(ROOT), tmp_path / "cache").join()
    assert seen == [(os.PRIO_PROCESS, True, 19)]
