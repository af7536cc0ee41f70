"""The whole built site through the Nu Html Checker (vnu.jar), in one JVM run."""

from __future__ import annotations

import pytest

from . import checks


def test_site_html_is_valid(site_root):
    errors = checks.run_vnu(site_root)
    if errors:
        lines = checks.format_vnu(errors)
        pytest.fail(
            f"Nu Html Checker: {len(errors)} error(s) in {site_root}:\n  " + "\n  ".join(lines),
            pytrace=False,
        )
