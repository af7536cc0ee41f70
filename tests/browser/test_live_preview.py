"""`build.py serve`: a page open in the browser follows the files being edited, shows a build
error over the page and recovers when the file is fixed. The reload script is added by the
server only: the built folder never contains it."""

from __future__ import annotations

import threading

import pytest

from conftest import DEMO_NOW, copy_project, edit
from statpress import compress
from statpress.serve import LivePreview

from . import checks


@pytest.fixture
def live(tmp_path):
    """A copy of the project served live on a free port: (base URL, project, preview)."""
    project = copy_project(tmp_path / "project")
    preview = LivePreview(project, now=DEMO_NOW, log=lambda message: None)
    server = preview.serve(0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", project, preview
    finally:
        preview.stop.set()
        server.shutdown()
        server.server_close()


def test_an_edited_content_file_updates_the_open_page(live, open_url):
    url, project, preview = live
    opened = open_url(checks.page_url(url, "naturalisations/index.html"))
    page = opened.page
    assert "Edited while serving" not in page.content()
    edit(project / "content/naturalisations/statistic.toml", 'summary = """The statistics show',
         'summary = """Edited while serving. The statistics show')
    page.wait_for_function("document.body.innerText.includes('Edited while serving')", timeout=20_000)
    assert opened.watcher.console_errors == [] and opened.watcher.page_errors == []
    assert opened.watcher.external_requests == []
    for stored in preview.out.rglob("*"):  # the script is the server's: never in the built files
        if stored.is_file():
            path, data = compress.original(stored, stored.read_bytes())  # precompressed copies too
            if path.suffix in (".html", ".js"):
                assert b"__statpress" not in data, stored
    assert not (project / "site").exists()


def test_a_build_error_shows_over_the_page_and_goes_when_fixed(live, open_url):
    url, project, _ = live
    page = open_url(checks.page_url(url, "migration/index.html")).page
    about = project / "content/migration/about/definitions.md"
    edit(about, "## Definitions of the main concepts and variables", "## Definitionz")
    overlay = page.locator("#statpress-error-overlay")
    overlay.wait_for(state="visible", timeout=20_000)
    text = overlay.inner_text()
    assert "The build failed" in text
    assert "definitions.md: unknown subsection '## Definitionz'" in text
    assert page.get_by_role("alert").count() == 1

    edit(about, "## Definitionz", "## Definitions of the main concepts and variables\n\nFixed and live.")
    page.wait_for_function("document.body.textContent.includes('Fixed and live.')", timeout=20_000)
    assert page.locator("#statpress-error-overlay").count() == 0
