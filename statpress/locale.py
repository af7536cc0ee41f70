"""Locale layer: every visible string from one catalogue per language, every number and date
through one formatter (Babel), so a second language needs a catalogue, not template changes.

Numbers follow Statistics Norway: thousands grouped by a no-break space (so "66 077" never wraps),
the language's decimal mark ("47.3" in English, "47,3" in Norwegian), and a true minus sign U+2212
("−1 896"). Figures are rounded half away from zero, as in SSB's tables.
"""

from __future__ import annotations

import datetime as dt
import math
from functools import cached_property
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from babel import Locale as BabelLocale
from babel.dates import format_date
import string

from babel.numbers import NumberPattern, format_decimal, parse_pattern
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from .content import parse
from .errors import BuildError


class Catalogue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    language: str
    babel_locale: str
    # number symbols and the date pattern come from the CLDR for `babel_locale`; a catalogue
    # overrides a symbol only where the office's style differs from its language's CLDR default
    group_symbol: str | None = None
    decimal_symbol: str | None = None
    minus_symbol: str | None = None
    date_format: str = "long"  # a CLDR width (short, medium, long, full) or a Babel pattern
    csv_delimiter: Literal[",", ";", "\t"] = ","
    csv_bom: bool = False  # a UTF-8 byte-order mark, so that Excel reads the CSV as UTF-8
    strings: dict[str, str]

    @field_validator("strings")
    @classmethod
    def _plain_placeholders(cls, strings):
        """Placeholders are plain names: '{date}', never '{date.year}', '{0}' or '{date!r}'. A
        format string can otherwise reach into Python objects."""
        for key, text in strings.items():
            try:
                fields = [(f, conv, spec) for _, f, spec, conv in string.Formatter().parse(text) if f is not None]
            except ValueError as exc:
                raise ValueError(f"strings.{key}: {exc} (write '{{{{' for a literal brace)") from None
            for name, conversion, spec in fields:
                if not name.isidentifier() or conversion or spec:
                    raise ValueError(f"strings.{key}: placeholder {{{name}{'!' + conversion if conversion else ''}"
                                     f"{':' + spec if spec else ''}}} is not a plain name like {{date}}")
        return strings


@dataclass(frozen=True)
class Locale:
    path: Path
    catalogue: Catalogue

    @property
    def language(self) -> str:
        return self.catalogue.language

    def t(self, key: str, **values) -> str:
        """A catalogue string, with {placeholders} filled."""
        try:
            text = self.catalogue.strings[key]
        except KeyError:
            raise BuildError(f"{self.path}: no string '{key}' in the catalogue") from None
        try:
            return text.format(**values) if values else text.format()
        except KeyError as exc:
            usable = ", ".join(f"{{{v}}}" for v in sorted(values)) or "no placeholder"
            raise BuildError(f"{self.path}: strings.{key}: unknown placeholder {{{exc.args[0]}}}; "
                             f"this string can use {usable}") from None

    def with_strings(self, **strings: str) -> "Locale":
        """The same catalogue with some strings given from elsewhere (the site's identity)."""
        merged = {**self.catalogue.strings, **strings}
        return Locale(self.path, self.catalogue.model_copy(update={"strings": merged}))

    def number(self, value: float | int | None, decimals: int = 0, sign: bool = False) -> str:
        """A figure as published; None or NaN (not computable) shows as the symbol '..'."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return ".."
        exact = Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
        if exact == 0:
            exact = abs(exact)  # never "−0.0"
        if decimals not in self.patterns:
            self.patterns[decimals] = parse_pattern("#,##0" + ("." + "0" * decimals if decimals else ""))
        text = format_decimal(abs(exact), self.patterns[decimals], locale=self.babel,
                              decimal_quantization=True).translate(self.marks)
        if exact < 0:
            return self.symbols["minus"] + text
        return ("+" + text) if sign and exact > 0 else text

    @cached_property  # a site formats every figure of every table: a pattern is parsed once
    def patterns(self) -> dict[int, NumberPattern]:
        return {}

    @cached_property
    def marks(self) -> dict[int, str]:
        """The CLDR's group and decimal marks to the catalogue's, in one pass (either may be the
        other's: each character is translated once)."""
        return str.maketrans({self.cldr["group"]: self.symbols["group"], self.cldr["decimal"]: self.symbols["decimal"]})

    @cached_property  # Babel parses a locale given by name on every call: 300 statistics' dates took 0.4 s
    def babel(self) -> BabelLocale:
        return BabelLocale.parse(self.catalogue.babel_locale)

    @cached_property  # number() runs for every figure: the symbols are looked up once
    def cldr(self) -> dict[str, str]:
        return self.babel.number_symbols["latn"]

    @cached_property
    def symbols(self) -> dict[str, str]:
        """Group, decimal and minus signs: the CLDR's for the locale, or the catalogue's choice."""
        c, cldr = self.catalogue, self.cldr
        return {"group": c.group_symbol or cldr["group"], "decimal": c.decimal_symbol or cldr["decimal"],
                "minus": c.minus_symbol or cldr["minusSign"]}

    def plain_number(self, value: float | None, decimals: int = 0) -> str:
        """A figure for a CSV download in this language: no grouping, the language's decimal mark."""
        return plain_number(value, decimals).replace(".", self.symbols["decimal"])

    def language_name(self, code: str) -> str:
        """A language's name in this locale's language, from the CLDR ("engelsk", "English")."""
        return BabelLocale.parse(code).get_display_name(self.language)

    def own_name(self) -> str:
        """This locale's language in itself, as a language switcher shows it ("Norsk bokmål")."""
        name = BabelLocale.parse(self.language).get_display_name(self.language)
        return name[:1].upper() + name[1:]

    def territory(self, iso_code: str) -> str | None:
        """A country's name in this locale's language, from the CLDR (ISO 3166 alpha-2 code)."""
        return self.babel.territories.get(iso_code)

    def date(self, value: dt.date) -> str:
        # the calendar, the feeds and the archive show every release's date, in every build
        if value not in self.dates:
            self.dates[value] = format_date(value, self.catalogue.date_format, locale=self.babel)
        return self.dates[value]

    @cached_property
    def dates(self) -> dict[dt.date, str]:
        return {}

    def month(self, value: dt.date) -> str:
        return format_date(value, "MMMM y", locale=self.babel)

    def time(self, value: dt.datetime) -> str:
        return value.strftime("%H:%M")


def plain_number(value: float | None, decimals: int = 0) -> str:
    """A figure for machine-readable downloads: no grouping, a point, a hyphen-minus, half-up."""
    if value is None or value != value:
        return ""
    exact = Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    return str(abs(exact) if exact == 0 else exact)


def load_locale(root: Path, language: str) -> Locale:
    path = root / "locales" / f"{language}.toml"
    return Locale(path, parse(path, Catalogue))
