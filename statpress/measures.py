"""The kinds of measure (table column) a tables.toml can declare, each with its own fields.

    kind = "count"      rows of a dataset (the default kind): a count of persons or events,
                        protected by the statistic's confidentiality settings
    kind = "sum"        the sum of a dataset column over the same rows
    kind = "broadcast"  one count or sum for every row of the table: the rows' filters do not
                        apply (a denominator such as the mean population)
    kind = "formula"    arithmetic over the table's other measures, computed after protection

A kind is a class here: the fields it accepts, the quantity it sums per inner cell and whether
the result is protected. Adding a kind means adding a class to this module and to `MeasureSpec`.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Union

import numpy as np
from pydantic import ConfigDict, Discriminator, Field, Tag

from .i18n import Text, Translatable
from .lazyimport import lazy

pd = lazy("pandas")  # imported when first used: see lazyimport.py

IDENT = r"^[a-z][a-z0-9_]*$"
COUNT = "_n"  # the aggregated frames' column of row counts per inner cell


class Strict(Translatable):
    """Unknown keys are errors; a `Text` field takes its translations from `<field>_<lang>` keys."""
    model_config = ConfigDict(extra="forbid", frozen=True)


class BaseMeasure(Strict):
    id: str = Field(pattern=IDENT)
    label: Text = Text("")
    period: str = ""
    group: Text = Text("")  # a header spanning adjacent columns of the same group
    unit: Text = Text("")  # e.g. "persons", "per cent", "per 1000 mean population"
    decimals: int = Field(0, ge=0, le=3)
    hidden: bool = False  # computed (for formulas) but not published

    protected: ClassVar[bool] = False  # is this kind a count of persons?


class Aggregate(BaseMeasure):
    """A measure computed from a dataset: rows matching `where` (and the row's filter and code)."""
    dataset: str | None = None  # default: the table's
    where: str | None = None
    per_row: ClassVar[bool] = True  # the rows' filters and codes apply

    def summed(self) -> str | None:
        """The dataset column summed per inner cell; None for a count of rows."""
        return None

    def inner_values(self, frame: pd.DataFrame) -> np.ndarray:
        """The quantity per inner cell of an aggregated frame that a cell of this measure sums."""
        column = self.summed()
        return frame[COUNT if column is None else "_sum_" + column].to_numpy()


class Count(Aggregate):
    kind: Literal["count"] = "count"
    dims: dict[str, str] = {}  # the dataset column that stands for a row dimension
    breakdown_where: str | None = None  # applies to rows broken down by a dimension only
    protected: ClassVar[bool] = True


class Sum(Aggregate):
    kind: Literal["sum"]
    sum: str
    dims: dict[str, str] = {}
    breakdown_where: str | None = None

    def summed(self) -> str | None:
        return self.sum


class Broadcast(Aggregate):
    kind: Literal["broadcast"]
    sum: str | None = None  # a count of rows when not given
    per_row: ClassVar[bool] = False

    @property
    def protected(self) -> bool:  # a broadcast count is still a count of persons
        return self.sum is None

    def summed(self) -> str | None:
        return self.sum


class Formula(BaseMeasure):
    kind: Literal["formula"]
    formula: str
    # how a cell whose denominator is zero is shown; without it such a cell stops the build
    on_zero: Literal[".", "..", ":"] | None = None


def _kind(value) -> str:
    if isinstance(value, dict):
        return value.get("kind", "count")
    return getattr(value, "kind", "count")


MeasureSpec = Annotated[
    Union[Annotated[Count, Tag("count")], Annotated[Sum, Tag("sum")],
          Annotated[Broadcast, Tag("broadcast")], Annotated[Formula, Tag("formula")]],
    Discriminator(_kind, custom_error_type="kind",
                  custom_error_message="unknown kind; expected one of count, sum, broadcast, formula"),
]
KINDS = ("count", "sum", "broadcast", "formula")
