"""Citation, machine-readable metadata and the data catalogue of the built site."""

from __future__ import annotations

import json

import pytest
import rdflib
from lxml import html as lxml_html
from rdflib import namespace

from conftest import build_site, drop_snapshot, edit
from statpress import content
from statpress.errors import BuildError

# each test changes something in a project built before (conftest.project)
pytestmark = pytest.mark.built_before

BASE = "https://statistics.example.org/"
STATISTICS = ("migration", "naturalisations")


def page(site, short):
    return lxml_html.fromstring((site / short / "index.html").read_bytes())


@pytest.mark.parametrize("short", STATISTICS)
def test_cite_block_source_line_and_ris(demo_site, short):
    doc = page(demo_site, short)
    cite = doc.xpath('//section[@class="cite"]')[0]
    text = cite.text_content()
    assert "Source: Statistics Norway" in text
    assert f"{BASE}{short}/" in text and "Released " in text
    ris = (demo_site / short / "cite.ris").read_bytes().decode("utf-8")
    assert ris.startswith("TY  - DATA\r\n") and ris.endswith("ER  - \r\n")
    assert f"UR  - {BASE}{short}/\r\n" in ris and "PB  - Statistics Norway\r\n" in ris
    assert cite.xpath('.//a[@href="cite.ris"]')


@pytest.mark.parametrize("short", STATISTICS)
def test_schema_org_dataset_lists_every_download(demo_site, short):
    doc = page(demo_site, short)
    scripts = doc.xpath('//script[@type="application/ld+json"]')
    assert len(scripts) == 1
    data = json.loads(scripts[0].text)
    assert data["@type"] == "Dataset" and data["@context"] == "https://schema.org"
    for key in ("name", "description", "temporalCoverage", "spatialCoverage", "publisher", "license",
                "dateModified", "distribution"):
        assert data[key], key
    assert data["spatialCoverage"]["name"] == "Norway"
    links = doc.xpath('//ul[@class="downloads"]//a/@href')
    assert sorted(d["contentUrl"] for d in data["distribution"]) == sorted(f"{BASE}{short}/{h}" for h in links)
    for d in data["distribution"]:
        assert (demo_site / d["contentUrl"].removeprefix(BASE)).is_file()


def test_canonical_and_open_graph(demo_site):
    doc = page(demo_site, "migration")
    assert doc.xpath('//link[@rel="canonical"]/@href') == [f"{BASE}migration/"]
    image = doc.xpath('//meta[@property="og:image"]/@content')[0]
    assert image.startswith(f"{BASE}migration/charts/") and image.endswith(".png")
    assert (demo_site / image.removeprefix(BASE)).is_file()
    assert doc.xpath('//meta[@property="og:url"]/@content') == [f"{BASE}migration/"]
    # links inside the site stay relative
    assert not [h for h in doc.xpath("//a/@href") if h.startswith(BASE)]


def test_robots_txt_names_the_sitemap(demo_site):
    assert (demo_site / "robots.txt").read_text() == f"User-agent: *\nAllow: /\nSitemap: {BASE}sitemap.xml\n"


def test_dcat_catalogue_parses_and_lists_each_statistic_with_its_distributions(demo_site):
    g = rdflib.Graph().parse(demo_site / "catalog.jsonld", format="json-ld")
    # looked up here, not imported: pytest's collection asks a module's names for attributes,
    # which rdflib's namespaces answer with a warning
    DCAT, DCTERMS, RDF = namespace.DCAT, namespace.DCTERMS, namespace.RDF
    catalogs = list(g.subjects(RDF.type, DCAT.Catalog))
    assert len(catalogs) == 1
    datasets = set(g.subjects(RDF.type, DCAT.Dataset))
    assert {str(d) for d in datasets} == {f"{BASE}{s}/#dataset" for s in STATISTICS}
    assert set(g.objects(catalogs[0], DCAT.dataset)) == datasets
    for d in datasets:
        short = str(d).removeprefix(BASE).split("/")[0]
        dists = set(g.objects(d, DCAT.distribution))
        links = page(demo_site, short).xpath('//ul[@class="downloads"]//a/@href')
        norsk = page(demo_site, f"nb/{short}").xpath('//ul[@class="downloads"]//a/@href')
        # every download of the page in each language, each marked with its language
        assert {str(x) for x in dists} == ({f"{BASE}{short}/{h}" for h in links}
                                           | {f"{BASE}nb/{short}/{h}" for h in norsk})
        for dist in dists:
            assert (dist, RDF.type, DCAT.Distribution) in g
            assert g.value(dist, DCAT.downloadURL) is not None and g.value(dist, DCTERMS.license) is not None
            assert str(g.value(dist, DCTERMS.language)) == ("nb" if "/nb/" in str(dist) else "en")
        assert {t.language for t in g.objects(d, DCTERMS.title)} == {"en", "nb"}
        assert g.value(d, DCTERMS.publisher) is not None


@pytest.mark.parametrize("old, new, message", [
    ('publisher = "Statistics Norway"', 'publisher = " "', "field 'publisher': Value error, must not be blank"),
    ('publisher = "Statistics Norway"\n', "", "field 'publisher': Field required"),
    ('license = "https://', 'license = "ftp://', "field 'license': String should match pattern"),
    ('base_url = "https://statistics.example.org/"', 'base_url = "statistics.example.org"',
     "field 'base_url': String should match pattern"),
    ('spatial_coverage = "Norway"', 'spatial_coverage = 1', "field 'spatial_coverage': Input should be a valid string"),
])
def test_site_toml_keys_are_validated(project, old, new, message):
    edit(project / "site.toml", old, new)
    with pytest.raises(BuildError, match="site.toml: " + message.replace("(", r"\(")):
        content.parse(project / "site.toml", content.SiteConfig)


def test_a_newly_frozen_snapshot_includes_its_downloads(project, tmp_path):
    drop_snapshot(project)
    build_site(project, tmp_path / "site")
    snap = project / "archive" / "migration" / "migration-2024"
    for ext in ("csv", "xlsx", "json", "px"):
        assert (snap / "tables" / f"by-county.{ext}").is_file()
    assert (snap / "cite.ris").is_file()
    manifest = json.loads((snap / "manifest.json").read_text())
    assert "tables/by-county.xlsx" in json.dumps(manifest)
    html = (snap / "index.html").read_text(encoding="utf-8")
    assert "<script" not in html.replace('<script type="application/json"', "")  # no JSON-LD either
    assert "data-pagefind-body" not in html  # the search indexes current pages only
    assert f'<link rel="canonical" href="{BASE}archive/migration/migration-2024/">' in html
    assert f"UR  - {BASE}archive/migration/migration-2024/" in (snap / "cite.ris").read_text()


def test_the_catalogue_writes_again_only_the_nodes_of_pages_made_again(project, tmp_path, monkeypatch):
    """Each statistic's node of the catalogue is kept as text by the keys of its pages
    (metadata.Fragments): after an About text of migration changed (and a preview in between),
    only migration's node is written again, and the catalogue is byte for byte what a build
    without any cache writes."""
    from conftest import DEMO_NOW
    from statpress import metadata, pipeline

    pipeline.build(pipeline.BuildOptions(project, project / "site", DEMO_NOW))
    # a preview, which has no catalogue, leaves the kept parts as they are
    pipeline.build(pipeline.BuildOptions(project, tmp_path / "preview", DEMO_NOW, preview=True))
    edit(project / "content" / "migration" / "about" / "definitions.md", "### Residents", "### Who is resident")
    written = []
    merge = metadata.merge_nodes
    monkeypatch.setattr(metadata, "merge_nodes", lambda nodes: written.append(nodes[0].get("@id")) or merge(nodes))
    pipeline.build(pipeline.BuildOptions(project, project / "site", DEMO_NOW))
    assert [node for node in written if node.endswith("#dataset")] == ["https://statistics.example.org/migration/#dataset"]
    monkeypatch.undo()
    pipeline.build(pipeline.BuildOptions(project, tmp_path / "audit", DEMO_NOW, use_cache=False))
    assert (project / "site" / "catalog.jsonld").read_bytes() == (tmp_path / "audit" / "catalog.jsonld").read_bytes()
