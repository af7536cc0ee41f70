"""The site in each of its languages: each language's catalogue (locale.py) with the site's name
in it, and any value, the site's own settings among them, with its texts in one language."""

from __future__ import annotations

from pathlib import Path

from . import content, render
from .i18n import Localiser
from .locale import Locale, load_locale


def load_locales(root: Path, site: content.SiteConfig) -> dict[str, Locale]:
    """Each language's catalogue, with the site's name and tagline in that language."""
    locales = {}
    for lang in site.languages:
        identity = in_language(site.identity, lang, site)
        locales[lang] = load_locale(root, lang).with_strings(site_name=identity.name, site_tagline=identity.tagline)
    return locales


def in_language(value, lang: str, site: content.SiteConfig, fallback: str | None = None):
    """`value` with its texts in `lang`; the site itself also gets that language's address."""
    localised_value = Localiser(lang, site.language, fallback)(value)
    if isinstance(value, content.SiteConfig):
        prefix = render.language_prefix(lang, site.languages)
        return localised_value.model_copy(update={
            "base_url": site.base_url + prefix, "root_url": site.base_url,
            "languages": [lang] + [x for x in site.languages if x != lang]})
    return localised_value
