"""`build.py serve`: a live preview of the site while editing.

The site is built into `.cache/serve/site` (never `site/`, and no release is ever frozen into
`archive/` by a preview), as the public sees it at `--now` (default: the moment of each build),
optionally with `--preview`'s embargoed releases. A watcher (watchfiles) rebuilds on every change
to content/, stats/, templates/, locales/, site.toml or a dataset's file; the table cache keeps
unchanged tables from being computed again. Each HTML response gets one script tag (added by the
server, never written to disk) that polls `/__statpress/version`: a new build reloads the page, a
failed build shows its error line over the page until the file is fixed.

`build.py serve --dir DIR` serves a built folder as it is, without any of this.
"""

from __future__ import annotations

import datetime as dt
import functools
import http.server
import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import watchfiles

from . import data, pipeline
from .content import OSLO
from .errors import BuildError

LIVE_JS = Path(__file__).parent / "assets" / "live.js"
PREFIX = "/__statpress/"
WATCHED = ("content", "stats", "templates", "locales", "site.toml")


@dataclass
class State:
    """The latest build: its number, and its error (None when it succeeded)."""
    version: int = 0
    error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class LivePreview:
    def __init__(self, root: Path, now: dt.datetime | None = None, preview: bool = False,
                 out: Path | None = None, log=print):
        self.root, self.now, self.preview, self.log = root, now, preview, log
        self.out = out or root / ".cache" / "serve" / ("preview" if preview else "site")
        self.state = State()
        self.stop = threading.Event()

    # -- building --------------------------------------------------------------------------

    def build(self) -> None:
        start = time.perf_counter()
        now = self.now or dt.datetime.now(OSLO)
        try:
            # a preview never publishes: it freezes nothing and may show any instant, past ones too
            pipeline.build(pipeline.BuildOptions(self.root, self.out, now, self.preview, workers=1, freeze=False,
                                                 allow_withdraw=True))
            error = None
        except BuildError as exc:
            error = f"error: {exc}"
        except Exception as exc:  # a live preview keeps running; the message names what broke
            error = f"error: {type(exc).__name__}: {exc}"
        with self.state.lock:
            self.state.version += 1
            self.state.error = error
        self.log(error or f"rebuilt in {time.perf_counter() - start:.1f} s: {self.out}")

    def datasets(self) -> list[Path]:
        """The datasets' files (or partitioned folders), wherever they are."""
        try:
            catalog = data.load_catalog(self.root)
        except BuildError:
            return []  # a broken catalogue is reported by the build; stats/ is watched anyway
        # a table or path on a cluster sends no file events here: only local files are watched
        return sorted({absolute(catalog.root / spec.file) for spec in catalog.spec.datasets.values()
                       if spec.file and "://" not in spec.file})

    def watched(self) -> tuple[list[Path], list[Path]]:
        """(folders and files to watch, dataset paths a change must touch). A dataset's folder is
        watched rather than its file, so a file replaced by a new one (unlinked and written, as
        exporters do) is still seen; the project folder itself is never watched recursively, as
        the preview's own output is below it."""
        inputs = [absolute(self.root / name) for name in WATCHED if (self.root / name).exists()]
        datasets = self.datasets()
        root = absolute(self.root)
        paths = list(inputs)
        for path in datasets:
            folder = path if path.is_dir() else path.parent
            if any(i == folder or i in folder.parents for i in inputs):
                continue  # already watched
            target = path if folder == root else folder
            if target.exists() and target not in paths:
                paths.append(target)
        return paths, datasets

    def relevant(self, datasets: list[Path]):
        """A watchfiles filter: a change to an input, or to a dataset's file, not to anything beside it."""
        default = watchfiles.DefaultFilter()
        inputs = [absolute(self.root / name) for name in WATCHED]

        def accept(change, path: str) -> bool:
            p = absolute(Path(path))
            if not default(change, path):
                return False
            return any(i == p or i in p.parents for i in inputs + datasets)
        return accept

    def watch(self) -> None:
        """Rebuild on every change, until `stop` is set; the watch list follows the catalogue."""
        while not self.stop.is_set():
            paths, datasets = self.watched()
            for _ in watchfiles.watch(*paths, watch_filter=self.relevant(datasets), stop_event=self.stop,
                                      debounce=200, step=50, rust_timeout=500, yield_on_timeout=False,
                                      raise_interrupt=False):
                self.build()
                if self.watched() != (paths, datasets):
                    break

    # -- serving ---------------------------------------------------------------------------

    def handler(self):
        return functools.partial(LiveHandler, self, directory=str(self.out))

    def serve(self, port: int, host: str = "127.0.0.1") -> http.server.ThreadingHTTPServer:
        """Build once, start watching in a thread and return the server (not yet serving)."""
        self.build()
        threading.Thread(target=self.watch, name="statpress-watch", daemon=True).start()
        server = http.server.ThreadingHTTPServer((host, port), self.handler())
        server.daemon_threads = True
        return server


def absolute(path: Path) -> Path:
    """An absolute, normalised path; symbolic links are not followed (a linked data file is
    replaced by a real one without changing its name)."""
    return Path(os.path.abspath(path))


class LiveHandler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, live: LivePreview, *args, **kwargs):
        self.live = live
        super().__init__(*args, **kwargs)

    def log_message(self, format, *args):  # the terminal shows builds, not every request
        pass

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == PREFIX + "version":
            with self.live.state.lock:
                body = json.dumps({"version": self.live.state.version, "error": self.live.state.error})
            return self.reply(200, "application/json", body.encode())
        if path == PREFIX + "live.js":
            return self.reply(200, "text/javascript; charset=utf-8", LIVE_JS.read_bytes())
        target = Path(self.translate_path(path))
        if target.is_dir():
            target = target / "index.html"
        if target.suffix == ".html" and target.is_file():
            return self.reply(200, "text/html; charset=utf-8", self.inject(target.read_bytes()))
        if not (self.live.out / "index.html").exists():  # the first build failed: a page to show it on
            page = b"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>statpress</title>" \
                   b"</head><body><h1>No site built yet</h1></body></html>"
            return self.reply(200, "text/html; charset=utf-8", self.inject(page))
        return super().do_GET()

    def inject(self, page: bytes) -> bytes:
        with self.live.state.lock:
            version = self.live.state.version
        tag = f'<script src="{PREFIX}live.js?v={version}"></script>\n'.encode()
        at = page.rfind(b"</body>")
        return page[:at] + tag + page[at:] if at >= 0 else page + tag

    def reply(self, status: int, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)


def run(root: Path, port: int, now: dt.datetime | None, preview: bool) -> None:
    live = LivePreview(root, now, preview)
    with live.serve(port) as server:
        print(f"serving a live preview of {root} at http://127.0.0.1:{port}/ "
              f"(rebuilt on every change; Ctrl+C to stop)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            live.stop.set()
