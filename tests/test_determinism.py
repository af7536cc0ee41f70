"""The same inputs give byte-identical output."""

import hashlib

from conftest import build_site, ROOT


def digest(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_two_builds_are_byte_identical(demo_site, tmp_path):
    again = tmp_path / "again"
    build_site(ROOT, again)
    assert digest(again) == digest(demo_site)
