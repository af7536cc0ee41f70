"""Content stage: read each statistic's metadata, releases and "About the statistics" texts.

Everything a statistician writes under `content/<statistic>/` is validated here against a schema,
so a missing field, an unknown key, a wrong type or a bad date stops the build with the file and
the field named, before any figure is computed.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from . import tomlfile
from .cache import PickleCache, code_fingerprint
from .errors import BuildError
from .filememo import FileMemo
from .i18n import Text, Translatable, require_translations
from .instants import OSLO
from .rounding import check_limits


# SSB's standard "About the statistics" sections and their subsections, in page order.
ABOUT_SECTIONS: dict[str, tuple[str, list[str]]] = {
    "definitions": ("Definitions", [
        "Definitions of the main concepts and variables", "Standard classifications"]),
    "administrative-information": ("Administrative information", [
        "Name and topic", "Next release", "Responsible division", "Regional level",
        "Frequency and timeliness", "International reporting", "Microdata"]),
    "background": ("Background", [
        "Purpose and history", "Users and applications", "Equal treatment of users",
        "Coherence with other statistics", "Legal authority", "EEA reference"]),
    "production": ("Production", [
        "Scope", "Data sources and sampling", "Collection of data, editing and estimations",
        "Seasonal adjustment", "Confidentiality", "Comparability over time and space"]),
    "accuracy-and-reliability": ("Accuracy and reliability", [
        "Sources of error and uncertainty", "Revision"]),
}
# Subsections the engine writes itself from the metadata and the release calendar.
GENERATED_SUBSECTIONS = {"Next release"}


class Strict(Translatable):
    """Unknown keys are errors; a `Text` field takes its translations from `<field>_<lang>` keys."""
    model_config = ConfigDict(extra="forbid", frozen=True)


class Contact(Strict):
    name: Text
    phone: str
    email: str | None = None


class Confidentiality(Strict):
    method: Literal["pls"] = "pls"
    base: int = 3
    max_round: int | None = None
    seed: int = 123

    @model_validator(mode="after")
    def _limits(self):
        try:
            check_limits(self.base, self.max_round)
        except BuildError as exc:  # pydantic names the file and field
            raise ValueError(str(exc).removeprefix("rounding: ")) from None
        return self


class Notice(Strict):
    date: dt.date
    title: Text
    text: Text


class Correction(Strict):
    date: dt.date
    text: Text
    tables: list[str] = []
    periods: list[int] = []


class Provisional(Strict):
    tables: list[str] = Field(min_length=1)
    periods: list[int] = Field(min_length=1)


class Release(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    period: int = Field(ge=1900, le=2100)
    date: dt.date
    time: str = Field("08:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    announced: dt.date
    status: Literal["scheduled", "postponed", "cancelled"] = "scheduled"
    postponed_from: dt.date | None = None
    reason: Text | None = None
    notices: list[Notice] = []
    corrections: list[Correction] = []
    provisional: list[Provisional] = []  # figures marked '*' in this release

    @field_validator("reason")
    @classmethod
    def _reason_not_blank(cls, value):
        if value is not None and not value.strip():
            raise ValueError("must not be blank")
        return value

    @property
    def time_of_publication(self) -> dt.datetime:
        """The announced instant: the date at the given local time in Oslo, daylight saving included."""
        return publication_instant(self.date, self.time)


@functools.lru_cache(maxsize=65536)  # asked for tens of thousands of times a build (calendar, feeds)
def publication_instant(date: dt.date, time: str) -> dt.datetime:
    hour, minute = map(int, time.split(":"))
    return dt.datetime.combine(date, dt.time(hour, minute), tzinfo=OSLO)


class Identity(Strict):
    """site.toml [identity]: who publishes the site. Everything site-specific a page says comes from
    here, never from the language catalogue, so another office changes site.toml only."""
    name: Text = Field(min_length=1)  # the site's name, in the header and every page title
    tagline: Text = Text("")  # beside the name in the header
    footer: Text = Text("")  # a sentence at the foot of every page (the demo: where its figures come from)
    publisher: Text | None = None  # "Published by …" in the footer
    licence: str | None = None  # the figures' licence, e.g. "CC BY 4.0"
    contact: str | None = None  # an e-mail address or a web page for questions about the site


class SiteConfig(Strict):
    """site.toml: the site as a whole."""
    base_url: str = Field(pattern=r"^https?://[^/\s]+/(\S*/)?$")  # absolute, ending in "/"
    # the languages the site is published in: the first at the site's root, each other one under
    # /<code>/ (docs/languages.md); each needs locales/<code>.toml
    languages: list[str] = Field(["en"], min_length=1)
    # the site's root when base_url is one language's folder (languages.in_language); else base_url
    root_url: str | None = Field(None, exclude=True)
    publisher: Text = Field(min_length=1)  # the source line of every download and citation
    license: str = Field(pattern=r"^https?://\S+$")  # a licence's URL, e.g. CC BY 4.0
    spatial_coverage: Text = Field(min_length=1)  # the place the statistics describe
    identity: Identity  # how the site presents itself: name, tagline, footer
    # what reads a dataset that names no engine: DuckDB here, or Spark on a cluster
    # (docs/scaling.md; where Spark runs comes from the environment, never from this file)
    engine: Literal["duckdb", "spark"] = "duckdb"
    # a .gz and a .br copy beside each text file, for servers that send them as they are
    # (docs/publishing.md); false for a server that compresses by itself: fewer files, faster writes
    precompress: bool = True

    @field_validator("publisher", "spatial_coverage")
    @classmethod
    def _not_blank(cls, value):
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("languages")
    @classmethod
    def _language_codes(cls, value):
        for code in value:
            if not re.fullmatch(r"[a-z]{2,3}", code):
                raise ValueError(f"{code!r} is not a language code such as 'en' or 'nb'")
        if len(set(value)) != len(value):
            raise ValueError("a language is listed twice")
        return value

    @property
    def home_url(self) -> str:
        """The address of the site's root, whatever the language."""
        return self.root_url or self.base_url

    @property
    def language(self) -> str:
        """The default language: the one at the site's root."""
        return self.languages[0]

    @property
    def host(self) -> str:
        return self.base_url.split("//", 1)[-1].split("/", 1)[0]


class Metadata(Strict):
    name: Text
    short_name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    topic: Text
    summary: Text
    division: Text
    regional_level: Text
    frequency: Text
    about_updated: dt.date
    contacts: list[Contact] = Field(min_length=1)
    related: list[str] = []
    confidentiality: Confidentiality | None = None
    # a language whose texts stand in where a translation is missing: the page then says so, and
    # marks the passages with their language. Without it, a missing translation stops the build.
    fallback: str | None = None


class ReleaseFile(Strict):
    releases: list[Release] = Field(min_length=1)


@dataclass(frozen=True)
class Subsection:
    title: str  # the standard (English) title: the catalogues' about_sub_* keys name it
    markdown: Text  # empty when the statistic has nothing to say: shown as "Not relevant"


@dataclass(frozen=True)
class AboutSection:
    id: str
    title: str
    subsections: list[Subsection]


@dataclass(frozen=True)
class Statistic:
    id: str
    folder: Path
    meta: Metadata
    releases: list[Release]
    about: list[AboutSection]


# The About headings an editor writes, per language: {language: {heading as written: standard title}}.
# The default language's come first. Without them, headings are the standard English titles.
Headings = dict[str, dict[str, str]]


def load_all(content_dir: Path, headings: Headings | None = None, kept: PickleCache | None = None,
             memo: FileMemo | None = None) -> list[Statistic]:
    """Every statistic under `content_dir`; About headings as the project's catalogues write them
    (from site.toml's languages and locales/ beside content/) unless given. With `kept` (the
    build's `.cache/content`), a statistic read before from exactly the same files is taken from it;
    `memo` knows the hashes of files that did not change since the last build (filememo.py)."""
    if not content_dir.is_dir():
        raise BuildError(f"{content_dir}: content folder not found")
    headings = headings or project_headings(content_dir.parent)
    stats = [load_kept(d, headings, kept, memo) for d in sorted(content_dir.iterdir()) if d.is_dir()]
    if not stats:
        raise BuildError(f"{content_dir}: no statistics found (expected one folder per statistic)")
    for s in stats:
        if s.meta.short_name in RESERVED_NAMES or len(s.meta.short_name) == 2:
            raise BuildError(f"{s.folder / 'statistic.toml'}: field 'short_name': {s.meta.short_name!r} is a "
                             "folder of the site itself (" + ", ".join(sorted(RESERVED_NAMES))
                             + ", or a two-letter language code); choose another")
    names = {s.meta.short_name: s for s in stats}
    if len(names) != len(stats):
        raise BuildError(f"{content_dir}: two statistics share a short_name")
    for s in stats:
        for other in s.meta.related:
            if other not in names:
                raise BuildError(f"{s.folder / 'statistic.toml'}: related: unknown statistic {other!r}")
    check_unique_release_ids(stats)
    return stats


# The code that reads and checks a statistic's files: a kept statistic stands for files it read.
READER_MODULES = ("content.py", "i18n.py", "tomlfile.py", "instants.py", "rounding.py", "errors.py", "filememo.py")


def load_kept(folder: Path, headings: Headings | None, kept: PickleCache | None,
              memo: FileMemo | None = None) -> Statistic:
    """A statistic as `load_statistic` reads it, taken from `kept` when it holds one read from the
    same bytes of the same files, with the same headings, by the same code. Reading and checking
    300 statistics' files took a quarter of a second of every build, in which few had changed.
    Only a statistic that passed its checks is kept: a file with a mistake is read, and reported,
    every time."""
    key = statistic_key(folder, headings, memo) if kept is not None else None
    found = kept.get(key) if key else None
    if isinstance(found, Statistic):
        return found
    statistic = load_statistic(folder, headings)
    if key:
        kept.put(key, statistic)
    return statistic


def statistic_key(folder: Path, headings: Headings | None, memo: FileMemo | None = None) -> str | None:
    """The hash of everything `load_statistic` reads: the bytes of the statistic's files (the About
    folder's every entry, since an unknown one is an error; each file by its SHA-256, from `memo`
    while it did not change), the headings and the reading code. None when a file cannot be read:
    the statistic is then read, and the problem reported."""
    code = code_fingerprint(READER_MODULES, ("pydantic", "rtoml"))
    digest = hashlib.sha256(f"{folder}\0{headings!r}\0{code}".encode())
    memo = memo or FileMemo()
    top = str(folder)
    try:
        about = sorted(os.scandir(f"{top}/about"), key=lambda entry: entry.name) if os.path.isdir(f"{top}/about") else []
        for rel, is_dir in [("statistic.toml", False), ("releases.toml", False),
                            *((f"about/{entry.name}", entry.is_dir()) for entry in about)]:
            sha = "a folder" if is_dir else memo.sha256(f"{top}/{rel}")
            digest.update(f"\0{rel}\0{sha}".encode())
    except OSError:
        return None
    return digest.hexdigest()


def load_statistic(folder: Path, headings: Headings | None = None) -> Statistic:
    headings = headings or project_headings(folder.parent.parent)
    meta = parse(folder / "statistic.toml", Metadata)
    releases = parse(folder / "releases.toml", ReleaseFile).releases
    return Statistic(folder.name, folder, meta, sorted(releases, key=lambda r: r.time_of_publication),
                     load_about(folder / "about", headings))


def slug(text: str) -> str:
    """A catalogue key from a title: 'Next release' → 'next_release'."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def project_catalogues(root: Path) -> dict[str, dict]:
    """{language: its catalogue as written in locales/<language>.toml ({} where there is none)}
    for the languages of site.toml, the default first; {} for a project without site.toml."""
    if not (root / "site.toml").is_file():
        return {}
    return {lang: read_toml(root / "locales" / f"{lang}.toml") if (root / "locales" / f"{lang}.toml").is_file()
            else {} for lang in read_toml(root / "site.toml").get("languages", ["en"])}


def project_headings(root: Path) -> Headings | None:
    """The About headings of each language of the project at `root`, from its catalogues
    (strings about_sub_*); None where the project has no catalogues."""
    catalogues = project_catalogues(root)
    if not catalogues or not all(catalogues.values()):
        return None
    titles = [title for _, subs in ABOUT_SECTIONS.values() for title in subs]
    return {lang: {catalogue.get("strings", {}).get("about_sub_" + slug(t), t): t for t in titles}
            for lang, catalogue in catalogues.items()}


def check_translations(stats: list[Statistic], languages: list[str]) -> None:
    """Every text of every statistic in every language of the site, unless the statistic declares
    a fallback: the first one missing stops the build, naming the file and the key to add."""
    for s in stats:
        if s.meta.fallback is not None:
            if s.meta.fallback not in languages:
                raise BuildError(f"{s.folder / 'statistic.toml'}: field 'fallback': {s.meta.fallback!r} is not "
                                 f"a language of the site (site.toml languages: {', '.join(languages)})")
            continue
        hint = " (or declare fallback in statistic.toml)"
        require_translations(s.meta, languages, str(s.folder / "statistic.toml"), hint=hint)
        require_translations(s.releases, languages, str(s.folder / "releases.toml"), "releases", hint)
        for section in s.about:
            for sub in section.subsections:
                for lang in languages[1:]:
                    if not sub.markdown.has(lang, languages[0]):
                        raise BuildError(f"{s.folder / 'about' / f'{section.id}.{lang}.md'}: no subsection for "
                                         f"'{sub.title}', which the {languages[0]} text has; translate it "
                                         "(or declare fallback in statistic.toml)")


def check_unique_release_ids(stats: list[Statistic]) -> None:
    seen: dict[str, Path] = {}
    for s in stats:
        for r in s.releases:
            if r.id in seen:
                raise BuildError(f"{s.folder / 'releases.toml'}: release id {r.id!r} is used twice "
                                 f"(also in {seen[r.id]})")
            seen[r.id] = s.folder / "releases.toml"


def read_toml(path: Path) -> dict:
    return read_toml_text(path)[1]


def read_toml_text(path: Path) -> tuple[str, dict]:
    """A TOML file's text and what it says, from one reading of it."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BuildError(f"{path}: file not found") from None
    except OSError as exc:
        raise BuildError(f"{path}: cannot read the file ({exc.strerror or exc}); check its permissions") from None
    return toml_text(path, data)


def toml_text(path: Path, data: bytes) -> tuple[str, dict]:
    """The text of the TOML file `path`, whose bytes are `data`, and what it says."""
    try:
        text = data.decode("utf-8")
        return text, tomlfile.loads(text)
    except tomlfile.Error as exc:
        raise BuildError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise BuildError(not_utf8(path, exc)) from None


def not_utf8(path: Path, exc: UnicodeDecodeError) -> str:
    return (f"{path}: byte {exc.object[exc.start]:#04x} at position {exc.start} is not UTF-8; "
            "save the file as UTF-8")


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise BuildError(not_utf8(path, exc)) from None
    except OSError as exc:
        raise BuildError(f"{path}: cannot read the file ({exc.strerror or exc}); check its permissions") from None


def parse(path: Path, model: type[BaseModel]):
    try:
        return model.model_validate(read_toml(path))
    except ValidationError as exc:
        raise BuildError(f"{path}: {describe(exc)}") from None


def describe(exc: ValidationError) -> str:
    """The first problem of a validation error, as 'field: what was expected'."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "(top level)"
    message = err["msg"]
    if err["type"] == "extra_forbidden":
        message = "unknown key"
    elif "input" in err and err["type"] != "missing":
        message += f" (got {err['input']!r})"
    more = len(exc.errors()) - 1
    return f"field '{where}': {message}" + (f" (and {more} more problems)" if more else "")


HEADING = re.compile(r"^## (.+?)\s*$", re.MULTILINE)
# Folders the site writes itself: a statistic's short name (its URL) must not take one of them.
RESERVED_NAMES = {"archive", "assets", "calendar", "symbols", "preview", "site", "search", "tables", "charts"}


def load_about(folder: Path, headings: Headings | None = None) -> list[AboutSection]:
    """The About texts: one Markdown file per section and language (`definitions.md` in the default
    language, `definitions.nb.md` in bokmål), `## Subsection` headings in standard order, written
    as the language's catalogue writes them."""
    headings = headings or {"": {title: title for _, subs in ABOUT_SECTIONS.values() for title in subs}}
    default, *others = headings
    names = {f"{sid}.md": (sid, default) for sid in ABOUT_SECTIONS}
    names |= {f"{sid}.{lang}.md": (sid, lang) for sid in ABOUT_SECTIONS for lang in others}
    present = set()  # the files there, listed once: 300 statistics have 3 600 names to look for
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            if path.name not in names:
                raise BuildError(f"{path}: unknown About file; expected one of "
                                 + ", ".join(f"{k}.md" for k in ABOUT_SECTIONS)
                                 + (f", each also as <name>.<language>.md for {', '.join(others)}" if others else ""))
            present.add(path.name)
    sections = []
    for sid, (title, standard) in ABOUT_SECTIONS.items():
        files = {lang: f"{sid}.md" if lang == default else f"{sid}.{lang}.md" for lang in headings}
        by_language = {lang: load_section(folder / name, standard, headings[lang]) if name in present else {}
                       for lang, name in files.items()}
        subsections = [Subsection(sub, Text(by_language[default].get(sub, ""),
                                            {lang: texts[sub] for lang, texts in by_language.items()
                                             if lang != default and sub in texts}))
                       for sub in standard]
        sections.append(AboutSection(sid, title, subsections))
    return sections


def load_section(path: Path, standard: list[str], written: dict[str, str]) -> dict[str, str]:
    """{standard title: Markdown} of one About file; `written` maps each heading as the file's
    language writes it to its standard title. No file: no texts."""
    texts: dict[str, str] = {}
    if path.exists():
        text = read_text(path)
        parts = HEADING.split(text)
        if parts[0].strip():
            raise BuildError(f"{path}: text before the first '## ' heading; "
                             "each subsection starts with '## <title>'")
        as_written = {std: heading for heading, std in written.items()}
        allowed = [s for s in standard if s not in GENERATED_SUBSECTIONS]
        for heading, body in zip(parts[1::2], parts[2::2]):
            title = written.get(heading)
            if title not in allowed:
                raise BuildError(f"{path}: unknown subsection '## {heading}'; expected one of: "
                                 + "; ".join(as_written.get(s, s) for s in allowed))
            if title in texts:
                raise BuildError(f"{path}: subsection '## {heading}' appears twice")
            texts[title] = body.strip()
        order = [allowed.index(h) for h in texts]
        if order != sorted(order):
            raise BuildError(f"{path}: subsections out of order; expected: "
                             + "; ".join(as_written.get(s, s) for s in allowed))
    return texts
