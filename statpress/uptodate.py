"""Is the site already built from exactly these inputs? Then a build has nothing to do.

Like `make`, a build notes what it was built from: every input file's size and modification
time (content, stats, templates, locales, archive, site.toml, the engine's own source and pinned
requirements, and each dataset's file), the options, and which releases are published, announced
and due by the real clock at its instant, the only way the instant changes a page. It also notes
the output it wrote (its folders: see `folders`). The next build compares: when nothing differs,
it stops at once, having read no data and loaded no engine. Standard library (and the TOML
parser, tomlfile.py) only, for that reason.

A build with --no-cache or --preview, `check` and `serve` never take this shortcut, and any
doubt (a file that cannot be read, a record from another version) means a full build.
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import functools
import hashlib
import json
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import archive, atomic, tomlfile
from .child import with_background, with_engine
from .instants import OSLO, parse_instant

# The archive, the one input a build writes, is listed on its own (`Fingerprint`).
INPUTS = ("content", "stats", "templates", "locales")
ENGINE = Path(__file__).resolve().parent  # statpress itself, wherever it is installed
FILES = ("site.toml", "requirements.txt", "build.py")


def listing(folder: Path, changed: bool = False) -> list[str]:
    """Every file below `folder` with its size and modification time, and with `changed` its change
    time too (see `datasets`)."""
    def times(stat: os.stat_result) -> str:
        return f"{stat.st_size}:{stat.st_mtime_ns}" + (f":{stat.st_ctime_ns}" if changed else "")
    if not folder.exists():
        return [f"{folder}: none"]
    if folder.is_file():
        return [f"{folder}:{times(folder.stat())}"]
    return sorted(f"{rel}:{times(entry.stat())}" for rel, entry in files_below(str(folder)))


def files_below(folder: str) -> Iterator[tuple[str, os.DirEntry]]:
    """Every file below `folder` but those in `__pycache__`, by relative POSIX path, with its entry
    (os.scandir: an office's archive holds tens of thousands of files, and pathlib's rglob took a
    third of a second over 300 statistics' content folders)."""
    pending = [("", folder)]
    while pending:
        prefix, path = pending.pop()
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.is_dir():
                    if entry.name != "__pycache__":
                        pending.append((prefix + entry.name + "/", entry.path))
                elif entry.is_file():
                    yield prefix + entry.name, entry


class Remote(Exception):
    """A dataset on a cluster: nothing here can tell whether it changed, so the build runs."""


def datasets(root: Path) -> list[str]:
    """Each dataset's files with their sizes and times, the change time among them: an export may
    be written into the file it replaces, and a copy may keep the times it had, so a register's new
    bytes can come with its size and modification time unchanged. Nothing the build does changes a
    dataset's change time (it only reads the data, and stats/), so a build is not made for nothing.
    Content, templates and locales, written by editors' tools, are listed as `make` sees files."""
    declared = tomlfile.loads((root / "stats" / "datasets.toml").read_text(encoding="utf-8"))
    for spec in declared.get("datasets", {}).values():
        if "table" in spec or "://" in spec.get("file", ""):
            raise Remote(spec.get("table") or spec["file"])
    return [f"{name}=" + ";".join(listing(root / spec["file"], changed=True))
            for name, spec in sorted(declared.get("datasets", {}).items())]


def calendar_state(root: Path, now: dt.datetime, content: list[str]) -> list[str]:
    """Which releases are due at `now`, due by the real clock, and announced at `now`, given the
    releases.toml files as `content` (the content folder's `listing`) lists them: the instants at
    which releases fall due and the dates they are announced do not change while the files do not,
    so for those files, how many of each have come says which have (`release_times`)."""
    instants, announced = release_times(root, [line for line in content if calendar_file(line)])
    real_now = dt.datetime.now(OSLO)
    today = now.astimezone(OSLO).date().toordinal()
    return [f"releases due {bisect.bisect_right(instants, now.timestamp())}, "
            f"by the clock {bisect.bisect_right(instants, real_now.timestamp())}, "
            f"announced {bisect.bisect_right(announced, today)} of {len(instants)}"]


def listed_path(line: str) -> str:
    """The path of a file as `listing` lists it (path:size:modification time)."""
    return line.rpartition(":")[0].rpartition(":")[0]


def calendar_file(line: str) -> bool:
    """Is the file so listed a statistic's releases.toml (<statistic>/releases.toml)?"""
    folder, _, name = listed_path(line).partition("/")
    return name == "releases.toml" and bool(folder)


def release_times(root: Path, listed: list[str]) -> tuple[list[float], list[int]]:
    """When each release of the statistics' releases.toml files (`listed`, with their sizes and
    modification times) falls due, as a POSIX timestamp, and the day it was announced (an ordinal;
    0 where it was not said), each list in ascending order. Parsing the 300 files of an office's
    statistics took 0.08-0.25 s of every build, with nothing to do or not, so they are kept in
    `.cache/release-times.json` for those very files."""
    key = hashlib.sha256("\n".join(listed).encode()).hexdigest()
    kept = root / ".cache" / "release-times.json"
    try:
        found = json.loads(kept.read_text(encoding="utf-8"))
        if found["files"] == key:
            return found["instants"], found["announced"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    instants, announced = [], []
    for line in listed:
        for r in tomlfile.loads((root / "content" / listed_path(line)).read_text(encoding="utf-8")).get("releases", []):
            hour, minute = (int(x) for x in str(r.get("time", "08:00")).split(":"))
            instants.append(dt.datetime.combine(r["date"], dt.time(hour, minute), tzinfo=OSLO).timestamp())
            announced.append(r["announced"].toordinal() if r.get("announced") is not None else 0)
    instants.sort()
    announced.sort()
    try:
        atomic.write(kept, json.dumps({"files": key, "instants": instants, "announced": announced}).encode("utf-8"))
    except OSError:
        pass  # the next build parses them again
    return instants, announced


# The archive listed by a child process (ArchiveListing): exactly `archive.entries`, pickled.
LIST = with_background("""
import pickle, sys
background()  # waited for when the archive is checked, once the pages are rendered
from pathlib import Path
from statpress import archive
found = None
if len(sys.argv) > 3:  # the entries the last build noted (a file, a path a line), and their hash then
    try:
        with open(sys.argv[2], encoding="utf-8") as f:
            found = archive.restat(f.read().split("\\n"))
    except (OSError, UnicodeDecodeError):
        pass
    if found is not None and archive.entries_digest(found) != sys.argv[3]:
        found = None  # something changed, and an entry added beside it would not be among them
sys.stdout.buffer.write(pickle.dumps(found if found is not None else archive.entries(Path(sys.argv[1]))))
""")


class ArchiveListing:
    """The archive's entries (`archive.entries`), listed here and now (`now`) or by a child
    process on the other core while the command line loads the engine (`check`): the 35 000
    entries of 300 statistics with ten releases each took 0.15 s of every rebuild. `entries`
    waits for them; should the child fail, they are listed here instead. A build changes
    nothing in the archive before it has asked for them (build.py).

    Given the entries the last build noted (`known`: the file of their paths, and the hash of
    their listing then), the child stats those instead of listing the archive, as the up-to-date
    check does (`archive.restat`): when every one is as it was, there is no other, and they are
    the listing; otherwise it lists. The child's processor time on the corpus: 0.19-0.25 s
    against 0.29-0.46 s."""

    def __init__(self, archive_dir: Path, entries: list[str] | None = None,
                 known: tuple[Path, str] | None = None):
        self.archive_dir, self.listed, self.process = archive_dir, entries, None
        if entries is None:
            given = [str(known[0]), known[1]] if known is not None else []
            self.process = subprocess.Popen([sys.executable, "-c", LIST, str(archive_dir), *given], env=with_engine(),
                                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                            stderr=subprocess.DEVNULL)

    @classmethod
    def now(cls, archive_dir: Path) -> "ArchiveListing":
        """The archive listed here and now."""
        return cls(archive_dir, archive.entries(archive_dir))

    def entries(self) -> list[str]:
        if self.listed is None:
            answer, _ = self.process.communicate()
            try:
                self.listed = pickle.loads(answer) if self.process.returncode == 0 else None
            except (pickle.UnpicklingError, EOFError, ValueError, TypeError):
                pass
            if not isinstance(self.listed, list):
                self.listed = archive.entries(self.archive_dir)
        return self.listed


@dataclass(frozen=True)
class Fingerprint:
    """The inputs' fingerprint, in two parts. The archive is the one input a build writes itself:
    it freezes each newly due release into it. The build has then published that snapshot, so the
    archive is listed again after such a build (`archive_again`); everything else stays as it was
    listed before the build, so that a file changed while the build ran is not taken as built.
    The archive is listed as its check lists it (`archive.entries`: every file and folder with its
    times and inode), and `archive_entries` hands that listing on to the build, which would
    otherwise list the archive's tens of thousands of entries again for its stamp."""
    rest: str
    listing: ArchiveListing = field(compare=False, repr=False)
    tables: str = ""  # the tables' inputs alone (`other_inputs`)
    tables_before: str | None = field(default=None, compare=False)  # theirs at the last build, if noted

    @property
    def tables_changed(self) -> bool:
        """Have the tables' inputs changed since the last build? Then it computes a statistic's
        tables, most likely (a changed title, a new dataset); not known after no build."""
        return self.tables_before is not None and self.tables_before != self.tables

    @property
    def archive_entries(self) -> list[str]:
        return self.listing.entries()

    @functools.cached_property
    def archive(self) -> str:
        return archive.entries_digest(self.archive_entries)

    @property
    def digest(self) -> str:
        return hashlib.sha256(f"{self.rest}\n{self.archive}".encode()).hexdigest()

    def archive_again(self, root: Path) -> Fingerprint:
        return replace(self, listing=ArchiveListing.now(root / "archive"))


def other_inputs(root: Path, out: Path, now: dt.datetime, options: dict) -> tuple[str, str]:
    """The fingerprints of every input but the archive, and of the tables' inputs alone (stats/
    and the datasets' files, with their change times: see `datasets`; classifications are
    exported as data are)."""
    tables = listing(root / "stats", changed=True) + datasets(root)
    listed = {name: listing(root / name) for name in INPUTS + FILES if name != "stats"}
    parts = [json.dumps(options, sort_keys=True), str(out.resolve()), *(line for lines in listed.values() for line in lines)]
    parts += listing(ENGINE) + tables + calendar_state(root, now, listed["content"])
    return hashlib.sha256("\n".join(parts).encode()).hexdigest(), hashlib.sha256("\n".join(tables).encode()).hexdigest()


def folders(folder: Path) -> list[str]:
    """Every folder below `folder` (itself included) with its modification time and inode: a file
    added, removed or renamed in a folder changes the folder's modification time. Like `make`,
    which takes a target edited after it was built as up to date, an edit inside an output file
    is not looked for here; the next build that writes anything checks every file it reuses
    (reuse.py), and --no-cache writes them all. Statting the folders alone takes half the time
    of statting the files (a 300-statistic site has 76 000 of them in 9 000 folders)."""
    return listed(walk(folder)) if folder.is_dir() else [f"{folder}: none"]


def walk(folder: Path) -> dict[str, tuple[int, int]]:
    """{path below `folder`, itself as "": (modification time, inode)} of every folder there."""
    found = {}
    pending = [("", str(folder))]
    while pending:
        rel, path = pending.pop()
        stat = os.stat(path)
        found[rel] = (stat.st_mtime_ns, stat.st_ino)
        with os.scandir(path) as entries:
            pending += [(f"{rel}/{entry.name}" if rel else entry.name, entry.path) for entry in entries
                        if entry.is_dir(follow_symlinks=False)]
    return found


def restat(folder: Path, known: list[str] | None) -> dict[str, tuple[int, int]] | None:
    """What `walk` would find, when the folders below `folder` are still the `known` ones: each is
    statted, none listed. A folder added, removed or renamed anywhere changes the modification
    time of the folder that held it, which is known; so when every known folder is as noted, there
    is no other. Listing the 10 000 folders of a 300-statistic site took 0.35 s of a check with
    nothing to do; statting them takes a tenth of that. None when one is gone (or none is known)."""
    if not known:
        return None
    found, top = {}, str(folder)
    try:
        for rel in known:
            stat = os.stat(f"{top}/{rel}" if rel else top)
            found[rel] = (stat.st_mtime_ns, stat.st_ino)
    except OSError:
        return None
    return found


def listed(found: dict[str, tuple[int, int]]) -> list[str]:
    """`folders`' lines for folders found otherwise, {path: (modification time, inode)}, the top
    one as ""."""
    return sorted(f"{rel + '/' if rel else ''}:{mtime}:{ino}" for rel, (mtime, ino) in found.items())


def outputs(out: Path, found: dict[str, tuple[int, int]] | None = None) -> str:
    """The output as the record notes it: its folders, as `found` by the build that just wrote it
    (the write stage looked at each after the swap: listing 10 000 of them again took a tenth of
    a rebuild) or by `restat`, else as listed now, and the audit file's listing."""
    out = out.resolve()
    parts = (folders(out) if found is None else listed(found)) + listing(out.parent / f"{out.name}-audit")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def record_path(root: Path, out: Path) -> Path:
    return root / ".cache" / "builds" / (hashlib.sha256(str(out.resolve()).encode()).hexdigest()[:24] + ".json")


def noted(root: Path, out: Path, suffix: str) -> list[str] | None:
    """What the last build noted beside its record (`note`), one path a line: the output's folders
    (".folders") or the archive's entries (".archive"); None if it did not."""
    try:
        return record_path(root, out).with_suffix(suffix).read_text(encoding="utf-8").split("\n")
    except (OSError, UnicodeDecodeError):
        return None


def options(strict: bool, allow_withdraw: bool) -> dict:
    """The build options that change what a build writes (beyond its inputs and instant)."""
    return {"strict": strict, "allow_withdraw": allow_withdraw}


@dataclass(frozen=True)
class Checked:
    """What the command line's early check found, for the build it then runs: whether the output
    is up to date, the instant it checked (the build's, so that the fingerprint noted after the
    build describes the releases that build published) and the inputs' fingerprint (None when an
    input could not be read): the build need not list a 300-statistic project's 40 000 input files
    again (0.2 s)."""
    fresh: bool
    now: dt.datetime
    fingerprint: Fingerprint | None
    out: Path  # the output folder, resolved


def from_command_line(root: Path, argv: list[str]) -> Checked | None:
    """`build.py build …` checked before the engine is loaded; says so when its output is up to
    date. None for anything else (another command, --preview, --no-cache, an argument it does not
    know): the full command line deals with it."""
    if argv[:1] != ["build"]:
        return None
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--now")
    for flag in ("--strict", "--allow-withdraw", "--quiet", "--verbose"):
        parser.add_argument(flag, action="store_true")
    parser.add_argument("--jobs")
    parser.add_argument("--wait")
    try:
        args, rest = parser.parse_known_args(argv[1:])
        now = parse_instant(args.now) if args.now else dt.datetime.now(OSLO)
    except (SystemExit, ValueError):
        return None
    if rest:  # --preview, --no-cache, a typo
        return None
    out = (args.out or root / "site").resolve()
    leftovers = [*out.parent.glob(f".{out.name}.staging*"), *out.parent.glob(f".{out.name}.old")]
    if os.environ.get("STATPRESS_FAULT") or leftovers:
        return None  # a fault to inject, or what an interrupted build left to recover: build
    fresh, fingerprint = check(root, out, now, options(args.strict, args.allow_withdraw))
    if fresh:
        print(f"up to date: {out} was built from exactly these inputs; nothing to do")
    return Checked(fresh, now, fingerprint, out)


def check(root: Path, out: Path, now: dt.datetime, options: dict) -> tuple[bool, Fingerprint | None]:
    """(the site in `out` was built from exactly these inputs, the inputs' fingerprint). Taken
    before a build, so that a file changed while it runs is not taken as built. When an input
    other than the archive changed, the build runs whatever the archive holds: the archive is
    listed by a child process on the other core while the command line loads the engine (0.15 s
    of the main process for 300 statistics). When none did, it is listed here: a second process
    would cost a build with nothing to do more than it saves."""
    try:
        rest, tables = other_inputs(root, out, now, options)
    except Exception:  # noqa: BLE001 - any doubt means a full build, which reports real errors
        return False, None
    try:
        record = json.loads(record_path(root, out).read_text(encoding="utf-8"))
    except Exception:  # noqa: BLE001
        record = {}
    record = record if isinstance(record, dict) else {}
    before = record.get("tables") if isinstance(record.get("tables"), str) else None
    if record.get("rest") != rest:
        # the output need not be listed; the archive is, by a child, which stats the entries the
        # last build noted when it can
        known = (record_path(root, out).with_suffix(".archive"), record["archive"]) \
            if isinstance(record.get("archive"), str) else None
        return False, Fingerprint(rest, ArchiveListing(root / "archive", known=known), tables, before)
    try:
        restatted = archive.restat(known) if (known := noted(root, out, ".archive")) else None
        fingerprint = Fingerprint(rest, ArchiveListing(root / "archive", restatted) if restatted is not None
                                  else ArchiveListing.now(root / "archive"), tables, before)
        found = restat(out.resolve(), noted(root, out, ".folders"))
        fresh = record == {"inputs": fingerprint.digest, "rest": rest, "tables": tables,
                           "archive": fingerprint.archive, "outputs": outputs(out, found)}
        if not fresh and restatted is not None:  # the build gets the archive listed: restat misses additions
            fingerprint = fingerprint.archive_again(root)
        return fresh, fingerprint
    except Exception:  # noqa: BLE001
        return False, None


def note(root: Path, out: Path, fingerprint: Fingerprint | None, froze: bool,
         found: dict[str, tuple[int, int]] | None = None) -> None:
    """After a successful build: the inputs it was built from, and what it wrote (its folders as
    the build `found` them, if it did: see `outputs`). `froze`: the build froze releases into the
    archive and nothing else changed there since it was checked (archive.note_frozen), so the
    archive is listed as the build left it."""
    if fingerprint is None:
        return
    try:
        if froze:
            fingerprint = fingerprint.archive_again(root)
        found = walk(out.resolve()) if found is None else found
        record = {"inputs": fingerprint.digest, "rest": fingerprint.rest, "tables": fingerprint.tables,
                  "archive": fingerprint.archive, "outputs": outputs(out, found)}
        # what the next check stats instead of listing (`restat`, `archive.restat`); a record beside
        # an older note is not taken: what that note finds does not hash as the record says
        path = record_path(root, out)
        atomic.write(path.with_suffix(".folders"), "\n".join(sorted(found)).encode("utf-8"))
        paths = map(archive.entry_path, fingerprint.archive_entries)
        atomic.write(path.with_suffix(".archive"), "\n".join(paths).encode("utf-8"))
        atomic.write(path, json.dumps(record).encode("utf-8"))
    except Exception:  # noqa: BLE001 - without a record the next build simply builds
        pass
