"""The pages stage: every page of every language. A statistic's own pages are taken from the page
cache (pagecache.py) when the live site holds them as they would be rendered, else rendered
(render.py) from the statistic as published (publish.py), in the language; the pages that list
statistics need their metadata and releases alone, and are made before any table is waited for."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from . import cache, content, drawing, fork, metadata, pagecache, render, reuse, search
from .i18n import Localiser, missing
from .languages import in_language
from .locale import Locale
from .publish import Publication, Resources, draw, forks
from .render import Published

if TYPE_CHECKING:
    from .pipeline import BuildOptions, Project


# At least this many pages to render, and a child renders the second half of them (render_apart)
PAGES_APART = 16


def render_pages(project: Project, publication: Publication, options: BuildOptions, resources: Resources,
                 previous: reuse.Previous, write: bool,
                 index: search.Index | None) -> tuple[dict[str, bytes | reuse.Known], list[reuse.Part],
                                                      dict[str, render.Renderer]]:
    """The pages stage: every page of every language, the statistics' own from the page cache when
    `previous` (the live site) holds them as they would be rendered, and the files the site has
    once (sitemap, data catalogue, assets); each page handed to `index` as it is made. Each
    statistic's pages in a language come as a part of the site (render.StatisticPages.part) when
    the page cache keys them, the other files as they are. Also the renderers, which draw the
    archived snapshots next. The statistics whose tables are still being computed
    (publish.Publication) come last."""
    root, site, locales = options.root, project.site, project.locales
    if index is not None:
        index.start(site.language, tuple(site.languages[1:]), len(project.stats), previous,
                    cache.PickleCache(root / ".cache" / "search", options.use_cache and write))
    digests = pagecache.Digests(resources.files)
    names = {lang: locales[lang].own_name() for lang in site.languages}
    sites = {lang: in_language(site, lang, site) for lang in site.languages}
    renderers = {lang: render.make_renderer(root, locales[lang], options.preview, sites[lang], names,
                                            options.use_cache) for lang in site.languages}
    listed = publication.listed()
    page_cache = cache.PickleCache(root / ".cache" / "pages", options.use_cache and write)
    by_language = {lang: Pages(renderers[lang], sites[lang], lang, resources, options.preview, previous, page_cache,
                               digests, Texts(listed, lang, resources), {s.meta.short_name: s for s in project.stats})
                   for lang in site.languages}
    # the listing pages show no tables: they are made before waiting for any (publish.Publication)
    state = pagecache.listing_state(listed, options.now, digests) if page_cache.enabled else []
    listings = {lang: pages.listing(listed, options.now, state) for lang, pages in by_language.items()}
    own = statistic_pages(by_language, publication, index, list(dict.fromkeys(sid for sid, _, _ in resources.begun)),
                          forks(options, resources))
    rendered = [render.render_language(renderers[lang], pages.site, listings[lang], own[lang])
                for lang, pages in by_language.items()]
    files = {name: content for r in rendered for name, content in r.files.items()}
    # a preview has no catalogue: it leaves the parts kept for the site's as they are
    kept = cache.PickleCache(root / ".cache" / "catalog", options.use_cache and write and not options.preview)
    fragments = metadata.Fragments(kept.get("fragments") or {})
    files.update(render.site_files(root, list(sites.values()),
                                   [locales[lang] for lang in site.languages], rendered, options.preview, fragments))
    if fragments.used != fragments.known:
        kept.put("fragments", fragments.used)
    if index is not None:
        index.add(files)
        # Every page Pagefind reads is made (snapshots lie deeper: search.reads): it makes the
        # index's files while the archive is copied and the site staged, not after.
        index.finish()
    return files, [part for r in rendered for part in r.parts], renderers


def statistic_pages(by_language: dict[str, Pages], publication: Publication, index: search.Index | None,
                    drawing: list[str], forks: bool) -> dict[str, list[render.StatisticPages]]:
    """Each statistic's pages in each language: those published first, in the statistics' order,
    but those whose charts are still being drawn (`drawing`, statistic ids in the order their
    charts were asked for) last, each in every language before the next: the pages of the first
    are made while the drawer draws the last, not after them. Then, once the child computing them
    is done, the pending ones. Each is handed to `index` as soon as those before it (languages in
    turn) have been: the search index is the same whatever order they were made in.

    Where the page cache lacks many of the first (a cold build, a template changed: 600 pages of
    300 statistics took 14 s in one process) and the build `forks`, a forked child renders the
    second half of those while this process renders the first. Otherwise each page is looked up
    and, if need be, rendered in turn, so that the search index gets the pages before and after a
    changed one while the others are looked up (search.Index: a part with a page rendered afresh
    is indexed again, its pages in order)."""
    order = [(lang, s.id) for lang in by_language for s in publication.stats]
    made: dict[tuple[str, str], render.StatisticPages] = {}
    given = 0

    def make(lang: str, p: Published, *known) -> None:
        nonlocal given
        made[lang, p.statistic.id] = by_language[lang].of(p, *known)
        while given < len(order) and order[given] in made:
            if index is not None:
                index.add(made[order[given]].files)
            given += 1

    if index is not None:
        index.expect([s.meta.short_name for s in publication.stats if s.id in publication.pending or s.id in drawing])
    ready = [(lang, publication.done[s.id][0]) for lang in by_language for s in publication.ready()
             if s.id not in drawing]
    # which pages the page cache lacks, by their keys alone: whether half of them are rendered apart
    keys = {(lang, p.statistic.id): by_language[lang].entry_key(p) for lang, p in ready}
    missing = [(lang, p) for lang, p in ready if (key := keys[lang, p.statistic.id]) is None
               or not by_language[lang].cache.has(key)]
    apart = missing[len(missing) // 2:] if forks and len(missing) >= PAGES_APART else []
    child = fork.Forked(lambda: render_apart(by_language, apart)) if apart else None
    aside = {(lang, p.statistic.id) for lang, p in apart}
    try:
        for lang, p in ready:
            if (lang, p.statistic.id) not in aside:
                make(lang, p, by_language[lang].look_up(p, keys[lang, p.statistic.id]))
        rendered = child.result_or({}) if child is not None else {}
    finally:
        if child is not None:
            child.close()  # waited for, should this process fail first (a template's error)
    for lang, p in apart:
        key = keys[lang, p.statistic.id]
        make(lang, p, (key, None), rendered.get((lang, p.statistic.id)))
    for statistic_id in drawing:
        for lang in by_language:
            make(lang, publication.done[statistic_id][0])
    finished = publication.complete()
    for lang in by_language:
        for s in finished:
            make(lang, publication.done[s.id][0])
    return {lang: [made[lang, s.id] for s in publication.stats] for lang in by_language}


def render_apart(by_language: dict[str, Pages], pages: list[tuple[str, Published]]) -> dict:
    """In a forked child: `pages` ((language, statistic) pairs) rendered, by (language, statistic
    id). A chart the cache lacks is drawn by a helper process of the child's own: the build's
    helper answers through a thread that the fork did not copy (see publish.compute_in_worker)."""
    with drawing.Helper() as drawer:
        resources = replace(next(iter(by_language.values())).resources, drawer=drawer)
        for language in by_language.values():
            language.resources = resources
        return {(lang, p.statistic.id): by_language[lang].rendered(p) for lang, p in pages}


@dataclass
class Pages:
    """The statistics' own pages in one language: from the page cache (pagecache.py) when the
    previous site holds them as they would be rendered, else rendered."""
    renderer: render.Renderer
    site: content.SiteConfig  # in the language
    lang: str
    resources: Resources
    preview: bool
    previous: reuse.Previous
    cache: cache.PickleCache
    digests: pagecache.Digests  # the files pages are keyed by, read once for every language
    texts: Texts  # the statistics' metadata and releases in the language, for the pages that list them
    statistics: dict[str, content.Statistic]  # every statistic by its short name, as read
    linked: dict[str, str] = field(default_factory=dict)  # what `links` made, by statistic id

    @functools.cached_property
    def how(self) -> str:
        """How this language's pages are made (pagecache.renderer_key)."""
        return pagecache.renderer_key(self.renderer, self.site.model_dump_json(), self.preview, self.digests)

    def of(self, p: Published, looked: tuple[str | None, render.StatisticPages | None] | None = None,
           rendered: render.StatisticPages | None = None) -> render.StatisticPages:
        """`p`'s pages, with links to the statistics it names as related: as `looked` up in the page
        cache (look_up; now, if not given), else as a child `rendered` them, else rendered here."""
        key, pages = looked or self.look_up(p)
        if pages is None:
            pages = rendered or self.rendered(p)
            if key:
                self.cache.put(key, pagecache.entry(pages))
        return replace(pages, key=key, name=f"{self.lang}:{p.statistic.id}")

    def look_up(self, p: Published, key: str | None = None) -> tuple[str | None, render.StatisticPages | None]:
        """The page cache's key of `p`'s pages (`key`, if known: `entry_key`'s), and the pages if
        the previous site holds them as they would be rendered."""
        key = key or self.entry_key(p)
        found = self.cache.get(key) if key else None
        return key, pagecache.pages(found, self.previous) if found else None

    def rendered(self, p: Published) -> render.StatisticPages:
        """`p`'s pages rendered (by this process, or by a child: render_apart)."""
        return render.statistic_pages(self.renderer, self.site, localised(p, self.lang, self.resources,
                                                                           self.renderer.locale),
                                      self.texts.named(p.statistic.meta.related))

    def entry_key(self, p: Published) -> str | None:
        if not self.cache.enabled:
            return None
        tables_key = self.resources.table_key(p.statistic, p.release.period) if p.release else "none"
        if tables_key is None:
            return None  # tables on a cluster, which cannot say whether they changed
        related = [self.statistics[name].folder / "statistic.toml" for name in p.statistic.meta.related]
        return pagecache.key(self.how, p, tables_key, related, self.links(p.statistic), self.digests)

    def links(self, s: content.Statistic) -> str:
        """Where the links to `s`'s archived snapshots point in this language, as the page cache
        keys them: made once, for the statistic's own pages and the listing pages both."""
        if s.id not in self.linked:
            self.linked[s.id] = repr([self.renderer.snapshot_link(s.meta.short_name, r.id) for r in s.releases])
        return self.linked[s.id]

    def listing(self, published: list[Published], now: dt.datetime,
                state: list[tuple[content.Statistic, str]]) -> dict[str, bytes | reuse.Known]:
        """The pages that list statistics (render.listing_files, and the archive's index unless
        this is a preview): from the page cache when the previous site holds them as they would
        be rendered (`state`: pagecache.listing_state, the same in every language), else rendered."""
        key = pagecache.listing_key(self.how, state, self.links) if self.cache.enabled else None
        found = self.cache.get(key) if key else None
        files = pagecache.files(found, self.previous) if found else None
        if files is None:
            texts = self.texts.all()
            files = render.listing_files(self.renderer, self.site, texts, now)
            if not self.preview:
                files.update(render.archive_index(self.renderer, texts, now))
            if key:
                self.cache.put(key, {name: reuse.digest(data) for name, data in files.items()})
        return files


class Texts:
    """The statistics' metadata and releases in one language (texts_in), each localised when first
    asked for: a rebuild that takes the listing pages and most statistics' pages from the cache
    needs only a few of them."""

    def __init__(self, published: list[Published], lang: str, resources: Resources):
        self.published, self.lang, self.resources = published, lang, resources
        self.done: dict[str, Published] = {}

    def of(self, p: Published) -> Published:
        if p.statistic.id not in self.done:
            self.done[p.statistic.id] = texts_in(p, self.lang, self.resources)
        return self.done[p.statistic.id]

    def all(self) -> list[Published]:
        return [self.of(p) for p in self.published]

    def named(self, names: list[str]) -> list[content.Statistic]:
        """The statistics of these short names, as another statistic's page links to them."""
        by_name = {p.statistic.meta.short_name: p for p in self.published}
        return [metadata_only(self.of(by_name[n]).statistic) for n in names]


def texts_in(p: Published, lang: str, resources: Resources) -> Published:
    """A statistic's metadata and releases in one language, for the pages that list statistics (the
    front page, the calendar, the archive); its About texts, tables and charts are on its own page.
    Localising the About texts as well was half the time of localising 300 statistics."""
    listed = replace(p, statistic=replace(p.statistic, about=[]), tables=[], key_figure=None, charts=[],
                     chart_specs=[])
    return localise_statistic(listed, p.statistic, lang, resources)


def metadata_only(s: content.Statistic) -> content.Statistic:
    """A statistic as another one's page links to it: its metadata (statistic.toml), which is all
    the page cache keys a related statistic by."""
    return replace(s, releases=[], about=[])


def localised(p: Published, lang: str, resources: Resources, locale: Locale) -> Published:
    """A statistic as published, in one language: texts, tables and charts (drawn in its locale)."""
    fallback = p.statistic.meta.fallback
    language = Localiser(lang, resources.languages[0], fallback)
    if fallback and fallback != lang and missing(p, [resources.languages[0], lang]):
        p = replace(p, fallback=fallback)  # the page says so
    p = language(p)
    if p.release is None or not p.chart_specs:
        return p
    begun = resources.begun.pop((p.statistic.id, p.release.id, lang), None)
    return replace(p, charts=begun.finish() if begun else draw(p.statistic, p.chart_specs, p.tables, locale,
                                                        p.release.period, resources.cache, resources.drawer, language))


def localise_statistic(value, s: content.Statistic, lang: str, resources: Resources):
    """`value` (something of statistic `s`) in `lang`, with `s`'s fallback where a text lacks it."""
    return Localiser(lang, resources.languages[0], s.meta.fallback)(value)
