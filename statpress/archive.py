"""Archive stage: every release stays exactly as it was published.

When a release is first published its page, downloads, chart files and stylesheet are frozen
into `archive/<statistic>/<release>/`, with a manifest giving each file's SHA-256, the release, its
publication time and the statpress version. Later builds copy the snapshot into the site
verbatim and never render it again, so a new template or stylesheet cannot change it. A snapshot
is written to a temporary folder and renamed into place only when complete.

Each snapshot's manifest hash is also appended to `archive/ledger.jsonl`, committed with the
archive. Lines are only ever appended, so an edited file whose manifest was "fixed" to match still
differs from the ledger, and a rewritten ledger differs from its own git history (`build.py
verify`). A build killed while freezing leaves `.<release>.partial`: the next build either
completes it (it was whole and already in the ledger) or discards it and freezes it again.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import subprocess
from pathlib import Path

from . import __version__, atomic, faults
from .reuse import Known
from .errors import BuildError

MANIFEST = "manifest.json"
LEDGER = "ledger.jsonl"
PARTIAL = ".partial"


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def folder(archive_dir: Path, statistic: str, release: str) -> Path:
    return archive_dir / statistic / release


def verify(snapshot: Path) -> list[str]:
    """Problems of one snapshot against its manifest: each changed, added or removed file."""
    try:
        manifest = json.loads((snapshot / MANIFEST).read_text(encoding="utf-8"))
        expected = manifest["files"]
    except (OSError, ValueError, KeyError) as exc:
        return [f"{snapshot / MANIFEST}: missing or unreadable manifest ({exc})"]
    top = str(snapshot)
    present = set(files_in(top)) - {MANIFEST}
    problems = []
    for rel in sorted(set(expected) - present):
        problems.append(f"{snapshot / rel}: removed (listed in the manifest)")
    for rel in sorted(present - set(expected)):
        problems.append(f"{snapshot / rel}: added (not in the manifest)")
    for rel in sorted(present & set(expected)):
        with open(f"{top}/{rel}", "rb") as f:
            if sha256(f.read()) != expected[rel]:
                problems.append(f"{snapshot / rel}: changed (SHA-256 differs from the manifest)")
    return problems


def files_in(folder: str) -> list[str]:
    """Every file below `folder` (a link to a file counts, a linked folder is not entered), by
    relative POSIX path. With scandir and plain strings: pathlib's rglob and relative_to took two
    thirds of the time to verify the 3 300 snapshots of 300 statistics."""
    found, pending = [], [("", folder)]
    while pending:
        prefix, path = pending.pop()
        try:
            with os.scandir(path) as entries:
                for entry in entries:
                    if entry.is_dir() and not entry.is_symlink():
                        pending.append((f"{prefix}{entry.name}/", entry.path))
                    elif entry.is_file():
                        found.append(prefix + entry.name)
        except PermissionError:
            pass  # its files are missing from the snapshot, as rglob left them out
    return found


def snapshots(archive_dir: Path) -> list[Path]:
    """Every snapshot: a folder <statistic>/<release> with a manifest, not a partial one."""
    return [Path(path) for path, _ in snapshot_folders(archive_dir)]


def snapshot_folders(archive_dir: Path) -> list[tuple[str, str]]:
    """(path, name) of every snapshot, as plain strings, in the order of `release_folders`."""
    return [(path, name) for path, name in release_folders(archive_dir)
            if not is_partial(name) and os.path.exists(f"{path}/{MANIFEST}")]


def release_folders(archive_dir: Path) -> list[tuple[str, str]]:
    """(path, name) of every folder two levels below `archive_dir`, sorted. With scandir and plain
    strings: pathlib's glob over the 3 300 snapshots of 300 statistics took 0.05 s of every build."""
    found = []
    for statistic in sorted(subfolders(str(archive_dir))):
        found += sorted(subfolders(statistic))
    return [(path, os.path.basename(path)) for path in found]


def subfolders(path: str) -> list[str]:
    try:
        with os.scandir(path) as entries:
            return [entry.path for entry in entries if entry.is_dir()]
    except (FileNotFoundError, NotADirectoryError):
        return []


def is_partial(name: str) -> bool:
    """Is the snapshot folder of this name one an interrupted freeze left?"""
    return name.startswith(".") and name.endswith(PARTIAL)


def partials(archive_dir: Path) -> list[Path]:
    """Snapshots an interrupted build left half-made: not part of the archive, repaired by the next build."""
    return [Path(path) for path, name in release_folders(archive_dir) if is_partial(name)]


def verify_all(archive_dir: Path) -> list[str]:
    problems = []
    for snap in snapshots(archive_dir):
        problems += verify(snap)
    problems += stray_files(archive_dir)
    problems += verify_ledger(archive_dir)
    return problems


def stray_files(archive_dir: Path) -> list[str]:
    """Everything in archive/ that is neither a snapshot, the ledger nor a partial snapshot: only
    its top two levels are looked at (what lies inside a snapshot is `verify`'s)."""
    if not archive_dir.is_dir():
        return []
    problems = []
    for rel in sorted(top_two_levels(str(archive_dir))):
        path = archive_dir.joinpath(*rel)
        if rel == (LEDGER,) or (len(rel) == 2 and is_partial(rel[1])):
            continue
        if path.is_dir():
            if len(rel) == 2 and not (path / MANIFEST).exists():
                problems.append(f"{path}: snapshot without {MANIFEST}")
            continue
        problems.append(f"{path}: stray file (not inside a snapshot)")
    return problems


def top_two_levels(folder: str) -> list[tuple[str, ...]]:
    """The names of every entry of `folder` and of its subfolders (not those a link leads to), as
    path parts."""
    found = []
    with os.scandir(folder) as entries:
        for entry in entries:
            found.append((entry.name,))
            if entry.is_dir() and not entry.is_symlink():
                try:
                    with os.scandir(entry.path) as inner:
                        found += [(entry.name, child.name) for child in inner]
                except PermissionError:
                    pass  # as rglob: what cannot be listed is not looked at
    return found


def ledger_lines(archive_dir: Path) -> list[str]:
    path = archive_dir / LEDGER
    if not path.exists():
        return []
    return path.read_text(encoding="utf-8").splitlines()


def ledger_entries(archive_dir: Path) -> tuple[dict[str, str], list[str]]:
    """The ledger as {"statistic/release": manifest hash}, and its problems."""
    path, entries, problems = archive_dir / LEDGER, {}, []
    for n, line in enumerate(ledger_lines(archive_dir), 1):
        try:
            item = json.loads(line)
            key, digest = f"{item['statistic']}/{item['release']}", item["manifest_sha256"]
        except (ValueError, KeyError, TypeError):
            problems.append(f"{path}: line {n}: not a ledger entry")
            continue
        if key in entries:
            problems.append(f"{path}: line {n}: {key} is recorded twice")
        entries[key] = digest
    return entries, problems


def verify_ledger(archive_dir: Path) -> list[str]:
    """Every snapshot's manifest has the hash the ledger recorded when it was frozen, and back."""
    entries, problems = ledger_entries(archive_dir)
    present = {}
    for snap in snapshots(archive_dir):
        key = f"{snap.parent.name}/{snap.name}"
        present[key] = snap
        if key not in entries:
            problems.append(f"{snap}: not in {archive_dir / LEDGER} (a snapshot is recorded when it is frozen)")
        elif sha256((snap / MANIFEST).read_bytes()) != entries[key]:
            problems.append(f"{snap / MANIFEST}: changed (SHA-256 differs from {archive_dir / LEDGER})")
    for key in sorted(set(entries) - set(present)):
        if (archive_dir / key).parent.joinpath(f".{Path(key).name}{PARTIAL}").exists():
            continue  # an interrupted freeze: the next build completes it
        problems.append(f"{archive_dir / key}: removed (recorded in {archive_dir / LEDGER})")
    return problems


def ledger_history(archive_dir: Path) -> tuple[list[str], str]:
    """Problems of the ledger against its git history (each committed version must be a prefix of
    the current file: lines are only appended), and a sentence saying what was checked."""
    path = archive_dir / LEDGER
    try:
        top = Path(git(archive_dir, "rev-parse", "--show-toplevel").strip())
        rel = path.resolve().relative_to(top.resolve()).as_posix()
        commits = git(top, "log", "--format=%H", "--", rel).split()
    except (OSError, subprocess.CalledProcessError, ValueError):
        return [], f"git history of {path} not checked: {archive_dir} is not in a git checkout (or git is missing)"
    current = path.read_bytes() if path.exists() else b""
    problems = []
    for commit in commits:
        try:
            old = git(top, "show", f"{commit}:{rel}", text=False)
        except subprocess.CalledProcessError:
            continue  # the file was deleted in that commit: the prefix check of later ones covers it
        if not current.startswith(old):
            problems.append(f"{path}: lines committed in {commit[:12]} were changed or removed "
                            "(the ledger may only grow)")
    return problems, f"git history of {path}: {len(commits)} commits, each only appended"


def git(cwd: Path, *args: str, text: bool = True):
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=True, text=text,
                          timeout=60).stdout


def repair(archive_dir: Path) -> list[str]:
    """Finish or discard what an interrupted freeze left; the caller holds the archive lock."""
    done = []
    found = partials(archive_dir)
    # the ledger only when there is something to repair: parsing its 3 300 lines took 0.08 s of
    # every build of 300 statistics, which nearly always finds nothing
    entries = ledger_entries(archive_dir)[0] if found else {}
    for tmp in found:
        snap = tmp.parent / tmp.name[1:-len(PARTIAL)]
        key = f"{snap.parent.name}/{snap.name}"
        manifest = tmp / MANIFEST
        whole = (not snap.exists() and manifest.exists() and not verify(tmp)
                 and entries.get(key) == sha256(manifest.read_bytes()))
        if whole:  # killed between recording it in the ledger and renaming it into place
            os.rename(tmp, snap)
            done.append(f"completed the interrupted snapshot {snap}")
        else:
            shutil.rmtree(tmp)
            done.append(f"discarded the incomplete snapshot {tmp}")
    return done


def withdrawn(archive_dir: Path, published: dict[str, set[str]], listed: list[str] | None = None) -> list[Path]:
    """Snapshots of releases that a site with these published releases would no longer show.
    `listed`: the archive's `entries` as `check` just passed them, read instead of the folders."""
    found = snapshot_names(archive_dir) if listed is None else listed_snapshot_names(archive_dir, listed)
    return [archive_dir / statistic / name for statistic, name in found if name not in published.get(statistic, ())]


def snapshot_names(archive_dir: Path) -> list[tuple[str, str]]:
    """(statistic, release) of every snapshot, in the order of `snapshots`; plain strings."""
    return [(os.path.basename(os.path.dirname(path)), name) for path, name in snapshot_folders(archive_dir)]


def listed_snapshot_names(archive_dir: Path, listed: list[str]) -> list[tuple[str, str]]:
    """`snapshot_names` from a listing of the archive (`entries`), whose manifests it names:
    listing 3 600 folders and looking for 3 300 manifests again took 0.05 s of every build of 300
    statistics. A listing that names none (an archive without snapshots, or one listed under
    another name) is not trusted: the folders are looked at, which is quick then."""
    top, ending = f"{archive_dir}/", f"/{MANIFEST}:"
    found = []
    for line in listed:
        if ending in line and line.startswith(top):  # cheap tests first: 35 000 entries, 3 300 manifests
            statistic, _, rest = entry_path(line)[len(top):].partition("/")
            name, _, file = rest.partition("/")
            if file == MANIFEST and not is_partial(name):
                found.append((statistic, name))
    return sorted(found) if found else snapshot_names(archive_dir)


def refuse(problems: list[str]) -> None:
    if problems:
        raise BuildError(f"damaged archive, refusing to publish: {problems[0]}"
                         + (f" (and {len(problems) - 1} more; run 'build.py verify')" if len(problems) > 1 else ""))


def check(archive_dir: Path, stamp: Path | None = None, listed: list[str] | None = None) -> list[str] | None:
    """Stop the build if any snapshot differs from its manifest or the ledger. `stamp`
    (.cache/archive-verified.json) notes the archive as it was when it last passed: when not a
    file in it has been written, added, removed or replaced since, it is not hashed again.
    `listed`: the archive's `entries` as the up-to-date check took them just before the build (not
    listed again). The archive's entries as they passed, for `note_frozen`; None without a stamp."""
    state = (listed if listed is not None else entries(archive_dir)) if stamp is not None else None
    if state is not None and verified_before(stamp, listing(archive_dir, state)):
        return state
    refuse(verify_all(archive_dir))
    if state is not None:
        write_stamp(archive_dir, stamp, state)
    return state


def note_frozen(archive_dir: Path, stamp: Path | None, verified: list[str] | None, frozen: list[Path]) -> bool:
    """After the build froze the snapshots `frozen` into the archive that passed `check` with the
    entries `verified`: the stamp brought up to date, so that the next build does not hash the whole
    archive again (1.4 s for 300 statistics, and growing with every release). Only if nothing else
    changed in between: every entry that differs is the ledger, a frozen snapshot or in it, or the
    folder holding one; and those snapshots and the ledger verify. Otherwise the stamp is left as
    it was, and the next build verifies everything. Whether it was brought up to date: then the
    archive holds nothing the build did not check or write itself."""
    if stamp is None or verified is None or not frozen:
        return False
    now = entries(archive_dir)
    # the archive folder itself changes when a statistic's first snapshot is frozen
    allowed = {str(archive_dir), str(archive_dir / LEDGER)} | {str(snap.parent) for snap in frozen} | \
        {str(snap) for snap in frozen}
    inside = tuple(f"{snap}{os.sep}" for snap in frozen)
    for entry in set(now).symmetric_difference(verified):
        path = entry_path(entry)
        if path not in allowed and not path.startswith(inside):
            return False
    if [problem for snap in frozen for problem in verify(snap)] + verify_ledger(archive_dir):
        return False
    write_stamp(archive_dir, stamp, now)
    return True


def write_stamp(archive_dir: Path, stamp: Path, state: list[str]) -> None:
    try:
        atomic.write(stamp, json.dumps({"archive": str(archive_dir.resolve()),
                                        "listing": listing(archive_dir, state)}).encode())
    except OSError:
        pass  # without a stamp the next build verifies everything again


def verified_before(stamp: Path, state: str) -> bool:
    try:
        return json.loads(stamp.read_text(encoding="utf-8"))["listing"] == state
    except (OSError, ValueError, KeyError, TypeError):
        return False


def entries(archive_dir: Path) -> list[str]:
    """The archive folder and every file and folder in it with its type, size, modification and
    change times and inode, sorted. Writing into a file changes its times, and its change time
    cannot be set back; replacing it changes the inode; adding or removing one changes the list,
    and the modification time of the folder that holds it. So unchanged entries mean unchanged
    bytes."""
    if not archive_dir.is_dir():
        return []
    top = str(archive_dir)
    parts, pending = [entry_line(top, os.lstat(top))], [top]
    while pending:
        with os.scandir(pending.pop()) as found:
            for entry in found:
                parts.append(entry_line(entry.path, entry.stat(follow_symlinks=False)))
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
    return sorted(parts)


def entry_line(path: str, st: os.stat_result) -> str:
    return f"{path}:{st.st_mode}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}"


def entry_path(line: str) -> str:
    """The path of an `entry_line`."""
    return line.rsplit(":", 5)[0]


def entries_digest(entries: list[str]) -> str:
    """The hash of a listing of `entries`, as the up-to-date check's record notes it."""
    return hashlib.sha256("\n".join(entries).encode()).hexdigest()


def restat(known: list[str]) -> list[str] | None:
    """The archive's `entries` again, when its entries are still the `known` ones (an earlier
    `entries`): each is statted, no folder listed. An entry added or removed changes the
    modification time of the folder that holds it, which is known (the archive folder is an entry
    too), so when every known entry is as it was there is no other; when one differs, an entry
    added beside it is not in the result, which then serves only to see that something changed.
    Listing the 35 000 entries of 300 statistics' archives took 0.3 s of a check with nothing to
    do; statting them, two thirds of that. None when one is gone."""
    try:
        return sorted(entry_line(path, os.lstat(path)) for path in map(entry_path, known))
    except OSError:
        return None


def listing(archive_dir: Path, state: list[str] | None = None) -> str:
    """A hash of the archive's `entries` (`state`, if taken already). The archive's path and this
    module's source are part of it: a new check is a reason to check again."""
    digest = hashlib.sha256(f"{archive_dir.resolve()}\n".encode() + Path(__file__).read_bytes())
    state = entries(archive_dir) if state is None else state
    if state:
        digest.update("\n".join(state).encode())
    return digest.hexdigest()


def manifest_of(snapshot: Path) -> tuple[bytes, dict[str, str]] | None:
    """A snapshot's manifest and the hash it gives each file; None if the release was never frozen."""
    try:
        manifest = (snapshot / MANIFEST).read_bytes()
    except FileNotFoundError:
        return None if not snapshot.exists() else refuse([f"{snapshot / MANIFEST}: missing"])
    return manifest, json.loads(manifest)["files"]


def files_of(snapshot: Path | str, manifest: bytes, hashes: dict[str, str]) -> dict[str, bytes | Known]:
    files: dict[str, bytes | Known] = {rel: Known(f"{snapshot}/{rel}", digest) for rel, digest in sorted(hashes.items())}
    files[MANIFEST] = manifest
    return files


class Manifests:
    """The snapshots' manifests, read from one file (`.cache/archive-manifests.pickle`)
    when the archive is exactly as it was when that file was written: its `check`ed entries, which
    change with any file of it written, added, removed or replaced, are the file's key. Reading the
    3 300 manifests of 300 statistics took a fifth of a second of every rebuild; that file takes
    0.02 s. Without the entries (an audit) every manifest is read. `save` writes the file when a
    manifest was read."""

    def __init__(self, path: Path | None, entries: list[str] | None):
        self.path = path if entries is not None else None
        self.key = hashlib.sha256("\n".join(entries).encode()).hexdigest() if self.path else ""
        self.found: dict[str, tuple[bytes, dict[str, str]]] = {}
        self.read = False  # whether a manifest was read from its snapshot
        if self.path is not None:
            try:
                with open(self.path, "rb") as f:
                    key, found = pickle.load(f)
                if key == self.key:
                    self.found = found
            except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError):
                pass  # none yet, or damaged: read the manifests

    def known(self, snapshot: Path | str) -> dict[str, bytes | Known] | None:
        """The files of a snapshot that `check` verified in this build, not read: each as its path
        and the hash its manifest gives (the write stage reads one only if the previous site lacks
        it); None if the release was never frozen."""
        found = self.manifest(snapshot)
        return None if found is None else files_of(snapshot, *found)

    def manifest(self, snapshot: Path | str) -> tuple[bytes, dict[str, str]] | None:
        """A snapshot's manifest, and the hash of each of its files that it gives; None if the
        release was never frozen. From the file when it holds it."""
        found = self.found.get(str(snapshot))
        if found is None:
            found = manifest_of(Path(snapshot))
            if found is None:
                return None
            self.found[str(snapshot)] = found
            self.read = True
        return found

    def save(self) -> None:
        if self.path is not None and self.read:
            try:
                atomic.write(self.path, pickle.dumps((self.key, self.found), protocol=pickle.HIGHEST_PROTOCOL))
            except OSError:
                pass  # without it the next build reads the manifests


def with_manifest(files: dict[str, bytes], statistic: str, release: str, published: str) -> dict[str, bytes]:
    """A snapshot's files and its manifest: each file's SHA-256, the release, its publication time."""
    manifest = {
        "statistic": statistic, "release": release, "published": published,
        "statpress_version": __version__,
        "files": {rel: sha256(content) for rel, content in sorted(files.items())},
    }
    return {**files, MANIFEST: (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")}


def freeze_all(snapshots: list[tuple[Path, dict[str, bytes]]]) -> None:
    """Each new snapshot (its folder, its files from with_manifest) frozen, the ledger read once
    for all of them: read again for each, the 300 releases of a publication day took 1.7 s."""
    ledgers: dict[Path, dict[str, str]] = {}
    for snapshot, files in snapshots:
        archive_dir = snapshot.parent.parent
        if archive_dir not in ledgers:
            ledgers[archive_dir] = ledger_entries(archive_dir)[0]
        freeze(snapshot, files, ledgers[archive_dir])


def freeze(snapshot: Path, files: dict[str, bytes], ledger: dict[str, str] | None = None) -> None:
    """Write a new snapshot (files from with_manifest) atomically, and record it in the ledger
    (`ledger`: its entries as read already, kept up to date here)."""
    manifest = json.loads(files[MANIFEST])
    statistic, release, published = manifest["statistic"], manifest["release"], manifest["published"]
    tmp = snapshot.parent / f".{snapshot.name}{PARTIAL}"
    if tmp.exists():
        shutil.rmtree(tmp)  # left by an interrupted build: never used
    try:
        for rel in sorted(files):
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            faults.point("archive-write", target)
            target.write_bytes(files[rel])
        faults.point("archive-partial")
        record(snapshot.parent.parent, statistic, release, published, sha256(files[MANIFEST]), ledger)
        faults.point("archive-recorded")
        os.rename(tmp, snapshot)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise BuildError(f"{exc.filename or tmp}: cannot write the snapshot of {statistic}/{release} "
                         f"({exc.strerror or exc}); check the free space and permissions of "
                         f"{snapshot.parent.parent}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def record(archive_dir: Path, statistic: str, release: str, published: str, digest: str,
           entries: dict[str, str] | None = None) -> None:
    """Append the snapshot's manifest hash to the ledger (once: a redone snapshot has the same
    hash). `entries`: the ledger's entries if read already; the new one is added to them."""
    entries = ledger_entries(archive_dir)[0] if entries is None else entries
    key = f"{statistic}/{release}"
    if key in entries:
        if entries[key] != digest:
            raise BuildError(f"{archive_dir / LEDGER}: {key} is recorded with another manifest hash; the "
                             "snapshot frozen now would differ from the one recorded. Restore it from git")
        return
    line = json.dumps({"statistic": statistic, "release": release, "published": published,
                       "manifest_sha256": digest}, sort_keys=True) + "\n"
    with open(archive_dir / LEDGER, "a", encoding="utf-8") as f:
        f.write(line)  # one short write to a file opened for appending
        f.flush()
        os.fsync(f.fileno())
    entries[key] = digest


def tarball(site: Path, out: Path, now: str) -> Path:
    """The whole site as one deterministic tar.gz with a manifest, for deposit in a web archive.
    The precompressed copies of its text files are left out: they are only for web servers, and
    the archive compresses the whole."""
    import gzip
    import io
    import tarfile

    from .compress import is_copy

    files = {p.relative_to(site).as_posix(): p.read_bytes() for p in sorted(site.rglob("*"))
             if p.is_file() and not is_copy(p)}
    manifest = {"site_as_of": now, "statpress_version": __version__,
                "files": {rel: sha256(content) for rel, content in files.items()}}
    files["MANIFEST.json"] = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel in sorted(files):
            info = tarfile.TarInfo(f"site/{rel}")
            info.size, info.mtime, info.mode = len(files[rel]), 0, 0o644
            tar.addfile(info, io.BytesIO(files[rel]))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
        gz.write(buffer.getvalue())
    tmp.replace(out)
    return out
