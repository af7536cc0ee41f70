"""Two languages in one build: the same figures in each language's format, every text
translated or the build stops, per-language downloads and feeds, and a third language from files."""

import csv
import html.parser
import re
import shutil
import unicodedata
from pathlib import Path

import pytest

from conftest import ROOT, SHARED, build_site, edit
from statpress.errors import BuildError

EXPECTED = SHARED / "seeds" / "expected"


class TableRows(html.parser.HTMLParser):
    """The rows of each table on a page (by its section's id), as lists of cell texts."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.section, self.row = None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section" and (attrs.get("id") or "").startswith("table-"):
            self.section = attrs["id"]
            self.tables[self.section] = []
        elif tag == "tr" and self.section:
            self.row = []
        elif tag in ("td", "th") and self.row is not None:
            self.row.append("")

    def handle_endtag(self, tag):
        if tag == "tr" and self.row is not None:
            # ordinary white space folded; a no-break space is part of a Norwegian figure
            self.tables[self.section].append([re.sub(r"[ \t\r\n]+", " ", c).strip(" \t\r\n") for c in self.row])
            self.row = None

    def handle_data(self, data):
        if self.row:
            self.row[-1] += data


def tables_of(page: Path) -> dict[str, list[list[str]]]:
    parser = TableRows()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.tables


def norwegian(raw: str) -> str:
    """A seed CSV figure as a Norwegian page prints it: '66 077' (no-break space), '47,3', '−1 896'."""
    digits = raw.lstrip("-")
    whole, _, frac = digits.partition(".")
    text = f"{int(whole):,}".replace(",", "\u00a0") + ("," + frac if frac else "")
    return ("\u2212" if raw.startswith("-") else "") + text


def label_matches(cell: str, label: str) -> bool:
    cell = unicodedata.normalize("NFKC", cell)
    return cell == label or cell.startswith(label + " ") or cell.rstrip("0123456789*") == label


def test_norwegian_pages_show_every_seed_figure_in_norwegian_format(demo_site):
    """The English pages carry the seed figures (test_seed_figures.py); the same rows of the same
    tables on the Norwegian pages carry them too, written the Norwegian way."""
    pairs = []
    for english in sorted(p for p in demo_site.glob("*/index.html") if p.parent.name != "nb"):
        norsk = demo_site / "nb" / english.relative_to(demo_site)
        assert norsk.is_file(), f"no Norwegian counterpart of {english}"
        en_tables, nb_tables = tables_of(english), tables_of(norsk)
        assert en_tables.keys() == nb_tables.keys()
        for tid, rows in en_tables.items():
            assert len(rows) == len(nb_tables[tid])
            pairs += zip(rows, nb_tables[tid])
    assert pairs
    total = found = 0
    missing = []
    for path in sorted(EXPECTED.glob("*.csv")):
        with path.open(encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader)
            for rec in reader:
                rows = [nb for en, nb in pairs if any(label_matches(c, rec[0]) for c in en)]
                for col, raw in zip(header[1:], rec[1:]):
                    total += 1
                    forms = {norwegian(raw)} | ({norwegian("27384")} if (path.name, rec[0], col) == (
                        "migration_immigration_emigration_1972_2024.csv", "2015", "foreign_emigration") else set())
                    if any(re.fullmatch(re.escape(f) + r"(\s*[a-z*%]{0,3}\d?)?", c) for r in rows for c in r
                           for f in forms):
                        found += 1
                    else:
                        missing.append(f"{path.name}: {rec[0]} / {col}: {norwegian(raw)}")
    assert not missing, f"{found} of {total} found; missing: {missing[:10]}"
    assert total == 626


def test_norwegian_labels_and_formats(demo_site):
    page = (demo_site / "nb" / "migration" / "index.html").read_text(encoding="utf-8")
    assert '<html lang="nb">' in page
    assert "Oppdatert" in page and "Neste oppdatering" in page and "Standardtegn i tabeller" in page
    assert "13. mars 2025" in page  # a CLDR date in bokmål
    assert "Ukraina" in page and "Filippinene" in page  # CLDR territory names, not typed in
    english = (demo_site / "migration" / "index.html").read_text(encoding="utf-8")
    assert "13 March 2025" in english and "Philippines" in english


def test_every_page_has_its_counterpart_and_alternates(demo_site):
    pages = [p for p in demo_site.rglob("*.html") if not p.relative_to(demo_site).parts[0] in ("archive", "nb")
             or p.relative_to(demo_site).as_posix() == "archive/index.html"]
    assert len(pages) > 5
    for english in pages:
        rel = english.relative_to(demo_site).as_posix()
        norsk = demo_site / "nb" / rel
        assert norsk.is_file(), rel
        text = norsk.read_text(encoding="utf-8")
        url = "https://statistics.example.org/" + rel.removesuffix("index.html")
        assert f'<link rel="alternate" hreflang="en" href="{url}">' in text, rel
        nb_url = "https://statistics.example.org/nb/" + rel.removesuffix("index.html")
        assert f'<link rel="alternate" hreflang="nb" href="{nb_url}">' in english.read_text(encoding="utf-8"), rel
        depth = "../" * rel.count("/")
        assert f'<a href="../{depth}{rel}" hreflang="en" lang="en">English</a>' in text, rel
    sitemap = (demo_site / "sitemap.xml").read_text(encoding="utf-8")
    assert "<loc>https://statistics.example.org/nb/migration/</loc>" in sitemap
    assert "<loc>https://statistics.example.org/migration/</loc>" in sitemap


def test_csv_downloads_follow_each_language(demo_site):
    en = (demo_site / "naturalisations" / "tables").glob("*.csv")
    english = next(p for p in en if "-5.2" in p.read_text(encoding="utf-8"))
    text = english.read_bytes()
    assert not text.startswith(b"\xef\xbb\xbf") and b"-5.2" in text and b";" not in text.split(b"\n")[0]
    norsk = (demo_site / "nb" / english.relative_to(demo_site)).read_bytes()
    assert norsk.startswith(b"\xef\xbb\xbf")  # so that Excel reads UTF-8
    rows = list(csv.reader(norsk.decode("utf-8-sig").splitlines(), delimiter=";"))
    assert any("-5,2" in row for row in rows)
    assert len(rows[0]) == len(next(csv.reader(text.decode().splitlines())))


def test_feeds_per_language(demo_site):
    atom = (demo_site / "nb" / "releases.atom").read_text(encoding="utf-8")
    assert 'xml:lang="nb"' in atom and "Flytting" in atom and "tag:statistics.example.org,2024:releases:nb" in atom
    assert "Migration" not in atom
    ics = (demo_site / "nb" / "calendar" / "releases.ics").read_text(encoding="utf-8")
    assert "X-WR-CALNAME:Statistikkalender" in ics and "SUMMARY;LANGUAGE=nb:Flytting" in ics
    english = (demo_site / "calendar" / "releases.ics").read_text(encoding="utf-8")
    assert "SUMMARY;LANGUAGE=en:Migration" in english
    # one release, one UID in both calendars: importing both moves one entry
    uids = lambda text: sorted(re.findall(r"^UID:(.+)$", text, re.M))  # noqa: E731
    assert uids(ics) == uids(english)


def test_archived_english_snapshots_stay_linked_from_norwegian_pages(demo_site):
    page = (demo_site / "nb" / "migration" / "index.html").read_text(encoding="utf-8")
    assert 'href="../../archive/migration/migration-2023/index.html" hreflang="en"' in page
    assert "på engelsk" in page
    assert (demo_site / "archive" / "migration" / "migration-2023" / "index.html").is_file()


@pytest.mark.parametrize("file, old, new, message", [
    ("content/migration/statistic.toml", 'summary_nb = ', 'summary_xx = ',
     "statistic.toml: field 'summary': no translation into 'nb'; add 'summary_nb'"),
    ("content/migration/releases.toml", "reason_nb = ", "# reason_nb = ",
     "releases.toml: field 'releases.2.reason': no translation into 'nb'; add 'reason_nb'"),
    ("stats/naturalisations/tables.toml", 'stub_nb = ', '# stub_nb = ',
     "tables.toml: table 'by-previous-citizenship': field 'stub': no translation into 'nb'; add 'stub_nb'"),
])
def test_a_missing_translation_stops_the_build_naming_file_and_key(project, tmp_path, file, old, new, message):
    edit(project / file, old, new)
    if "summary_xx" in new:  # an unknown language code is no translation: an unknown key
        edit(project / file, "summary_xx = ", "summary_nb_draft = ")
        message = "statistic.toml: field 'summary_nb_draft': unknown key"
    with pytest.raises(BuildError, match=re.escape(message)):
        build_site(project, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_missing_about_translation_and_classification_label_are_errors(project, tmp_path):
    about = project / "content" / "migration" / "about" / "definitions.nb.md"
    about.unlink()
    with pytest.raises(BuildError, match=r"definitions\.nb\.md: no subsection for "
                                         r"'Definitions of the main concepts and variables'"):
        build_site(project, tmp_path / "out")
    shutil.copy(ROOT / "content" / "migration" / "about" / "definitions.nb.md", about)
    regions = project / "stats" / "classifications" / "regions.csv"
    lines = regions.read_text(encoding="utf-8").splitlines()
    lines[2] = ",".join(lines[2].split(",")[:2] + [""] + lines[2].split(",")[3:])
    regions.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(BuildError, match=r"regions\.csv, line 3: code '.+' has an empty 'name_nb'"):
        build_site(project, tmp_path / "out")


@pytest.mark.built_before
def test_a_declared_fallback_shows_a_notice_and_marks_the_passage(project, tmp_path):
    edit(project / "content" / "naturalisations" / "statistic.toml", "summary_nb = ", "summary_draft = ")
    edit(project / "content" / "naturalisations" / "statistic.toml", "summary_draft = ", "# summary_nb = ")
    (project / "content" / "naturalisations" / "statistic.toml").write_text(
        'fallback = "en"\n' + (project / "content" / "naturalisations" / "statistic.toml").read_text(encoding="utf-8"),
        encoding="utf-8")
    build_site(project, tmp_path / "out")
    page = (tmp_path / "out" / "nb" / "naturalisations" / "index.html").read_text(encoding="utf-8")
    assert "Deler av denne siden er ikke oversatt ennå og vises på engelsk." in page
    assert '<p class="lead" lang="en">' in page


def test_a_third_language_is_files_only(project, tmp_path):
    """Nynorsk from a catalogue, site.toml and content files; no engine change."""
    catalogue = (project / "locales" / "nb.toml").read_text(encoding="utf-8")
    catalogue = catalogue.replace('language = "nb"', 'language = "nn"').replace('babel_locale = "nb_NO"',
                                                                                'babel_locale = "nn_NO"')
    (project / "locales" / "nn.toml").write_text(catalogue.replace('nav_calendar = "Statistikkalender"',
                                                                   'nav_calendar = "Statistikkalendar"'),
                                                 encoding="utf-8")
    site = project / "site.toml"
    text = site.read_text(encoding="utf-8").replace('languages = ["en", "nb"]', 'languages = ["en", "nb", "nn"]')
    for key in ("publisher", "spatial_coverage", "name", "tagline", "footer"):
        text = re.sub(rf"^({key})_nb = (.*)$", r"\1_nb = \2\n\1_nn = \2", text, flags=re.M)
    site.write_text(text, encoding="utf-8")
    for path in (project / "stats" / "classifications").glob("*.csv"):
        rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
        at = rows[0].index("name_nb")
        with path.open("w", encoding="utf-8", newline="") as f:
            csv.writer(f, lineterminator="\n").writerows(row + [row[at]] if i else row + ["name_nn"]
                                                         for i, row in enumerate(rows))
    for statistic in ("migration", "naturalisations"):  # its texts are not translated yet: bokmål stands in
        meta = project / "content" / statistic / "statistic.toml"
        meta.write_text('fallback = "nb"\n' + meta.read_text(encoding="utf-8"), encoding="utf-8")
    build_site(project, tmp_path / "out")
    page = (tmp_path / "out" / "nn" / "migration" / "index.html").read_text(encoding="utf-8")
    assert '<html lang="nn">' in page and "Statistikkalendar" in page
    assert "66\u00a0077" in page  # CLDR numbers for nn
    assert 'hreflang="nn"' in (tmp_path / "out" / "migration" / "index.html").read_text(encoding="utf-8")
    assert '<p class="lead" lang="nb">' in page


@pytest.mark.built_before
def test_a_newly_frozen_release_is_archived_in_every_language(project, tmp_path):
    from conftest import drop_snapshot

    drop_snapshot(project)
    build_site(project, tmp_path / "out")
    snap = project / "archive" / "migration" / "migration-2024"
    english = (snap / "index.html").read_text(encoding="utf-8")
    norsk = (snap / "nb" / "index.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in english and '<html lang="nb">' in norsk
    assert '<a href="../../../../archive/migration/migration-2024/index.html" hreflang="en" lang="en">' in norsk
    assert 'href="../assets/style.css"' in norsk and (snap / "nb" / "tables" / "by-county.csv").is_file()
    # the Norwegian statistic page now links to the Norwegian snapshot
    index = (tmp_path / "out" / "nb" / "archive" / "index.html").read_text(encoding="utf-8")
    assert 'href="../../archive/migration/migration-2024/nb/index.html"' in index
    assert 'href="../../archive/migration/migration-2023/index.html" hreflang="en"' in index


def test_charts_are_drawn_in_each_language(demo_site):
    """Titles, labels and axis numbers of a chart in the page's language and number format."""
    svg = lambda path: (demo_site / path).read_text(encoding="utf-8")  # noqa: E731
    ticks = lambda text: re.findall(r"<text[^>]*>([^<]*)</text>", text)  # noqa: E731
    norsk, english = svg("nb/migration/charts/net-by-county.svg"), svg("migration/charts/net-by-county.svg")
    assert "Nettoinnflytting" in norsk and "Nettoinnflytting" not in english
    assert "\u22122\u00a0000" in ticks(norsk) or "\u22122\u00a0500" in ticks(norsk)
    nb_numbers = [t for t in ticks(norsk) if re.fullmatch(r"[\u2212\d\u00a0,]+", t) and len(t) > 4]
    assert nb_numbers and all("," not in t or "." not in t for t in nb_numbers)
    assert (re.sub(r"[^\d]", "", "".join(nb_numbers))
            == re.sub(r"[^\d]", "", "".join(t for t in ticks(english) if re.fullmatch(r"[\u2212\d\u00a0.]+", t)
                                            and len(t) > 4)))
