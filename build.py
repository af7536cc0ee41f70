#!/usr/bin/env python3
"""statpress command line: build, serve, verify, snapshot and round. Thin: the work is in statpress/."""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import gc
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path

# numpy's OpenBLAS starts a thread per core when numpy is imported, and it spins there: 0.1 s of
# processor time in every build, taken from the checks and children working on the other core.
# statpress multiplies no large matrices; its parallel work is its own processes (docs/scaling.md).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

INTERRUPTED = "interrupted: the previous site is unchanged"


def interrupted_quietly(kind, value, traceback) -> None:
    """Ctrl+C while the command starts (loading the engine, checking what changed): the one line
    it gives later (`main`), not a traceback. Python still ends as interrupted (status 130)."""
    if issubclass(kind, KeyboardInterrupt):
        print(INTERRUPTED, file=sys.stderr)
    else:
        sys.__excepthook__(kind, value, traceback)


if __name__ == "__main__":
    sys.excepthook = interrupted_quietly

from statpress import buildserver, drawing, faults, reuse, uptodate  # noqa: E402

ROOT = Path(__file__).resolve().parent

# A build server of this project, if one runs, builds with the engine loaded already
# (statpress/buildserver.py); this process then only waits for it.
if __name__ == "__main__" and (SERVED := buildserver.forward(ROOT, sys.argv[1:])) is not None:
    sys.exit(SERVED)


def begin(argv: list[str]) -> tuple | None:
    """What a command line does before the engine is loaded: None when it is a build whose inputs
    have not changed since it last wrote its output (statpress/uptodate.py: nothing to do); else
    what the up-to-date check found, and, for a build, the children started early (all None for
    another command)."""
    checked = uptodate.from_command_line(ROOT, argv)
    if checked is None:
        return None, None, None
    if checked.fresh:
        return None
    # The build will run: the child that checks the output's files against their notes starts now,
    # on the other core while this one loads the engine, so that its answer is ready when the pages
    # need it (statpress/reuse.py; it only reads, and an answer for a note that changed since is
    # not used). A build that finds no chart drawn yet (a cold one) will draw them: vl-convert's
    # process starts now as well, and is ready when the first statistic's tables are
    # (statpress/drawing.py).
    return checked, reuse.Signatures.of_site(ROOT, checked.out), drawing.Helper.for_cold_build(ROOT / ".cache" / "charts")


if __name__ == "__main__":
    faults.point("start")
BEGUN = begin(sys.argv[1:]) if __name__ == "__main__" else (None, None, None)
if BEGUN is None:
    sys.exit(0)
CHECKED, SIGNATURES, DRAWER = BEGUN

# A build makes a great many objects that live to its end (content, tables, pages). With Python's
# default thresholds the collector scanned them again and again: a second of a 7 s rebuild of
# 300 statistics, and of the engine's import. Collections are made rarer, not stopped.
if __name__ == "__main__":
    gc.set_threshold(50_000, 20, 20)

from statpress import adhoc, archive, pipeline  # noqa: E402
from statpress.errors import BuildError  # noqa: E402
from statpress.instants import OSLO, parse_instant  # noqa: E402
from statpress.progress import Progress  # noqa: E402


def main(argv: list[str] | None = None, checked: uptodate.Checked | None = None,
         signatures: reuse.Signatures | None = None, drawer: drawing.Helper | None = None) -> int:
    """Run a command line; `checked` is what the early up-to-date check found for it, and
    `signatures` the check of the output's files started then, for its build, and `drawer` the
    charts' drawing process, if it started then."""
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    args.checked, args.signatures, args.drawer = checked, signatures, drawer
    # After Ctrl+C, whatever error ends the command is the interrupt's: a library may have turned
    # the KeyboardInterrupt raised inside it into one of its own (DuckDB, pydantic building a validator)
    with CtrlC() as ctrl_c:
        try:
            return args.run(args) or 0
        except BuildError as exc:
            if not ctrl_c.pressed:
                print(f"error: {exc}", file=sys.stderr)
                return 1
        except OSError as exc:  # the machine, not the input: a full disk, a permission, a read-only folder
            if not ctrl_c.pressed:
                print(f"error: {exc.filename or ROOT}: {exc.strerror or exc}; check the free space and "
                      "permissions there, then run the build again (the previous site is unchanged)", file=sys.stderr)
                return 1
        except KeyboardInterrupt:
            pass
        except Exception:
            if not ctrl_c.pressed:
                raise
    print(INTERRUPTED, file=sys.stderr)  # the output is only ever swapped in whole (statpress/write.py)
    return 130


class CtrlC:
    """Notes whether Ctrl+C came while a command ran (`pressed`), and raises KeyboardInterrupt as
    Python does. Where Ctrl+C is ignored or handled otherwise, or off the main thread, it is left so."""

    def __init__(self):
        self.pressed, self.previous = False, None

    def __enter__(self) -> "CtrlC":
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self.previous = signal.signal(signal.SIGINT, self.handle)
        return self

    def handle(self, signum, frame) -> None:
        self.pressed = True
        raise KeyboardInterrupt

    def __exit__(self, *exc) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def parser() -> argparse.ArgumentParser:
    """The commands, each with its options and the function that runs it (`run`)."""
    parser = argparse.ArgumentParser(prog="build.py", description="statpress: build a statistics website")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build the site")
    b.add_argument("--out", type=Path, default=None, help="output folder (default: site/, or preview/ with --preview)")
    b.add_argument("--now", type=parse_now, default=None,
                   help="build the site as the public sees it at this instant (ISO 8601); default: now")
    b.add_argument("--preview", action="store_true",
                   help="render each statistic's next, embargoed release for proofreading (never into site/)")
    b.add_argument("--strict", action="store_true", help="treat release calendar warnings as errors")
    b.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="processes computing statistics side by side (default: one per core)")
    b.add_argument("--no-cache", action="store_true",
                   help="compute every table again from the data, ignoring and not writing .cache/tables (audits)")
    b.add_argument("--allow-withdraw", action="store_true",
                   help="publish even if the site would no longer show releases already in archive/")
    b.add_argument("--wait", type=float, default=60.0,
                   help="seconds to wait while another build holds the lock (default: 60)")
    add_progress_flags(b)
    b.set_defaults(run=build)
    c = sub.add_parser("check", help="validate content and data and compute everything, writing nothing")
    c.add_argument("--now", type=parse_now, default=None, help="check the site as of this instant (default: now)")
    c.add_argument("--strict", action="store_true", help="treat release calendar warnings as errors")
    add_progress_flags(c)
    c.set_defaults(run=check)
    s = sub.add_parser("serve", help="a live preview on http://127.0.0.1:8000/, rebuilt on every change "
                                     "(or, with --dir, a built site as it is)")
    s.add_argument("--dir", type=Path, default=None, help="serve this built folder as it is, without rebuilding")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--now", type=parse_now, default=None,
                   help="preview the site as the public sees it at this instant (default: the time of each build)")
    s.add_argument("--preview", action="store_true", help="show each statistic's next, embargoed release")
    s.set_defaults(run=serve)
    n = sub.add_parser("new", help="scaffold a new statistic: content/NAME/ and stats/NAME/tables.toml")
    n.add_argument("name", help="the statistic's short name (lower case, digits and '-'): its folder and URL")
    n.set_defaults(run=new)
    sub.add_parser("schemas", help="write the JSON Schemas of the TOML files editors write into schemas/"
                   ).set_defaults(run=write_schemas)
    r = sub.add_parser("round", help="round an ad-hoc table: build.py round --help",
                       description="Protect tables by small-count rounding (rounding up/down method).")
    adhoc.add_arguments(r)
    r.set_defaults(run=adhoc.run)
    sub.add_parser("verify", help="check every archived snapshot against its manifest").set_defaults(run=verify)
    sv = sub.add_parser("server", help="build this project's builds with the engine loaded already, until "
                                       "Ctrl+C: `build.py build` then hands its work to it")
    sv.add_argument("--idle", type=float, default=buildserver.IDLE / 60,
                    help="minutes without a build after which it stops (default: 30)")
    sv.set_defaults(run=server)
    sn = sub.add_parser("snapshot", help="write the whole site as it was at an instant to a tar.gz")
    sn.add_argument("--now", type=parse_now, required=True, help="the instant (ISO 8601)")
    sn.add_argument("--out", type=Path, default=None, help="the tar.gz file (default: snapshots/site-<instant>.tar.gz)")
    sn.set_defaults(run=snapshot)
    return parser


def build(args: argparse.Namespace) -> int | None:
    checked = args.checked
    now = checked.now if checked else args.now or dt.datetime.now(OSLO)
    out = args.out or ROOT / ("preview" if args.preview else "site")
    # the inputs as they were before building: a file changed meanwhile is not taken as built
    if checked:
        fingerprint = checked.fingerprint
    else:
        fingerprint = None if args.preview or args.no_cache else uptodate.check(
            ROOT, out, now, uptodate.options(args.strict, args.allow_withdraw))[1]
    progress = Progress.for_terminal(args.quiet, args.verbose)
    live = folder_identity(out)
    try:
        report = pipeline.build(pipeline.BuildOptions(ROOT, out, now, args.preview, args.strict,
                                                      use_cache=not args.no_cache, workers=args.jobs,
                                                      allow_withdraw=args.allow_withdraw, wait=args.wait,
                                                      archive_entries=fingerprint.listing.entries if fingerprint else None,
                                                      tables_changed=fingerprint is not None and fingerprint.tables_changed),
                                progress=progress, signatures=args.signatures, drawer=args.drawer)
        print_report(report, args.quiet)
        uptodate.note(ROOT, out, fingerprint, froze=report.own_archive, found=report.folders)
    except KeyboardInterrupt:
        if folder_identity(out) == live:
            raise  # the previous site unchanged: `main` says so
        # Ctrl+C in the build's last instants, its notes and reports: the swap had happened
        print(f"interrupted once the new site was in place: {out} is the new site, whole", file=sys.stderr)
        return 130


def folder_identity(folder: Path) -> tuple[int, int] | None:
    """Which folder is at a path: the swap puts another one there (statpress/write.py)."""
    try:
        st = folder.stat()
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def check(args: argparse.Namespace) -> None:
    now = args.now or dt.datetime.now(OSLO)
    progress = Progress.for_terminal(args.quiet, args.verbose)
    report = pipeline.build(pipeline.BuildOptions(ROOT, ROOT / "site", now, strict=args.strict), write=False,
                            progress=progress)
    print_report(report, args.quiet)


def serve(args: argparse.Namespace) -> None:
    if args.dir is None:
        from statpress import serve as live
        live.run(ROOT, args.port, args.now, args.preview)
    else:
        serve_folder(args.dir, args.port)


def new(args: argparse.Namespace) -> None:
    from statpress import scaffold
    for path in scaffold.create(ROOT, args.name):
        print(f"created {path.relative_to(ROOT)}")
    print(scaffold.next_steps(args.name))


def write_schemas(args: argparse.Namespace) -> None:
    from statpress import schemas
    for path in schemas.write(ROOT / "schemas"):
        print(f"wrote {path.relative_to(ROOT)}")


def snapshot(args: argparse.Namespace) -> None:
    stamp = args.now.strftime("%Y%m%dT%H%M%S%z")
    out = args.out or ROOT / "snapshots" / f"site-{stamp}.tar.gz"
    with tempfile.TemporaryDirectory() as tmp:
        # the site as it was at an earlier instant: not a publication, so nothing is withdrawn
        pipeline.build(pipeline.BuildOptions(ROOT, Path(tmp) / "site", args.now, allow_withdraw=True))
        archive.tarball(Path(tmp) / "site", out, args.now.isoformat())
    print(f"wrote the site as of {args.now.isoformat()} to {out}")


def add_progress_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quiet", action="store_true", help="print warnings and the last line only, no progress")
    group.add_argument("--verbose", action="store_true", help="a progress line per statistic and release")


def print_report(report: pipeline.BuildReport, quiet: bool) -> None:
    """The build's report (pipeline.describe) and the time each stage took; --quiet: warnings and
    the last line only."""
    lines = pipeline.describe(report).splitlines()
    if quiet:
        lines = [line for line in lines if line.startswith("warning:")] + lines[-1:]
    print("\n".join(lines))
    if not quiet:
        print(Progress.summary_of(report.stages))


def verify(args: argparse.Namespace) -> int:
    archive_dir = ROOT / "archive"
    problems = archive.verify_all(archive_dir)
    history, checked = archive.ledger_history(archive_dir)
    problems += history
    for p in problems:
        print(f"damaged: {p}", file=sys.stderr)
    for partial in archive.partials(archive_dir):
        print(f"note: {partial}: left by an interrupted build; the next build completes or redoes it")
    if problems:
        print(f"error: {len(problems)} problems in the archive", file=sys.stderr)
        return 1
    print(f"archive OK: {len(archive.snapshots(archive_dir))} snapshots match their manifests and the ledger")
    print(checked)
    return 0


def parse_now(text: str) -> dt.datetime:
    try:
        return parse_instant(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def serve_folder(directory: Path, port: int) -> None:
    if not (directory / "index.html").exists():
        raise BuildError(f"{directory}: no site here; run 'make build' first")
    import http.server  # here: every other command would load it for nothing (0.03 s)

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as httpd:
        print(f"serving {directory} at http://127.0.0.1:{port}/ (Ctrl+C to stop)")
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            pass


def run(argv: list[str], begun: tuple | None) -> int:
    """A command line, with what `begin` did for it; the helpers it started are stopped after."""
    if begun is None:
        return 0
    checked, signatures, drawer = begun
    try:
        return main(argv, checked, signatures, drawer)
    finally:
        if signatures is not None:
            signatures.close()  # stopped by the build; by this if the command failed first
        if drawer is not None:
            drawer.stop()


def server(args: argparse.Namespace) -> None:
    import duckdb  # noqa: F401  loaded once here rather than in every build it runs
    import pandas  # noqa: F401

    try:
        buildserver.serve(ROOT, lambda argv: run(argv, begin(argv)), idle=args.idle * 60)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    status = run(sys.argv[1:], BEGUN)
    # The command is done: its files are written and closed, its engines and services stopped, its
    # threads joined. What is left is the interpreter freeing the build's objects one by one, 0.3-0.4 s
    # of every build (measured: docs/scaling.md); the operating system takes the memory back at once.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
