"""Archive stage: every release stays exactly as it was published.

When a release is first published its page, downloads, chart files and stylesheet are frozen
into `archive/<statistic>/<release>/`, with a manifest giving each file's SHA-256, the release, its
publication time and the statpress version. Later builds copy the snapshot into the site
verbatim and never render it again, so a new template or stylesheet cannot change it. A snapshot
is written to a temporary folder and renamed into place only when complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from . import __version__
from .errors import BuildError

MANIFEST = "manifest.json"


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
    present = {p.relative_to(snapshot).as_posix() for p in snapshot.rglob("*") if p.is_file()} - {MANIFEST}
    problems = []
    for rel in sorted(set(expected) - present):
        problems.append(f"{snapshot / rel}: removed (listed in the manifest)")
    for rel in sorted(present - set(expected)):
        problems.append(f"{snapshot / rel}: added (not in the manifest)")
    for rel in sorted(present & set(expected)):
        if sha256((snapshot / rel).read_bytes()) != expected[rel]:
            problems.append(f"{snapshot / rel}: changed (SHA-256 differs from the manifest)")
    return problems


def snapshots(archive_dir: Path) -> list[Path]:
    if not archive_dir.is_dir():
        return []
    return sorted(p.parent for p in archive_dir.glob(f"*/*/{MANIFEST}"))


def verify_all(archive_dir: Path) -> list[str]:
    problems = []
    for snap in snapshots(archive_dir):
        problems += verify(snap)
    # a folder without a manifest is a snapshot that was never completed, or lost its manifest
    if archive_dir.is_dir():
        for d in sorted(archive_dir.glob("*/*")):
            if d.is_dir() and not (d / MANIFEST).exists():
                problems.append(f"{d}: snapshot without {MANIFEST}")
    return problems


def refuse(problems: list[str]) -> None:
    if problems:
        raise BuildError(f"damaged archive, refusing to publish: {problems[0]}"
                         + (f" (and {len(problems) - 1} more; run 'build.py verify')" if len(problems) > 1 else ""))


def check(archive_dir: Path) -> None:
    """Stop the build if any snapshot differs from its manifest."""
    refuse(verify_all(archive_dir))


def read(snapshot: Path) -> dict[str, bytes] | None:
    """The files of a verified snapshot, or None if the release was never frozen."""
    if not snapshot.exists():
        return None
    refuse(verify(snapshot))
    return {p.relative_to(snapshot).as_posix(): p.read_bytes()
            for p in sorted(snapshot.rglob("*")) if p.is_file()}


def freeze(snapshot: Path, files: dict[str, bytes], statistic: str, release: str, published: str) -> dict[str, bytes]:
    """Write a new snapshot atomically; returns its files, manifest included."""
    manifest = {
        "statistic": statistic, "release": release, "published": published,
        "statpress_version": __version__,
        "files": {rel: sha256(content) for rel, content in sorted(files.items())},
    }
    files = dict(files)
    files[MANIFEST] = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")
    tmp = snapshot.parent / f".{snapshot.name}.partial"
    if tmp.exists():
        shutil.rmtree(tmp)  # left by an interrupted build: never used
    try:
        for rel in sorted(files):
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(files[rel])
        os.rename(tmp, snapshot)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return files


def tarball(site: Path, out: Path, now: str) -> Path:
    """The whole site as one deterministic tar.gz with a manifest, for deposit in a web archive."""
    import gzip
    import io
    import tarfile

    files = {p.relative_to(site).as_posix(): p.read_bytes() for p in sorted(site.rglob("*")) if p.is_file()}
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
