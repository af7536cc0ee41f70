"""Published counts are protected: no small count and no unrounded value reaches the site."""

import csv
import io
import json

import pytest

from conftest import ROOT
from statpress import publish
from statpress.content import load_all
from statpress.data import load_catalog
from statpress.tables import compute
from statpress.write import audit_path

BASE = 3


@pytest.fixture(scope="module")
def naturalisations():
    s = next(s for s in load_all(ROOT / "content") if s.id == "naturalisations")
    release = next(r for r in s.releases if r.id == "naturalisations-2023")
    original = {t.id: t for t in compute(load_catalog(ROOT), s.id, release.period).tables}
    protected, audit = publish.compute_release(s, load_catalog(ROOT), release)
    return original, {t.id: t for t in protected.tables}, audit


def site_rows(demo_site, table_id):
    text = (demo_site / "naturalisations" / "tables" / f"{table_id}.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], {r[0]: r[1:] for r in rows[1:]}


def test_the_demo_has_small_counts_to_protect(naturalisations):
    original, protected, audit = naturalisations
    before = {t: original[t].to_frame() for t in original}
    after = {t: protected[t].to_frame() for t in protected}
    changed = [(t, r, c) for t in before for r in before[t].index for c in before[t].columns
               if before[t].at[r, c] != after[t].at[r, c]]
    assert len(changed) >= 5
    assert audit["naturalisations"]["changed"] >= 3


def test_no_published_count_is_small(demo_site, naturalisations):
    _, protected, _ = naturalisations
    for table_id, table in protected.items():
        header, rows = site_rows(demo_site, table_id)
        counts = [i for i, m in enumerate(table.visible_measures) if m.protected]
        assert counts
        for label, cells in rows.items():
            for i in counts:
                value = int(cells[i])
                assert value == 0 or value >= BASE, (table_id, label, header[i + 1], value)


def test_no_unrounded_value_reaches_the_site(demo_site, naturalisations):
    original, protected, _ = naturalisations
    found_changed = 0
    for table_id, table in protected.items():
        _, rows = site_rows(demo_site, table_id)
        for i, m in enumerate(table.visible_measures):
            for row in table.data_rows:
                if not m.protected:
                    continue
                before = original[table_id].cell(row.id, m.id).value
                after = table.cell(row.id, m.id).value
                shown = int(rows[row.label][i])
                assert shown == after
                if before != after:
                    found_changed += 1
                    assert shown != before
    assert found_changed > 0


def test_totals_stay_the_sum_of_their_parts(naturalisations):
    _, protected, _ = naturalisations
    t = protected["by-sex-age"].to_frame()
    assert (t["males"] + t["females"] == t["total"]).all()
    ages = [c for c in t.columns if c.startswith("age_")]
    assert (t[ages].sum(axis=1) == t["total"]).all()
    groups = [k for k in t.index if k.startswith("citizenship_natgroup:")]
    assert t.loc[groups, "total"].sum() == t.at["total", "total"]
    # the same cell shows the same value in every table
    assert protected["by-country"].cell("total", "males").value == t.at["total", "males"]
    assert protected["by-previous-citizenship"].cell("total", "now").value == t.at["total", "total"]


def test_the_audit_is_written_beside_the_site_never_inside(demo_site):
    audit = json.loads(audit_path(demo_site).read_text(encoding="utf-8"))
    summary = audit["naturalisations-2023"]["naturalisations"]
    assert summary["base"] == 3 and summary["max_abs_change"] < 3 * BASE
    assert summary["total_after"] == summary["total_before"] or abs(summary["total_after"] - summary["total_before"]) <= BASE
    assert not any("confidentiality" in p.name for p in demo_site.rglob("*"))


def test_the_confidentiality_section_names_the_method_and_base(demo_site):
    page = (demo_site / "naturalisations" / "index.html").read_text(encoding="utf-8")
    assert "small-count rounding (the rounding up/down method) to base 3" in page
