"""Adding a statistic means adding files under content/ and stats/, never editing the engine."""

import textwrap

from conftest import build_site

STATISTIC = '''
name = "Population"
name_nb = "Befolkning"
short_name = "population"
topic = "Population"
topic_nb = "Befolkning"
summary = "Mean population of Norway by year."
summary_nb = "Middelfolkemengden i Norge etter år."
division = "Division for Population Statistics"
division_nb = "Seksjon for befolkningsstatistikk"
regional_level = "The nation"
regional_level_nb = "Hele landet"
frequency = "Annual"
frequency_nb = "Årlig"
about_updated = 2025-01-10

[[contacts]]
name = "Statistics Norway's Information Centre"
name_nb = "SSBs informasjonstjeneste"
phone = "+47 21 09 46 42"
'''
RELEASES = '''
[[releases]]
id = "population-2024"
period = 2024
date = 2025-02-20
announced = 2024-10-01
'''
TABLES = '''
[key_figure]
table = "mean"
row = "year:2024"

[[key_figure.facts]]
column = "mean"
text = "mean population in {year}"
text_nb = "middelfolkemengde i {year}"

[[tables]]
id = "mean"
title = "Mean population. {year-4}-{year}"
title_nb = "Middelfolkemengde. {year-4}-{year}"
dataset = "population"
stub = "Year"
stub_nb = "År"

[[tables.rows]]
by = "year"
years = "{year-4}-{year}"

[[tables.columns]]
id = "mean"
kind = "sum"
label = "Mean population"
label_nb = "Middelfolkemengde"
sum = "mean_population"

[[charts]]
id = "mean"
table = "mean"
title = "Mean population. {year-4}-{year}"
title_nb = "Middelfolkemengde. {year-4}-{year}"
kind = "line"
series = ["mean"]
'''


def test_a_statistic_added_as_files_is_published(project, tmp_path):
    (project / "content" / "population" / "about").mkdir(parents=True)
    (project / "content" / "population" / "statistic.toml").write_text(textwrap.dedent(STATISTIC), encoding="utf-8")
    (project / "content" / "population" / "releases.toml").write_text(textwrap.dedent(RELEASES), encoding="utf-8")
    (project / "content" / "population" / "about" / "definitions.md").write_text(
        "## Definitions of the main concepts and variables\n\nMean population is the average of the "
        "population at the start and at the end of the year.\n", encoding="utf-8")
    (project / "content" / "population" / "about" / "definitions.nb.md").write_text(
        "## Definisjoner av viktige begrep og variabler\n\nMiddelfolkemengden er gjennomsnittet av "
        "folkemengden ved starten og slutten av året.\n", encoding="utf-8")
    (project / "stats" / "population").mkdir()
    (project / "stats" / "population" / "tables.toml").write_text(textwrap.dedent(TABLES), encoding="utf-8")

    report = build_site(project, tmp_path / "site")

    assert [s.release for s in report.statistics if s.name == "Population"] == ["population-2024"]
    page = (tmp_path / "site" / "population" / "index.html").read_text(encoding="utf-8")
    assert "<h1>Population</h1>" in page and "mean population in 2024" in page
    assert '<th scope="row">2020</th>' in page and "<figure class=\"chart\"" in page
    assert "Mean population is the average" in page
    index = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert 'href="population/index.html"' in index
    assert (project / "archive" / "population" / "population-2024" / "manifest.json").exists()
    norsk = (tmp_path / "site" / "nb" / "population" / "index.html").read_text(encoding="utf-8")
    assert "<h1>Befolkning</h1>" in norsk and "Middelfolkemengden er gjennomsnittet" in norsk
