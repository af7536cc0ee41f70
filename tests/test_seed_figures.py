"""The yardstick: the shipped demo site shows every figure of the seed pages."""

import subprocess
import sys

import pytest

from conftest import SHARED

CHECKER = SHARED / "tools" / "check_seed_figures.py"


@pytest.mark.skipif(not CHECKER.exists(), reason="../shared/tools is not beside this checkout")
def test_every_seed_figure_is_on_the_site(demo_site):
    result = subprocess.run([sys.executable, str(CHECKER), str(demo_site)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]
    assert result.stdout.strip().endswith("626 of 626 figures found")
