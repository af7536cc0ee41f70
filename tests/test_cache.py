"""The table cache: a build recomputes exactly the statistics whose inputs changed, and the
output is byte-identical to a build that computes everything."""

from __future__ import annotations

import datetime as dt
import pickle
import shutil
from pathlib import Path

import pytest

from conftest import DEMO_NOW, Calls, digest, edit
from statpress import cache, pipeline, publish
from statpress.content import load_all
from statpress.instants import OSLO


def statistics(project) -> list[str]:
    """Every statistic of the project, whichever are shipped."""
    return sorted(s.id for s in load_all(project / "content"))


@pytest.fixture
def computed(monkeypatch, tmp_path):
    """The statistics whose tables a build computes (rather than takes from the cache)."""
    seen = Calls(tmp_path / "computed.txt")
    original = publish.protect_release

    def spy(s, catalog, period):
        seen.note(s.id)
        return original(s, catalog, period)

    monkeypatch.setattr(publish, "protect_release", spy)
    return seen


def build(project, out, use_cache=True):
    pipeline.build(pipeline.BuildOptions(project, out, DEMO_NOW, use_cache=use_cache))
    return digest(out)


def test_each_change_recomputes_exactly_what_depends_on_it(project, tmp_path, computed, monkeypatch):
    from_scratch = {}  # a build from scratch, by the inputs and engine it was built from

    def rebuild_and_compare():
        """Computed statistics of a cached build, checked against a build from scratch."""
        computed.clear()
        cached = build(project, tmp_path / "cached")
        recomputed = sorted(set(computed))
        inputs = (cache.engine_fingerprint(), tuple(sorted(
            (rel, sha) for rel, sha in digest(project).items() if not rel.startswith(".cache/"))))
        if inputs not in from_scratch:  # the same inputs build the same site (test_determinism.py)
            from_scratch[inputs] = build(project, tmp_path / "fresh", use_cache=False)
        assert cached == from_scratch[inputs]
        return recomputed

    assert rebuild_and_compare() == statistics(project)  # a cold cache
    assert rebuild_and_compare() == []  # nothing changed

    edit(project / "stats" / "migration" / "tables.toml", 'label = "Immigration"', 'label = "Immigration, all"')
    assert rebuild_and_compare() == ["migration"]

    edit(project / "content" / "naturalisations" / "statistic.toml", "base = 3", "base = 3\nseed = 7")  # rounding settings
    assert rebuild_and_compare() == ["naturalisations"]

    population = project / "data" / "population.csv"  # a dataset only Migration reads
    text = population.read_text(encoding="utf-8")
    population.unlink()
    population.write_text(text, encoding="utf-8")
    recomputed = rebuild_and_compare()  # every statistic that reads it, and no other
    assert "migration" in recomputed and "naturalisations" not in recomputed

    edit(project / "templates" / "table.html", "<caption", "<caption data-x")  # pages change, tables do not
    assert rebuild_and_compare() == []

    edit(project / "stats" / "classifications" / "sexes.csv", "Males", "Men")  # a classification: all
    assert rebuild_and_compare() == statistics(project)

    with monkeypatch.context() as newer:  # another version of the engine: every statistic
        newer.setattr(cache, "__version__", "a newer statpress")
        cache.code_fingerprint.cache_clear()
        try:
            assert rebuild_and_compare() == statistics(project)
        finally:
            cache.code_fingerprint.cache_clear()

    shutil.rmtree(project / ".cache" / "tables")
    assert rebuild_and_compare() == statistics(project)


@pytest.mark.parametrize("module", ["tables", "confidentiality", "publish"])
def test_a_change_to_the_code_that_makes_a_cached_release_keys_it_anew(module, monkeypatch):
    """The table cache's key holds the source of the code that computes, protects and stores a
    release's tables: edited, that code never finds an entry the code before it made."""
    import importlib

    before = cache.engine_fingerprint()
    edited = Path(importlib.import_module(f"statpress.{module}").__file__).resolve()
    read = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: read(self) + (b"\n# edited" if self == edited else b""))
    cache.code_fingerprint.cache_clear()
    try:
        assert cache.engine_fingerprint() != before
    finally:
        cache.code_fingerprint.cache_clear()


def test_another_release_period_is_computed_not_taken_from_the_cache(project, tmp_path, computed):
    """The period is part of a table's key: Migration's 2023 tables, cached by a build of the site
    as it was in June 2024, are not served for its 2024 release; Naturalisations' are."""
    june_2024 = dt.datetime(2024, 6, 1, 12, 0, tzinfo=OSLO)  # migration-2023 and naturalisations-2023 due
    pipeline.build(pipeline.BuildOptions(project, tmp_path / "then", june_2024, allow_withdraw=True))
    assert sorted(set(computed)) == statistics(project)
    computed.clear()
    cached = build(project, tmp_path / "now")  # DEMO_NOW: migration-2024 is due
    assert sorted(set(computed)) == ["migration"]
    assert cached == build(project, tmp_path / "fresh", use_cache=False)


def test_a_damaged_cache_entry_is_computed_again(project, tmp_path, computed):
    before = build(project, tmp_path / "a")
    for entry in (project / ".cache" / "tables").iterdir():
        entry.write_bytes(b"not a pickle")
    computed.clear()
    assert build(project, tmp_path / "b") == before
    assert sorted(computed) == statistics(project)


def test_cached_tables_are_read_only_for_pages_rendered_again(project, tmp_path, computed, monkeypatch):
    """A cached release's tables are read (cache.Deferred) only when its pages are rendered again:
    after an About text changed, that statistic's and no other's; the site still equals a build
    from scratch. Tables damaged after the head of their entry was read are computed again."""
    out = tmp_path / "site"
    build(project, out)
    read = []
    original = cache.PickleCache.get_split

    def spy(self, key):
        found = original(self, key)
        if found is None:
            return None
        head, body = found
        return head, lambda: read.append(key) or body()

    monkeypatch.setattr(cache.PickleCache, "get_split", spy)
    edit(project / "content" / "migration" / "about" / "definitions.md", "\n", "\n\nEdited.\n")
    computed.clear()
    cached = build(project, out)
    assert computed == [] and len(read) == 1  # migration's tables; naturalisations' pages came from the cache
    assert cached == build(project, tmp_path / "fresh", use_cache=False)

    for entry in (project / ".cache" / "tables").iterdir():  # the head alone: the tables cut off
        entry.write_bytes(pickle.dumps(pickle.loads(entry.read_bytes())))
    edit(project / "content" / "migration" / "about" / "definitions.md", "Edited.", "Edited again.")
    computed.clear()
    cached = build(project, out)
    assert computed == ["migration"]
    assert cached == build(project, tmp_path / "fresh2", use_cache=False)


def test_a_dataset_is_checked_again_only_when_its_file_changes(project, tmp_path, monkeypatch):
    from statpress.engines import DuckDB

    build(project, tmp_path / "a")  # checks every dataset and notes it
    checked = Calls(tmp_path / "checked.txt")
    original = DuckDB.violation
    monkeypatch.setattr(DuckDB, "violation", lambda self, source, rules: checked.note(source.name)
                        or original(self, source, rules))
    build(project, tmp_path / "b")
    assert checked == []  # nothing changed: no record read again
    population = project / "data" / "population.csv"
    text = population.read_text(encoding="utf-8")
    population.unlink()
    population.write_text(text.replace("\n2020,", "\n2020,-", 1), encoding="utf-8")  # a broken value
    with pytest.raises(Exception, match="column 'mean_population'"):
        build(project, tmp_path / "c")
    assert checked == ["population"]


def test_a_rebuild_keys_cached_tables_without_checking_their_file_again(project, tmp_path, monkeypatch):
    """The table cache's key comes from the file's outline (its text, whether it lists tables, the
    datasets it names), and a file whose tables are cached is not checked against its schema again:
    the entry stands for a text that passed that check. Tables computed are checked; a file that
    lists none is checked, so that a mistake in it is not taken for "no tables yet"."""
    from statpress import data, tables
    from statpress.errors import BuildError

    catalog = data.load_catalog(project)
    _, spec = tables.load_specs(project / "stats", "migration")
    outline = tables.outline(project / "stats", "migration", catalog.spec.datasets)
    assert outline.tables and outline.datasets == tuple(sorted(tables.datasets_of(spec)))

    before = build(project, tmp_path / "a")
    checked = []
    original = tables.parsed_specs
    monkeypatch.setattr(tables, "parsed_specs", lambda path, *rest: checked.append(path.parent.name)
                        or original(path, *rest))
    monkeypatch.setattr(pipeline, "check_table_translations", lambda *args: None)  # the content stage's own
    assert build(project, tmp_path / "b") == before
    assert checked == []
    shutil.rmtree(project / ".cache" / "tables")
    assert build(project, tmp_path / "c") == before
    assert sorted(set(checked)) == statistics(project)

    (project / "stats" / "naturalisations" / "tables.toml").write_text("tabels = []\n", encoding="utf-8")
    with pytest.raises(BuildError, match=r"naturalisations/tables.toml: field 'tabels': unknown key"):
        build(project, tmp_path / "d")
