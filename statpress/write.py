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

import contextlib
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
from .reuse import spare_folder
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
               reuse_files: bool = True, previous: reuse.Previous | None = None,
               signatures: reuse.Signatures | None = None,
               parts: list[reuse.Part] | tuple = ()) -> dict[str, tuple[int, int]] | None:
    """Write the site beside the output, then swap it in. The caller holds the output's lock.

    The site is written into the spare (the site before the live one, see `spare_site`) when
    there is one, changing only what differs; else into a new staging folder. `index` (the search
    index, statpress/search.py) is given any page it was not given yet, and its files are staged
    with the rest before the swap.
    With `precompress`, every text file gets its compressed copies there too, so the output is
    never partly compressed; `compress_cache` keeps the slow ones by content between builds.
    `notes` (.cache/written) says what the previous site holds: a file it has unchanged is linked
    from it, not written (statpress/reuse.py); without `reuse_files` every file is written and
    the notes dropped (--no-cache). `previous` is that note as previous_site read it, if the
    caller has it; `signatures` says which files of the live site and the spare changed since
    their notes (reuse.Signatures). `parts` are more files of the site, each kept whole where the
    spare holds it (reuse.Part). Returns the site's folders as the note found them after the swap
    (reuse.note), or None."""
    out = out.resolve()
    copies = copies_made(precompress)
    previous = previous or previous_site(out, notes, precompress, reuse_files, signatures)
    copies_cache = compress_cache if precompress else False
    if reuse_files and previous.files:
        spare = spare_site(out, notes, copies, signatures)
    else:
        spare = None  # nothing to reuse: neither is the spare
        drop_spare(out, notes)
    written = None
    if spare is not None:
        try:  # on any other error the spare, which has no note now, is removed by the next build
            written, in_parts, unchanged = stage_site(spare.out, files, previous, copies_cache, index, spare, parts)
            folder = spare.out
        except OSError:
            # whatever went wrong there (a file where the new site has a folder, a full disk),
            # a staging folder is tried next, and reports the error if it meets it again
            discard(spare.out, out)
    if written is None:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            folder = Path(tempfile.mkdtemp(prefix=f".{out.name}.staging-", dir=out.parent))
        except OSError as exc:
            raise write_error(exc, out) from None
        try:
            written, in_parts, unchanged = stage_site(folder, files, previous, copies_cache, index, parts=parts)
        except OSError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise write_error(exc, out) from None
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
    try:
        if reuse_files:  # the note describes the site being replaced, which becomes the spare
            reuse.move(notes, out, spare_folder(out))
        else:
            reuse.forget(notes, out)
        old = swap(folder, out)
    except OSError as exc:
        if folder != spare_folder(out):
            shutil.rmtree(folder, ignore_errors=True)
        raise write_error(exc, out) from None
    folders = reuse.note(notes, out, written, copies, in_parts, unchanged) if reuse_files else None
    if old is not None:
        keep_spare(old, out, notes, reuse_files and bool(previous.files) and old != old_folder(out))
    if folders is not None and not spare_folder(out).exists():
        make_spare(out, notes, written, copies, in_parts)
    return folders


def make_spare(out: Path, notes: Path, written: dict[str, str], copies: str,
               parts: dict[str, tuple[str, "dict[str, str] | reuse.Bulk"]]) -> None:
    """A spare made of the site just written when there is none (a first build, or one that
    replaced a site without a note): its files hard-linked into a folder tree of their own, with
    their note. The next build then brings it up to date, like every later one, instead of linking
    the whole site into a new tree (1.2–1.5 s of the first rebuild of 300 statistics). On any error
    there is no spare, and the next build stages a new folder; the site is live either way."""
    try:
        folder = Path(tempfile.mkdtemp(prefix=f".{out.name}.staging-", dir=out.parent))
    except OSError:
        return
    try:
        made: set[str] = {str(folder)}
        linked = link_tree(out, folder, written, made)
        linked_parts = {name: (digest, link_tree(out, folder, reuse.entries_of(entries), made))
                        for name, (digest, entries) in parts.items()}
        reuse.place(f"{out}/{MARKER}", f"{folder}/{MARKER}")
        os.chmod(folder, 0o755)
        os.rename(folder, spare_folder(out))
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)
        return
    reuse.note(notes, spare_folder(out), linked, copies, linked_parts)


def link_tree(out: Path, folder: Path, noted: dict[str, str], made: set[str]) -> dict[str, str]:
    """The files `noted` of the site in `out` hard-linked into `folder` (`made`: the folders made
    there already); the note of each link."""
    linked = {}
    for rel, entry in noted.items():
        target = f"{folder}/{rel}"
        parent = os.path.dirname(target)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        # a link has its file's size, times and inode, so its note is the file's
        linked[rel] = entry if reuse.place(f"{out}/{rel}", target) else reuse.entry(target, entry[:reuse.SHA])
    return linked


def stage_site(folder: Path, files: dict[str, bytes | reuse.Known], previous: reuse.Previous,
               copies_cache: Path | None | bool, index: search.Index | None,
               spare: reuse.Previous | None = None,
               parts: list[reuse.Part] | tuple = ()) -> tuple[dict[str, str], dict[str, tuple[str, dict[str, str]]]]:
    """`folder` made to hold exactly `files`, the files of `parts`, their compressed copies and the
    search index: a new staging folder, or the `spare` site (its note) brought up to date. A part
    the spare holds whole stays as it is; any other is staged file by file. The note of each
    file, and apart those of each part: {name: (digest, notes)}; and the spare's folders that the
    sweep found and left as they were (see `sweep`)."""
    if index is not None:  # any page not given to it yet; it makes its files while the site is staged
        index.add(files)
        index.finish()
    in_parts, listed = {}, {}
    for part in parts:
        kept = spare.holds(part) if spare is not None else None
        if kept is not None:
            in_parts[part.name] = (part.digest, kept)
        else:
            listed[part.name] = (part.digest, part.files())
    # the largest part of a note is decoded only where its files are asked for one by one: staged
    # (from the previous site), or swept from the spare (which does not keep it whole)
    bulk = spare.bulk if spare is not None else None
    if bulk is not None and all(noted is not bulk for _, noted in in_parts.values()):
        spare.unfold()
        bulk = None
    if previous.bulk is not None and previous.bulk.name in listed:
        previous.unfold()
    staged = {**files, **{rel: data for _, found in listed.values() for rel, data in found.items()}} if listed else files
    written = stage_files(staged, folder, previous, copies_cache, spare)
    if index is not None:
        written.update(stage_files(index.files(), folder, previous, copies_cache, spare))
    for name, (digest, found) in listed.items():
        in_parts[name] = (digest, {n: written.pop(n) for rel in found for n in (rel, *compress.names(rel)) if n in written})
    unchanged = {}
    if spare is not None:
        everything = dict(written)
        for _, entries in in_parts.values():
            if entries is not bulk:
                everything.update(entries)
        unchanged = sweep(folder, everything, spare, bulk)
        spare.clear(MARKER)
    reuse.create(folder / MARKER, MARKER_TEXT)
    os.chmod(folder, 0o755)  # mkdtemp makes it private; a web server must read it
    return written, in_parts, unchanged


def spare_site(out: Path, notes: Path | None, copies: str,
               signatures: reuse.Signatures | None = None) -> reuse.Previous | None:
    """The site the live one replaced (`.site.spare`), as its note describes it, to be brought up
    to date and exchanged with the live one: a rebuild then changes only the files that differ,
    instead of linking every file of the site into a new folder tree (75 000 links and 9 000
    folders for 300 statistics, seconds in every build). None when there is none, or no note of it:
    a build stopped while updating it, which is then removed. Its note is dropped first, for the same
    reason: it no longer describes the folder once a file has changed."""
    folder = spare_folder(out)
    if notes is None or not folder.is_dir():
        return None
    spare = reuse.previous(notes, folder, copies, signatures)
    reuse.forget(notes, folder)
    if not spare.files:
        discard(folder, out)
        return None
    return spare


def drop_spare(out: Path, notes: Path | None) -> None:
    """The spare and its note removed (--no-cache, or a site without a note): nothing is reused."""
    spare = spare_folder(out)
    reuse.forget(notes, spare)
    if spare.exists():
        discard(spare, out)


def keep_spare(old: Path, out: Path, notes: Path | None, keep: bool) -> None:
    """The replaced site, now at `old`, kept as the spare (its note moved with it before the swap);
    removed when it is not to be kept."""
    spare = spare_folder(out)
    if not keep or notes is None:
        drop_spare(out, notes)
        if old != spare:
            discard(old, out)
        return
    try:
        if old != spare:
            if spare.exists():
                discard(spare, out)
            os.rename(old, spare)
    except OSError:  # the new site is live whatever happens here
        drop_spare(out, notes)
        discard(old, out)


def sweep(folder: Path, keep: dict[str, str], spare: reuse.Previous,
          bulk: reuse.Bulk | None = None) -> dict[str, tuple[int, int]]:
    """Remove from an updated spare every file the new site does not hold, and folders left empty.

    What the spare's note lists and the new site does not is removed by name. A folder whose
    modification time is still the noted one holds just what the note lists (adding an entry to a
    folder, or removing one, changes it); only the others are read, for entries nobody noted (a
    file put in the live site by hand, which then became the spare). Reading all 9 300 folders of
    300 statistics' site took 0.4 s, and 4 s when the machine had dropped them from its memory.
    `bulk`: the spare's largest part, kept whole, its files not in `keep` (decoded only should a
    folder of it have changed). Returns what it found of the spare's folders that it left as they
    were, {path: (modification time, inode)}: the note of the site need not stat them again
    (reuse.note), 10 000 folders for 300 statistics."""
    root = str(folder)
    gone = [rel for rel in spare.files if rel not in keep]
    for rel in gone:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{root}/{rel}")
    found = {}
    for rel in spare.folders:
        with contextlib.suppress(FileNotFoundError):  # removed since: nothing in it to sweep
            stat = os.stat(f"{root}/{rel}")
            found[rel] = (stat.st_mtime_ns, stat.st_ino)
    changed = [""] + [rel for rel, noted in spare.folders.items() if rel in found and found[rel][0] != noted]
    touched = {""}  # the folders this changes: the top one gets its marker again (stage_site)
    kept_folders = None
    for rel in changed:
        prefix = rel + "/" if rel else ""
        try:
            with os.scandir(f"{root}/{rel}" if rel else root) as listed:
                entries = list(listed)
        except FileNotFoundError:
            continue
        for entry in entries:
            path = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                if path in spare.folders:
                    continue  # checked in its turn
                if kept_folders is None:
                    kept_folders = reuse.folders_of(keep).union(bulk.folders if bulk is not None else ())
                if path not in kept_folders:
                    shutil.rmtree(entry.path)
                    touched.add(rel)
            elif path not in keep and path != MARKER and (bulk is None or path not in bulk.entries()):
                os.unlink(entry.path)
                gone.append(path)
    emptied = reuse.folders_of(gone)
    for rel in sorted(emptied, key=len, reverse=True):  # the deepest first
        with contextlib.suppress(OSError):
            os.rmdir(f"{root}/{rel}")  # refused while it holds anything
    touched.update(emptied)  # and the folders holding them, which folders_of gives too
    return {rel: noted for rel, noted in found.items() if rel not in touched}


def copies_made(precompress: bool) -> str:
    """How this build makes compressed copies: copies made otherwise are not reused."""
    return compress.fingerprint() if precompress else "none"


def previous_site(out: Path, notes: Path | None, precompress: bool, reuse_files: bool = True,
                  signatures: reuse.Signatures | None = None) -> reuse.Previous:
    """What the site in `out` holds, as the note of the build that wrote it says (reuse.py)."""
    out = out.resolve()
    if not reuse_files or not is_site(out):
        return reuse.Previous(out)
    return reuse.previous(notes, out, copies_made(precompress), signatures)


def stage_files(files: dict[str, bytes | reuse.Known], staging: Path, previous: reuse.Previous,
                compress_cache: Path | None | bool, spare: reuse.Previous | None = None) -> dict[str, str]:
    """Each file (and its compressed copies, unless `compress_cache` is False) into the staging
    folder: kept when it is the `spare` site that holds it already, linked from the previous site
    when unchanged, else written; the note of each file staged (reuse.py)."""
    written: dict[str, str] = {}
    made = made_digests(files)
    # the folders there already: the spare's, as noted (one removed by hand since makes creating
    # a file in it fail, and the build stages a new folder instead), 10 000 calls fewer
    folders = {f"{staging}/{rel}" for rel in spare.folders} | {str(staging)} if spare is not None else set()
    armed = faults.armed("write-site")  # looked up once: the environment is slow to ask 100 000 times
    with Compressor(staging, previous, compress_cache, spare) as copies:
        copies.begin(files, made)
        written.update(kept_in_spare(files, spare, made))
        for rel in sorted(files.keys() - written.keys()):
            target = f"{staging}/{rel}"  # plain strings: pathlib's joins cost seconds over 100 000 files
            folder = os.path.dirname(target)
            if folder not in folders:
                os.makedirs(folder, exist_ok=True)
                folders.add(folder)
            if armed:
                faults.point("write-site", target)
            data = files[rel]
            sha = data.sha if isinstance(data, reuse.Known) else made[rel]
            noted = spare.kept(rel, sha) if spare is not None else None
            if noted is None:
                if spare is not None:
                    spare.clear(rel)
                noted = previous.link(rel, sha, target)
            if noted is None:
                data = reuse.content(data)
                reuse.create(target, data)
                noted = reuse.entry(target, sha)
            written[rel] = noted
            copies.add(rel, data, sha)
        written.update(copies.staged())
    return written


def kept_in_spare(files: dict[str, bytes | reuse.Known], spare: reuse.Previous | None,
                  made: dict[str, str] | None = None) -> dict[str, str]:
    """The files the `spare` site holds already, byte for byte and untouched since its note, each
    with every compressed copy it has there: the notes of them all, found in one pass. In a
    rebuild of 300 statistics nearly all of the 45 000 files are such, and taking each through
    `stage_files`' loop took most of the write stage. A file any of whose copies changed is left
    to that loop, as is everything when the spare's signatures were not checked (reuse.Signatures:
    without them each lookup would stat the file) or its copies were made otherwise."""
    if spare is None or spare.stale is None or not spare.copies:
        return {}
    if made is None:
        made = made_digests(files)
    return spare.kept_in_one_pass(files, made, compress.TEXT_ENDINGS, compress.ENCODINGS)


def made_digests(files: dict[str, bytes | reuse.Known]) -> dict[str, str]:
    """The SHA-256 of each file made in this build (not reuse.Known), hashed once for every use."""
    return {rel: reuse.digest(data) for rel, data in files.items() if data.__class__ is not reuse.Known}


class Compressor:
    """The compressed copies of staged files: linked from the previous site when it has them for
    the same bytes, else compressed (from memory: reading the file back costs more) in threads,
    one per core, since gzip and Brotli let go of the interpreter while they work. Off when
    `cache` is False."""

    # A file this large is compressed one encoding per thread: the 8 MB data catalogue of 300
    # statistics takes a tenth of a second for each.
    LARGE = 1 << 20

    def __init__(self, staging: Path, previous: reuse.Previous, cache: Path | None | bool,
                 spare: reuse.Previous | None = None):
        self.staging, self.previous, self.cache, self.spare = staging, previous, cache, spare
        self.pool = ThreadPoolExecutor(len(os.sched_getaffinity(0)))
        self.linked: dict[str, str] = {}
        self.pending: list[tuple[str, list[Future]]] = []
        self.begun: dict[str, tuple[str, list[Future]]] = {}  # by path: (the bytes' hash, their copies)

    def begin(self, files: dict[str, bytes | reuse.Known], made: dict[str, str]) -> None:
        """Start compressing the files that are surely new: made in this build (not a file on disk
        already, reuse.Known) and held at their path with those bytes by neither the spare nor the
        previous site. In a rebuild the staging loop reaches them only after looking up the tens
        of thousands of files that stay, and then waited for their copies (0.12–0.16 s of every
        rebuild of 300 statistics, mostly for the data catalogue, which changes with any statistic);
        begun first, they are compressed in the threads while the rest is looked up. `made`: the
        hash of each file made in this build."""
        if self.cache is False:
            return
        for rel, sha in made.items():
            if rel.endswith(compress.TEXT_ENDINGS) and not noted(self.spare, rel, sha) and \
                    not noted(self.previous, rel, sha):
                self.begun[rel] = sha, self.compress(rel, files[rel])

    def compress(self, rel: str, data: bytes) -> list[Future]:
        if len(data) < self.LARGE:
            return [self.pool.submit(compress.copies, rel, data, self.cache)]
        return [self.pool.submit(compress.copies, rel, data, self.cache, (suffix,)) for suffix in compress.ENCODINGS]

    def __enter__(self) -> "Compressor":
        return self

    def __exit__(self, *exc) -> None:
        self.pool.shutdown(cancel_futures=True)

    def add(self, rel: str, data: bytes | reuse.Known, sha: str) -> None:
        names = compress.names(rel)
        if self.cache is False or not names:
            return
        begun = self.begun.pop(rel, None)
        if begun is not None and begun[0] == sha:  # neither site holds these bytes: nor their copies
            if self.spare is not None:
                self.spare.clear(*names)
            self.pending.append(begun)
            return
        if self.spare is not None:  # the staging folder is the spare site: it may hold them already
            kept = self.spare.kept_copies(rel, sha, names)
            if kept is not None:
                self.linked.update(kept)
                return
            self.spare.clear(*names)
        linked = self.previous.link_copies(rel, sha, names, self.staging)
        if linked is not None:
            self.linked.update(linked)
        else:
            self.pending.append((sha, self.compress(rel, reuse.content(data))))

    def staged(self) -> dict[str, str]:
        """Every copy added so far, written into the staging folder; the note of each."""
        made = dict(self.linked)
        for sha, futures in self.pending:
            for name, copy in (item for future in futures for item in future.result().items()):
                reuse.create(f"{self.staging}/{name}", copy)
                made[name] = reuse.entry(f"{self.staging}/{name}", sha)
        self.linked, self.pending = {}, []
        return made


def noted(site: reuse.Previous | None, rel: str, sha: str) -> bool:
    """Does the note of `site` give the bytes `sha` at `rel` (whether the file is still as noted
    is not asked: for a guess whose only cost, when wrong, is a copy compressed for nothing)?"""
    return site is not None and site.files.get(rel, "").startswith(sha)


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


def swap(new: Path, out: Path) -> Path | None:
    """Put `new` in place of `out`; if that fails, the old one stays. Where the old site is now
    (None: there was none), for the caller to keep or discard."""
    if out.exists() and exchange(new, out):
        faults.point("swap-exchanged")
        return new  # now the old site
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
    return old if old.exists() else None


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
