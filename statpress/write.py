"""Write stage: the only code that touches the output folder.

The whole site is written to a staging folder beside the output and swapped in only when every
file is there, so a failed build leaves the previous site exactly as it was.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Callable


def write_site(files: dict[str, bytes], out: Path, finish: Callable[[Path], None] | None = None) -> None:
    """Write `files` to `out`; `finish(staging)` may add generated files (the search index)
    to the staged site before it is swapped in."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.staging"
    if staging.exists():
        shutil.rmtree(staging)  # left by an interrupted build
    for rel in sorted(files):
        target = staging / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(files[rel])
    if finish is not None:
        finish(staging)
    swap(staging, out)


def swap(new: Path, out: Path) -> None:
    """Put `new` in place of `out`; if that fails, put the old one back."""
    old = out.parent / f".{out.name}.old"
    if old.exists():
        shutil.rmtree(old)
    if out.exists():
        os.rename(out, old)
    try:
        os.rename(new, out)
    except OSError:
        if old.exists():
            os.rename(old, out)
        raise
    if old.exists():
        shutil.rmtree(old)


def audit_path(out: Path) -> Path:
    """Where the confidentiality audit goes: beside the site, never inside it."""
    out = out.resolve()
    return out.parent / f"{out.name}-audit" / "confidentiality.json"


def write_audit(path: Path, audit: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(audit, indent=2, sort_keys=True) + "\n", encoding="utf-8")
