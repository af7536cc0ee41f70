"""The previous site's files, reused: a rebuild writes only what changed (issue #12).

Most of a rebuild's output is byte for byte what the previous build wrote: the pages of every
statistic that did not change, their downloads, the archived snapshots, the assets, and all their
precompressed copies. Writing tens of thousands of files, and deleting the old ones after the swap,
is what a rebuild spent most of its time on. So after each successful build the write stage notes
every file of the output in `.cache/written/` (one note per output folder): the SHA-256 of its
bytes (for a `.gz` or `.br` copy: of the file it was compressed from) and its size, modification
time and inode. The next build hashes each file it is about to write; when the note holds that
hash for that path, and the file in the output still has the size, modification time and inode
noted, it is hard-linked from the output into the staging folder instead of written, and its
copies with it, which are then not compressed again. Anything else is written and compressed.

The note is never trusted over the file: writing into a file changes its modification time,
replacing it changes its inode, so an edited file no longer matches and is written again. (The
change time would catch even an edit whose modification time was set back, but linking and
unlinking change it too, so it cannot be noted once and compared later.) A site whose note is
missing or from another version of the write stage is written whole. Linked files share their
bytes with the previous site, which is why nothing in statpress ever writes into an existing file
of a site: every file is created new in an empty staging folder (`create`, which refuses an
existing path), and the swap renames folders. Where a link cannot be made (another file system)
the file is copied instead.
"""

from __future__ import annotations

import errno
import hashlib
import itertools
import marshal
import os
import pickle
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import atomic
from .child import with_background
from .errors import BuildError

# Of the note; a note of another format is not read. 3: the note names no folder (its file name
# does), so that the live site's note moves with the site when that becomes the spare (write.py).
# 4: pickled, not JSON: a rebuild of 300 statistics reads two notes of 75 000 files and writes one,
# and JSON took 0.1-0.35 s for each, pickle a third of that. 5: with each folder's modification time.
# 6: each file's note one string (`entry`), not a list of four values: reading back a note of
# 110 000 files and copies took 0.12 s, and 0.05 s so; twice in each rebuild, and twice in its child.
# 7: marshalled, not pickled (the values are plain strings, numbers and dicts): written in 0.02 s
# instead of 0.06 s, read as fast. marshal's format is this Python's, and so is the note's reader.
# 8: the files of each part (`Part`: the archived snapshots, a statistic's pages in a language)
# noted apart, under the part's digest. 9: the largest part (the snapshots: 64 000 of the corpus's
# 110 000 files) marshalled on its own inside the note, with its folders (`Bulk`).
FORMAT = 9
SHA = 64  # hexadecimal digits of a SHA-256, with which a file's note starts


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Known:
    """A file to publish that is on disk already with a known SHA-256: a file of a verified
    snapshot, whose manifest gives its hash. It is linked from the previous site when that holds
    the same bytes, and read only otherwise: reading the 36 000 files of a 300-statistic archive
    in every build took seconds."""
    path: str  # a plain string: making a Path of each of 60 000 files took a tenth of each rebuild
    sha: str

    def read(self) -> bytes:
        with open(self.path, "rb") as f:
            data = f.read()
        if digest(data) != self.sha:
            raise BuildError(f"{self.path}: changed while the site was being built (its SHA-256 differs "
                             "from the manifest); run 'build.py verify', then build again")
        return data


@dataclass(frozen=True)
class Part:
    """Files of the site that change together, named, with a digest that changes whenever any of
    them would: the archived snapshots, which change only when a release is frozen (26 000 of the
    44 000 files of 300 statistics' site), and each statistic's pages, downloads and charts in a
    language, whose digest is the page cache's key. The write stage keeps a part the spare holds
    with that digest, untouched, as it is, without listing its files (write.stage_site); only
    otherwise does it ask for them (`files`) and stage them one by one, like any other file. No
    two parts, nor a part and the other files, share a path."""
    name: str
    digest: str
    count: int  # how many files `files` gives
    files: Callable[[], dict[str, "bytes | Known"]]


def content(data: bytes | Known) -> bytes:
    return data.read() if isinstance(data, Known) else data


def create(path: Path | str, data: bytes) -> None:
    """Write a new file; an existing one (perhaps a hard link shared with the live site) is never
    written into. With the descriptor alone, no file object: a cold build of 300 statistics
    writes 110 000 files, and `open`'s buffered writer was a sixth of the time of each."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def signature(stat: os.stat_result) -> str:
    """What changes when anything writes into or replaces a file, and linking does not: its size,
    modification time and inode."""
    return f"{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ino}"


def entry(path: str, sha: str) -> str:
    """The note of a file just staged, "<hash>:<signature>" (the swap renames its folder, which
    changes neither)."""
    return f"{sha}:{signature(os.stat(path))}"


def spare_folder(out: Path) -> Path:
    """Where the site a build replaced is kept, to be brought up to date by the next (write.py)."""
    return out.parent / f".{out.name}.spare"


def note_path(notes: Path, out: Path) -> Path:
    return notes / (digest(str(out.resolve()).encode())[:24] + ".marshal")


class Bulk:
    """The largest part of a note (the archived snapshots), kept as the bytes it was marshalled to,
    with the folders that hold its files (and their parents). A rebuild that keeps the part whole,
    as all but a release's do, never decodes it: it hands the same bytes to the next note. Reading
    its 64 000 notes and merging them with the rest took 0.05 s for each of the two notes a
    rebuild of 300 statistics reads, writing them 0.015 s and finding their folders 0.02 s."""

    def __init__(self, name: str, digest: str, blob: bytes, folders: list[str],
                 entries: dict[str, str] | None = None):
        self.name, self.digest, self.blob, self.folders = name, digest, blob, folders
        self.decoded = entries

    @classmethod
    def of(cls, name: str, digest: str, entries: dict[str, str]) -> "Bulk":
        return cls(name, digest, marshal.dumps(entries), sorted(folders_of(entries)), entries)

    def entries(self) -> dict[str, str]:
        """The notes of its files, {path: entry}, decoded when first asked for."""
        if self.decoded is None:
            self.decoded = marshal.loads(self.blob)
        return self.decoded

    def noted(self) -> tuple[str, str, bytes, list[str]]:
        return self.name, self.digest, self.blob, self.folders


def entries_of(noted: "dict[str, str] | Bulk") -> dict[str, str]:
    """The notes of a part's files, whether kept as a dict or as a `Bulk`."""
    return noted.entries() if isinstance(noted, Bulk) else noted


@dataclass
class Previous:
    """The previous site in `out` as its note describes it: {path: "<hash>:<signature>"}. `copies`
    says whether its precompressed copies were made as this build makes them; `folders` gives the
    modification time of each of its folders but the top one (which changes when an entry is added
    to it or removed, and not otherwise), {path: nanoseconds}."""
    out: Path
    files: dict[str, str] = field(default_factory=dict)
    copies: bool = False
    folders: dict[str, int] = field(default_factory=dict)
    # the files whose signature differs from their note, as Signatures found them (None: stat each)
    stale: "Judged | None" = None
    # the parts among `files`, each as noted: {name: (digest, {path: note})}
    parts: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)
    # the largest part, not among `files` or `parts` until `unfold`ed: no path of it is asked for
    # unless it is staged file by file, and it has no path in common with another part or a file
    bulk: Bulk | None = None

    def unfold(self) -> None:
        """The largest part's files among `files` and `parts`, for a build that stages them one by
        one (a release frozen), or sweeps them from the spare (a site without them)."""
        if self.bulk is not None:
            entries = self.bulk.entries()
            self.files.update(entries)
            self.parts[self.bulk.name] = (self.bulk.digest, entries)
            self.bulk = None

    def path(self, rel: str) -> str:
        return f"{self.out}/{rel}"  # plain strings: pathlib's joins cost seconds over 100 000 files

    def unchanged(self, rel: str, sha: str) -> bool:
        """Does the previous site hold exactly these bytes at `rel`, untouched since it was noted?"""
        entry = self.files.get(rel)
        if entry is None or entry[:SHA] != sha:
            return False
        if self.stale is not None:
            return rel not in self.stale
        try:
            return signature(os.stat(self.path(rel))) == entry[SHA + 1:]
        except OSError:
            return False

    def holds(self, part: Part) -> dict[str, str] | Bulk | None:
        """The notes of the files of `part` (and of their copies) if this site holds the part
        whole with its digest, not a file of it touched since noted (as Signatures found: never
        asked of the file itself), and its copies made as this build makes them; else None."""
        if self.stale is None or not self.copies:
            return None
        if self.bulk is not None and part.name == self.bulk.name:
            # the child judged its files in an answer of their own: none stale, none decoded
            judged = self.stale.of_bulk() if isinstance(self.stale, Judged) else None
            return self.bulk if self.bulk.digest == part.digest and judged == set() else None
        noted = self.parts.get(part.name)
        if noted is None or noted[0] != part.digest:
            return None
        entries = noted[1]
        return None if any(rel in entries for rel in self.stale) else entries

    def kept(self, rel: str, sha: str) -> str | None:
        """The note of `rel` if this site holds exactly these bytes there, untouched: it can stay."""
        return self.files[rel] if self.unchanged(rel, sha) else None

    def link(self, rel: str, sha: str, target: str) -> str | None:
        """Hard-link the previous file `rel` to `target` if it holds `sha`: its note, else None."""
        if not self.unchanged(rel, sha):
            return None
        return self.placed(rel, target)

    def placed(self, rel: str, target: str) -> str:
        if place(self.path(rel), target):
            return self.files[rel]  # the same inode: what was noted still holds
        return entry(target, self.files[rel][:SHA])

    def link_copies(self, rel: str, sha: str, names: list[str], staging: str) -> dict[str, str] | None:
        """The precompressed copies of `rel` (of the candidate `names`) linked from the previous
        site, if it has them for the same bytes: their notes, or None (compress them)."""
        kept = self.kept_copies(rel, sha, names)
        if kept is None:
            return None
        return {name: self.placed(name, f"{staging}/{name}") for name in kept}

    def kept_copies(self, rel: str, sha: str, names: list[str]) -> dict[str, str] | None:
        """The notes of the copies of `rel` (of the candidate `names`) this site holds untouched
        for the bytes `sha`, or None."""
        if not self.copies:
            return None
        noted = self.files.get(rel)
        if noted is None or noted[:SHA] != sha:
            return None
        found = [name for name in names if name in self.files]  # a copy not smaller was not written
        if not all(self.unchanged(name, sha) for name in found):
            return None
        return {name: self.files[name] for name in found}

    def kept_in_one_pass(self, files: dict, made: dict[str, str], text: tuple[str, ...],
                         suffixes: tuple[str, ...]) -> dict[str, str]:
        """`kept` and `kept_copies` for every file of `files` at once, with the signatures checked
        already (`stale`): the notes of the files this site holds unchanged, each with every copy
        (`suffixes`) it has of a file whose name ends in one of `text` (compress.names). The same
        rules, written out in one loop: over 45 000 files a call to each for each file cost more
        than the lookups themselves (0.24 s of a rebuild, 0.13 s so). `made`: the hash of each file
        of `files` that is not `Known`."""
        get = self.files.get
        stale = set(self.stale)  # every stale file, waited for (Judged), as a set: 45 000 lookups
        kept: dict[str, str] = {}
        for rel, data in files.items():
            sha = data.sha if data.__class__ is Known else made[rel]
            entry = get(rel)
            if entry is None or not entry.startswith(sha) or rel in stale:
                continue
            if not rel.endswith(text):  # no copies: a file named as one is a file of its own
                kept[rel] = entry
                continue
            batch = {rel: entry}
            for suffix in suffixes:
                copy = get(name := rel + suffix)
                if copy is not None:  # a copy not smaller than its file was not written
                    if not copy.startswith(sha) or name in stale:
                        break
                    batch[name] = copy
            else:
                kept.update(batch)
        return kept

    def clear(self, *rels: str) -> None:
        """Whatever this site holds at `rels` removed (unlinked: the live site's links to the same
        bytes are untouched), so that new files can be created there."""
        for rel in rels:
            path = self.path(rel)
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            except IsADirectoryError:
                shutil.rmtree(path)


def place(source: str, target: str) -> bool:
    """`target` as a hard link to `source` (True), or a copy where the file system cannot link."""
    try:
        os.link(source, target)
        return True
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        shutil.copyfile(source, target)  # target is new: nothing shared is written into
        return False


def previous(notes: Path | None, out: Path, copies: str, signatures: "Signatures | None" = None) -> Previous:
    """The note of the site in `out`, if it is a statpress site and the note is of this format;
    `copies` names how this build makes precompressed copies (their reuse needs the same).
    `signatures`, if it checked this note, says which of its files changed since."""
    out = out.resolve()
    if notes is None or not out.is_dir():
        return Previous(out)
    try:
        with open(note_path(notes, out), "rb") as f:
            data, version = f.read(), identity(os.fstat(f.fileno()))
        note = marshal.loads(data)
        if note["format"] != FORMAT:
            return Previous(out)
        files = dict(note["files"])
        for _, entries in note["parts"].values():
            files.update(entries)
        bulk = Bulk(*note["bulk"]) if note["bulk"] is not None else None
        return Previous(out, files, note["copies"] == copies, note["folders"],
                        signatures.stale(out, version, bulk) if signatures is not None else None,
                        note["parts"], bulk)
    except (OSError, EOFError, ValueError, KeyError, TypeError):
        return Previous(out)  # no note, or a damaged one: write everything


def forget(notes: Path | None, out: Path) -> None:
    """Drop the note of `out` (before the swap: a build that dies after it leaves no stale note)."""
    if notes is not None:
        note_path(notes, out).unlink(missing_ok=True)


def move(notes: Path | None, out: Path, to: Path) -> None:
    """The note of `out` made the note of `to`, where its site is about to be (renaming a folder
    keeps each file's inode and signature). A note that turns out not to describe a file is
    harmless: no file is reused unless its signature matches, and none of another folder can."""
    if notes is not None:
        try:
            os.replace(note_path(notes, out), note_path(notes, to))
        except FileNotFoundError:
            forget(notes, to)


def note(notes: Path | None, out: Path, written: dict[str, str], copies: str,
         parts: dict[str, tuple[str, "dict[str, str] | Bulk"]] | None = None,
         known: dict[str, tuple[int, int]] | None = None) -> dict[str, tuple[int, int]] | None:
    """After the swap: every file now in `out`, {path: "<hash of its bytes (or its original's)>:<signature>"}
    (`entry`), those of each part apart (`parts`: {name: (digest, notes)}, the largest as a `Bulk`:
    one kept whole from the spare is noted as it was), and the modification time of every folder.
    What it found of the folders, the top one ("") included: {path: (modification time, inode)},
    which the up-to-date check notes too (uptodate.outputs); None if it could not look. `known`:
    folders found so by the build, and left as they were since (write.sweep), not statted again."""
    if notes is None:
        return None
    out = out.resolve()
    parts = dict(parts or {})
    bulk = next((noted for _, noted in parts.values() if isinstance(noted, Bulk)), None)
    if bulk is None and parts:
        name = max(parts, key=lambda n: len(parts[n][1]))
        bulk = Bulk.of(name, parts[name][0], parts[name][1])
    if bulk is not None:
        del parts[bulk.name]
    try:
        paths = itertools.chain(written, *(entries for _, entries in parts.values()))
        folders = folders_of(paths).union(bulk.folders if bulk is not None else ())
        known = known or {}
        found = {rel: known[rel] if rel in known else folder_time(f"{out}/{rel}" if rel else str(out))
                 for rel in ["", *folders]}
    except OSError:
        return None  # the site changed under the build: without a note the next build writes everything
    times = {rel: mtime for rel, (mtime, _) in found.items() if rel}
    body = {"format": FORMAT, "copies": copies, "files": written, "folders": times, "parts": parts,
            "bulk": bulk.noted() if bulk is not None else None}
    try:
        atomic.write(note_path(notes, out), marshal.dumps(body))
    except OSError:
        pass  # without a note the next build writes everything; the site itself is published
    return found


def folder_time(path: str) -> tuple[int, int]:
    """A folder's modification time and inode."""
    stat = os.stat(path)
    return stat.st_mtime_ns, stat.st_ino


def folders_of(paths) -> set[str]:
    """Every folder holding one of `paths` (relative POSIX paths), and their parents, but the top one."""
    folders = set()
    for parent in {rel.rpartition("/")[0] for rel in paths}:
        while parent and parent not in folders:
            folders.add(parent)
            parent = parent.rpartition("/")[0]
    return folders


def identity(stat: os.stat_result) -> str:
    """Which version of a note was read: a note is replaced, never written in place (atomic.py), so
    another version has another inode, and an edit in place changes the times. Hashing the two
    notes' 16 MB for it took 0.03 s of each rebuild of 300 statistics."""
    return f"{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ctime_ns}"


# The program of Signatures' child: for each note and site given, in turn, the site, the version
# of the note it read (`identity`) and the files whose signature is not the noted one (missing ones
# included), pickled after its length as soon as that site is checked. A note is
# "<64 hex digits>:<signature>" (`entry`). The sites share most files (hard links: the spare is
# brought up to date from the live site), and a file of a later site is not looked at again when
# the signature noted for it is one just found in an earlier site, which names the same inode, and
# its folder has the noted modification time: no entry of that folder was added, removed or
# replaced since, so the name still leads to that inode. A file replaced there by hand, the
# folder's time then set back, is taken on the note's word, as the sweep takes such a folder's
# entries (write.sweep). The spare's 110 000 `stat` calls took 0.6-0.8 s of the other core in
# each rebuild of 300 statistics; its folders' 10 000, 0.15-0.2 s. When every folder of the later
# site has its noted time, a part noted there exactly as the first site noted it (the same paths,
# each with the same inode) is judged whole: its stale files are the first site's stale files of
# it. Going through the spare's 110 000 notes one by one was 0.1-0.15 s at the end of every
# rebuild, which the write stage waited for.
CHECK = with_background("""
import marshal, os, pickle, sys
seen = set()  # the signatures found in the sites checked so far

def check(out, files, same):
    try:  # paths looked up from the site's folder, not from / each time: a tenth less of the time
        top = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return set(files)
    stale = set()
    for rel, entry in files.items():
        signature = entry[65:]
        if signature in seen and rel.rpartition("/")[0] in same:
            continue
        try:
            st = os.stat(rel, dir_fd=top)
        except OSError:
            stale.add(rel)
            continue
        found = f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"
        if found != signature:
            stale.add(rel)
        seen.add(found)
    os.close(top)
    return stale

def answer(*told):
    answer = pickle.dumps(told)
    sys.stdout.buffer.write(len(answer).to_bytes(8, "big") + answer)
    sys.stdout.buffer.flush()

def in_folders(entries):  # the top folder's time is not noted: its files are always checked
    return all("/" in rel for rel in entries)

def as_first(parts, first):  # the parts noted exactly as the first site noted them, none in the top folder
    return {name for name, (_, entries) in parts.items()
            if first["parts"].get(name, (None, None))[1] == entries and in_folders(entries)}

first = None  # the first site's note, and the stale files found there
for note, out in zip(sys.argv[1::2], sys.argv[2::2]):
    try:
        with open(note, "rb") as f:
            data, read = f.read(), os.fstat(f.fileno())
        noted = marshal.loads(data)
        parts, folders, bulk = noted["parts"], noted["folders"], noted["bulk"]
    except Exception:
        continue
    version = f"{read.st_ino}:{read.st_size}:{read.st_mtime_ns}:{read.st_ctime_ns}"  # reuse.identity
    same = set()  # folders with their noted modification time (the top one's is not noted)
    for rel, mtime in folders.items() if seen else ():
        try:
            if os.stat(out + "/" + rel).st_mtime_ns == mtime:
                same.add(rel)
        except OSError:
            pass
    as_noted = first is not None and len(same) == len(folders)  # every folder, the top one aside
    whole = as_first(parts, first) if as_noted else set()
    files, stale = dict(noted["files"]), set()
    for name, (_, entries) in parts.items():
        if name in whole:
            stale.update(rel for rel in entries if rel in first["stale"])
        else:
            files.update(entries)
    stale |= check(out, files, same)
    answer(out, version, stale, bulk is not None)
    background()  # the rest is waited for only when the site is written
    stale_bulk, entries = set(), None
    if bulk is not None:
        entries = marshal.loads(bulk[2])
        if as_noted and entries == first["bulk"] and in_folders(entries):
            stale_bulk = set(first["bulk stale"])
        else:
            stale_bulk = check(out, entries, same)
        answer(out, version, stale_bulk, False)
    if first is None:
        first = {"parts": parts, "stale": stale, "bulk": entries, "bulk stale": stale_bulk}
""")


class Signatures:
    """Which files of the noted `sites` (the live site, then the spare) no longer have the
    signature their note gives, found by a child process on the other core while the build reads
    its content and renders: 150 000 `stat` calls for 300 statistics, a second of the main thread's
    time in every rebuild. `Previous` then asks it instead of calling `stat` for each file. Each
    site's answer comes in two, the live site's first: every file but those of the site's largest
    part (the archived snapshots: 64 000 of the corpus's 110 000 files), which the pages stage
    needs, and then that part's, which only the write stage does (`Judged`). A file edited in the
    output after the build started is not noticed (one edited after its `stat` was not either);
    the write stage still never writes into a file of a site. A context manager: leaving it stops
    the child if it still runs."""

    @classmethod
    def of_site(cls, root: Path, out: Path) -> "Signatures":
        """For the output `out` of the project at `root`: the live site, then its spare."""
        return cls(root / ".cache" / "written", [out, spare_folder(out)])

    def __init__(self, notes: Path, sites: list[Path]):
        args = [str(part) for out in sites for part in (note_path(notes, out), out.resolve())]
        self.process = subprocess.Popen([sys.executable, "-c", CHECK, *args], stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.found: dict[str, tuple[str, set[str], str | None]] = {}
        self.rest: dict[str, set[str]] = {}  # the stale files of each site's largest part
        self.ended = False

    def __enter__(self) -> "Signatures":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """The child stopped, once: the command line and the build may both close it."""
        if self.process.returncode is None:
            self.process.kill()  # done, or no longer needed: the build failed, or wrote nothing
            self.process.communicate()

    def stale(self, out: Path, version: str, bulk: Bulk | None = None) -> "Judged | None":
        """The stale files of the site in `out` (whose note's largest part `bulk` is) if the child
        checked the very version of its note the build read (`identity`), else None (stat each file)."""
        out_path = str(out.resolve())
        while out_path not in self.found and not self.ended:
            self.receive()
        checked = self.found.get(out_path)
        if checked is None or checked[0] != version:
            return None
        note, stale, later = checked
        return Judged(set(stale), bulk if later else None, lambda: self.rest_of(out_path))

    def rest_of(self, out_path: str) -> set[str] | None:
        """The stale files of the largest part of the site in `out_path`, waited for; None if the
        child ended without them."""
        while out_path not in self.rest and not self.ended:
            self.receive()
        return self.rest.get(out_path)

    def receive(self) -> None:
        """The child's next answer, waited for; at its end (or a broken answer), no more."""
        try:
            size = self.process.stdout.read(8)
            answer = self.process.stdout.read(int.from_bytes(size, "big")) if len(size) == 8 else b""
            out, note, stale, last = pickle.loads(answer)
            if out in self.found:
                self.rest[out] = stale
            else:
                self.found[out] = (note, stale, last)
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, OSError):
            self.ended = True


class Judged:
    """The files of a site whose signature is not the noted one, as Signatures' child found them:
    a set for `in`. Those of the site's largest part (`later`, a `Bulk`) come in the child's second
    answer, waited for when the whole set is asked for, or whether that part has any (`of_bulk`);
    should the child end without it, every file of that part counts as stale (written again)."""

    def __init__(self, stale: set[str], later: Bulk | None, rest: Callable[[], set[str] | None]):
        self.stale, self.later, self.rest = stale, later, rest
        self.in_later: set[str] | None = None  # the second answer, once waited for

    def __contains__(self, rel: str) -> bool:
        if rel in self.stale:
            return True
        # Previous asks only of a path it has a note of: one of the largest part once that part was
        # decoded (unfolded), never before; the part shares no path with any other file
        return self.later is not None and self.later.decoded is not None and rel in self.later.decoded \
            and rel in self.all()

    def __iter__(self):
        return iter(self.all())

    def all(self) -> set[str]:
        """Every stale file, the largest part's waited for."""
        self.of_bulk()
        return self.stale

    def of_bulk(self) -> set[str] | None:
        """The stale files of the largest part, waited for; None if the child gave none (or there is
        no such part), when every file of it counts as stale."""
        if self.later is not None and self.in_later is None:
            self.in_later = self.rest()
            self.stale |= set(self.later.entries()) if self.in_later is None else self.in_later
            if self.in_later is None:
                self.later = None  # all counted already
        return self.in_later
