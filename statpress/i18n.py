"""Texts in several languages: how editors write them, how the build checks and picks them.

An editor writes a text in the site's default language as before (`title = "Migration"`) and each
translation beside it, under the same key with the language's code (`title_nb = "Flytting"`); a
list of texts gets a list of the same length (`notes_nb = [...]`). Classifications do the same
with columns (`name`, `name_nb`), as Statistics Norway's KLASS does.

A `Text` is such a text: a `str` in the default language, so every rule that reads a label (a row
id from its label, `{year}` in a title) works unchanged, carrying its translations. The build
checks once that every text has every language of the site (`missing`), then makes one plain copy
of what it publishes per language (`localise`): templates, charts and downloads never see a Text.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
import functools
import re
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler, model_validator
from pydantic_core import PydanticCustomError, core_schema

from .errors import BuildError

SUFFIX = re.compile(r"(?P<field>[a-z][a-z0-9_]*?)_(?P<lang>[a-z]{2,3})")


class Text(str):
    """A text in the site's default language (the str itself) with its translations."""

    translations: dict[str, str]

    def __new__(cls, default: str, translations: Mapping[str, str] | None = None):
        text = super().__new__(cls, default)
        text.translations = dict(translations or {})
        return text

    def __reduce__(self):
        return Text, (str(self), self.translations)

    def map(self, change: Callable[[str], str]) -> "Text":
        """The same change (filling in `{year}`, say) made to every language."""
        return Text(change(str(self)), {lang: change(t) for lang, t in self.translations.items()})

    def has(self, language: str, default: str) -> bool:
        return language == default or language in self.translations or not self

    def get(self, language: str, default: str) -> str | None:
        if language == default or not self:  # an empty text is the same in every language
            return str(self)
        return self.translations.get(language)

    @classmethod
    def __get_pydantic_core_schema__(cls, source, handler: GetCoreSchemaHandler):
        # a plain string in the JSON Schema; translations arrive as sibling keys (Translatable)
        return core_schema.no_info_plain_validator_function(cls._validate)

    @classmethod
    def __get_pydantic_json_schema__(cls, schema, handler):
        return {"type": "string"}

    @classmethod
    def _validate(cls, value):
        if isinstance(value, Text):
            return value
        if isinstance(value, str):
            return Text(value)
        raise PydanticCustomError("string_type", "Input should be a valid string")


class Foreign(str):
    """A text shown in another language than its page's (a declared fallback): the page marks
    the passage with its `lang`."""

    lang: str

    def __new__(cls, text: str, lang: str):
        obj = super().__new__(cls, text)
        obj.lang = lang
        return obj

    def __reduce__(self):
        return Foreign, (str(self), self.lang)


@functools.cache
def text_fields(model: type[BaseModel]) -> frozenset[str]:
    """The fields of a model that hold Text (worked out once per model: content of 300
    statistics validates tens of thousands of models)."""
    return frozenset(name for name, f in model.model_fields.items() if holds_text(f.annotation))


def holds_text(annotation) -> bool:
    """Is a field's type Text, Text | None or list[Text]?"""
    if annotation is Text:
        return True
    return any(holds_text(a) for a in typing.get_args(annotation))


class Translatable(BaseModel):
    """A model whose Text fields take their translations from sibling keys `<field>_<lang>`.

    Its validator is built when a file is first checked against it, not when the class is made
    (`defer_build`): a rebuild that finds every tables.toml or every statistic's content in its
    cache checks none of them, and building the validators of the content and table models took
    30-60 ms of every build's start (docs/scaling.md)."""
    model_config = ConfigDict(defer_build=True)

    @model_validator(mode="before")
    @classmethod
    def _gather_translations(cls, data):
        if not isinstance(data, dict):
            return data
        texts, fields = text_fields(cls), cls.model_fields  # a property: asked for once
        gathered = dict(data)
        for key, value in data.items():
            if key in fields or not (match := SUFFIX.fullmatch(key)) or match["field"] not in texts:
                continue
            name, lang = match["field"], match["lang"]
            if not isinstance(data.get(name), (str, list)):
                continue  # the text itself is missing or wrong: that is the error to report
            gathered[name] = add_translation(gathered[name], lang, value, key, name)
            del gathered[key]
        return gathered

    @classmethod
    def __get_pydantic_json_schema__(cls, schema, handler):
        """Editors' schemas accept `<field>_<lang>` beside each translatable field."""
        result = handler(schema)
        target = handler.resolve_ref_schema(result)
        for name, f in cls.model_fields.items():
            if holds_text(f.annotation):
                pattern = f"^{name}_[a-z]{{2,3}}$"
                target.setdefault("patternProperties", {})[pattern] = target["properties"][name]
        return result


def add_translation(current, lang: str, value, key: str, name: str):
    if isinstance(current, list):
        if not isinstance(value, list) or len(value) != len(current):
            raise ValueError(f"'{key}' must be a list of {len(current)} texts, one per item of '{name}'")
        return [add_translation(c, lang, v, key, name) for c, v in zip(current, value)]
    if not isinstance(value, str) or not isinstance(current, str):
        raise ValueError(f"'{key}' must be a text, like '{name}'")
    translations = current.translations if isinstance(current, Text) else {}
    return Text(current, {**translations, lang: value})


def texts(value, path: str = "") -> Iterator[tuple[str, Text]]:
    """Every Text in a value (models, dataclasses, lists, dicts), with its path ('rows.2.label')."""
    if isinstance(value, Text):
        yield path, value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from texts(getattr(value, name), join(path, name))
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from texts(getattr(value, f.name), join(path, f.name))
    elif isinstance(value, Sequence) and not isinstance(value, (str, bytes)):  # lists, tuples, cache.Deferred
        for i, item in enumerate(value):
            yield from texts(item, join(path, str(i)))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from texts(item, join(path, str(key)))


def join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def missing(value, languages: list[str]) -> tuple[str, str] | None:
    """The first (path, language) of a text without that translation, if any."""
    default = languages[0]
    for path, text in texts(value):
        for lang in languages[1:]:
            if not text.has(lang, default):
                return path, lang
    return None


def require_translations(value, languages: list[str], where: str, path: str = "", hint: str = "") -> None:
    """Stop the build at the first text of `value` lacking a language: the message names `where`
    (the file, and the table or chart), the field and the key to add. `path` prefixes the field's
    path ('releases'); `hint` adds what else the editor may do."""
    gap = missing(value, languages)
    if gap:
        field_path, lang = gap
        field_path = join(path, field_path)
        name = [part for part in field_path.split(".") if not part.isdigit()][-1]
        raise BuildError(f"{where}: field '{field_path}': no translation into '{lang}'; "
                         f"add '{name}_{lang}' beside '{name}'{hint}")


# Values that hold no Text, returned as they are before the slower checks: most of what a
# statistic holds (localising 300 statistics' texts for the front pages took 0.9 s, profiled).
PLAIN = frozenset({str, int, float, bool, type(None), dt.date, dt.datetime, dt.time})


def localise(value, language: str, default: str, fallback: str | None = None):
    """A copy of `value` with every Text replaced by its text in `language`; where it has none,
    the `fallback` language's, marked Foreign. The copy shares whatever holds no Text."""
    if type(value) in PLAIN:
        return value
    if isinstance(value, Text):
        text = value.get(language, default)
        if text is not None:
            return text
        if fallback is None:
            raise LookupError(f"no '{language}' text for {str(value)!r}")
        return Foreign(value.get(fallback, default) or str(value), fallback)
    if isinstance(value, BaseModel):
        changed = changes(value, type(value).model_fields, language, default, fallback)
        return value.model_copy(update=changed) if changed else value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = [f.name for f in dataclasses.fields(value) if f.init]
        changed = changes(value, names, language, default, fallback)
        return dataclasses.replace(value, **changed) if changed else value
    if isinstance(value, (list, tuple)):
        items = [localise(v, language, default, fallback) for v in value]
        if all(a is b for a, b in zip(items, value)):
            return value
        return type(value)(items) if isinstance(value, list) else tuple(items)
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):  # one read when used (cache.Deferred)
        return [localise(v, language, default, fallback) for v in value]
    if isinstance(value, dict):
        return {k: localise(v, language, default, fallback) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class Localiser:
    """Picks one language's texts (see localise): what each per-language step of the build gets."""
    language: str
    default: str
    fallback: str | None = None

    def __call__(self, value):
        return localise(value, self.language, self.default, self.fallback)


def changes(value, names, language: str, default: str, fallback: str | None) -> dict:
    changed = {}
    for name in names:
        old = getattr(value, name)
        new = localise(old, language, default, fallback)
        if new is not old:
            changed[name] = new
    return changed


__all__ = ["Foreign", "Text", "Translatable", "localise", "missing", "texts"]
