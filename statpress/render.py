"""Render stage: turn published statistics into pages (bytes by relative path), nothing on disk.

Templates are Jinja2 files in `templates/`. Links are relative, so the site works from any folder
of any web server, from a file:// URL and inside a web archive.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable

import markdown
import jinja2
from jinja2 import (Environment, FileSystemBytecodeCache, FileSystemLoader, StrictUndefined, TemplateError,
                    TemplateSyntaxError)
from markupsafe import Markup

from . import calendar, downloads, feeds, metadata, reuse
from .cache import PickleCache
from .sanitize import clean_html
from .content import Release, SiteConfig, Statistic, slug
from .errors import BuildError
from .i18n import Foreign
from .locale import Locale
from .model import Table
from .tables import KeyFigure
from .views import SYMBOL_KEYS, SYMBOLS, key_figure_view, table_view


@dataclass(frozen=True)
class Published:
    """One statistic as the public sees it at the build's instant."""
    statistic: Statistic
    release: Release | None  # the latest release due; None before the first
    next_release: Release | None  # the next announced release, if any
    tables: list[Table]
    key_figure: KeyFigure | None
    previous: list[Release]
    embargoed: bool = False  # a preview of a release not yet due
    charts: list = field(default_factory=list)  # drawn in the page's language
    chart_specs: list = field(default_factory=list)  # the charts tables.toml declares
    fallback: str | None = None  # the language some of the page's texts are shown in, untranslated

    def charts_for(self, table) -> list:
        return [c for c in self.charts if c.table == table.id]


@dataclass(frozen=True)
class Alternate:
    """A page's counterpart in one language: for hreflang links and the language switcher."""
    lang: str
    name: str  # the language in itself ("Norsk bokmål")
    href: str  # relative, for the switcher
    url: str  # absolute, for <link hreflang>


class Renderer:
    """Pages in one language. `prefix` is that language's folder ("" at the site's root, "nb/");
    `languages` are the site's {code: its own name}, the default first; `archive` is the folder of
    frozen snapshots the pages link to."""

    def __init__(self, templates: Path, locale: Locale, prefix: str = "", base_url: str = "",
                 languages: dict[str, str] | None = None, archive: Path | None = None):
        self.templates = templates
        self.archive = archive
        self.downloads: PickleCache | None = None  # table downloads by the hash of their inputs
        self.events: Path | None = None  # calendar events as written before (feeds.EventCache)
        self.links: dict[tuple[str, str], SnapshotLink] = {}  # snapshot_link's, by (statistic, release)
        self.locale = locale
        self.prefix = prefix
        self.base_url = base_url
        self.languages = languages or {locale.language: locale.own_name()}
        self.env = Environment(
            loader=FileSystemLoader(templates), autoescape=True, undefined=StrictUndefined,
            trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        )
        self.env.globals.update(t=locale.t, num=locale.number, date=locale.date, time=locale.time,
                                month_name=locale.month, language_name=locale.language_name)
        self.env.filters["markdown"] = markdown_converter()
        # `tojson` (JSON-LD in a <script>) escapes '<', '>', '&' and "'": a label with '</script>'
        # cannot end the element. Letters stay letters and keys keep one order (deterministic).
        self.env.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "indent": 1, "sort_keys": True}
        self.env.filters["slug"] = slug
        self.env.filters["lang_attr"] = lang_attr

    def path(self, page: str) -> str:
        """Where a page of this language lives in the site."""
        return self.prefix + page

    def snapshot_link(self, short: str, rid: str) -> "SnapshotLink":
        """A release's snapshot in this language; a snapshot frozen before the site had the
        language exists in the default language only, and is linked as such. Looked up once per
        renderer (a build): the archive changes only when the write stage freezes, after every
        page is rendered."""
        if (short, rid) not in self.links:
            # plain strings, the page looked for first: a site of 300 statistics has 3 000 snapshots
            frozen = f"{self.archive}/{short}/{rid}" if self.archive else None
            if self.prefix and frozen and not os.path.isfile(f"{frozen}/{self.prefix}index.html") \
                    and os.path.isdir(frozen):
                self.links[short, rid] = SnapshotLink(f"archive/{short}/{rid}/index.html", next(iter(self.languages)))
            else:
                self.links[short, rid] = SnapshotLink(f"archive/{short}/{rid}/{self.prefix}index.html", None)
        return self.links[short, rid]

    def page(self, template: str, path: str, counterparts: dict[str, str] | None = None, **context) -> bytes:
        """Render a page; `path` is its place in the site, for relative links; `counterparts` are
        the same page's places in each language (default: the path in each language's folder)."""
        root = "../" * (len(PurePosixPath(path).parts) - 1)
        context.setdefault("assets", root + "assets/")  # a snapshot carries its own
        context.setdefault("archived", False)
        # the page's address for search engines and sharing (a statistic page gives its own)
        context.setdefault("canonical", self.base_url + path.removesuffix("index.html"))
        if counterparts is None:
            page = path.removeprefix(self.prefix)
            counterparts = {lang: language_prefix(lang, self.languages) + page for lang in self.languages}
        alternates = [Alternate(lang, name, root + counterparts[lang], self.base_url + page_url(counterparts[lang]))
                      for lang, name in self.languages.items()] if len(self.languages) > 1 else []
        try:
            html = self.env.get_template(template).render(
                root=root, home=root + self.prefix, page_path=path, lang=self.locale.language,
                alternates=alternates, **context)
        except TemplateSyntaxError as exc:
            raise BuildError(f"{exc.filename or template}, line {exc.lineno}: template error: {exc.message}") from None
        except BuildError:
            raise  # a filter's own message (a missing translation, a bad date)
        except TemplateError as exc:
            raise BuildError(f"{template_place(exc, self.templates / template)}: template error: {exc}") from None
        except (TypeError, ValueError, AttributeError, KeyError, IndexError) as exc:
            # an expression of the template that fails on the values it is given (a value unpacked
            # that is no pair, a method called that it lacks): the template's place, not a traceback
            raise BuildError(f"{template_place(exc, self.templates / template)}: template error: "
                             f"{type(exc).__name__}: {exc}") from None
        return html.encode("utf-8")


def language_prefix(lang: str, languages) -> str:
    """The folder of a language's pages: the default language (the first) at the root."""
    return "" if lang == next(iter(languages)) else f"{lang}/"


def page_url(path: str) -> str:
    """A page's address as readers share it: a folder, without index.html."""
    return path.removesuffix("index.html")


def lang_attr(text) -> Markup:
    """` lang="en"` on an element whose text is a fallback in another language than the page's."""
    return Markup(f' lang="{text.lang}"') if isinstance(text, Foreign) else Markup("")


def template_place(exc: Exception, default: Path) -> str:
    """'<template>, line N' of the innermost template frame where a rendering error happened (an
    included or extended template's too); `default` when no frame is a template's."""
    tb, place = exc.__traceback__, str(default)
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(".html"):
            place = f"{tb.tb_frame.f_code.co_filename}, line {tb.tb_lineno}"
        tb = tb.tb_next
    return place


def markdown_html(text: str) -> str:
    """Markdown to HTML whose headings nest under the page's own (h1 title, h2 section, h3
    subsection): '#' becomes h3 and so on, at most h6 (the `toc` extension's base level). Raw HTML
    in the text is cut down to an allow-list: content never brings a script along, nor a heading
    above h3 (sanitize.py), nor the ids `toc` gives headings."""
    return markdown_converter()(text)


def markdown_extensions() -> list:
    """Python-Markdown's "extra" (its seven extensions), sane lists and a table of contents whose
    headings start at level 3, as instances: given by name, Markdown looks each one up among the
    entry points of every installed package, 50 ms of every build (measured, docs/scaling.md)."""
    from markdown.extensions import abbr, attr_list, def_list, fenced_code, footnotes, md_in_html, sane_lists, \
        tables, toc

    extra = [fenced_code.FencedCodeExtension(), footnotes.FootnoteExtension(), attr_list.AttrListExtension(),
             def_list.DefListExtension(), tables.TableExtension(), abbr.AbbrExtension(),
             md_in_html.MarkdownInHtmlExtension()]  # markdown.extensions.extra.extensions, in its order
    return [*extra, sane_lists.SaneListExtension(), toc.TocExtension(baselevel=3)]


def markdown_converter() -> Callable[[str], str]:
    """`markdown_html` for many texts: one Markdown converter, reset before each text, so that
    nothing of one text carries over to the next. Making a converter with its extensions takes
    about as long as converting an About text (5 ms), and a site converts every About text of
    every statistic in every language: a renderer keeps one."""
    converter = markdown.Markdown(extensions=markdown_extensions(), output_format="html")

    def html(text: str) -> str:
        return clean_html(converter.reset().convert(text))
    return html


def table_csv(table: Table, locale: Locale) -> bytes:
    """A table as CSV in the page's language: visible measures, figures unformatted.

    English: a comma between fields and a decimal point. Norwegian: a semicolon, a decimal comma
    and a byte-order mark, so that Excel set to Norwegian opens it as it should (locales/*.toml).
    A cell without a figure holds its symbol ("..", ":"); a revised or provisional figure is the
    figure alone, as statistical software expects a number there.
    """
    out = io.StringIO()
    writer = csv.writer(out, delimiter=locale.catalogue.csv_delimiter, lineterminator="\n")
    measures = table.visible_measures
    writer.writerow([table.stub or ""] + [" ".join(filter(None, [m.group, m.label, m.period])) for m in measures])
    for row in table.data_rows:
        cells = []
        for m in measures:
            cell = table.cell(row.id, m.id)
            cells.append(cell.status if cell.value is None else locale.plain_number(cell.value, m.decimals))
        writer.writerow([row.label] + cells)
    bom = "\ufeff" if locale.catalogue.csv_bom else ""
    return (bom + out.getvalue()).encode("utf-8")


def compiled_templates(cache: Path) -> FileSystemBytecodeCache:
    """Templates compiled by an earlier build, kept in `cache`: compiling them took 0.25 s a
    language in every build. Jinja compares each entry with its template's source; the options of
    the environment (Renderer), which shape the code too, name the folder along with Jinja's version."""
    how = hashlib.sha256(jinja2.__version__.encode() + Path(__file__).read_bytes()).hexdigest()[:16]
    folder = cache / how
    folder.mkdir(parents=True, exist_ok=True)
    return FileSystemBytecodeCache(str(folder))


def make_renderer(root: Path, locale: Locale, preview: bool, site: SiteConfig | None = None,
                  languages: dict[str, str] | None = None, use_cache: bool = True) -> Renderer:
    """A renderer for `locale`'s language; `languages` ({code: own name}) are all the site's.
    With `use_cache`, table downloads are kept in .cache/downloads."""
    languages = languages or {locale.language: locale.own_name()}
    prefix = language_prefix(locale.language, languages)
    # `site` is in the renderer's language, its base_url that language's folder; links between
    # languages start from the site's own root
    r = Renderer(root / "templates", locale, prefix, site.base_url.removesuffix(prefix) if site else "", languages,
                 root / "archive")
    r.downloads = PickleCache(root / ".cache" / "downloads") if use_cache else None
    r.events = root / ".cache" / "events" / f"{locale.language}.pickle" if use_cache else None
    if use_cache:
        r.env.bytecode_cache = compiled_templates(root / ".cache" / "templates")
    r.env.globals["preview"] = preview
    r.env.globals["symbol_keys"] = SYMBOL_KEYS
    r.env.globals["event_file"] = feeds.event_path
    r.env.globals["snapshot_link"] = r.snapshot_link
    if site is not None:
        r.env.globals["identity"] = site.identity
    return r


@dataclass(frozen=True)
class SnapshotLink:
    path: str  # from the site's root
    lang: str | None  # set when the snapshot is in another language than the page


def snapshot_files(r: Renderer, root: Path, site: SiteConfig, p: Published, default_url: str) -> dict[str, bytes]:
    """A release's page in one language as frozen for the archive (the default language at the
    snapshot's root, another in its <lang>/ folder): static charts, its downloads, its own
    stylesheet, no script. `default_url` is the site's base address."""
    short, rel = p.statistic.meta.short_name, p.release.id
    folder = f"archive/{short}/{rel}/"
    url = f"{default_url}{folder}{r.prefix}"
    release_downloads = release_files(site, r.locale, p, url, r.downloads)
    counterparts = {lang: f"{folder}{language_prefix(lang, r.languages)}index.html" for lang in r.languages}
    files = {"index.html": r.page("statistic.html", f"{folder}{r.prefix}index.html", counterparts,
                                  title=f"{p.statistic.meta.name} – {p.release.period}", published=p,
                                  description=p.statistic.meta.summary,
                                  related=[], archived=True, assets="../" * r.prefix.count("/") + "assets/",
                                  **statistic_views(r, p, site, release_downloads, url))}
    files.update(release_downloads)
    if not r.prefix:
        files["assets/style.css"] = (root / "templates" / "assets" / "style.css").read_bytes()
    return {r.prefix + name: content for name, content in files.items()}


def statistic_views(r: Renderer, p: Published, site: SiteConfig, files: dict[str, bytes], url: str) -> dict:
    """What a statistic page shows of its tables, downloads and metadata, formatted in the page's
    locale; `files` are the release's downloads (for their sizes), `url` the page's address."""
    if p.release is None:
        return {"key": None, "tables": [], "downloads": {}, "citation": None, "jsonld": None,
                "canonical": url, "og_image": ""}
    first_chart = next(iter(p.charts), None)
    return {"key": key_figure_view(p.key_figure, p.tables, r.locale, p.release.period),
            "tables": [table_view(t, r.locale) for t in p.tables],
            "downloads": {t.id: metadata.download_links(files, t.id, r.locale) for t in p.tables},
            "citation": metadata.citation(site, p, r.locale, url),
            "jsonld": metadata.dataset_jsonld(site, p, files, url, r.locale),
            "canonical": url,
            "og_image": f"{url}charts/{first_chart.id}.png" if first_chart else ""}


def release_files(site: SiteConfig, locale: Locale, p: Published, url: str,
                  cache: PickleCache | None = None) -> dict[str, bytes]:
    """Downloads of one release: its tables as CSV, XLSX, JSON-stat and PX, its charts as SVG
    and PNG, and its citation as RIS; `url` is the address the citation names. `cache` keeps the
    table downloads between builds."""
    files: dict[str, bytes] = {}
    if p.release is not None:
        prov = metadata.provenance(site, p.statistic.meta, p.release)
        for t in p.tables:
            files[f"tables/{t.id}.csv"] = table_csv(t, locale)
            files.update(downloads.cached_downloads(t, prov, locale, cache))
        files["cite.ris"] = metadata.ris(site, p, url)
    for c in p.charts:
        files.update(c.files())
    return files


@dataclass
class StatisticPages:
    """One statistic's page in one language with its downloads (paths from the site's root), and
    what the site-wide files list of it."""
    files: dict[str, bytes]
    sitemap: tuple[str, dt.date | None]
    dataset: metadata.Node | None  # its node of the data catalogue (metadata.dataset_node)
    key: str | None = None  # the page cache's key of these pages (pages.Pages), which decides that node too
    name: str | None = None  # which statistic's pages in which language, as a part of the site (`part`)

    def part(self) -> reuse.Part | None:
        """These files as one part of the site (reuse.Part), their digest the page cache's key,
        which decides every byte of them: a rebuild then keeps the pages of the statistics that did
        not change where the spare holds them, without listing each download and chart. None
        without a key (no page cache)."""
        if self.key is None or self.name is None:
            return None
        files = self.files
        return reuse.Part(self.name, self.key, len(files), lambda: files)


def statistic_pages(r: Renderer, site: SiteConfig, p: Published, related: list[Statistic]) -> StatisticPages:
    """A statistic's page in the renderer's language, its downloads and the chart specifications
    charts.js fetches; `p` and `related` are in that language."""
    short = p.statistic.meta.short_name
    url = metadata.page_url(site, p)
    release_downloads = release_files(site, r.locale, p, url, r.downloads)
    files = {f"{short}/index.html": r.page(
        "statistic.html", r.path(f"{short}/index.html"), title=p.statistic.meta.name, published=p,
        description=p.statistic.meta.summary, related=related,
        **statistic_views(r, p, site, release_downloads, url))}
    files.update({f"{short}/{rel}": content for rel, content in release_downloads.items()})
    # what charts.js fetches to make a chart interactive; a frozen snapshot has no script
    files.update({f"{short}/{c.spec_name}": c.spec.encode("utf-8") for c in p.charts})
    return StatisticPages({r.path(name): content for name, content in files.items()},
                          (f"{site.base_url}{short}/", p.release.date if p.release else None),
                          metadata.dataset_node(site, p, release_downloads, r.locale))


@dataclass(frozen=True)
class Topic:
    """A topic of the front page with its statistics, by name."""
    name: str
    statistics: list[Published]


@dataclass
class Rendered:
    """One language's pages and downloads, and what the site-wide files list of them."""
    files: dict[str, bytes]
    sitemap: list[tuple[str, dt.date | None]]
    datasets: list[metadata.Node | None]
    keys: list[str | None]  # the page cache's key of each statistic's pages (StatisticPages.key)
    parts: list[reuse.Part] = field(default_factory=list)  # the statistics' pages that are parts of the site


def render_language(r: Renderer, site: SiteConfig, listing: dict[str, bytes], pages: list[StatisticPages]) -> Rendered:
    """Every page of one language but the archive, with downloads and calendar files; `site` is
    the site in that language (its base_url the language's folder). `listing` are the pages that
    list statistics (listing_files), `pages` the statistics' own (statistic_pages): each as a part
    of the site where it can be (StatisticPages.part), else with the other files."""
    files = dict(listing)
    parts = []
    sitemap = [(site.base_url, None), (site.base_url + "calendar/", None), (site.base_url + "symbols/", None)]
    for statistic in pages:
        part = statistic.part()
        if part is None:
            files.update(statistic.files)
        else:
            parts.append(part)
        sitemap.append(statistic.sitemap)
    return Rendered(files, sitemap, [statistic.dataset for statistic in pages], [statistic.key for statistic in pages],
                    parts)


def listing_files(r: Renderer, site: SiteConfig, published: list[Published], now: dt.datetime) -> dict[str, bytes]:
    """The pages of one language that list statistics or none, by their paths in the site: the front
    page, the calendar with its iCalendar and Atom files, the symbols and the search page. They
    read only the texts and releases of `published`."""
    locale = r.locale
    files: dict[str, bytes] = {}
    topics = [Topic(name, list(items)) for name, items in itertools.groupby(
        sorted(published, key=lambda p: (p.statistic.meta.topic, p.statistic.meta.name)),
        key=lambda p: p.statistic.meta.topic)]
    files["index.html"] = r.page("index.html", r.path("index.html"), title=locale.t("index_title"), topics=topics,
                                 description=locale.t("index_intro"))
    files["symbols/index.html"] = r.page("symbols.html", r.path("symbols/index.html"),
                                         title=locale.t("symbols_title"), symbols=SYMBOLS,
                                         description=locale.t("symbols_intro"))
    files.update(calendar_files(r, site, locale, published, now))
    files["search/index.html"] = r.page("search.html", r.path("search/index.html"), title=locale.t("search_title"),
                                        description=locale.t("search_intro"))
    return {r.path(name): content for name, content in files.items()}


def archive_index(r: Renderer, published: list[Published], now: dt.datetime) -> dict[str, bytes]:
    """The archive's index in the renderer's language: every release published by `now`, newest
    first; `published` gives the texts and releases of each statistic."""
    return {r.path("archive/index.html"): r.page(
        "archive.html", r.path("archive/index.html"), title=r.locale.t("archive_title"),
        description=r.locale.t("archive_intro"),
        entries=[calendar.History(p.statistic, list(reversed(calendar.published_releases(p.statistic, now))))
                 for p in published])}


def site_files(root: Path, sites: list[SiteConfig], locales: list[Locale], rendered: list[Rendered],
               preview: bool, fragments: metadata.Fragments | None = None) -> dict[str, bytes]:
    """What the site has once, whatever the language: the sitemap of every language's pages, the
    data catalogue (each dataset in every language, its text from `fragments` when known), robots.txt
    and the assets. `sites`, `locales` and `rendered` are per language, the default first."""
    files: dict[str, bytes] = {}
    site = sites[0]
    if not preview:
        files["sitemap.xml"] = feeds.sitemap([u for r in rendered for u in r.sitemap])
        files["catalog.jsonld"] = metadata.catalog([(s, r.datasets, loc) for s, r, loc in zip(sites, rendered, locales)],
                                                   [r.keys for r in rendered], fragments)
        files["robots.txt"] = f"User-agent: *\nAllow: /\nSitemap: {site.base_url}sitemap.xml\n".encode()
    else:
        files["robots.txt"] = b"User-agent: *\nDisallow: /\n"
    files.update(assets(root))
    return files


def assets(root: Path) -> dict[str, bytes]:
    """The site's own stylesheet, scripts and Vega runtime (templates/assets/), by their paths in it;
    not the compressed copies committed beside them (compress.made_ahead)."""
    folder = root / "templates" / "assets"
    return {"assets/" + asset.relative_to(folder).as_posix(): asset.read_bytes()
            for asset in sorted(folder.rglob("*")) if asset.is_file() and not asset.name.endswith(".br")}


# How many published releases the calendar page and the Atom feed list, the latest first: an office
# of 300 statistics publishes that many in about a week, and every release it ever published made
# the page 680 KB and the feed 1.2 MB. The archive index lists them all, by statistic, and so does
# the iCalendar file, whose subscribers keep the events they have.
LATEST = 100


def calendar_files(r: Renderer, site: SiteConfig, locale: Locale, published: list[Published],
                   now: dt.datetime) -> dict[str, bytes]:
    """The release calendar page, its iCalendar file and the Atom feed of published releases, in
    the renderer's language."""
    stats = [p.statistic for p in published]
    upcoming = sorted((calendar.Entry(s, rel) for s in stats for rel in calendar.upcoming(s, now)),
                      key=lambda e: (e.release.time_of_publication, e.statistic.meta.name))
    recent = sorted((calendar.Entry(s, rel) for s in stats for rel in calendar.published_releases(s, now)),
                    key=lambda e: (e.release.time_of_publication, e.statistic.meta.name), reverse=True)
    months = [calendar.Month(first_day, list(entries)) for first_day, entries in itertools.groupby(
        upcoming, key=lambda e: e.release.date.replace(day=1))]
    entries = sorted(recent, key=lambda e: e.release.id) + upcoming
    latest = recent[:LATEST]
    snapshot_url = lambda s, rel: r.base_url + page_url(r.snapshot_link(s.meta.short_name, rel.id).path)  # noqa: E731
    events = feeds.EventCache(r.events)
    files = {
        "calendar/index.html": r.page("calendar.html", r.path("calendar/index.html"), title=locale.t("calendar_title"),
                                      description=locale.t("calendar_intro"),
                                      months=months, recent=latest, more=len(recent) > len(latest),
                                      subscribe=feeds.subscription(site.base_url)),
        "calendar/releases.ics": feeds.ics(entries, site.base_url, site.host, locale.t("calendar_title"),
                                           locale.language, events),
        "releases.atom": feeds.atom(latest, site.base_url, site.host, locale.t("feed_title"),
                                    locale.t("site_name"), locale.language, snapshot_url,
                                    f":{locale.language}" if r.prefix else ""),
    }
    # one file per coming release for "add to calendar", with the UID it has in releases.ics:
    # importing it again after a postponement moves the reader's entry instead of adding a second
    files.update({feeds.event_path(e.release): feeds.ics([e], site.base_url, site.host, language=locale.language,
                                                          events=events)
                  for e in upcoming})
    events.save()
    return files
