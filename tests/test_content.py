"""The content schema: each kind of mistake stops the build with the file and the field."""

import datetime as dt
import pickle
import tomllib

import pytest

from conftest import edit
from statpress import tomlfile
from statpress.content import load_all, load_statistic
from statpress.errors import BuildError


def error_of(project):
    with pytest.raises(BuildError) as err:
        load_all(project / "content")
    return str(err.value)


def test_the_shipped_content_is_valid(project):
    """Every statistic shipped in content/ loads, whatever statistics that is: adding one must not
    break this test."""
    folders = sorted(d.name for d in (project / "content").iterdir() if d.is_dir())
    stats = load_all(project / "content")
    assert [s.id for s in stats] == folders
    assert all(s.meta.short_name and s.releases for s in stats)


def test_missing_required_field(project):
    edit(project / "content/migration/statistic.toml", 'topic = "Population"\n', "")
    message = error_of(project)
    assert "content/migration/statistic.toml" in message and "'topic'" in message and "required" in message


def test_unknown_key(project):
    edit(project / "content/migration/statistic.toml", 'topic = "Population"', 'topic = "Population"\ncolour = "red"')
    message = error_of(project)
    assert "statistic.toml" in message and "'colour'" in message and "unknown key" in message


def test_wrong_type(project):
    edit(project / "content/naturalisations/statistic.toml", "base = 3", 'base = "three"')
    message = error_of(project)
    assert "'confidentiality.base'" in message and "integer" in message


def test_bad_date(project):
    edit(project / "content/migration/releases.toml", "date = 2025-03-13", 'date = "2025-02-30"')
    message = error_of(project)
    assert "content/migration/releases.toml" in message and "'releases.1.date'" in message


def test_contact_needs_a_phone(project):
    edit(project / "content/migration/statistic.toml", 'phone = "+47 21 09 46 42"\n', "")
    assert "'contacts.0.phone'" in error_of(project)


def test_duplicate_release_ids(project):
    edit(project / "content/migration/releases.toml", 'id = "migration-2023"', 'id = "migration-2024"')
    assert "release id 'migration-2024' is used twice" in error_of(project)


def test_about_sections_fill_in_not_relevant(project):
    s = load_statistic(project / "content/migration")
    background = next(a for a in s.about if a.id == "background")
    assert [sub.markdown for sub in background.subsections] == [""] * 6
    definitions = next(a for a in s.about if a.id == "definitions")
    assert "Net migration" in definitions.subsections[0].markdown


def test_unknown_about_subsection(project):
    path = project / "content/naturalisations/about/production.md"
    edit(path, "## Scope", "## Scopes")
    message = error_of(project)
    assert "production.md" in message and "unknown subsection '## Scopes'" in message


def test_about_subsections_out_of_order(project):
    path = project / "content/naturalisations/about/accuracy-and-reliability.md"
    text = path.read_text(encoding="utf-8")
    first, second = text.split("## Revision")
    path.write_text("## Revision" + second.rstrip() + "\n\n" + first, encoding="utf-8")
    assert "out of order" in error_of(project)


def test_toml_is_parsed_as_python_parses_it_and_can_be_cached():
    """statpress parses TOML with rtoml (tomlfile.py), for speed: what it gives is what Python's
    own tomllib gives, offsets as datetime.timezone, and it pickles (the caches hold it)."""
    text = ('when = 2026-06-02T08:00:00+02:00\nutc = 2026-06-02T06:00:00Z\nday = 2026-06-02\n'
            'local = 2026-06-02T08:00:00\nat = 08:00:00\n[[releases]]\nid = "r1"\n'
            'times = [2026-06-02T08:00:00-01:30, 1.5, "x"]\nnested = { at = 2026-06-02T08:00:00+01:00 }\n')
    parsed = tomlfile.loads(text)
    assert parsed == tomllib.loads(text)
    assert parsed["when"].tzinfo == dt.timezone(dt.timedelta(hours=2))
    assert type(parsed["releases"][0]["times"][0].tzinfo) is dt.timezone
    assert type(parsed["releases"][0]["nested"]["at"].tzinfo) is dt.timezone
    assert pickle.loads(pickle.dumps(parsed)) == parsed
    # every way TOML writes an offset date-time is found (tomlfile.OFFSET_DATE_TIME)
    for written in ("2026-06-02 08:00:00+02:00", "2026-06-02t08:00:00z", "2026-06-02T08:00:00.250-01:30",
                    "2026-06-02T06:00:00Z"):
        parsed = tomlfile.loads(f"[[releases]]\nwhen = [{{ at = {written} }}]\n")
        assert parsed == tomllib.loads(f"[[releases]]\nwhen = [{{ at = {written} }}]\n")
        assert type(parsed["releases"][0]["when"][0]["at"].tzinfo) is dt.timezone, written


def test_a_converter_kept_for_many_texts_converts_each_as_if_alone():
    """A renderer keeps one Markdown converter for every About text: footnotes, abbreviations and
    heading ids of one text must not carry over to the next."""
    from statpress.render import markdown_converter, markdown_html

    texts = ["## Sources\n\nThe NPR holds it.[^1]\n\n[^1]: The register.\n\n*[NPR]: National Population Register\n",
             "## Sources\n\nThe NPR again.[^1]\n\n[^1]: Another note.\n",
             "Plain text, no NPR here.\n"]
    convert = markdown_converter()
    alone = [markdown_html(text) for text in texts]
    assert [convert(text) for text in texts] == alone
    assert "<abbr" in alone[0] and "<abbr" not in alone[1] + alone[2]


def test_about_texts_get_every_markdown_extension_the_docs_promise():
    """The extensions are given to Markdown as instances (render.markdown_extensions), not by name:
    each of "extra"'s seven, sane lists and the table of contents must still take effect."""
    from statpress.render import markdown_html

    html = markdown_html(
        "## Sources {#src}\n\n"                                # attr_list; toc's base level: an h4
        "| a | b |\n|---|---|\n| 1 | 2 |\n\n"                  # tables
        "Term\n:   Its definition.\n\n"                        # def_list
        "The NPR holds it.[^1]\n\n[^1]: The register.\n\n"     # footnotes
        "*[NPR]: National Population Register\n\n"             # abbr
        "```\ncode here\n```\n\n"                              # fenced_code
        '<div markdown="1">*inside*</div>\n\n'                 # md_in_html
        "1. one\n2. two\n\n* bullet\n")                        # sane_lists: two lists, not one
    for part in ("<h4>Sources</h4>", "<table>", "<dl>", 'class="footnote"', "<abbr", "<code>code here",
                 "<em>inside</em>", "<ol>", "<ul>"):
        assert part in html, part
    assert "<li>bullet</li>" not in html.split("</ol>")[0]
    assert "{#src}" not in html  # read as attributes (which the page's sanitiser then drops)


def test_about_headings_nest_under_the_page_and_stop_at_h6():
    from statpress.render import markdown_html

    html = markdown_html("# Top\n\ntext\n\n### Sub\n\n###### Deep\n")
    # the page's own headings are h1 (title), h2 (About section) and h3 (subsection)
    assert "<h3>Top</h3>" in html and "<h5>Sub</h5>" in html and "<h6>Deep</h6>" in html
    # a heading written as raw HTML cannot climb above the page's own: it is cut to its text
    raw = markdown_html("<h1>Big</h1>\n\n<h2>Also</h2>\n\n<h4>Fine</h4>\n")
    assert "<h1" not in raw and "<h2" not in raw and "Big" in raw and "Also" in raw and "<h4>Fine</h4>" in raw


def test_a_statistic_is_read_again_exactly_when_what_it_was_read_from_changed(project, monkeypatch):
    """A build keeps each statistic as read and checked (.cache/content) and takes it back only while
    the bytes of its files, the About headings and the reading code are the same: each change below
    reads again exactly the statistic it concerns, or all of them, and the kept one never hides a
    change or a mistake."""
    from statpress import cache, content

    from conftest import DEMO_NOW
    from statpress import pipeline

    read = []
    reading = content.load_statistic
    monkeypatch.setattr(content, "load_statistic", lambda folder, *a: read.append(folder.name) or reading(folder, *a))

    def statistics(use_cache=True):
        read.clear()
        options = pipeline.BuildOptions(project, project / "site", DEMO_NOW, use_cache=use_cache)
        return {s.id: s for s in pipeline.read_content(options).stats}, sorted(read)

    everything = sorted(d.name for d in (project / "content").iterdir() if d.is_dir())
    first, read_first = statistics()
    assert read_first == everything and len(list((project / ".cache" / "content").iterdir())) == len(everything)
    again, read_again = statistics()
    assert read_again == [] and again == first  # all kept, and equal to what reading them gives

    definitions = project / "content" / "migration" / "about" / "definitions.nb.md"
    definitions.write_text(definitions.read_text(encoding="utf-8") + "\nEn ny setning.\n", encoding="utf-8")
    changed, read_now = statistics()
    assert read_now == ["migration"]
    written = [sub.markdown.translations.get("nb", "") for section in changed["migration"].about
               for sub in section.subsections]
    assert any(text.endswith("En ny setning.") for text in written)
    assert changed["naturalisations"] == first["naturalisations"]

    (project / "content" / "migration" / "about" / "notes.md").write_text("## Notes\n", encoding="utf-8")
    with pytest.raises(BuildError, match="notes.md: unknown About file"):
        statistics()
    (project / "content" / "migration" / "about" / "notes.md").unlink()

    edit(project / "content" / "naturalisations" / "statistic.toml", "short_name =", "short_nam =")
    with pytest.raises(BuildError, match=r"naturalisations/statistic.toml: field '(short_name|short_nam)'"):
        statistics()
    with pytest.raises(BuildError, match=r"naturalisations/statistic.toml: field '(short_name|short_nam)'"):
        statistics()  # a mistake is reported every time, never kept
    edit(project / "content" / "naturalisations" / "statistic.toml", "short_nam =", "short_name =")
    assert statistics()[1] == []  # the same bytes as before the mistake: what was kept of them

    catalogue = project / "locales" / "nb.toml"  # the bokmål headings, which the texts no longer match
    heading = "Definisjoner av viktige begrep og variabler"
    edit(catalogue, f'= "{heading}"', '= "Begreper og variabler"')
    with pytest.raises(BuildError, match=f"unknown subsection '## {heading}'"):
        statistics()
    edit(catalogue, '= "Begreper og variabler"', f'= "{heading}"')

    with monkeypatch.context() as newer:  # another version of the reading code: every statistic
        newer.setattr(cache, "__version__", "a newer statpress")
        cache.code_fingerprint.cache_clear()
        try:
            assert statistics()[1] == everything
        finally:
            cache.code_fingerprint.cache_clear()

    audit, read_audit = statistics(use_cache=False)  # --no-cache reads everything and keeps nothing
    kept = sorted((project / ".cache" / "content").iterdir())
    assert read_audit == everything and audit == statistics()[0]
    assert sorted((project / ".cache" / "content").iterdir()) == kept
