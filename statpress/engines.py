"""The aggregation interface: every read of microdata goes through an engine.

An engine answers two questions about a dataset, and never hands the microdata over:
- `violation`: the first row (line, value) where a column breaks a rule, or None;
- `aggregate`: the count of rows (or the sum of a frequency column) and sums of value columns,
  grouped by some of the dataset's own columns.

A key may be derived from a column (a classification attribute by a mapping, an age group by
bands): the engine derives it before grouping, from plain dataclasses, so an engine needs to know
nothing of classifications, and another engine (Spark on a cluster, statpress/spark.py) is
plugged in without touching tables, protection or rendering. `DuckDB` is the embedded default:
Parquet files, hive-partitioned Parquet folders and CSV files (optionally gzipped) are scanned
out of core.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import os
import re
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, Literal, Protocol

from . import expressions as ex
from .errors import BuildError
from .lazyimport import lazy

pd = lazy("pandas")  # imported when first used: see lazyimport.py


@dataclass(frozen=True)
class Source:
    """Where a dataset's rows are, and the types of its declared columns.

    On this machine, a file or a folder (`path`). On a cluster (the Spark engine only), a path
    there (`uri`: hdfs://, gs://, s3a://) or a table of its catalogue (`table`); neither is ever
    read here. `setting` names where datasets.toml declares it, for messages. `codes`: the codes a
    code column may hold, in order, as the dataset's check made sure of before any aggregate: an
    engine may give such a key as a categorical of them."""
    name: str
    path: Path | None
    columns: dict[str, Literal["integer", "code"]]
    table: str | None = None
    uri: str | None = None
    setting: str = ""
    codes: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def location(self) -> str:
        """The table, the cluster path or the local path: what messages show."""
        return self.table or self.uri or str(self.path)

    @property
    def remote(self) -> bool:
        return self.path is None

    @property
    def format(self) -> Literal["parquet", "csv", "table"]:
        if self.table:
            return "table"
        name = self.uri or self.path.name
        if (self.path is not None and self.path.is_dir()) or name.endswith(".parquet") or \
                (self.uri and not name.endswith((".csv", ".csv.gz"))):  # a cluster folder of Parquet files
            return "parquet"
        if name.endswith((".csv", ".csv.gz")):
            return "csv"
        raise BuildError(f"{self.location}: unknown data format; expected .parquet, a folder of Parquet files, "
                         ".csv or .csv.gz")


@dataclass(frozen=True)
class Rule:
    """A rule every value of a column must keep: a whole number, within a range, one of some codes."""
    column: str
    kind: Literal["records", "integer", "min", "max", "codes", "ranges"]
    value: object = None  # the bound, the allowed codes, or the allowed (from, to) ranges


@dataclass(frozen=True)
class Derived:
    """A column computed from one of the dataset's own: a code mapped to another, or a number banded."""
    name: str
    column: str
    mapping: tuple[tuple[str, str], ...] = ()  # (code of `column`, value)
    bands: tuple[tuple[int, int, str], ...] = ()  # (from, to, code), inclusive


class Engine(Protocol):
    kind: str  # what `engine =` in datasets.toml or site.toml calls it

    def violation(self, source: Source, rules: list[Rule]) -> tuple[Rule, list[tuple[int, str]]] | None:
        """The first rule (in the order given) that some row breaks, with the first few such rows
        (line or row number, value as text); None when every row keeps every rule."""

    def aggregate(self, source: Source, keys: list[str | Derived], sums: list[str], frequency: str | None,
                  keep: ex.Condition | None = None) -> pd.DataFrame:
        """Columns `keys`, `_n` (rows, or the sum of `frequency`) and `_sum_<v>` per crossing of `keys`.

        A key is one of the dataset's columns, or a column derived from one (a classification
        attribute, an age band), computed by the engine before grouping. `keep`: only records
        for which it holds, or is unknown (a null), need be grouped; it compares the dataset's
        own columns with constants (`expressions.relax`), and the engine translates the tree."""

    def close(self) -> None:
        """Let go of what the engine holds for the build (connections, data spilled to disk)."""


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


LINE = re.compile(r"CSV Error on Line: (\d+)")


class DuckDB:
    """The embedded engine: one in-process DuckDB connection per build, no server."""
    kind = "duckdb"

    def __init__(self, threads: int | None = None, memory_limit: str | None = None):
        import duckdb  # here, not with the module: a rebuild that computes nothing does not load it

        config = {"threads": threads or max(1, len(os.sched_getaffinity(0))), "preserve_insertion_order": True}
        if memory_limit:
            config["memory_limit"] = memory_limit
        self.con = duckdb.connect(":memory:", config=config)
        self.execute("SET enable_progress_bar = false")
        self.checked: set[str] = set()
        self.tables: set[str] = set()  # temporary tables of codes, by content

    def close(self) -> None:
        # also removes what the connection spilled to disk (DuckDB's `.tmp/` in the working folder)
        self.con.close()

    def execute(self, sql: str, parameters: list | None = None):
        """`sql` run on the connection. Ctrl+C in it stays Ctrl+C: DuckDB stops the query on it and
        raises an error of its own in place of Python's KeyboardInterrupt, which an interrupted
        build then ended on as on a bug, with a traceback (and as a duckdb.Error, on bad data)."""
        import duckdb

        try:
            return self.con.execute(sql, parameters)
        except duckdb.InterruptException:
            raise KeyboardInterrupt from None
        except RuntimeError as exc:
            if str(exc) != "Query interrupted":
                raise
            raise KeyboardInterrupt from None

    # -- reading -----------------------------------------------------------------------------

    def relation(self, source: Source, numbered: bool = False) -> str:
        """SQL for the dataset's rows; `numbered` adds each row's line number (slow: it orders the scan)."""
        path = literal(source.path.as_posix())
        if source.format == "parquet":
            if source.path.is_dir():
                scan = f"read_parquet({literal((source.path / '**' / '*.parquet').as_posix())}, hive_partitioning = true)"
            else:
                scan = f"read_parquet({path})"
            self.check_schema(source, scan)
            columns = ", ".join(quote(c) for c in source.columns)
            line = "row_number() OVER () AS _line, " if numbered else ""
            return f"(SELECT {line}{columns} FROM {scan})"
        header = csv_header(source.path)
        missing = [c for c in source.columns if c not in header]
        extra = [c for c in header if c not in source.columns]
        if missing or extra:
            what = f"missing column '{missing[0]}'" if missing else f"unexpected column '{extra[0]}'"
            raise BuildError(f"{source.path}: {what} (expected columns: {', '.join(source.columns)})")
        types = "{" + ", ".join(f"{literal(c)}: 'VARCHAR'" for c in header) + "}"
        scan = (f"read_csv({path}, header = true, auto_detect = false, delim = ',', quote = '\"', "
                f"escape = '\"', strict_mode = true, columns = {types})")
        # the header is line 1: the first record is on line 2
        line = "row_number() OVER () + 1 AS _line, " if numbered else ""
        return f"(SELECT {line}* FROM {scan})"

    def check_schema(self, source: Source, scan: str) -> None:
        import duckdb

        if source.name in self.checked:
            return
        try:
            described = self.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()
        except duckdb.Error as exc:
            raise BuildError(f"{source.path}: not a readable Parquet file or folder: {first_line(exc)}") from None
        found = {name: kind for name, kind, *_ in described}
        for column, kind in source.columns.items():
            if column not in found:
                raise BuildError(f"{source.path}: missing column '{column}' "
                                 f"(expected columns: {', '.join(source.columns)}; found: {', '.join(found)})")
            integer = found[column] in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT",
                                        "UINTEGER", "UBIGINT", "HUGEINT")
            if kind == "integer" and not integer:
                raise BuildError(f"{source.path}: column '{column}' holds {found[column]}; expected whole numbers")
            if kind == "code" and found[column] != "VARCHAR":
                raise BuildError(f"{source.path}: column '{column}' holds {found[column]}; expected codes as text")
        self.checked.add(source.name)

    def run(self, source: Source, sql: str) -> list[tuple]:
        import duckdb

        try:
            return self.execute(sql).fetchall()
        except duckdb.Error as exc:
            message = first_line(exc)
            line = LINE.search(str(exc))
            where = f": line {line.group(1)}" if line else ""
            what = "not a valid CSV file" if source.format == "csv" else "not a readable Parquet file"
            if source.path.name.endswith(".gz") and not line:
                what = "cannot read the compressed data; the file may be truncated or damaged: copy or generate it again"
            raise BuildError(f"{source.path}{where}: {what} ({message})") from None

    # -- the interface ------------------------------------------------------------------------

    def violation(self, source: Source, rules: list[Rule]) -> tuple[Rule, list[tuple[int, str]]] | None:
        # One parallel scan summarises every column: its distinct codes, its smallest and largest
        # number, how many values are not whole numbers or outside the bands. Only when a rule is
        # broken does a second, ordered scan find the lines, for the message.
        summaries = [self.summary(source, rule) for rule in rules]
        found = self.run(source, "SELECT " + ", ".join(summaries) + f" FROM {self.relation(source)}")[0]
        for rule, value in zip(rules, found):
            if self.breaks(rule, value) and rule.kind == "records":
                return rule, []
            if self.breaks(rule, value):
                rows = self.run(source, f"SELECT _line, CAST({quote(rule.column)} AS VARCHAR) "
                                        f"FROM {self.relation(source, numbered=True)} "
                                        f"WHERE {self.broken(source, rule)} ORDER BY _line LIMIT 4")
                return rule, [(int(line), "" if v is None else v) for line, v in rows]
        return None

    def summary(self, source: Source, rule: Rule) -> str:
        """SQL aggregate that tells whether a column keeps a rule (see `breaks`)."""
        column = quote(rule.column)
        value = f"TRY_CAST({column} AS BIGINT)" if source.format == "csv" else column
        if rule.kind == "records":
            return "count(*)"
        if rule.kind == "codes":
            return f"list(DISTINCT {column})"
        if rule.kind == "min":
            return f"min({value})"
        if rule.kind == "max":
            return f"max({value})"
        return f"count(*) FILTER (WHERE {self.broken(source, rule)})"

    @staticmethod
    def breaks(rule: Rule, value) -> bool:
        if rule.kind == "records":
            return value == 0
        if rule.kind == "codes":
            return any(v is None or v not in rule.value for v in value)
        if rule.kind == "min":
            return value is not None and value < rule.value
        if rule.kind == "max":
            return value is not None and value > rule.value
        return value > 0

    def broken(self, source: Source, rule: Rule) -> str:
        """SQL that is true for a row breaking the rule."""
        column = quote(rule.column)
        value = f"TRY_CAST({column} AS BIGINT)" if source.format == "csv" else column
        if rule.kind == "integer":
            return f"({column} IS NULL OR {value} IS NULL)"
        if rule.kind == "min":
            return f"({value} < {int(rule.value)})"
        if rule.kind == "max":
            return f"({value} > {int(rule.value)})"
        if rule.kind == "ranges":
            return "(NOT (" + " OR ".join(f"{value} BETWEEN {int(a)} AND {int(b)}" for a, b in rule.value) + "))"
        codes = ", ".join(literal(c) for c in sorted(rule.value))
        return f"({column} IS NULL OR {column} NOT IN ({codes}))"

    def aggregate(self, source: Source, keys: list[str | Derived], sums: list[str], frequency: str | None,
                  keep: ex.Condition | None = None) -> pd.DataFrame:
        import duckdb

        def typed(c, table=""):
            return f"CAST({table}{quote(c)} AS BIGINT)" if source.columns[c] == "integer" else table + quote(c)

        # a hash join with a mapping: the classification is small, the data need not be. One join
        # per column mapped, whatever it is mapped to: a county, a region and a county of 2020
        # from the municipality took three joins, a third more time on the demo's internal moves
        mapped = {}
        for key in keys:
            if isinstance(key, Derived) and not key.bands:
                mapped.setdefault(key.column, []).append(key)
        joins, aliases = [], {}
        for j, (column, derived) in enumerate(mapped.items()):
            table = self.mapping_table(tuple(key.mapping for key in derived))
            joins.append(f"LEFT JOIN {table} AS _m{j} ON _m{j}.code = _d.{quote(column)}")
            aliases.update({key.name: f"_m{j}.v{i}" for i, key in enumerate(derived)})
        selected, names = [], []
        for key in keys:
            if isinstance(key, str):
                selected.append(f"{typed(key)} AS {quote(key)}")
                names.append(key)
            elif key.bands:
                cases = " ".join(f"WHEN {typed(key.column)} BETWEEN {int(a)} AND {int(b)} THEN {literal(code)}"
                                 for a, b, code in key.bands)
                selected.append(f"CASE {cases} END AS {quote(key.name)}")
                names.append(key.name)
            else:
                selected.append(f"{aliases[key.name]} AS {quote(key.name)}")
                names.append(key.name)
        units = f"CAST(SUM({typed(frequency)}) AS BIGINT)" if frequency else "COUNT(*)"
        measures = [f"{units} AS _n"] + [f"CAST(SUM({typed(v)}) AS BIGINT) AS {quote('_sum_' + v)}" for v in sums]
        # a null comparison keeps the record: the filter may only leave out what no measure counts
        where = f" WHERE {condition_sql(keep, partial(typed, table='_d.'))}" if keep else ""
        inner = f"SELECT {', '.join(selected + [quote(c) for c in [frequency, *sums] if c])} " \
                f"FROM {self.relation(source)} AS _d {' '.join(joins)}{where}" if selected else \
                f"SELECT * FROM {self.relation(source)} AS _d{where}"
        group = f" GROUP BY {', '.join(quote(n) for n in names)}" if names else ""
        sql = f"SELECT {', '.join([grouped(source, key) for key in keys] + measures)} FROM ({inner}){group}"
        try:
            return self.execute(sql).df()
        except duckdb.Error as exc:
            raise BuildError(f"{source.path}: cannot aggregate: {first_line(exc)}") from None

    def mapping_table(self, mappings: tuple[tuple[tuple[str, str], ...], ...]) -> str:
        """A temporary table of codes, `code`, and what each mapping maps them to, `v0`, `v1`, …:
        null where a mapping has no such code, as a join with that mapping alone would give."""
        name = "_map_" + hashlib.sha256(repr(mappings).encode()).hexdigest()[:16]
        if name not in self.tables:
            codes = sorted({code for mapping in mappings for code, _ in mapping})
            values = [[lookup.get(code) for code in codes] for lookup in map(dict, mappings)]
            # one statement with a list per column: executemany inserting row by row took 0.2 s a classification
            columns = "".join(f", unnest(?::VARCHAR[]) AS v{i}" for i in range(len(mappings)))
            self.execute(f"CREATE TEMP TABLE {name} AS SELECT unnest(?::VARCHAR[]) AS code{columns}",
                             [codes, *values])
            self.tables.add(name)
        return name


def grouped(source: Source, key: str | Derived) -> str:
    """A key of an aggregate, named. One of known codes (a code column of the source, a band, a
    classification's attribute) comes as a categorical of them, an ENUM cast after grouping:
    pandas then gets each row's code as a number, not as text to convert (a third of migration's
    aggregate, 139 000 rows). The dataset's check made sure of the source's codes before."""
    if isinstance(key, str):
        name, codes = key, source.codes.get(key, ())
    elif key.bands:
        name, codes = key.name, tuple(dict.fromkeys(code for _, _, code in key.bands))
    else:
        name, codes = key.name, tuple(sorted({value for _, value in key.mapping}))
    if not codes:
        return quote(name)
    return f"CAST({quote(name)} AS ENUM ({', '.join(map(literal, codes))})) AS {quote(name)}"


SQL_OPERATORS = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
OPPOSITE = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}


def condition_sql(node: ex.Condition, column: Callable[[str], str], negated: bool = False) -> str:
    """SQL true for the records a relaxed condition (`expressions.relax`) holds for or cannot tell
    (a null compared), from its tree: every name a declared column (`column` gives its SQL), every
    constant a quoted literal or a number. `negated`: for those it fails for, or cannot tell.

    The nulls are kept comparison by comparison ("year IN (...) OR year IS NULL"), not by one
    COALESCE around the whole: DuckDB tests a column's comparison as the file is scanned, and any
    expression around it as a function of its own, row by row; the demo's migration aggregate
    took twice as long so."""
    if isinstance(node, ex.Logical):
        op = {"and": "or", "or": "and"}[node.op] if negated else node.op  # De Morgan
        return "(" + f" {op.upper()} ".join(condition_sql(n, column, negated) for n in node.operands) + ")"
    if isinstance(node, ex.Not):
        return condition_sql(node.operand, column, not negated)
    if isinstance(node, ex.Member):
        name = column(node.name.id)
        values = ", ".join(constant_sql(v) for v in node.values)
        return f"({name} {'NOT IN' if node.negated != negated else 'IN'} ({values}) OR {name} IS NULL)"
    name = column(node.left.id)
    op = OPPOSITE[node.op] if negated else node.op
    return f"({name} {SQL_OPERATORS[op]} {constant_sql(node.right)} OR {name} IS NULL)"


def constant_sql(constant: ex.Constant) -> str:
    value = constant.value
    if isinstance(value, str):
        return literal(value)
    return str(int(value)) if isinstance(value, int) else repr(float(value))


def first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0]


def csv_header(path: Path) -> list[str]:
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as f:
            return next(csv.reader(f), [])
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as exc:
        damaged = " (the file may be truncated or damaged: copy or generate it again)" if path.name.endswith(".gz") else ""
        raise BuildError(f"{path}: not a valid CSV file: {exc}{damaged}") from None
