"""What a build derives from a file, kept by the file's signature (statpress/filememo.py): taken back
only while the file cannot have changed, never for a file that had not settled when it was read."""

from __future__ import annotations

import os

import pytest

from statpress import filememo
from statpress.filememo import FileMemo


@pytest.fixture
def derived():
    """A derivation that counts its calls: the bytes, upper-cased."""
    calls = []

    def derive(data: bytes) -> bytes:
        calls.append(data)
        return data.upper()
    derive.calls = calls
    return derive


def rewrite_in_place(path, data: bytes, at: int = 0) -> None:
    """New bytes of the same size, written into the same inode at offset `at`, the modification
    time set back: only the change time tells."""
    before = os.stat(path)
    with open(path, "r+b") as f:
        f.seek(at)
        f.write(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (before.st_size, before.st_mtime_ns, before.st_ino)


def test_a_file_is_read_again_whenever_it_may_have_changed(tmp_path, monkeypatch, derived):
    monkeypatch.setattr(filememo, "SETTLE_NS", 0)  # as if saved long ago
    kept, file = tmp_path / "files.pickle", tmp_path / "tables.toml"
    file.write_bytes(b"abc")
    memo = FileMemo.load(kept)
    assert memo.value(file, "upper", derived) == b"ABC" and len(derived.calls) == 1
    memo.save()

    memo = FileMemo.load(kept)  # the next build
    assert memo.value(file, "upper", derived) == b"ABC" and len(derived.calls) == 1  # not read
    assert memo.value(file, "other", derived) == b"ABC" and len(derived.calls) == 2  # another derivation

    memo.save()

    rewrite_in_place(file, b"xyz")
    memo = FileMemo.load(kept)
    assert memo.value(file, "upper", derived) == b"XYZ" and len(derived.calls) == 3
    memo.save()

    replacement = tmp_path / "new"
    replacement.write_bytes(b"xyz")
    os.replace(replacement, file)  # the same bytes in another inode: read again (it might not be)
    memo = FileMemo.load(kept)
    assert memo.value(file, "upper", derived) == b"XYZ" and len(derived.calls) == 4

    file.unlink()  # before that build ends
    with pytest.raises(FileNotFoundError):
        FileMemo.load(kept).value(file, "upper", derived)
    memo.save()
    assert FileMemo.load(kept).known == {}  # a file no longer there is dropped


def test_a_build_takes_one_version_of_each_file(tmp_path, monkeypatch, derived):
    """Within one build (one FileMemo) a file is statted and read once: a file edited while the
    build runs is not hashed one way for its statistic's content and another for its page's key
    (a page keyed by bytes it was not made from would be served stale). The next build reads it."""
    monkeypatch.setattr(filememo, "SETTLE_NS", 0)
    kept, file = tmp_path / "files.pickle", tmp_path / "definitions.md"
    file.write_bytes(b"abc")
    memo = FileMemo.load(kept)
    assert memo.value(file, "upper", derived) == b"ABC"
    rewrite_in_place(file, b"xyz")
    stats = []
    monkeypatch.setattr(filememo.os, "stat", lambda *a, **k: stats.append(a) or os.lstat(*a))
    assert memo.value(file, "upper", derived) == b"ABC" and len(derived.calls) == 1 and stats == []
    monkeypatch.undo()
    monkeypatch.setattr(filememo, "SETTLE_NS", 0)
    memo.save()
    assert FileMemo.load(kept).value(file, "upper", derived) == b"XYZ" and len(derived.calls) == 2


def test_a_file_written_a_moment_ago_is_read_every_time(tmp_path, derived):
    """Within one tick of the file system's clock a file can be written again with the same size
    and times: one that changed less than SETTLE_NS before it was read is not kept."""
    kept, file = tmp_path / "files.pickle", tmp_path / "statistic.toml"
    file.write_bytes(b"abc")
    for _ in range(2):  # two builds
        memo = FileMemo.load(kept)
        memo.value(file, "upper", derived)
        assert not memo.changed
        memo.save()
    assert len(derived.calls) == 2 and not kept.exists()


def test_without_a_place_to_keep_it_nothing_is_kept(tmp_path, monkeypatch, derived):
    monkeypatch.setattr(filememo, "SETTLE_NS", 0)
    file = tmp_path / "releases.toml"
    file.write_bytes(b"abc")
    for _ in range(2):  # two builds without their cache (--no-cache)
        memo = FileMemo()
        memo.value(file, "upper", derived)
        assert memo.known == {}
    assert len(derived.calls) == 2


def test_a_damaged_memo_is_no_memo(tmp_path, monkeypatch, derived):
    monkeypatch.setattr(filememo, "SETTLE_NS", 0)
    kept, file = tmp_path / "files.pickle", tmp_path / "a.md"
    file.write_bytes(b"abc")
    kept.write_bytes(b"not a pickle")
    memo = FileMemo.load(kept)
    assert memo.value(file, "upper", derived) == b"ABC" and len(derived.calls) == 1
    memo.save()
    assert FileMemo.load(kept).value(file, "upper", derived) == b"ABC" and len(derived.calls) == 1


def test_a_datasets_fingerprint_is_kept_while_its_file_is_as_it_was(tmp_path, monkeypatch):
    """cache.file_fingerprint with the build's memo: the same fingerprint as without it, the file
    not read again in the next build, and another one once the file was written into."""
    from statpress import cache

    monkeypatch.setattr(filememo, "SETTLE_NS", 0)
    read = []
    real = cache.content_digest
    monkeypatch.setattr(cache, "content_digest", lambda f, size, mtime: read.append(size) or real(f, size, mtime))
    kept, data = tmp_path / "files.pickle", tmp_path / "register.parquet"
    data.write_bytes(os.urandom(3 * cache.CHUNK))
    memo = FileMemo.load(kept)
    first = cache.file_fingerprint(data, memo)
    assert first == cache.file_fingerprint(data) and len(read) == 2  # with the memo, and without
    memo.save()

    assert cache.file_fingerprint(data, FileMemo.load(kept)) == first and len(read) == 2  # not read
    rewrite_in_place(data, os.urandom(10))  # its first bytes, the size and modification time kept
    memo = FileMemo.load(kept)
    assert cache.file_fingerprint(data, memo) != first and len(read) == 3


@pytest.mark.parametrize("with_memo", [False, True])
def test_a_value_changed_in_the_middle_of_a_dataset_changes_its_fingerprint(tmp_path, monkeypatch, with_memo):
    """A dataset is hashed whole: a value changed in the middle of a Parquet file, its size,
    modification time and metadata kept (a count replaced by another of the same width, within its
    column's minimum and maximum, uncompressed), gives another fingerprint, so that neither a cached
    table nor a passed check of the file as it was is taken for it."""
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq

    from statpress import cache

    monkeypatch.setattr(filememo, "SETTLE_NS", 0)
    data, kept = tmp_path / "register.parquet", tmp_path / "files.pickle"
    counts = pa.array([i % 1000 for i in range(500_000)], pa.int64())  # 4 MB: more than its first and last MiB
    pq.write_table(pa.table({"count": counts}), data, compression="none", use_dictionary=False)
    footer = data.read_bytes()[-4096:]

    def fingerprint() -> str:  # as a build takes it, each build a process of its own
        cache._fingerprint.cache_clear()
        if not with_memo:
            return cache.file_fingerprint(data)
        memo = FileMemo.load(kept)
        found = cache.file_fingerprint(data, memo)
        memo.save()
        return found

    def total() -> int:
        return duckdb.sql(f"SELECT sum(count) FROM '{data}'").fetchall()[0][0]

    first, before = fingerprint(), total()
    assert fingerprint() == first
    body = data.read_bytes()
    at = body.index((500).to_bytes(8, "little"), len(body) // 2)  # a count of 500 in the middle
    rewrite_in_place(data, (501).to_bytes(8, "little"), at=at)
    assert data.read_bytes()[-4096:] == footer and total() == before + 1  # the same metadata, another total
    assert fingerprint() != first

