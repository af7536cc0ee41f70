"""The checks a build starts beside itself (which of the output's files changed; the archive's
entries) run at a lower priority than the build: on two cores they take what the build's own work
leaves (statpress/child.py, docs/scaling.md)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from statpress import child, reuse, uptodate

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads a process's priority in /proc")


def niceness(pid: int) -> int:
    """A process's nice value, from /proc: an ended child that was not waited for yet keeps it."""
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[16])


def ended_niceness(process) -> int:
    process.stdout.read()  # its answer, to the end: the child has ended, and is not reaped yet
    return niceness(process.pid)


def test_the_signatures_are_checked_at_a_lower_priority_once_the_first_answer_is_given(tmp_path):
    """The first answer (the live site's files but its largest part) is what the pages stage waits
    for; the rest (that part, the spare) is waited for only when the site is written."""
    site, notes = tmp_path / "site", tmp_path / "notes"
    site.mkdir()
    (site / "index.html").write_bytes(b"<p>a page</p>")
    reuse.note(notes, site, {"index.html": reuse.entry(str(site / "index.html"), reuse.digest(b"<p>a page</p>"))}, "")
    with reuse.Signatures(notes, [site]) as signatures:
        assert signatures.stale(site, reuse.identity(reuse.note_path(notes, site).stat())).stale == set()
        assert ended_niceness(signatures.process) == min(os.nice(0) + child.BACKGROUND, 19)


def test_the_archive_is_listed_at_a_lower_priority(tmp_path):
    (tmp_path / "archive").mkdir()
    listing = uptodate.ArchiveListing(tmp_path / "archive")
    try:
        assert ended_niceness(listing.process) == min(os.nice(0) + child.BACKGROUND, 19)
    finally:
        listing.process.wait()
