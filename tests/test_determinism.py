"""The same inputs give byte-identical output."""

from conftest import ROOT, build_site, digest


def test_two_builds_are_byte_identical(demo_site, tmp_path):
    again = tmp_path / "again"
    build_site(ROOT, again)
    assert digest(again) == digest(demo_site)
