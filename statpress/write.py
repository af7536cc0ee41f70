"""Write stage: the only code that touches the output folder.

The whole site, with a gzip and a Brotli copy of each text file (statpress/compress.py), is written
to a staging folder beside the output and swapped in only when every
file is there, so a failed build leaves the previous site exactly as it was. The swap is one
atomic exchange of the two folders where the system has it (Linux renameat2), so a reader, or a
crash, never sees the output folder missing; elsewhere it is two renames, and the next build puts
the old site back if a crash came between them.

Only a folder that statpress wrote may be replaced: each output carries a marker file, and a
non-empty folder without it (docs/, the project itself, someone's home) is refused.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from . import atomic, compress, faults, reuse, search
from .errors import BuildError

MARKER = ".statpress-site"
MARKER_TEXT = b"Written by statpress. A build may replace this whole folder.\n"
# Files every statpress site has had, before markers existed: such a folder is ours too.
LEGACY_SITE = ("index.html", "releases.atom", "calendar/releases.ics")
# Folders of the project a site must never be written to, over or into.
PROTECTED = ("archive", "content", "stats", "templates", "locales", "data", "statpress", "tests", "docs")


def check_out(out: Path, root: Path) -> None:
    """Refuse an output folder whose replacement would destroy something that is not a site."""
    out, root = out.resolve(), root.resolve()
    for folder in [root, *(root / p for p in PROTECTED)]:
        if folder.is_relative_to(out):
            raise BuildError(f"{out}: refusing to write the site there: it is {folder} or contains it; "
                             "give --out a folder of its own (default: site/)")
        if folder != root and out.is_relative_to(folder):
            raise BuildError(f"{out}: refusing to write the site inside {folder}; give --out a folder of its own")
    if out.exists() and not is_site(out):
        raise BuildError(f"{out}: not a folder statpress wrote (no {MARKER} file) and not empty; refusing to "
                         "replace it. Give --out a new or empty folder, or delete it yourself")


def is_site(folder: Path) -> bool:
    if not folder.is_dir():
        return False
    if (folder / MARKER).is_file() or not any(folder.iterdir()):
        return True
    return all((folder / f).is_file() for f in LEGACY_SITE)


def write_site(files: dict[str, bytes | reuse.Known], out: Path, index: search.Index | None = None,
               compress_cache: Path | None = None, precompress: bool = True, notes: Path | None = None,
               reuse_files: bool = True, previous: reuse.Previous | None = None) -> None:
    """Write the site to a staging folder, then swap it in. The caller holds the output's lock.
    `index` (the search index) is started on the staged site once the pages it reads are there,
    and adds its files before the swap. With `precompress`, every text file gets its
    compressed copies in the staging folder too, so the output is never partly compressed;
    `compress_cache` keeps the slow ones by content between builds. `notes` (.cache/written) says
    what the previous site holds: a file it has unchanged is linked from it, not written
    (statpress/reuse.py); without `reuse_files` every file is written and the note dropped
    (--no-cache). `previous` is that note as previous_site read it, if the caller has it."""
    out = out.resolve()
    copies = copies_made(precompress)
    previous = previous or previous_site(out, notes, precompress, reuse_files)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.staging-", dir=out.parent))
    except OSError as exc:
        raise write_error(exc, out) from None
    copies_cache = compress_cache if precompress else False
    try:
        first = {rel: data for rel, data in files.items() if index is not None and search.reads(rel)}
        written = stage_files(first, staging, previous, copies_cache)
        if index is not None:
            index.start(staging)
        written.update(stage_files({rel: data for rel, data in files.items() if rel not in first}, staging,
                                   previous, copies_cache))
        if index is not None:
            written.update(stage_added(staging, index.wait(), frozenset(files), previous, copies_cache))
        reuse.create(staging / MARKER, MARKER_TEXT)
        os.chmod(staging, 0o755)  # mkdtemp makes it private; a web server must read it
        reuse.forget(notes, out)  # the note describes the site being replaced
        swap(staging, out)
    except OSError as exc:
        stop(index, staging)
        raise write_error(exc, out) from None
    except BaseException:
        stop(index, staging)
        raise
    if reuse_files:
        reuse.note(notes, out, written, copies)


def stop(index: search.Index | None, staging: Path) -> None:
    """After a failure: the indexer stopped (it reads and writes the staging folder), the folder gone."""
    if index is not None:
        index.stop()
    shutil.rmtree(staging, ignore_errors=True)


def copies_made(precompress: bool) -> str:
    """How this build makes compressed copies: copies made otherwise are not reused."""
    return compress.fingerprint() if precompress else "none"


def previous_site(out: Path, notes: Path | None, precompress: bool, reuse_files: bool = True) -> reuse.Previous:
    """What the site in `out` holds, as the note of the build that wrote it says (reuse.py)."""
    out = out.resolve()
    if not reuse_files or not is_site(out):
        return reuse.Previous(out)
    return reuse.previous(notes, out, copies_made(precompress))


def stage_files(files: dict[str, bytes | reuse.Known], staging: Path, previous: reuse.Previous,
                compress_cache: Path | None | bool) -> dict[str, list]:
    """Each file (and its compressed copies, unless `compress_cache` is False) into the staging
    folder: linked from the previous site when unchanged, else written; the note of each file
    staged (reuse.py)."""
    written: dict[str, list] = {}
    folders: set[str] = set()
    with Compressor(staging, previous, compress_cache) as copies:
        for rel in sorted(files):
            target = f"{staging}/{rel}"  # plain strings: pathlib's joins cost seconds over 100 000 files
            folder = os.path.dirname(target)
            if folder not in folders:
                os.makedirs(folder, exist_ok=True)
                folders.add(folder)
            faults.point("write-site", target)
            data = files[rel]
            sha = data.sha if isinstance(data, reuse.Known) else reuse.digest(data)
            noted = previous.link(rel, sha, target)
            if noted is None:
                data = reuse.content(data)
                reuse.create(target, data)
                noted = reuse.entry(target, sha)
            written[rel] = noted
            copies.add(rel, data, sha)
        written.update(copies.staged())
    return written


class Compressor:
    """The compressed copies of staged files: linked from the previous site when it has them for
    the same bytes, else compressed (from memory: reading the file back costs more) in threads,
    one per core, since gzip and Brotli let go of the interpreter while they work. Off when
    `cache` is False."""

    def __init__(self, staging: Path, previous: reuse.Previous, cache: Path | None | bool):
        self.staging, self.previous, self.cache = staging, previous, cache
        self.pool = ThreadPoolExecutor(len(os.sched_getaffinity(0)))
        self.linked: dict[str, list] = {}
        self.pending: list[tuple[str, Future]] = []

    def __enter__(self) -> "Compressor":
        return self

    def __exit__(self, *exc) -> None:
        self.pool.shutdown(cancel_futures=True)

    def add(self, rel: str, data: bytes | reuse.Known, sha: str) -> None:
        names = compress.names(rel)
        if self.cache is False or not names:
            return
        linked = self.previous.link_copies(rel, sha, names, self.staging)
        if linked is not None:
            self.linked.update(linked)
        else:
            self.pending.append((sha, self.pool.submit(compress.copies, rel, reuse.content(data), self.cache)))

    def staged(self) -> dict[str, list]:
        """Every copy added so far, written into the staging folder; the note of each."""
        made = dict(self.linked)
        for sha, future in self.pending:
            for name, copy in future.result().items():
                reuse.create(f"{self.staging}/{name}", copy)
                made[name] = reuse.entry(f"{self.staging}/{name}", sha)
        self.linked, self.pending = {}, []
        return made


def stage_added(staging: Path, added: list[Path] | None, done: frozenset[str], previous: reuse.Previous,
                compress_cache: Path | None | bool) -> dict[str, list]:
    """The files the search index wrote into the staging folder (in the folders `added`; None:
    anywhere but `done`), with their compressed copies; the note of each."""
    written: dict[str, list] = {}
    with Compressor(staging, previous, compress_cache) as copies:
        for folder in [staging] if added is None else added:
            for path in sorted(folder.rglob("*")):
                rel = path.relative_to(staging).as_posix()
                if rel in done or rel in written or compress.is_copy(path) or not path.is_file():
                    continue
                data = path.read_bytes()
                sha = reuse.digest(data)
                written[rel] = reuse.entry(str(path), sha)
                copies.add(rel, data, sha)
        written.update(copies.staged())
    return written


def write_error(exc: OSError, out: Path) -> BuildError:
    where = exc.filename or out
    return BuildError(f"{where}: cannot write the site ({exc.strerror or exc}); check the free space and "
                      f"the permissions of {out.parent}. The previous site in {out} is unchanged")


def old_folder(out: Path) -> Path:
    return out.parent / f".{out.name}.old"


def recover(out: Path) -> None:
    """Undo what an interrupted build left: the old site put back, stale staging folders removed.
    The caller holds the output's lock."""
    out = out.resolve()
    old = old_folder(out)
    if old.exists() and not out.exists():
        os.rename(old, out)  # a crash between the two renames of a swap
    if old.exists():
        shutil.rmtree(old)
    for stale in out.parent.glob(f".{out.name}.staging-*"):
        shutil.rmtree(stale, ignore_errors=True)  # the lock says no other build is writing it


def swap(new: Path, out: Path) -> None:
    """Put `new` in place of `out`; if that fails, the old one stays."""
    if out.exists() and exchange(new, out):
        faults.point("swap-exchanged")
        discard(new, out)  # now the old site
        return
    old = old_folder(out)
    if out.exists():
        os.rename(out, old)
    faults.point("swap-between-renames")
    try:
        os.rename(new, out)
    except OSError:
        if old.exists():
            os.rename(old, out)
        raise
    if old.exists():
        discard(old, out)


def trash_prefix(out: Path) -> str:
    return f".{out.name}.trash-"


REMOVE = "import shutil, sys\nfor path in sys.argv[1:]:\n    shutil.rmtree(path, ignore_errors=True)"


def discard(old: Path, out: Path) -> None:
    """Remove the replaced site. Its folders alone (10 000 for 300 statistics) took seconds to
    remove, after the new site was already live: so a detached process removes it, out of the
    build's time. It is renamed first (`.site.trash-…`), so that nothing takes it for a build's
    leftovers; what an earlier removal did not finish (a reboot) is removed with it."""
    try:
        trash = Path(tempfile.mkdtemp(prefix=trash_prefix(out), dir=out.parent))
        os.rename(old, trash / "site")
        start_removal(sorted(out.parent.glob(trash_prefix(out) + "*")))
    except OSError:  # the new site is live whatever happens here: remove the old one in this process
        shutil.rmtree(old, ignore_errors=True)
        for path in out.parent.glob(trash_prefix(out) + "*"):
            shutil.rmtree(path, ignore_errors=True)


def start_removal(folders: list[Path]) -> None:
    """A detached process that removes `folders` and outlives the build."""
    subprocess.Popen([sys.executable, "-c", REMOVE, *map(str, folders)], stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


RENAME_EXCHANGE = 2
AT_FDCWD = -100


def exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one atomic step (Linux renameat2); False where that is not available."""
    if os.environ.get("STATPRESS_NO_EXCHANGE"):
        return False  # tests use this to exercise the two-rename path
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except AttributeError:
        return False
    if renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: this file system cannot exchange
        return False
    raise OSError(err, os.strerror(err), str(b))


def audit_path(out: Path) -> Path:
    """Where the confidentiality audit goes: beside the site, never inside it."""
    out = out.resolve()
    return out.parent / f"{out.name}-audit" / "confidentiality.json"


def write_audit(path: Path, audit: dict) -> None:
    try:
        atomic.write(path, (json.dumps(audit, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    except OSError as exc:
        raise BuildError(f"{exc.filename or path}: cannot write the confidentiality audit "
                         f"({exc.strerror or exc}); the site itself was published") from None
