"""Data stage: the microdata and classifications declared in `stats/datasets.toml`.

Each dataset is a Parquet file (or a hive-partitioned folder of them) or a CSV file (optionally
gzipped), with one row per event, a frequency table (`frequency`), or an aggregate with a value
column. The microdata are never loaded here: every column is checked against its declaration by
queries of the aggregation engine (engines.py), and tables get aggregates. Code columns are joined
with their classification on the aggregate (municipality → county → region, country →
citizenship group), so tables can refer to `county` or `citizenship_group` without knowing where
those come from.
"""

from __future__ import annotations

import csv
import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from babel import Locale as BabelLocale
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from . import expressions as ex, progress
from .content import parse, project_catalogues
from .engines import Derived, DuckDB, Engine, Rule, Source
from .errors import BuildError
from .filememo import FileMemo
from .i18n import Text
from .lazyimport import lazy

pd = lazy("pandas")  # imported when first used: see lazyimport.py
np = lazy("numpy")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)  # see i18n.Translatable


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

    @field_validator("values")
    @classmethod
    def _each_code_once(cls, values):
        # the codes are the column's categories, in this order: a code listed twice is a mistake
        twice = next((code for i, code in enumerate(values or []) if code in values[:i]), None)
        if twice is not None:
            raise ValueError(f"{twice!r} is listed twice; list each code once")
        return values


EngineName = Literal["duckdb", "spark"]


class DatasetSpec(Strict):
    # where the rows are: a file or folder (a path here, or hdfs://, gs://, s3a:// on a cluster),
    # or a table of the Spark catalogue; exactly one of the two
    file: str | None = None
    table: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}$")
    # the engine that reads it; default: `engine` in site.toml, else DuckDB
    engine: EngineName | None = None
    description: str
    columns: dict[str, ColumnSpec]
    generated_by: str | None = None
    # a frequency table: this integer column holds how many units each row stands for
    frequency: str | None = None

    @model_validator(mode="after")
    def _a_file_or_a_table(self):
        if (self.file is None) == (self.table is None):
            raise ValueError("give either file (a Parquet or CSV path) or table (a table of the Spark catalogue)")
        if self.table is not None and self.engine == "duckdb":
            raise ValueError("a table of the Spark catalogue is read by engine = \"spark\"")
        return self

    @model_validator(mode="after")
    def _frequency_is_an_integer_column(self):
        if self.frequency is not None and (self.frequency not in self.columns
                                           or self.columns[self.frequency].type != "integer"):
            raise ValueError(f"frequency {self.frequency!r} must name one of the dataset's integer columns")
        return self


class CatalogFile(Strict):
    classifications: dict[str, ClassificationSpec]
    datasets: dict[str, DatasetSpec]


@dataclass(frozen=True)
class Classification:
    """A classification's codes, as its CSV file has them (`rows`: one per code, by column), with
    their labels in every language of the site."""
    id: str
    path: Path
    rows: tuple[dict[str, str], ...]
    labels: dict[str, Text] = field(default_factory=dict)  # by code, in every language of the site

    def label(self, code: str) -> Text:
        try:
            return self.labels[code] if self.labels else Text(self.table.at[code, "name"])
        except KeyError:
            raise BuildError(f"{self.path}: no code {code!r} in classification {self.id!r}") from None

    @property
    def codes(self) -> list[str]:
        return [row["code"] for row in self.rows]

    def column(self, name: str) -> list[str]:
        """The values of column `name`, one per code."""
        if self.rows and name not in self.rows[0]:
            raise BuildError(f"{self.path}: no column {name!r} in classification {self.id!r}")
        return [row[name] for row in self.rows]

    @functools.cached_property
    def table(self) -> pd.DataFrame:
        """The codes as a table indexed by code (name, attributes, and from/to for bands), made when
        first needed: a rebuild whose tables are all cached needs none, nor pandas (lazyimport.py)."""
        return pd.DataFrame(list(self.rows), columns=list(self.rows[0]) if self.rows else ["code"],
                            dtype=str).set_index("code")


@dataclass(frozen=True)
class Domain:
    """The values a dataset column holds: whole numbers, or codes of a classification."""
    kind: Literal["integer", "code"]
    codes: frozenset[str] | None = None
    classification: str | None = None


@dataclass
class Catalog:
    root: Path
    path: Path
    spec: CatalogFile
    classifications: dict[str, Classification]
    engines: "Engines"
    stamps: Path | None = None  # a folder noting datasets already checked, by fingerprint (cache.py)
    _paths: dict[str, Path] = field(default_factory=dict)
    _checked: set[str] = field(default_factory=set)
    # fingerprints taken once per build: each of 300 statistics' table keys asks for them
    _fingerprints: dict[str, str | None] = field(default_factory=dict)
    _declarations: str | None = None
    files: FileMemo | None = None  # what is known of the files that did not change since the last build

    def close(self) -> None:
        """The engines closed; the catalogue reads no data after this."""
        self.engines.close()

    def engine_name(self, name: str) -> str:
        return self.spec.datasets[name].engine or self.engines.default

    def engine(self, name: str) -> Engine:
        """The engine that reads dataset `name`, made when a dataset first needs it."""
        return self.engines.get(self.engine_name(name))

    def source(self, name: str) -> Source:
        if name not in self.spec.datasets:
            raise BuildError(f"{self.path}: unknown dataset {name!r}")
        spec = self.spec.datasets[name]
        columns = {col: c.type for col, c in spec.columns.items()}
        codes = {col: tuple(allowed_codes(c, self)) for col, c in spec.columns.items() if c.type == "code"}
        setting = f"{self.path}: datasets.{name}.{'table' if spec.table else 'file'}"
        remote = spec.table or (spec.file and "://" in spec.file and name not in self._paths)
        if remote and self.engine_name(name) != "spark":
            raise BuildError(f"{setting}: {spec.table or spec.file!r} is on a cluster, which only the Spark engine "
                             f"reads: set engine = \"spark\" in datasets.{name} (or in site.toml)")
        if spec.table:
            return Source(name, None, columns, table=spec.table, setting=setting, codes=codes)
        if remote:  # a path on the cluster: only Spark sees it, and it says when it is missing
            return Source(name, None, columns, uri=spec.file, setting=setting, codes=codes)
        path = self._paths.get(name, self.root / spec.file)
        if not path.exists():
            hint = f" (generate it with: python {spec.generated_by})" if spec.generated_by else (
                f" (put the data there, or change datasets.{name}.file in {self.path})")
            raise BuildError(f"{path}: data file not found{hint}")
        return Source(name, path, columns, setting=setting, codes=codes)

    def size(self, name: str) -> int:
        """Bytes of a dataset's files (0 for data on a cluster): roughly how much reading it takes."""
        source = self.source(name)
        if source.path is None:
            return 0
        if source.path.is_dir():
            return sum(p.stat().st_size for p in source.path.rglob("*") if p.is_file())
        return source.path.stat().st_size

    def fingerprint(self, name: str) -> str | None:
        """What the table cache keys a dataset's data by: the engine and the file's fingerprint;
        for data on a cluster, what the engine can tell of it (None: it cannot, compute again).
        Taken once per catalogue, which is made anew for each build."""
        if name not in self._fingerprints:
            self._fingerprints[name] = self.take_fingerprint(name)
        return self._fingerprints[name]

    def taken_fingerprints(self) -> dict[str, str | None]:
        """The datasets' fingerprints this catalogue has taken so far (`fingerprint`)."""
        return dict(self._fingerprints)

    def take_fingerprints(self, taken: dict[str, str | None]) -> None:
        """Fingerprints another process of the same build took of the same files
        (`taken_fingerprints`): a worker's catalogue does not hash those files again."""
        self._fingerprints.update(taken)

    def declarations(self) -> str:
        """What the table cache keys the declarations of datasets and classifications by: the
        catalogue's text and every classification file's fingerprint; taken once per catalogue."""
        from . import cache

        if self._declarations is None:
            self._declarations = "\n".join([self.path.read_text(encoding="utf-8"), *(
                cache.file_fingerprint(c.path, self.files) for c in self.classifications.values())])
        return self._declarations

    def take_fingerprint(self, name: str) -> str | None:
        from . import cache

        source = self.source(name)
        if not source.remote:
            return f"{self.engine_name(name)}:{cache.file_fingerprint(source.path, self.files)}"
        found = self.engine(name).fingerprint(source)
        return f"{self.engine_name(name)}:{found}" if found else None

    def use(self, name: str, path: Path) -> None:
        """Read dataset `name` from another file (the demo generator checks its own output)."""
        self._paths[name] = path
        self._checked.discard(name)

    def check(self, name: str) -> None:
        """Every value of every column as declared, or a BuildError naming file, column and line."""
        if name in self._checked:
            return
        source = self.source(name)
        expected = dict(rules(self.spec.datasets[name], self))
        stamp = self.stamp(name, list(expected))
        if stamp is not None and stamp.exists():  # this very file passed these very rules before
            self._checked.add(name)
            return
        with progress.stage("data"):
            found = self.engine(name).violation(source, list(expected))
        if found and found[0].kind == "records":
            raise BuildError(f"{source.location}: no records, only a header; expected at least one row of data")
        if found:
            rule, rows = found
            where = "line" if source.format == "csv" else "row"
            shown = ", ".join(f"{value!r} on {where} {line}" for line, value in rows[:3])
            more = " (and more rows)" if len(rows) > 3 else ""
            raise BuildError(f"{source.location}, column '{rule.column}': expected {expected[rule]}, got {shown}{more}")
        self._checked.add(name)
        if stamp is not None:
            stamp.parent.mkdir(parents=True, exist_ok=True)
            stamp.touch()

    def stamp(self, name: str, checked: list[Rule]) -> Path | None:
        """Where a passed check of this file against these rules is noted; None without stamps."""
        if self.stamps is None:
            return None
        from . import cache

        data = self.fingerprint(name)
        if data is None:
            return None
        parts = [cache.engine_fingerprint(), data]
        parts += [f"{r.column}:{r.kind}:{sorted(r.value) if isinstance(r.value, frozenset) else r.value}"
                  for r in checked]
        return self.stamps / (hashlib.sha256("\n".join(parts).encode()).hexdigest() + ".ok")

    def aggregate(self, name: str, keys: list[str], sums: list[str], rows: ex.Condition | None = None) -> pd.DataFrame:
        """The dataset counted (and `sums` summed) per crossing of `keys`, classification columns included.

        The engine groups by the dataset's own columns; the columns classifications add are
        derived on that aggregate and grouped again, so the microdata are never in memory here.
        `rows`: the records any measure counts; the engine leaves out what it surely excludes.
        """
        self.check(name)
        spec = self.spec.datasets[name]
        source = self.source(name)
        # the check made sure of the codes each code column holds: the filter need not test them
        keep = ex.simplify(ex.relax(rows, {column: c.type for column, c in spec.columns.items()}), source.codes)
        # an attribute of a column that is itself a key (county of municipality) is added to the
        # aggregate afterwards: the engine then groups by no more than it must
        later = [k for k in keys if k not in spec.columns and not self.band_of(name, k)
                 and self.raw_column(name, k) in keys]
        with progress.stage("data"):
            frame = self.engine(name).aggregate(source, [self.key(name, k) for k in keys if k not in later],
                                          sums, spec.frequency, keep)
        # the dtypes that order the inner cells: codes in their classification's order
        own = [k for k in keys if k in source.codes]
        for k in own:
            frame[k] = frame[k].astype(pd.CategoricalDtype(source.codes[k]))
        for k in later:
            column = frame[self.raw_column(name, k)]
            c = spec.columns[column.name]
            mapping = self.attribute_map(c.classification, k[len(c.prefix):])
            if isinstance(column.dtype, pd.CategoricalDtype):  # each code looked up once, not each row
                looked = pd.Series(column.cat.categories).map(mapping).fillna("").tolist() + [""]
                frame[k] = pd.Series(np.array(looked, dtype=object)[column.cat.codes.to_numpy()], index=frame.index,
                                     dtype=object)
            else:
                frame[k] = column.map(mapping).fillna("")
        for k in keys:
            if k in own or k in later:
                continue
            kind = self.domain(name, k)
            if kind.kind == "code" and self.band_of(name, k):
                frame[k] = frame[k].astype(pd.CategoricalDtype([code for _, _, code in self.band_of(name, k)]))
            elif kind.kind == "code":
                frame[k] = frame[k].astype(object).fillna("")
        values = ["_n"] + ["_sum_" + v for v in sums]
        if not keys:
            return frame[values].astype("int64")
        agg = frame.groupby(keys, observed=True, sort=True)[values].sum().reset_index()
        for k in keys:  # codes as Python strings: pandas's str columns are copied out at each read
            if isinstance(agg[k].dtype, (pd.CategoricalDtype, pd.StringDtype)):
                agg[k] = agg[k].astype(object)
        return agg

    def key(self, name: str, column: str) -> str | Derived:
        """A column for the engine to group by: the dataset's own, or how to derive it from one."""
        raw = self.raw_column(name, column)
        if raw == column:
            return column
        bands = self.band_of(name, column)
        if bands:
            return Derived(column, raw, bands=bands)
        c = self.spec.datasets[name].columns[raw]
        mapping = self.attribute_map(c.classification, column[len(c.prefix):])
        return Derived(column, raw, mapping=tuple(sorted(mapping.items())))

    def band_of(self, name: str, column: str) -> tuple[tuple[int, int, str], ...]:
        for c in self.spec.datasets[name].columns.values():
            if column in c.bands:
                table = self.classifications[c.bands[column]].table.astype({"from": int, "to": int})
                return tuple((int(r["from"]), int(r["to"]), code) for code, r in table.sort_values("from").iterrows())
        return ()

    def attribute_map(self, cid: str, attribute: str) -> dict[str, str] | None:
        """Each code of classification `cid` → its `attribute`, following links to other classifications."""
        table = self.classifications[cid].table
        if attribute in table.columns:
            return dict(zip(table.index, table[attribute]))
        for a, target in self.spec.classifications[cid].links.items():
            further = self.attribute_map(target, attribute)
            if further is not None:
                return {code: further.get(value, "") for code, value in zip(table.index, table[a])}
        return None

    def raw_column(self, name: str, column: str) -> str:
        """The dataset's own column that `column` (its own, a band or a classification attribute) comes from."""
        spec = self.spec.datasets[name]
        if column in spec.columns:
            return column
        for col, c in spec.columns.items():
            if column in c.bands:
                return col
            if c.classification and column.startswith(c.prefix) and \
                    column[len(c.prefix):] in self.attributes(c.classification):
                return col
        raise BuildError(f"{self.path}: dataset '{name}' has no column {column!r}")

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

    def domain(self, name: str, column: str) -> Domain:
        """What a column of dataset `name` may hold, for checking the codes a filter names."""
        spec = self.spec.datasets[name]
        for col, c in spec.columns.items():
            if col == column:
                if c.type == "integer":
                    return Domain("integer")
                return Domain("code", frozenset(allowed_codes(c, self)), c.classification)
            if column in c.bands:
                cid = c.bands[column]
                return Domain("code", frozenset(self.classifications[cid].codes), cid)
            if c.classification and column.startswith(c.prefix):
                found = self.attribute_domain(c.classification, column[len(c.prefix):])
                if found is not None:
                    return found
        raise KeyError(column)

    def attribute_domain(self, cid: str, attribute: str) -> Domain | None:
        """The codes of a classification's attribute column, following links to other classifications."""
        cls = self.classifications[cid]
        links = self.spec.classifications[cid].links
        for a in cls.table.columns:
            if a in ("name", "from", "to"):
                continue
            if a == attribute:
                target = links.get(a)
                codes = self.classifications[target].codes if target else set(cls.table[a]) - {""}
                return Domain("code", frozenset(codes), target)
            if a in links:
                found = self.attribute_domain(links[a], attribute)
                if found is not None:
                    return found
        return None

    def attributes(self, cid: str) -> list[str]:
        cls = self.classifications[cid]
        attrs = [a for a in cls.table.columns if a not in LABEL_COLUMNS and not a.startswith("name_")]
        for a in list(attrs):
            if a in self.spec.classifications[cid].links:
                attrs += self.attributes(self.spec.classifications[cid].links[a])
        return attrs


@dataclass
class Engines:
    """The engines datasets name (`engine =`), each made when a dataset first needs it, so a site
    that reads everything with DuckDB never loads Spark."""
    default: str = "duckdb"
    made: dict[str, Engine] = field(default_factory=dict)

    def get(self, kind: str) -> Engine:
        if kind not in self.made:
            if kind == "spark":
                from .spark import SparkEngine  # pyspark itself loads on the first query

                self.made[kind] = SparkEngine()
            else:
                self.made[kind] = DuckDB()
        return self.made[kind]

    def close(self) -> None:
        for engine in self.made.values():
            engine.close()


def default_engine(root: Path) -> str:
    """`engine` in site.toml: what reads a dataset that names no engine of its own."""
    if not (root / "site.toml").exists():
        return "duckdb"
    from .content import SiteConfig

    return parse(root / "site.toml", SiteConfig).engine


def load_catalog(root: Path, engine: Engine | None = None, stamps: Path | None = None,
                 default: str | None = None, files: FileMemo | None = None) -> Catalog:
    """The catalogue of `root`. `engine` is used for datasets of its kind (e.g. a DuckDB with a
    memory limit); `default` overrides site.toml's `engine`; `files` keeps the datasets'
    fingerprints between builds (filememo.py)."""
    path = root / "stats" / "datasets.toml"
    spec = parse(path, CatalogFile)
    languages = site_languages(root)
    classifications = {cid: read_classification(root / "stats" / c.file, cid, languages)
                       for cid, c in spec.classifications.items()}
    for cid, c in spec.classifications.items():
        for attr, target in c.links.items():
            if target not in classifications:
                raise BuildError(f"{path}: classifications.{cid}.links.{attr}: unknown classification {target!r}")
            unknown = set(classifications[cid].column(attr)) - set(classifications[target].codes) - {""}
            if unknown:
                raise BuildError(f"{classifications[cid].path}: column '{attr}': codes not in "
                                 f"{target!r}: {', '.join(sorted(unknown)[:5])}")
    for name, d in spec.datasets.items():
        for col, c in d.columns.items():
            for cid in [c.classification, *c.bands.values()]:
                if cid and cid not in classifications:
                    raise BuildError(f"{path}: datasets.{name}.columns.{col}: unknown classification {cid!r}")
    engines = Engines(default or default_engine(root), {engine.kind: engine} if engine else {})
    return Catalog(root, path, spec, classifications, engines, stamps, files=files)


# columns of a classification that label its codes, rather than attributes to filter or group by
LABEL_COLUMNS = ("name", "iso", "from", "to")


def site_languages(root: Path) -> dict[str, str]:
    """{language: CLDR locale} of the site, the default first (site.toml, locales/)."""
    catalogues = project_catalogues(root)
    return {lang: c.get("babel_locale", lang) for lang, c in catalogues.items()} or {"en": "en_GB"}


def read_classification(path: Path, cid: str, languages: dict[str, str] | None = None) -> Classification:
    """A classification's CSV file: a header row, then one row per code, every value a string (an
    empty one where the file has none); blank lines are skipped. Read with the standard library:
    pandas is loaded only when a table is computed (lazyimport.py)."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            lines = [(n, row) for n, row in enumerate(csv.reader(f), start=1) if row]
    except FileNotFoundError:
        raise BuildError(f"{path}: classification file not found") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise BuildError(f"{path}: not a valid CSV file: {exc}") from None
    header = lines[0][1] if lines else []
    for col in ("code", "name"):
        if col not in header:
            raise BuildError(f"{path}: missing column '{col}' (a classification has code,name,...)")
    numbered, seen = [], set()
    for n, fields in lines[1:]:
        if len(fields) != len(header):
            raise BuildError(f"{path}: not a valid CSV file: line {n} has {len(fields)} fields, the header "
                             f"{len(header)} ({','.join(header)})")
        row = dict(zip(header, fields))
        if row["code"] in seen:
            raise BuildError(f"{path}: code {row['code']!r} appears twice (line {n})")
        seen.add(row["code"])
        numbered.append((n, row))
    labels = code_labels(path, numbered, languages or {"en": "en_GB"})
    return Classification(cid, path, tuple(row for _, row in numbered), labels)


def code_labels(path: Path, rows: list[tuple[int, dict[str, str]]], languages: dict[str, str]) -> dict[str, Text]:
    """Each code's label in every language: the CLDR's territory name where the row has an ISO
    3166 code in column `iso`; otherwise `name` (the default language) and `name_<lang>`, as in
    KLASS. A label missing in a language of the site is an error naming the line."""
    default, *others = languages
    territories: dict[str, dict[str, str]] = {}  # loaded at the first ISO code: 0.03 s a language

    def names(lang: str) -> dict[str, str]:
        if lang not in territories:
            territories[lang] = BabelLocale.parse(languages[lang]).territories
        return territories[lang]

    labels = {}
    for line, row in rows:
        iso = row.get("iso", "")
        if iso:
            if iso not in names(default):
                raise BuildError(f"{path}, line {line}: column 'iso': {iso!r} is not an ISO 3166 country code "
                                 "known to the CLDR (two capital letters, e.g. 'NO')")
            labels[row["code"]] = Text(names(default)[iso], {lang: names(lang)[iso] for lang in others})
            continue
        for lang in others:
            if not row.get(f"name_{lang}"):
                where = "has no column" if f"name_{lang}" not in row else "has an empty"
                raise BuildError(f"{path}, line {line}: code {row['code']!r} {where} 'name_{lang}': its label in "
                                 f"'{lang}' (site.toml languages); add it, or an 'iso' country code")
        labels[row["code"]] = Text(row["name"], {lang: row[f"name_{lang}"] for lang in others})
    return labels


def rules(spec: DatasetSpec, catalog: Catalog) -> list[tuple[Rule, str]]:
    """What each column must hold, as engine rules with the words for an error message."""
    out = [(Rule("*", "records"), "at least one record")]
    for col, c in spec.columns.items():
        if c.type == "integer":
            out.append((Rule(col, "integer"), "a whole number"))
            if c.min is not None:
                out.append((Rule(col, "min", c.min), f"a number of at least {c.min}"))
            if c.max is not None:
                out.append((Rule(col, "max", c.max), f"a number of at most {c.max}"))
            for cid in c.bands.values():
                table = catalog.classifications[cid].table
                bands = tuple((int(a), int(b)) for a, b in zip(table["from"], table["to"]))
                out.append((Rule(col, "ranges", bands), f"a value inside the bands of '{cid}'"))
        else:
            what = (f"a code of classification '{c.classification}'" if c.classification
                    else "one of " + ", ".join(c.values))
            out.append((Rule(col, "codes", frozenset(allowed_codes(c, catalog))), what))
    return out


def allowed_codes(spec: ColumnSpec, catalog: Catalog) -> list[str]:
    return spec.values if spec.values is not None else catalog.classifications[spec.classification].codes
