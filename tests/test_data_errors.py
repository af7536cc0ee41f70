"""Bad data stops the build with file, column and line, and the previous site stays as it was."""

import pytest

from conftest import build_site, digest, replace_data
from statpress.data import load_catalog
from statpress.errors import BuildError

POPULATION = "year,mean_population\n" + "".join(f"{y},{5_000_000 + y}\n" for y in range(2015, 2025))


def error_loading(project, dataset):
    with pytest.raises(BuildError) as err:
        load_catalog(project).check(dataset)
    return str(err.value)


def test_missing_column(project):
    replace_data(project, "population.csv", POPULATION.replace("mean_population", "population"))
    message = error_loading(project, "population")
    assert "population.csv" in message and "missing column 'mean_population'" in message


def test_not_a_whole_number(project):
    replace_data(project, "population.csv", POPULATION.replace("2017,5002017", "2017,about 5 million"))
    message = error_loading(project, "population")
    assert "column 'mean_population'" in message and "whole number" in message and "line 4" in message


def test_negative_count(project):
    replace_data(project, "population.csv", POPULATION.replace("2020,5002020", "2020,-3"))
    message = error_loading(project, "population")
    assert "column 'mean_population'" in message and "at least 0" in message and "-3" in message and "line 7" in message


def test_unknown_classification_code(project):
    text = "year,citizenship,municipality,sex,age\n2023,SWE,0301,F,30\n2023,SWE,9999,M,40\n"
    replace_data(project, "naturalisations.csv", text)
    message = error_loading(project, "naturalisations")
    assert "column 'municipality'" in message and "'9999' on line 3" in message and "municipalities" in message


def test_broken_csv(project):
    replace_data(project, "population.csv", POPULATION.replace("2018,5002018", "2018,5002018,7"))
    message = error_loading(project, "population")
    assert "population.csv" in message and "not a valid CSV" in message and "line 5" in message


def test_missing_file_says_how_to_generate_it(project):
    (project / "data" / "population.csv").unlink()
    assert "generate it with: python stats/demo/generate.py" in error_loading(project, "population")


@pytest.mark.built_before
@pytest.mark.parametrize("breakage", ["data", "template", "content", "tables"])
def test_a_failed_build_leaves_the_previous_site_untouched(project, tmp_path, breakage):
    out = tmp_path / "site"
    build_site(project, out)
    before = digest(out)
    if breakage == "data":
        replace_data(project, "population.csv", POPULATION.replace("2020,5002020", "2020,-3"))
    elif breakage == "template":
        path = project / "templates" / "statistic.html"
        path.write_text(path.read_text(encoding="utf-8").replace("{{ s.meta.name }}", "{{ s.meta.nmae }}", 1))
    elif breakage == "content":
        path = project / "content" / "migration" / "releases.toml"
        path.write_text(path.read_text(encoding="utf-8").replace("date = 2025-03-13", "date = 2025-13-03"))
    else:  # one statistic's tables, computed by a forked child while the build renders the other's pages
        path = project / "stats" / "migration" / "tables.toml"
        path.write_text(path.read_text(encoding="utf-8").replace('by = "citizenship_group"', 'by = "colour"'))
    with pytest.raises(BuildError) as err:
        build_site(project, out)
    assert digest(out) == before
    if breakage == "template":
        assert "statistic.html, line" in str(err.value) and "nmae" in str(err.value)
    if breakage == "tables":  # the child's message, as the build's own would be
        assert "has no column 'colour'" in str(err.value) and "migrations" in str(err.value)


def test_a_bad_value_is_quoted_as_text_never_as_a_numpy_repr(project):
    replace_data(project, "population.csv", POPULATION.replace("2020,5002020", "2101,5002020"))
    message = error_loading(project, "population")
    assert "got '2101' on line 7" in message and "np." not in message and "int64" not in message


def test_a_missing_data_file_says_where_to_put_it(project):
    catalog = project / "stats" / "datasets.toml"
    catalog.write_text(catalog.read_text(encoding="utf-8").replace(
        'file = "data/population.csv"\ndescription = "Mean population per year (an aggregate, for rates per 1000)"\n'
        'generated_by = "stats/demo/generate.py"\n',
        'file = "/srv/registers/population.csv"\ndescription = "Mean population"\n'), encoding="utf-8")
    message = error_loading(project, "population")
    assert "/srv/registers/population.csv: data file not found" in message
    assert "put the data there, or change datasets.population.file" in message


@pytest.mark.parametrize("change, named", [
    (lambda text: text.replace("code,", "kode,", 1), "missing column 'code'"),
    (lambda text: text + text.splitlines()[1] + "\n", "appears twice (line {last})"),
    (lambda text: text + "9,Nine,Ni,extra\n", "not a valid CSV file: line {last} has 4 fields, the header 3"),
    (lambda text: text.replace("\n", "\n\n", 1) + "9,Nine,Ni,extra\n", "line {last} has 4 fields"),
    (lambda text: '"unclosed,' + text, "missing column 'code'"),
])
def test_a_broken_classification_file_is_named_with_its_line(project, change, named):
    """Classifications are read with the standard library (pandas only when a table is computed):
    the file, the line as an editor numbers it and what is wrong are named."""
    path = project / "stats" / "classifications" / "sexes.csv"
    text = change(path.read_text(encoding="utf-8"))
    path.write_text(text, encoding="utf-8")
    with pytest.raises(BuildError) as err:
        load_catalog(project)
    assert "sexes.csv" in str(err.value)
    assert named.format(last=len(text.splitlines())) in str(err.value)


def test_a_classification_in_another_encoding_is_refused(project):
    path = project / "stats" / "classifications" / "sexes.csv"
    path.write_bytes(path.read_bytes() + "9,N\xf8,N\xf8\n".encode("latin-1"))
    with pytest.raises(BuildError, match=r"sexes\.csv: not a valid CSV file"):
        load_catalog(project)


def test_a_classification_reads_as_pandas_read_it(project):
    """The codes as a table, made when first needed, are what pandas' reader makes of the file:
    every value a string, empty ones empty, a byte-order mark ignored."""
    import pandas as pd

    from statpress.data import read_classification

    path = project / "stats" / "classifications" / "countries.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    expected = pd.read_csv(path, dtype=str, keep_default_na=False).set_index("code")
    read = read_classification(path, "countries", {"en": "en_GB", "nb": "nb_NO"})
    pd.testing.assert_frame_equal(read.table, expected, check_exact=True)
    assert read.codes == list(expected.index) and read.column("name") == list(expected["name"])


def test_the_cldr_is_consulted_only_for_a_classification_with_iso_codes(project, monkeypatch):
    """Loading the CLDR's country names took 0.03 s a language, for every classification of every
    build; one without an `iso` column needs none of them."""
    from statpress import data

    asked = []
    real_parse = data.BabelLocale.parse
    monkeypatch.setattr(data.BabelLocale, "parse", lambda name: asked.append(name) or real_parse(name))
    folder = project / "stats" / "classifications"
    sexes = data.read_classification(folder / "sexes.csv", "sexes", {"en": "en_GB", "nb": "nb_NO"})
    assert asked == [] and sexes.labels["F"] == "Females"
    countries = data.read_classification(folder / "countries.csv", "countries", {"en": "en_GB", "nb": "nb_NO"})
    assert sorted(asked) == ["en_GB", "nb_NO"]
    assert countries.labels["NOR"] == "Norway" and countries.labels["NOR"].translations["nb"] == "Norge"
