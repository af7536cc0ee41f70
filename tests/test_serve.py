"""The live preview server without a browser: what it serves, and what it never writes."""

from __future__ import annotations

import json
import threading
import urllib.request

import pytest

from conftest import DEMO_NOW, drop_snapshot, edit
from statpress.serve import LivePreview


def test_a_preview_never_freezes_a_release_into_the_archive(project):
    drop_snapshot(project)
    preview = LivePreview(project, now=DEMO_NOW, log=lambda m: None)
    preview.build()
    assert preview.state.error is None and preview.state.version == 1
    assert not (project / "archive" / "migration" / "migration-2024").exists()
    assert (project / ".cache" / "serve" / "site" / "migration" / "index.html").exists()
    assert not (project / "site").exists()


def test_html_gets_the_reload_script_and_the_version_endpoint_reports_errors(project):
    preview = LivePreview(project, now=DEMO_NOW, log=lambda m: None)
    server = preview.serve(0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        page = urllib.request.urlopen(base + "/migration/").read().decode()
        assert page.rstrip().endswith('<script src="/__statpress/live.js?v=1"></script>\n</body>\n</html>')
        csv = urllib.request.urlopen(base + "/migration/tables/" + next(
            p.name for p in (preview.out / "migration" / "tables").iterdir())).read()
        assert b"__statpress" not in csv
        edit(project / "site.toml", 'languages = ["en", "nb"]', 'languages = ["en", "nb"]\nlanguages = ["nb"]')
        preview.build()
        state = json.loads(urllib.request.urlopen(base + "/__statpress/version").read())
        assert state["version"] == 2 and state["error"].startswith("error: ") and "site.toml" in state["error"]
        assert "__statpress" not in (preview.out / "migration" / "index.html").read_text(encoding="utf-8")
    finally:
        preview.stop.set()
        server.shutdown()
        server.server_close()


@pytest.mark.built_before
def test_a_replaced_data_file_triggers_a_rebuild(project):
    preview = LivePreview(project, now=DEMO_NOW, log=lambda m: None)
    paths, datasets = preview.watched()
    assert project / "data" in paths and project / "content" in paths and project / "site.toml" in paths
    assert project / "data" / "population.csv" in datasets and not any(".cache" in str(p) for p in paths)
    watcher = threading.Thread(target=preview.watch, daemon=True)
    watcher.start()
    try:
        import time
        time.sleep(1.0)  # the watch is set up
        (project / "data" / "unrelated.txt").write_text("not a dataset", encoding="utf-8")
        time.sleep(1.5)
        assert preview.state.version == 0  # a file beside the data is not a change to the data
        population = project / "data" / "population.csv"
        text = population.read_text(encoding="utf-8")
        population.unlink()  # exporters replace files rather than edit them
        population.write_text(text, encoding="utf-8")
        for _ in range(100):
            if preview.state.version:
                break
            time.sleep(0.1)
        assert preview.state.version >= 1 and preview.state.error is None
    finally:
        preview.stop.set()
        watcher.join(timeout=5)
