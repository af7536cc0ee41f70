"""Bad inputs and faults, as a reliability probe tried them (issue #16).

Each bad input is refused by the command line with exit status 1, one `error:` line naming the
file (and the field or line), no traceback, and site/ and archive/ byte for byte as before. Each
fault (a killed build, a full disk, a second build at once) is recovered from automatically.
The command line runs as a subprocess of a copy of the project, as the timer on a server runs it.
Expression cases (`where`, `formula`) go through `build` and `check` alike.
"""

from __future__ import annotations

import fcntl
import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, digest, drop_snapshot, edit, interruptible, served_digest
from hostile import FIELDS, make_hostile
from statpress import archive, write

NOW = "2026-11-23T12:00:00+01:00"  # after every shipped release: the live site


def make_project(dest: Path) -> Path:
    """A copy of the project that build.py can run in; data, engine and chart cache are linked."""
    for name in ("content", "stats", "templates", "locales", "archive"):
        shutil.copytree(ROOT / name, dest / name)
    for name in ("site.toml", "build.py"):
        shutil.copy(ROOT / name, dest / name)
    (dest / "statpress").symlink_to(ROOT / "statpress")
    (dest / "data").mkdir()
    for f in (ROOT / "data").iterdir():
        (dest / "data" / f.name).symlink_to(f)
    if (ROOT / ".cache").is_dir():
        shutil.copytree(ROOT / ".cache", dest / ".cache")
    return dest


def run(project: Path, *args: str, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "build.py", *args], cwd=project, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300, **kwargs)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The project with its live site built once; every test gets its own copy."""
    base = make_project(tmp_path_factory.mktemp("base") / "project")
    result = run(base, "build", "--now", NOW)
    assert result.returncode == 0, result.stderr
    return base


@pytest.fixture
def project(built, tmp_path) -> Path:
    dest = tmp_path / "project"
    shutil.copytree(built, dest, symlinks=True)
    return dest


def state(project: Path) -> tuple[dict, dict]:
    return digest(project / "site"), digest(project / "archive")


def refused(project: Path, *args: str, named: str, env: dict | None = None) -> str:
    """Run a build that must fail; check the error line and that nothing changed. Returns it."""
    before = state(project)
    result = run(project, *args, env=env)
    assert_error(result, named)
    assert state(project) == before
    return result.stderr


def assert_error(result: subprocess.CompletedProcess, named: str) -> None:
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.stderr
    assert named in lines[0], lines[0]


def build(project: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    result = run(project, "build", "--now", NOW, *args, env=env)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    return result


# 1. Content runs no code ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def hostile(built, tmp_path_factory) -> Path:
    """The project with markup in every text field a user writes, built."""
    dest = tmp_path_factory.mktemp("hostile") / "project"
    shutil.copytree(built, dest, symlinks=True)
    make_hostile(dest)
    build(dest)
    return dest / "site"


def pages(site: Path) -> dict[str, str]:
    return {p.relative_to(site).as_posix(): p.read_text(encoding="utf-8") for p in site.rglob("*.html")}


@pytest.mark.parametrize("tag", sorted(FIELDS) + ["about"])
def test_a_text_field_is_shown_as_text_never_as_markup(hostile, tag):
    html = pages(hostile)
    shown = [path for path, text in html.items() if f"Z{tag}Z" in text]
    assert shown, f"field {tag} is not on any page"  # the test reaches the field
    for path, text in html.items():
        assert f"<script>alert('{tag}')" not in text, path
        assert f"<img src=x onerror=alert('{tag}')" not in text, path


def test_about_markdown_keeps_no_script_no_handler_and_no_javascript_link(hostile):
    page = pages(hostile)["naturalisations/index.html"]
    about = page[page.index('id="about-background"'):]
    assert "Zabout" in about and "a link" in about
    assert "onmouseover" not in page and "javascript:" not in page and "<img" not in about


def test_no_script_element_can_swallow_the_page(hostile):
    """Inside <script>, '<!--' with '<script' hides everything after it from the HTML parser."""
    for path, text in pages(hostile).items():
        for body in re.findall(r"<script[^>]*>(.*?)</script>", text, flags=re.S):
            assert "<!--" not in body and "<script" not in body.lower(), path
        assert text.rstrip().endswith("</html>") and '<footer class="site-footer">' in text


def test_every_page_carries_a_content_security_policy(hostile):
    for path, text in pages(hostile).items():
        page = path.removeprefix("nb/")  # the same page in the other language
        if "/archive/" in f"/{page}" and page != "archive/index.html":
            continue  # frozen snapshots stay as published; they have no script at all
        if page == "search/index.html":  # Pagefind's WebAssembly, and no JavaScript eval
            assert "script-src 'self' 'wasm-unsafe-eval';" in text and " 'unsafe-eval'" not in text, path
            continue
        assert "script-src 'self';" in text and "unsafe-eval" not in text, path


def test_a_feed_and_calendar_file_carry_escaped_text(hostile):
    atom = (hostile / "releases.atom").read_text(encoding="utf-8")
    assert "Zname" in atom and "<script>" not in atom


@pytest.mark.parametrize("command", ["build", "check"])
@pytest.mark.parametrize("old, new", [
    ("where = \"direction == 'in' and year == {year}\"", "where = '''@pd.io.common.os.system('touch PWNED')'''"),
    ("where = \"direction == 'in' and year == {year}\"", "where = '''__import__('os').system('touch PWNED') == 0'''"),
    ('formula = "immigration - emigration"', "formula = '''().__class__.__bases__[0].__subclasses__()'''"),
    ('formula = "immigration - emigration"', "formula = '''open('PWNED', 'w').write('x')'''"),
])
def test_an_expression_in_tables_toml_runs_no_code(project, command, old, new):
    """Filters and formulas are parsed as data (docs/tables.md), never evaluated as Python."""
    edit(project / "stats" / "migration" / "tables.toml", old, new)
    args = ("build", "--now", NOW) if command == "build" else ("check", "--now", NOW)
    refused(project, *args, named="migration/tables.toml: table 'by-citizenship', column")
    assert not (project / "PWNED").exists()


# 2. One build at a time ----------------------------------------------------------------------

def lock_held(path: Path) -> bool:
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def test_concurrent_builds_wait_or_are_refused_and_never_mix(project, tmp_path):
    drop_snapshot(project)  # both builds would freeze it
    # --no-cache: the first build computes every table, so it holds the lock for seconds
    first = subprocess.Popen([sys.executable, "build.py", "build", "--now", NOW, "--no-cache"], cwd=project,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not lock_held(project / ".archive.lock"):
        assert time.monotonic() < deadline and first.poll() is None
        time.sleep(0.05)
    second = subprocess.Popen([sys.executable, "build.py", "build", "--now", NOW, "--out", str(tmp_path / "other")],
                              cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    hurried = run(project, "build", "--now", NOW, "--wait", "0")
    assert_error(hurried, "another build is using it")
    for proc in (first, second):
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0 and "Traceback" not in err, err
    assert archive.verify_all(project / "archive") == []
    assert len((project / "archive" / archive.LEDGER).read_text().splitlines()) == 3
    assert digest(project / "site") == digest(tmp_path / "other")  # two whole sites, the same
    assert not list(project.glob(".site.staging*")) and not list(tmp_path.glob(".other.staging*"))


# 3. Dangerous output folders -----------------------------------------------------------------

@pytest.mark.parametrize("out", ["docs", ".", "..", "archive", "content", "archive/new", "stats", "templates"])
def test_an_output_folder_that_is_not_a_site_is_refused(project, out):
    (project / "docs").mkdir(exist_ok=True)
    (project / "docs" / "keep.md").write_text("notes\n")
    before = digest(project / "docs")
    refused(project, "build", "--now", NOW, "--out", out, named=str((project / out).resolve()))
    assert digest(project / "docs") == before


def test_a_foreign_non_empty_folder_is_refused(project, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("years of work\n")
    message = refused(project, "build", "--now", NOW, "--out", str(home), named=str(home))
    assert "no .statpress-site file" in message and (home / "thesis.tex").exists()


def test_a_site_and_an_empty_folder_may_be_replaced(project, tmp_path):
    (tmp_path / "empty").mkdir()
    write.check_out(tmp_path / "empty", project)
    write.check_out(project / "site", project)
    assert (project / "site" / write.MARKER).is_file()


# 4. Nothing archived or withdrawn by mistake -------------------------------------------------

def test_a_build_for_a_future_instant_freezes_nothing(project, tmp_path):
    # migration-2024 as if it were still to come, on 14 January 2027
    drop_snapshot(project)
    edit(project / "content" / "migration" / "releases.toml", "date = 2025-03-13", "date = 2027-01-14")
    before = digest(project / "archive")
    build(project, "--now", "2027-01-20T09:00:00+01:00", "--out", str(tmp_path / "rehearsal"))
    # the rehearsal shows the release, but the archive does not keep it before its time
    assert (tmp_path / "rehearsal" / "archive" / "migration" / "migration-2024" / "index.html").exists()
    assert digest(project / "archive") == before


@pytest.mark.parametrize("now, named", [("2020-01-01T08:00:00+01:00", "migration-2023"),
                                        ("2024-04-01T08:00:00+02:00", "migration-2024"),
                                        ("2025-03-13T07:59:59+01:00", "migration-2024")])
def test_a_site_that_withdraws_archived_releases_is_refused(project, now, named):
    message = refused(project, "build", "--now", now, named=named)
    assert "--allow-withdraw" in message


def test_a_deleted_release_is_a_withdrawal(project):
    edit(project / "content" / "naturalisations" / "releases.toml", "date = 2024-05-02", "date = 2027-05-02")
    refused(project, "build", "--now", NOW, named="naturalisations-2023")


def test_allow_withdraw_publishes_an_earlier_site_and_keeps_the_archive(project, tmp_path):
    before = digest(project / "archive")
    result = build(project, "--now", "2020-01-01T08:00:00+01:00", "--allow-withdraw", "--out", str(tmp_path / "old"))
    assert "no release due yet" in result.stdout and digest(project / "archive") == before


def test_a_template_expression_that_fails_on_its_values_is_named_not_a_traceback(project):
    """A template written for older values (the front page's topics were pairs once): the build
    stops with the template and its line, and publishes nothing."""
    page = project / "templates" / "index.html"
    page.write_text(page.read_text(encoding="utf-8").replace("{% for topic in topics %}",
                                                             "{% for topic, items in topics %}", 1), encoding="utf-8")
    message = refused(project, "build", "--now", NOW, named="index.html, line 5")
    assert "cannot unpack" in message


def test_a_release_is_frozen_only_after_every_page_rendered(project):
    drop_snapshot(project)
    page = project / "templates" / "archive.html"
    page.write_text(page.read_text(encoding="utf-8").replace("{{ t('archive_title') }}", "{{ t('archive_title').nope }}", 1), encoding="utf-8")
    refused(project, "build", "--now", NOW, named="archive.html")
    assert not (project / "archive" / "migration" / "migration-2024").exists()


# 5. A build killed while archiving or swapping -----------------------------------------------

@pytest.mark.parametrize("point", ["archive-write", "archive-partial", "archive-recorded"])
def test_a_build_killed_while_freezing_is_repaired_by_the_next(project, point):
    drop_snapshot(project)
    site = digest(project / "site")
    killed = run(project, "build", "--now", NOW, env={"STATPRESS_FAULT": point})
    assert killed.returncode == -9
    assert (project / "archive" / "migration" / ".migration-2024.partial").is_dir()
    assert digest(project / "site") == site
    verify = run(project, "verify")
    assert verify.returncode == 0 and "interrupted build" in verify.stdout, verify.stderr
    build(project)
    assert archive.verify_all(project / "archive") == []
    assert not list((project / "archive").glob("*/.*"))
    ledger = [json.loads(line)["release"] for line in (project / "archive" / archive.LEDGER).read_text().splitlines()]
    assert ledger == ["migration-2023", "naturalisations-2023", "migration-2024"]  # recorded once
    # the snapshot is the one the site shows
    assert digest(project / "archive" / "migration" / "migration-2024") == served_digest(
        project / "site" / "archive" / "migration" / "migration-2024")


@pytest.mark.parametrize("point", ["archive-partial", "write-site"])
def test_ctrl_c_in_a_build_says_so_and_leaves_the_site(project, point):
    """Ctrl+C while a release is frozen or the site written: one line, no traceback, exit 130
    as a shell reports an interrupted command, and the next build completes what was begun."""
    drop_snapshot(project)
    before = digest(project / "site")
    interrupted = run(project, "build", "--now", NOW, env={"STATPRESS_FAULT": f"sigint@{point}"},
                      preexec_fn=interruptible)
    assert interrupted.returncode == 130, interrupted.stderr
    assert interrupted.stderr.splitlines()[-1:] == ["interrupted: the previous site is unchanged"]
    assert "Traceback" not in interrupted.stderr
    assert digest(project / "site") == before
    build(project)
    assert archive.verify_all(project / "archive") == [] and not list(project.glob(".site.staging-*"))
    assert (project / "archive" / "migration" / "migration-2024").is_dir()


def test_ctrl_c_while_the_command_starts_says_so_in_one_line(project):
    interrupted = run(project, "build", "--now", NOW, env={"STATPRESS_FAULT": "sigint@start"},
                      preexec_fn=interruptible)
    assert interrupted.returncode == -signal.SIGINT  # Python ends as interrupted: a shell says 130
    assert interrupted.stderr == "interrupted: the previous site is unchanged\n"


@pytest.fixture
def ctrl_c_as_in_a_terminal():
    """SIGINT raising KeyboardInterrupt in this process, as in a command run from a terminal (a
    test run in the background has it ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_an_error_a_library_makes_of_ctrl_c_is_told_as_ctrl_c(monkeypatch, capsys, ctrl_c_as_in_a_terminal):
    """A library may turn the KeyboardInterrupt raised inside it into an error of its own (DuckDB
    into a RuntimeError, pydantic building a validator into a SchemaError): after Ctrl+C it is the
    interrupt's, told in one line; the same error without Ctrl+C is a bug, and not hidden."""
    import build as command_line

    def library(args, ctrl_c: bool):
        try:
            if ctrl_c:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(5)
        except KeyboardInterrupt:
            pass
        raise RuntimeError("Query interrupted")

    monkeypatch.setattr(command_line, "build", lambda args: library(args, ctrl_c=True))
    assert command_line.main(["build"]) == 130
    assert capsys.readouterr().err == "interrupted: the previous site is unchanged\n"
    monkeypatch.setattr(command_line, "build", lambda args: library(args, ctrl_c=False))
    with pytest.raises(RuntimeError):
        command_line.main(["build"])
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the command's own handler is gone


def test_ctrl_c_once_the_new_site_is_in_place_says_that_it_is(project):
    about = project / "content" / "migration" / "about" / "definitions.md"
    edit(about, "\n", "\n\nEdited before the swap.\n")
    interrupted = run(project, "build", "--now", NOW, env={"STATPRESS_FAULT": "sigint@swap-exchanged"},
                      preexec_fn=interruptible)
    assert interrupted.returncode == 130, interrupted.stderr
    assert interrupted.stderr.splitlines()[-1:] == [
        f"interrupted once the new site was in place: {(project / 'site').resolve()} is the new site, whole"]
    assert "Edited before the swap." in (project / "site" / "migration" / "index.html").read_text(encoding="utf-8")
    build(project, "--no-cache", "--out", str(project / "scratch"))
    assert digest(project / "site") == digest(project / "scratch")


def test_a_build_killed_while_writing_the_site_leaves_it_and_the_next_cleans_up(project):
    before = state(project)
    assert run(project, "build", "--now", NOW, env={"STATPRESS_FAULT": "write-site"}).returncode == -9
    assert state(project) == before and list(project.glob(".site.staging-*"))
    build(project)
    assert not list(project.glob(".site.staging-*")) and state(project) == before


def test_a_build_killed_while_updating_the_spare_leaves_the_site_and_the_next_one_starts_afresh(project):
    about = project / "content" / "migration" / "about" / "definitions.md"
    edit(about, "\n", "\n\nEdited once.\n")
    build(project)  # the copied project's site had no note: now it has one
    edit(about, "Edited once.", "Edited twice.")
    build(project)  # the replaced site is kept as the spare
    assert (project / ".site.spare").is_dir()
    before = state(project)
    edit(about, "Edited twice.", "Edited thrice.")
    assert run(project, "build", "--now", NOW, env={"STATPRESS_FAULT": "write-site"}).returncode == -9
    assert state(project) == before and not list(project.glob(".site.staging-*"))  # the spare was being written
    build(project)
    assert "Edited thrice." in (project / "site" / "migration" / "index.html").read_text(encoding="utf-8")
    build(project, "--no-cache", "--out", str(project / "scratch"))
    assert digest(project / "site") == digest(project / "scratch")


def test_a_build_killed_right_after_the_swap_leaves_the_new_site(project):
    before = state(project)
    assert run(project, "build", "--now", NOW, env={"STATPRESS_FAULT": "swap-exchanged"}).returncode == -9
    assert state(project) == before  # the same instant: the new site equals the old one, whole


def test_a_crash_between_the_two_renames_is_undone_even_by_a_failing_build(project):
    before = state(project)
    env = {"STATPRESS_FAULT": "swap-between-renames", "STATPRESS_NO_EXCHANGE": "1"}
    assert run(project, "build", "--now", NOW, env=env).returncode == -9
    assert not (project / "site").exists()  # what a file system without an atomic exchange risks
    edit(project / "content" / "migration" / "statistic.toml", 'name = "Migration"', 'name = 3')
    assert_error(run(project, "build", "--now", NOW), "statistic.toml")
    assert state(project) == before


# 6. Tamper evidence --------------------------------------------------------------------------

def git(project: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args], cwd=project,
                   check=True, capture_output=True)


def committed(project: Path) -> Path:
    git(project, "init", "-q")
    git(project, "add", "archive")
    git(project, "commit", "-qm", "archive")
    return project


def rehash(snapshot: Path, rel: str, content: bytes) -> bytes:
    """Edit a file of a snapshot and 'fix' its manifest to match: the new manifest's bytes."""
    (snapshot / rel).write_bytes(content)
    manifest = json.loads((snapshot / archive.MANIFEST).read_text())
    manifest["files"][rel] = archive.sha256(content)
    data = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    (snapshot / archive.MANIFEST).write_bytes(data)
    return data


def verify_fails(project: Path, named: str) -> str:
    result = run(project, "verify")
    assert result.returncode == 1 and "Traceback" not in result.stderr and named in result.stderr, result.stderr
    return result.stderr


@pytest.mark.parametrize("stray", ["notes.txt", "migration/index.html", "migration/migration-2099/index.html"])
def test_verify_reports_stray_files(project, stray):
    (project / "archive" / stray).parent.mkdir(parents=True, exist_ok=True)
    (project / "archive" / stray).write_text("x")
    verify_fails(project, stray.split("/")[-1] if "2099" not in stray else "migration-2099")


def test_an_edited_file_with_a_rewritten_manifest_is_caught_by_the_ledger(project):
    snap = project / "archive" / "migration" / "migration-2023"
    rehash(snap, "tables/by-citizenship.csv", b"forged\n")
    verify_fails(project, "migration-2023/manifest.json: changed (SHA-256 differs from")
    refused(project, "build", "--now", NOW, named="damaged archive")


def test_a_rewritten_ledger_line_is_caught_by_git_history(project):
    committed(project)
    snap = project / "archive" / "migration" / "migration-2023"
    old = archive.sha256((snap / archive.MANIFEST).read_bytes())
    new = archive.sha256(rehash(snap, "tables/by-citizenship.csv", b"forged\n"))
    edit(project / "archive" / archive.LEDGER, old, new)
    assert archive.verify_all(project / "archive") == []  # consistent on disk...
    verify_fails(project, "ledger may only grow")  # ...but not with what was committed


def test_a_removed_ledger_line_and_snapshot_are_caught(project):
    committed(project)
    drop_snapshot(project, "naturalisations/naturalisations-2023")
    verify_fails(project, "ledger may only grow")


def test_a_removed_snapshot_is_caught_by_the_ledger(project):
    shutil.rmtree(project / "archive" / "migration" / "migration-2024")
    verify_fails(project, "migration-2024: removed (recorded in")


def test_verify_says_when_git_history_was_not_checked(project):
    result = run(project, "verify")
    assert result.returncode == 0 and "not in a git checkout" in result.stdout
    committed(project)
    assert "1 commits, each only appended" in run(project, "verify").stdout


# 7. Messages, not tracebacks -----------------------------------------------------------------

def test_a_truncated_compressed_dataset(project):
    data = gzip.compress((ROOT / "data" / "population.csv").read_bytes())
    (project / "data" / "population.csv.gz").write_bytes(data[: len(data) // 2])
    edit(project / "stats" / "datasets.toml", 'file = "data/population.csv"', 'file = "data/population.csv.gz"')
    message = refused(project, "build", "--now", NOW, named="population.csv.gz")
    assert "truncated" in message


@pytest.mark.parametrize("rel", ["content/migration/about/definitions.md", "content/migration/statistic.toml",
                                 "content/naturalisations/releases.toml", "stats/migration/tables.toml",
                                 "stats/datasets.toml", "site.toml", "locales/en.toml"])
def test_a_byte_that_is_not_utf8(project, rel):
    path = project / rel
    path.write_bytes(path.read_bytes().replace(b"e", b"\xe9", 1))
    message = refused(project, "build", "--now", NOW, named=rel)
    assert "not UTF-8" in message


@pytest.mark.parametrize("rel", ["content/migration/statistic.toml", "content/naturalisations/releases.toml",
                                 "stats/migration/tables.toml", "stats/datasets.toml", "site.toml",
                                 "locales/nb.toml"])
def test_a_file_that_is_not_valid_toml(project, rel):
    path = project / rel
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    # a string left open on the line after the first key: TOML's commonest slip
    where = next(i for i, line in enumerate(lines) if "=" in line and not line.lstrip().startswith("#")) + 1
    lines.insert(where, 'unclosed = "no end\n')
    path.write_text("".join(lines), encoding="utf-8")
    message = refused(project, "build", "--now", NOW, named=rel)
    assert "not valid TOML" in message and f"line {where + 1}" in message


@pytest.mark.parametrize("old, new, named", [
    ('correction_of = "Correction of {date}"', 'correction_of = "Correction of {dat}"', "unknown placeholder {dat}"),
    ('correction_of = "Correction of {date}"', 'correction_of = "Correction of {date.year}"', "not a plain name"),
    ('correction_of = "Correction of {date}"', 'correction_of = "Correction of {date"', "strings.correction_of"),
])
def test_a_wrong_placeholder_in_a_locale_string(project, old, new, named):
    edit(project / "locales" / "en.toml", old, new)
    message = refused(project, "build", "--now", NOW, named="en.toml")
    assert named in message


def test_a_full_disk_while_writing_the_site(project):
    refused(project, "build", "--now", NOW, named="No space left on device", env={"STATPRESS_FAULT": "enospc@write-site"})
    assert not list(project.glob(".site.staging-*"))


def test_a_full_disk_while_freezing(project):
    drop_snapshot(project)
    refused(project, "build", "--now", NOW, named="No space left on device",
            env={"STATPRESS_FAULT": "enospc@archive-write"})
    assert not list((project / "archive").glob("*/.*"))


def test_an_immutable_output_folder(project):
    if subprocess.run(["chattr", "+i", str(project / "site")], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        refused(project, "build", "--now", NOW, named="site")
    finally:
        subprocess.run(["chattr", "-i", str(project / "site")])


def test_an_output_below_a_file(project):
    (project / "blocker").write_text("a file, not a folder\n")
    refused(project, "build", "--now", NOW, "--out", "blocker/site", named="blocker")


# 8. Silently wrong results are errors --------------------------------------------------------

def test_a_dataset_with_only_a_header(project):
    (project / "data" / "population.csv").unlink()
    (project / "data" / "population.csv").write_text("year,mean_population\n")
    message = refused(project, "build", "--now", NOW, named="population.csv")
    assert "only a header" in message


@pytest.mark.parametrize("name", ["calendar", "archive", "assets", "symbols", "en"])
def test_a_short_name_that_is_a_folder_of_the_site(project, name):
    edit(project / "content" / "migration" / "statistic.toml", 'short_name = "migration"', f'short_name = "{name}"')
    message = refused(project, "build", "--now", NOW, named="migration/statistic.toml")
    assert "short_name" in message


@pytest.mark.parametrize("value", ["99999999999999999999", "18446744073709551615", "-9223372036854775809"])
def test_a_value_beyond_the_integer_range(project, value):
    path = project / "data" / "population.csv"
    text = path.read_text()
    path.unlink()
    path.write_text(re.sub(r"\n2020,\d+", f"\n2020,{value}", text))
    message = refused(project, "build", "--now", NOW, named="population.csv")
    assert f"'{value}' on line" in message and "column 'mean_population'" in message
    assert not re.search(r"-\d{15,}", message.replace(value, ""))  # no wrapped-around number


def test_a_statistic_without_figures_for_its_release_period(project):
    edit(project / "content" / "naturalisations" / "releases.toml", "period = 2023", "period = 1990")
    refused(project, "build", "--now", NOW, named="naturalisations")
