"""Describing the statistics to people and machines: the download list of each table, the
"Cite this" block and its RIS file, the schema.org `Dataset` of each statistic page, and the
DCAT-AP catalogue of the whole site (`catalog.jsonld`).

Everything here reads a published release and `site.toml` (`base_url`, `publisher`, `license`,
`spatial_coverage`); nothing reads a figure. Absolute addresses are built from `base_url` only
where a reader outside the site needs them (canonical link, citation, metadata); links inside
pages stay relative.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from .content import SiteConfig
from .downloads import Provenance, iso_utc
from .locale import Locale

# (extension, locale key of the format's name, media type, EU file type), in the order offered
FORMATS = (
    ("csv", "download_format_csv", "text/csv", "CSV"),
    ("xlsx", "download_format_xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "XLSX"),
    ("json", "download_format_jsonstat", "application/json", "JSON"),
    ("px", "download_format_px", "text/plain", None),
)
EU_FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/"


def provenance(site: SiteConfig, meta, release) -> Provenance:
    """Where a release's figures come from, for its downloads: the site and the statistic's
    metadata (`statistic.toml`) in the downloads' language."""
    base = meta.confidentiality.base if meta.confidentiality is not None else None
    return Provenance(site.publisher, meta.name, meta.short_name, meta.topic, release.id,
                      release.time_of_publication, base)


@dataclass(frozen=True)
class DownloadLink:
    href: str  # relative to the statistic page
    format: str  # "Excel (XLSX)"
    size: str  # "7.1 kB"
    extension: str


def size_text(size: int, locale: Locale) -> str:
    if size < 1000:
        return locale.t("size_bytes", size=locale.number(size))
    kb = size / 1000
    return locale.t("size_kb", size=locale.number(kb, 1 if kb < 100 else 0))


def download_links(files: dict[str, bytes], table_id: str, locale: Locale) -> list[DownloadLink]:
    """The downloads of one table that `files` (a release's files) holds, with their sizes."""
    links = []
    for ext, key, _, _ in FORMATS:
        path = f"tables/{table_id}.{ext}"
        if path in files:
            links.append(DownloadLink(path, locale.t(key), size_text(len(files[path]), locale), ext))
    return links


@dataclass(frozen=True)
class Citation:
    source_line: str
    text: str
    url: str


def page_url(site: SiteConfig, p, archived: bool = False, default: bool = False) -> str:
    """The absolute address of a statistic page: the current one, or a release's snapshot; in
    `site`'s language, or with `default` in the site's default language."""
    short = p.statistic.meta.short_name
    base = site.home_url if default else site.base_url
    return f"{base}archive/{short}/{p.release.id}/" if archived else f"{base}{short}/"


def citation(site: SiteConfig, p, locale: Locale, url: str) -> Citation:
    r = p.release
    return Citation(locale.t("source_line", publisher=site.publisher),
                    locale.t("citation", publisher=site.publisher, year=r.date.year, title=p.statistic.meta.name,
                             period=r.period, date=locale.date(r.date), url=url), url)


def ris(site: SiteConfig, p, url: str) -> bytes:
    """The citation as a RIS record (reference managers: Zotero, EndNote, Mendeley)."""
    r, meta = p.release, p.statistic.meta
    lines = [("TY", "DATA"), ("TI", f"{meta.name}, {r.period}"), ("AU", f"{site.publisher},"),
             ("PB", site.publisher), ("PY", str(r.date.year)), ("DA", r.date.strftime("%Y/%m/%d")),
             ("AB", meta.summary), ("KW", meta.topic), ("LA", site.language), ("UR", url), ("ER", "")]
    return "".join(f"{tag}  - {value}\r\n" for tag, value in lines).encode("utf-8")


def temporal_coverage(p) -> str:
    """The years the release's tables cover: "1972/2024", or the reference year alone."""
    years = [int(c) for t in p.tables for d in t.dimensions if d.role == "time" for c in d.codes if c.isdigit()]
    years.append(p.release.period)
    first, last = min(years), max(years)
    return str(last) if first == last else f"{first}/{last}"


def distributions(site: SiteConfig, p, files: dict[str, bytes], url: str, locale: Locale) -> list[dict]:
    """Every table download of a release: (title, format, media type, absolute URL, EU file type)."""
    out = []
    for t in p.tables:
        for ext, key, media, eu in FORMATS:
            path = f"tables/{t.id}.{ext}"
            if path in files:
                out.append({"title": f"{t.title} ({locale.t(key)})", "format": locale.t(key), "media": media,
                            "url": url + path, "eu": eu, "size": len(files[path])})
    return out


def dataset_jsonld(site: SiteConfig, p, files: dict[str, bytes], url: str, locale: Locale) -> dict:
    """The schema.org Dataset of a statistic page, for search engines (JSON-LD; the page writes it
    with Jinja's `tojson`)."""
    meta, r = p.statistic.meta, p.release
    data = {
        "@context": "https://schema.org",
        "@type": "Dataset",
        "name": f"{meta.name}, {r.period}",
        "description": meta.summary,
        "url": url,
        "keywords": [meta.topic],
        "inLanguage": site.language,
        "temporalCoverage": temporal_coverage(p),
        "spatialCoverage": {"@type": "Place", "name": site.spatial_coverage},
        "publisher": {"@type": "Organization", "name": site.publisher, "url": site.base_url},
        "creator": {"@type": "Organization", "name": site.publisher},
        "license": site.license,
        "datePublished": r.date.isoformat(),
        "dateModified": r.date.isoformat(),
        "isAccessibleForFree": True,
        "distribution": [{"@type": "DataDownload", "name": d["title"], "encodingFormat": d["media"],
                          "contentUrl": d["url"], "contentSize": f"{d['size']} B"}
                         for d in distributions(site, p, files, url, locale)],
    }
    return data


@dataclass(frozen=True)
class Node:
    """A statistic's dcat:Dataset node of the catalogue in one language (dataset_node), kept as
    its JSON text: the page cache holds it with the statistic's pages, and reading back 600 nodes
    as dictionaries took a tenth of a second of a rebuild that needs none of them (`Fragments`)."""
    id: str  # its "@id", which the catalogue's own node lists
    text: str

    @classmethod
    def of(cls, node: dict) -> "Node":
        return cls(node["@id"], compact(node))


@dataclass
class Fragments:
    """Each statistic's node of the catalogue, merged from every language's (`merge_nodes`), as
    JSON text, by the page cache's keys of its pages in every language (pages.Pages), which
    decide its node in each: written once, not again in every build (the 8 MB of a 300-statistic
    catalogue took a tenth of a second). `known` are those of the previous build, `used` those
    of this one."""
    known: dict[str, str] = field(default_factory=dict)
    used: dict[str, str] = field(default_factory=dict)

    def text(self, keys: list[str | None], nodes: list[Node]) -> str:
        """The JSON of the node merged from `nodes` (one per language), known or written now."""
        if None in keys:
            return merged(nodes)
        key = hashlib.sha256("\n".join(keys).encode()).hexdigest()
        if key not in self.used:
            self.used[key] = self.known[key] if key in self.known else merged(nodes)
        return self.used[key]


def merged(nodes: list[Node]) -> str:
    return compact(merge_nodes([json.loads(node.text) for node in nodes]))


def catalog(languages: list[tuple[SiteConfig, list[Node | None], Locale]], keys: list[list[str | None]] | None = None,
            fragments: Fragments | None = None) -> bytes:
    """The site's DCAT-AP catalogue as JSON-LD: one dcat:Dataset per published statistic, its
    title and description in every language, one dcat:Distribution per table download in each
    language. `languages` are (the site in a language, its statistics' dataset nodes (see
    dataset_node; None: not published yet), its locale), the default language first: its addresses
    name the datasets. `keys` are the page cache's keys of each language's statistics, by which
    `fragments` keeps each statistic's merged node."""
    docs = [catalog_in(site, [node.id for node in nodes if node is not None], locale)
            for site, nodes, locale in languages]
    fragments = fragments or Fragments()
    shown = [n for n, node in enumerate(languages[0][1]) if node is not None]
    parts = [compact(merge_nodes(list(own))) for own in zip(*(doc["@graph"] for doc in docs))]
    parts += [fragments.text([of_language[n] for of_language in keys] if keys else [None],
                             [nodes[n] for _, nodes, _ in languages]) for n in shown]
    # compact: indented, the 300-statistic catalogue took 0.7 s to write (json's slow path); the
    # same text as json.dumps of the whole, written in parts
    return ('{"@context":' + compact(docs[0]["@context"]) + ',"@graph":[' + ",".join(parts) + "]}\n").encode("utf-8")


def compact(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


MULTILINGUAL = ("dct:title", "dct:description", "dcat:keyword", "dct:accrualPeriodicity")


def merge_nodes(nodes: list[dict]) -> dict:
    """One node of the catalogue from its node in each language, the first's: each other
    language's texts beside its own, and its distributions and landing pages added."""
    node, *others = nodes
    for other in others:
        for key in MULTILINGUAL:
            if key in node:
                node[key] = as_list(node[key]) + as_list(other[key])
        if "dcat:distribution" in node:
            node["dcat:distribution"] = node["dcat:distribution"] + other["dcat:distribution"]
            node["dcat:landingPage"] = as_list(node["dcat:landingPage"]) + as_list(other["dcat:landingPage"])
        if "dct:language" in node:
            node["dct:language"] = as_list(node["dct:language"]) + as_list(other["dct:language"])
    return node


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def dataset_node(site: SiteConfig, p, files: dict[str, bytes], locale: Locale) -> Node | None:
    """A published statistic as a dcat:Dataset of the catalogue in one language, with a
    distribution per table download of `files` (its release's downloads); None before its first
    release."""
    if p.release is None:
        return None
    meta, r = p.statistic.meta, p.release
    url = page_url(site, p)
    home = site.home_url
    return Node.of({
        "@id": f"{page_url(site, p, default=True)}#dataset",
        "@type": "dcat:Dataset",
        "dct:identifier": meta.short_name,
        "dct:title": {"@value": meta.name, "@language": site.language},
        "dct:description": {"@value": meta.summary, "@language": site.language},
        "dct:publisher": {"@id": f"{home}#publisher"},
        "dct:issued": {"@value": iso_utc(r.time_of_publication), "@type": "xsd:dateTime"},
        "dct:modified": {"@value": iso_utc(r.time_of_publication), "@type": "xsd:dateTime"},
        "dct:temporal": {"@type": "dct:PeriodOfTime", "rdfs:label": temporal_coverage(p)},
        "dct:spatial": {"@type": "dct:Location", "rdfs:label": site.spatial_coverage},
        "dcat:keyword": {"@value": meta.topic, "@language": site.language},
        "dct:accrualPeriodicity": {"@value": meta.frequency, "@language": site.language},
        "dcat:landingPage": {"@id": url},
        "dcat:contactPoint": [{"@type": "vcard:Organization", "vcard:fn": c.name,
                               "vcard:hasTelephone": {"@id": "tel:" + c.phone.replace(" ", "")}}
                              for c in meta.contacts],
        "dcat:distribution": [{
            "@id": d["url"],
            "@type": "dcat:Distribution",
            "dct:title": {"@value": d["title"], "@language": site.language},
            "dcat:accessURL": {"@id": url},
            "dcat:downloadURL": {"@id": d["url"]},
            "dcat:mediaType": {"@id": "https://www.iana.org/assignments/media-types/" + d["media"]},
            "dct:format": {"@id": EU_FILE_TYPE + d["eu"]} if d["eu"] else d["format"],
            "dcat:byteSize": {"@value": str(d["size"]), "@type": "xsd:nonNegativeInteger"},
            "dct:license": {"@id": site.license},
            "dct:language": site.language,
        } for d in distributions(site, p, files, url, locale)],
    })


def catalog_in(site: SiteConfig, datasets: list[str], locale: Locale) -> dict:
    """The catalogue's own nodes in one language (see catalog): the publisher, and the catalogue
    listing the `datasets` by their "@id"."""
    home = site.home_url
    doc = {
        "@context": {
            "dcat": "http://www.w3.org/ns/dcat#",
            "dct": "http://purl.org/dc/terms/",
            "foaf": "http://xmlns.com/foaf/0.1/",
            "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
            "vcard": "http://www.w3.org/2006/vcard/ns#",
            "xsd": "http://www.w3.org/2001/XMLSchema#",
        },
        "@graph": [
            {"@id": f"{home}#publisher", "@type": "foaf:Agent", "foaf:name": site.publisher},
            {
                "@id": f"{home}catalog.jsonld",
                "@type": "dcat:Catalog",
                "dct:title": {"@value": locale.t("site_name"), "@language": site.language},
                "dct:description": {"@value": locale.t("index_intro"), "@language": site.language},
                "dct:publisher": {"@id": f"{home}#publisher"},
                "dct:license": {"@id": site.license},
                "dct:language": site.language,
                "foaf:homepage": {"@id": home},
                "dcat:dataset": [{"@id": d} for d in datasets],
            },
        ],
    }
    return doc
