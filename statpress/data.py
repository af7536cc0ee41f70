"""Data stage: read the microdata and classifications declared in `stats/datasets.toml`.

Each dataset is a CSV file with one row per event (or an aggregate with a value column). Every
column is checked against its declaration, and code columns are joined with their classification
(municipality → county → region, country → citizenship group), so tables can refer to `county` or
`citizenship_group` without knowing where those come from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
import warnings
import zlib
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from .content import parse
from .errors import BuildError


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClassificationSpec(Strict):
    file: str
    links: dict[str, str] = {}  # attribute column → the classification its codes belong to


class ColumnSpec(Strict):
    type: Literal["integer", "code"]
    min: int | None = None
    max: int | None = None
    values: list[str] | None = None
    classification: str | None = None
    prefix: str = ""
    bands: dict[str, str] = {}  # for integers: new column → banded classification (from, to)


class DatasetSpec(Strict):
    file: str
    description: str
    columns: dict[str, ColumnSpec]
    generated_by: str | None = None


class CatalogFile(Strict):
    classifications: dict[str, ClassificationSpec]
    datasets: dict[str, DatasetSpec]


@dataclass(frozen=True)
class Classification:
    id: str
    path: Path
    table: pd.DataFrame  # indexed by code: name, attributes (and from/to for bands)

    def label(self, code: str) -> str:
        try:
            return str(self.table.at[code, "name"])
        except KeyError:
            raise BuildError(f"{self.path}: no code {code!r} in classification {self.id!r}") from None

    @property
    def codes(self) -> list[str]:
        return list(self.table.index)


@dataclass
class Catalog:
    root: Path
    path: Path
    spec: CatalogFile
    classifications: dict[str, Classification]
    _cache: dict[str, pd.DataFrame] = field(default_factory=dict)

    def dataset(self, name: str) -> pd.DataFrame:
        """The dataset with its classification columns, read once per build."""
        if name not in self.spec.datasets:
            raise BuildError(f"{self.path}: unknown dataset {name!r}")
        if name not in self._cache:
            self._cache[name] = load_dataset(self, name)
        return self._cache[name]

    def use(self, name: str, path: Path) -> None:
        """Read dataset `name` from another file (the demo generator checks its own output)."""
        self._cache[name] = load_dataset(self, name, path)

    def columns(self, name: str) -> list[str]:
        """Every column a table may refer to, without reading the data."""
        spec = self.spec.datasets[name]
        out = []
        for col, c in spec.columns.items():
            out.append(col)
            if c.classification:
                out += [c.prefix + a for a in self.attributes(c.classification)]
            out += list(c.bands)
        return out

    def attributes(self, cid: str) -> list[str]:
        cls = self.classifications[cid]
        attrs = [a for a in cls.table.columns if a not in ("name", "from", "to")]
        for a in list(attrs):
            if a in self.spec.classifications[cid].links:
                attrs += self.attributes(self.spec.classifications[cid].links[a])
        return attrs


def load_catalog(root: Path) -> Catalog:
    path = root / "stats" / "datasets.toml"
    spec = parse(path, CatalogFile)
    classifications = {cid: read_classification(root / "stats" / c.file, cid)
                       for cid, c in spec.classifications.items()}
    for cid, c in spec.classifications.items():
        for attr, target in c.links.items():
            if target not in classifications:
                raise BuildError(f"{path}: classifications.{cid}.links.{attr}: unknown classification {target!r}")
            unknown = set(classifications[cid].table[attr]) - set(classifications[target].codes) - {""}
            if unknown:
                raise BuildError(f"{classifications[cid].path}: column '{attr}': codes not in "
                                 f"{target!r}: {', '.join(sorted(unknown)[:5])}")
    for name, d in spec.datasets.items():
        for col, c in d.columns.items():
            for cid in [c.classification, *c.bands.values()]:
                if cid and cid not in classifications:
                    raise BuildError(f"{path}: datasets.{name}.columns.{col}: unknown classification {cid!r}")
    return Catalog(root, path, spec, classifications)


def read_classification(path: Path, cid: str) -> Classification:
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise BuildError(f"{path}: classification file not found") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise BuildError(f"{path}: not a valid CSV file: {exc}") from None
    for col in ("code", "name"):
        if col not in table.columns:
            raise BuildError(f"{path}: missing column '{col}' (a classification has code,name,...)")
    dupes = table["code"][table["code"].duplicated()]
    if len(dupes):
        raise BuildError(f"{path}: code {dupes.iloc[0]!r} appears twice (line {dupes.index[0] + 2})")
    return Classification(cid, path, table.set_index("code"))


def load_dataset(catalog: Catalog, name: str, path: Path | None = None) -> pd.DataFrame:
    spec = catalog.spec.datasets[name]
    path = path or catalog.root / spec.file
    if not path.exists():
        hint = f" (generate it with: python {spec.generated_by})" if spec.generated_by else ""
        raise BuildError(f"{path}: data file not found{hint}")
    frame = read_csv(path, spec, catalog)
    if frame.empty:
        raise BuildError(f"{path}: no records, only a header; expected at least one row of data")
    for col, c in spec.columns.items():
        frame[col] = check_column(frame[col], c, path, col, catalog)
    for col, c in spec.columns.items():
        if c.classification:
            join(frame, frame[col], c.classification, c.prefix, catalog)
        for new, cid in c.bands.items():
            frame[new] = band(frame[col], catalog.classifications[cid], f"{path}, column '{col}'")
    return frame


def read_csv(path: Path, spec: DatasetSpec, catalog: Catalog) -> pd.DataFrame:
    try:
        header = pd.read_csv(path, nrows=0).columns.tolist()
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise BuildError(f"{path}: not a valid CSV file: {exc}") from None
    except UNREADABLE as exc:
        raise unreadable(path, exc) from None
    missing = [c for c in spec.columns if c not in header]
    if missing:
        raise BuildError(f"{path}: missing column '{missing[0]}' "
                         f"(expected columns: {', '.join(spec.columns)})")
    extra = [c for c in header if c not in spec.columns]
    if extra:
        raise BuildError(f"{path}: unexpected column '{extra[0]}' "
                         f"(expected columns: {', '.join(spec.columns)})")
    # Fast path: whole numbers and known codes. A value that does not fit is found by check_column,
    # which re-reads that one column as text to name the line.
    dtypes = {c: pd.CategoricalDtype(allowed_codes(s, catalog)) if s.type == "code" else "str"
              for c, s in spec.columns.items()}
    fast = {c: "int64" if t == "str" else t for c, t in dtypes.items()}
    text = {c: "str" for c in dtypes}
    for attempt in (fast, text):
        try:
            with warnings.catch_warnings():
                # pandas warns (and will raise) when a value is not one of the known codes
                warnings.simplefilter("error", category=Warning)
                return pd.read_csv(path, dtype=attempt, keep_default_na=False, na_values={c: [] for c in dtypes})
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise BuildError(f"{path}: not a valid CSV file: {exc}") from None
        except UNREADABLE as exc:
            raise unreadable(path, exc) from None
        except (ValueError, TypeError, OverflowError, Warning):
            continue  # a value does not fit: read as text, and check_column names the line
    raise AssertionError("unreachable")


# A truncated or damaged compressed file (.csv.gz, .csv.bz2, ...), or one the build may not read.
UNREADABLE = (EOFError, OSError, zlib.error)


def unreadable(path: Path, exc: Exception) -> BuildError:
    what = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return BuildError(f"{path}: cannot read the data ({what}); the file may be truncated or damaged: "
                      "copy or generate it again")


def allowed_codes(spec: ColumnSpec, catalog: Catalog) -> list[str]:
    return spec.values if spec.values is not None else catalog.classifications[spec.classification].codes


def offending(where: str, bad: np.ndarray, values: pd.Series, expected: str) -> BuildError:
    rows = np.flatnonzero(bad)
    shown = ", ".join(f"{values.iloc[i]!r} on line {i + 2}" for i in rows[:3])
    more = f" (and {len(rows) - 3} more rows)" if len(rows) > 3 else ""
    return BuildError(f"{where}: expected {expected}, got {shown}{more}")


def check_column(values: pd.Series, spec: ColumnSpec, path: Path, col: str, catalog: Catalog) -> pd.Series:
    where = f"{path}, column '{col}'"
    if spec.type == "integer":
        if values.dtype != np.int64:
            numbers = pd.to_numeric(values, errors="coerce").astype(float)
            bad = (numbers.isna() | (numbers != numbers.round())).to_numpy()
            if bad.any():
                raise offending(where, bad, values, "a whole number")
            # beyond 64 bits a number would wrap around to another one, even change its sign
            outside = ((numbers <= -(2.0 ** 63)) | (numbers >= 2.0 ** 63)).to_numpy()
            if outside.any():
                raise offending(where, outside, values, "a whole number of at most 18 digits")
            values = numbers.astype(np.int64)
        if spec.min is not None and (values < spec.min).any():
            raise offending(where, (values < spec.min).to_numpy(), values, f"a number of at least {spec.min}")
        if spec.max is not None and (values > spec.max).any():
            raise offending(where, (values > spec.max).to_numpy(), values, f"a number of at most {spec.max}")
        return values
    allowed = allowed_codes(spec, catalog)
    unknown = ~values.isin(allowed).to_numpy()
    if unknown.any():
        text = values.astype(str)
        what = (f"a code of classification '{spec.classification}'" if spec.classification
                else "one of " + ", ".join(spec.values))
        raise offending(where, unknown, text, what)
    return values.astype(pd.CategoricalDtype(allowed))


def join(frame: pd.DataFrame, codes: pd.Series, cid: str, prefix: str, catalog: Catalog) -> None:
    """Add the classification's attribute columns (and those of linked classifications)."""
    table = catalog.classifications[cid].table
    links = catalog.spec.classifications[cid].links
    for attr in table.columns:
        if attr in ("name", "from", "to"):
            continue
        column = codes.map(table[attr].to_dict())
        frame[prefix + attr] = column
        if attr in links:
            join(frame, column, links[attr], prefix, catalog)


def band(values: pd.Series, cls: Classification, where: str) -> pd.Series:
    table = cls.table.astype({"from": int, "to": int}).sort_values("from")
    edges = np.searchsorted(table["from"].to_numpy(), values.to_numpy(), side="right") - 1
    inside = (edges >= 0) & (values.to_numpy() <= table["to"].to_numpy()[np.clip(edges, 0, None)])
    if not inside.all():
        raise offending(where, ~inside, values, f"a value inside the bands of '{cls.id}'")
    return pd.Categorical.from_codes(edges, categories=list(table.index))
