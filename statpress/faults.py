"""Named points where a test can make a real build fail as a machine would.

`STATPRESS_FAULT=<point>` kills the build process with SIGKILL at that point, as a power cut
would; `STATPRESS_FAULT=enospc@<point>` raises "No space left on device" there, and
`STATPRESS_FAULT=sigint@<point>` sends the process SIGINT there, as Ctrl+C in its terminal does.
Nothing happens when the variable is unset. tests/test_bad_inputs.py uses these to prove that every interrupted
build leaves a site and an archive the next build recovers from.
"""

from __future__ import annotations

import errno
import os
import signal


def armed(name: str) -> bool:
    """Is a fault to be made at the point `name`? For a point passed many times in a loop."""
    return os.environ.get("STATPRESS_FAULT") in (name, f"enospc@{name}", f"sigint@{name}")


def point(name: str, path: object = None) -> None:
    fault = os.environ.get("STATPRESS_FAULT")
    if fault == name:
        os.kill(os.getpid(), signal.SIGKILL)
    elif fault == f"enospc@{name}":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path) if path is not None else None)
    elif fault == f"sigint@{name}":
        os.kill(os.getpid(), signal.SIGINT)
