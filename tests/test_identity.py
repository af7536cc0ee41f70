"""The site's identity (name, tagline, footer, publisher, licence, contact) comes from site.toml,
so another office publishes with its own words without touching the language catalogue."""

import tomllib

import pytest

from conftest import ROOT, build_site, edit
from statpress.content import SiteConfig, parse
from statpress.errors import BuildError


def test_no_site_specific_sentence_in_the_catalogues():
    for path in (ROOT / "locales").glob("*.toml"):
        strings = tomllib.loads(path.read_text(encoding="utf-8"))["strings"]
        text = " ".join(strings.values())
        for word in ("Statistics Norway", "calibrated", "synthetic", "demonstration"):
            assert word.lower() not in text.lower(), f"{path}: {word!r} belongs in site.toml [identity]"
        assert "site_name" not in strings and "site_tagline" not in strings


def test_the_identity_in_site_toml_is_on_every_page(project, tmp_path):
    edit(project / "site.toml", 'name = "Official statistics"', 'name = "Statistics Ruritania"')
    edit(project / "site.toml", 'tagline = "A statpress demonstration site"', 'tagline = "Figures you can trust"')
    edit(project / "site.toml", "# publisher = ", 'publisher_nb = "Statistisk sentralbyrå"\npublisher = ')
    edit(project / "site.toml", "# licence = ", "licence = ")
    edit(project / "site.toml", "# contact = ", "contact = ")
    text = (project / "site.toml").read_text(encoding="utf-8")
    footer = next(line for line in text.splitlines() if line.startswith("footer = "))
    edit(project / "site.toml", footer, 'footer = "Figures from the Ruritanian registers."')
    build_site(project, tmp_path / "site")
    for page in ("index.html", "calendar/index.html", "migration/index.html"):
        html = (tmp_path / "site" / page).read_text(encoding="utf-8")
        assert "– Statistics Ruritania</title>" in html and "Figures you can trust" in html
        assert "Figures from the Ruritanian registers." in html and "randomly generated and calibrated" not in html
        assert "Published by Statistics Norway. Licence: CC BY 4.0. Contact: informasjon@ssb.no." in html
    assert "Statistics Ruritania" in (tmp_path / "site" / "releases.atom").read_text(encoding="utf-8")


def test_the_identity_is_validated(project):
    edit(project / "site.toml", 'name = "Official statistics"', 'name = "Official statistics"\nmotto = "x"')
    with pytest.raises(BuildError) as err:
        parse(project / "site.toml", SiteConfig)
    assert "site.toml" in str(err.value) and "'identity.motto'" in str(err.value) and "unknown key" in str(err.value)
