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
    """cache.file_fingerprint with the build's memo: the same fingerprint as without it, its ends
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
@pytest.mark.parametrize("name", ["register.csv", "register.csv.gz"])
def test_a_value_changed_in_the_middle_of_a_large_csv_changes_its_fingerprint(tmp_path, monkeypatch, name,
                                                                              with_memo):
    """A CSV, gzipped or not, is hashed whole: a value changed in its middle, its size and
    modification time kept, gives another fingerprint, so that neither a cached table nor a passed
    check of the file as it was is taken for it."""
    from statpress import cache

    monkeypatch.setattr(filememo, "SETTLE_NS", 0)
    data, kept = tmp_path / name, tmp_path / "files.pickle"
    data.write_bytes(os.urandom(5 * cache.CHUNK))

    def fingerprint() -> str:  # as a build takes it, each build a process of its own
        cache._fingerprint.cache_clear()
        if not with_memo:
            return cache.file_fingerprint(data)
        memo = FileMemo.load(kept)
        found = cache.file_fingerprint(data, memo)
        memo.save()
        return found

    first = fingerprint()
    assert fingerprint() == first
    rewrite_in_place(data, b"changed", at=5 * cache.CHUNK // 2)
    assert fingerprint() != first


def test_a_parquet_file_is_fingerprinted_by_its_ends(tmp_path):
    """A Parquet file ends with its metadata (schema, each column chunk's offsets, sizes and
    statistics): its first and last MiB are read, not a 10⁸-row register whole at every change."""
    import io

    from statpress import cache

    class Counted(io.BytesIO):
        taken = 0

        def read(self, size=-1):
            chunk = super().read(size)
            self.taken += len(chunk)
            return chunk

    body = b"PAR1" + os.urandom(20 * cache.CHUNK) + b"PAR1"
    parquet, csv = Counted(body), Counted(b"id" + body[2:])
    assert cache.content_digest(parquet, len(body), 0) != cache.content_digest(Counted(body[:-1] + b"2"), len(body), 0)
    cache.content_digest(csv, len(body), 0)
    assert parquet.taken == 2 * cache.CHUNK and csv.taken == len(body)
