"""Numbers and dates as SSB prints them in English."""

import datetime as dt

import pytest

from conftest import ROOT
from statpress.locale import load_locale, plain_number

en = load_locale(ROOT, "en")


@pytest.mark.parametrize("value, decimals, text", [
    (66077, 0, "66\u00a0077"),
    (-1896, 0, "\u22121\u00a0896"),
    (47.29995, 1, "47.3"),
    (22.95, 1, "23.0"),  # half away from zero, not to even
    (0.04, 1, "0.0"),
    (-0.04, 1, "0.0"),  # never a negative zero
    (1234567, 0, "1\u00a0234\u00a0567"),
    (float("nan"), 0, ".."),
])
def test_numbers(value, decimals, text):
    assert en.number(value, decimals) == text


def test_sign_for_changes():
    assert en.number(22.8, 1, sign=True) == "+22.8"
    assert en.number(-5.2, 1, sign=True) == "\u22125.2"


def test_plain_numbers_for_downloads():
    assert plain_number(-1896.0) == "-1896"
    assert plain_number(47.25, 1) == "47.3"


def test_dates():
    assert en.date(dt.date(2025, 3, 13)) == "13 March 2025"


def test_marks_that_swap_the_cldrs_are_each_put_once():
    """A catalogue may choose the CLDR's decimal mark as its group mark and the other way round
    (English figures written the continental way): each mark is translated once, not twice."""
    from statpress.locale import Locale

    continental = Locale(en.path, en.catalogue.model_copy(update={"group_symbol": ".", "decimal_symbol": ","}))
    assert continental.number(1234567.25, 1) == "1.234.567,3"
    assert continental.number(-0.5, 2) == "\u22120,50"
    assert en.number(1234567.25, 1) == "1\u00a0234\u00a0567.3"  # the catalogue's own marks, untouched
