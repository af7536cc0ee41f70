"""Files written whole or not at all: to a temporary name of this process, then renamed into place.

Builds, their worker processes and `check` may write the same cache entry at once; each writes its
own temporary file, and a reader sees either the old file or the new one, never half of one.
Standard library only (statpress/uptodate.py uses it before the engine is loaded).
"""

from __future__ import annotations

import os
from pathlib import Path


def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
