"""The Spark engine: the aggregation interface of engines.py, computed by Apache Spark.

A dataset with `engine = "spark"` (or every dataset, with `engine = "spark"` in site.toml) is
read by Spark: a Parquet file or folder, a CSV file, or a table of the Spark catalogue. Rules,
derived keys, filters and group-bys are translated into DataFrame operations (Column objects, never SQL
text made from content), and only the aggregate comes back: one row per crossing of the keys.
Rounding, charts and pages then run on the build machine, exactly as after DuckDB.

Where Spark runs comes from the environment only, never from content files:
- `STATPRESS_SPARK_REMOTE`: a Spark Connect address (`sc://host:15002/;token=…`): the build
  machine is a thin client and the driver runs on the cluster;
- otherwise `STATPRESS_SPARK_MASTER` (default `local[2]`): `yarn`, `spark://host:7077`, … with
  the driver on the build machine, which receives only the collected aggregates;
- `STATPRESS_SPARK_CONF`: more settings, `key=value` separated by spaces;
- `STATPRESS_SPARK_CONNECT_WAIT`: how many seconds to keep retrying a Spark Connect server that
  does not answer (default: Spark's own client policy, at least 10 minutes).

pyspark is imported on first use, so a site that never names Spark never needs it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import operator
import os
import re
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping


from . import expressions as ex
from .engines import Derived, Rule, Source
from .errors import BuildError
from .lazyimport import lazy

pd = lazy("pandas")  # imported when first used: see lazyimport.py

MASTER, REMOTE, CONF = "STATPRESS_SPARK_MASTER", "STATPRESS_SPARK_REMOTE", "STATPRESS_SPARK_CONF"
WAIT = "STATPRESS_SPARK_CONNECT_WAIT"
INTEGER_TYPES = ("long", "integer", "short", "byte")  # DataType.typeName() of whole numbers
LOG_SETTINGS = Path(__file__).resolve().parent / "log4j2-spark.properties"
NOT_FOUND = ("PATH_NOT_FOUND", "TABLE_OR_VIEW_NOT_FOUND", "UNRESOLVED_ROUTINE")


@contextlib.contextmanager
def quiet():
    """pyspark warns that pandas 3 is newer than it was tested with; tests/test_spark.py checks
    every aggregate and table against DuckDB's, cell for cell, so the warning tells nothing."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas", FutureWarning)
        warnings.filterwarnings("ignore", "The copy keyword is deprecated", module="pyspark")
        # Spark Connect warns as it gives up on a lost server; the build's message says so
        warnings.filterwarnings("ignore", r"\[RETRIES_EXCEEDED\]", UserWarning)
        yield


def session_from_environment(environ: Mapping[str, str] = os.environ):
    """The process's Spark session, made on first use from the environment: a Spark Connect client
    when STATPRESS_SPARK_REMOTE is set, else a classic session, whose `getOrCreate` returns the
    one that already runs in this process (pyspark keeps it), so builds, tests and the benchmark
    share one JVM rather than start one per dataset."""
    remote = environ.get(REMOTE)
    if remote:
        return connect_session(remote, environ)
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("statpress")
    master = environ.get(MASTER, "local[2]")
    builder = builder.master(master).config("spark.ui.enabled", "false")
    if master.startswith("local"):
        # Spark's own log: errors only (on a cluster, its own driver options are left alone)
        builder = builder.config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={LOG_SETTINGS.as_uri()}")
        # a few shuffle partitions: the aggregates are small, and 200 tasks of nothing cost seconds
        builder = builder.config("spark.sql.shuffle.partitions", "4")
        # local Spark makes a spark-warehouse/ folder in the working directory: not in a project
        builder = builder.config("spark.sql.warehouse.dir", str(Path(tempfile.gettempdir()) / "statpress-spark-warehouse"))
    # no progress bars in the build's output
    builder = builder.config("spark.ui.showConsoleProgress", "false")
    builder = builder.config("spark.sql.execution.arrow.pyspark.enabled", "true")
    for pair in environ.get(CONF, "").split():
        key, _, value = pair.partition("=")
        builder = builder.config(key, value)
    with quiet():
        session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


# Spark Connect sessions of this process, by the address and settings they were made from: a
# later build (the live preview rebuilds) reuses its session rather than leave one more behind
# on the server, and another address gets a session of its own.
CONNECTED: dict[tuple[str, str], object] = {}


def connect_session(remote: str, environ: Mapping[str, str]):
    """A thin client of the Spark Connect server at `remote`. Made by Spark Connect's own builder,
    not pyspark's generic one: that one flips a process-wide switch (SPARK_CONNECT_MODE_ENABLED)
    that sends every later classic session and Column to Spark Connect; this way a local session
    and a Connect session can live in one process (the tests run both), each with its own API."""
    retries = retry_policy(environ)  # a bad setting is reported before anything is made
    key = (remote, environ.get(CONF, ""))
    session = CONNECTED.get(key)
    if session is None or session.is_stopped:  # a server that restarted closes the session
        from pyspark.sql.connect.session import SparkSession as ConnectSession

        session = ConnectSession.builder.remote(remote).create()
        CONNECTED[key] = session
    session.client.set_retry_policies([retries])
    # only session settings (spark.sql.*) can change on a running server; it refuses the others
    try:
        for pair in environ.get(CONF, "").split():
            name, _, value = pair.partition("=")
            session.conf.set(name, value)
    except Exception as exc:  # noqa: BLE001 - the first call to the server: it may be lost already
        if lost_connection(exc):
            disconnect(session)
        raise
    return session


def disconnect(session) -> None:
    """Close a Spark Connect session whose server is lost, without a last call to that server:
    pyspark would otherwise make one (retried as long as STATPRESS_SPARK_CONNECT_WAIT allows)
    when Python exits. The next build of the process connects afresh."""
    for key in [k for k, s in CONNECTED.items() if s is session]:
        del CONNECTED[key]
    session.release_session_on_close = False
    with quiet():  # closing waits for the release of the last queries, which warn as they give up
        session.stop()


def retry_policy(environ: Mapping[str, str]):
    """Spark Connect's own retry policy, cut to the retries whose waits add up to at most
    STATPRESS_SPARK_CONNECT_WAIT seconds: by default it keeps trying an unreachable server for
    10 minutes or more, which a build (and a test) should not always wait for."""
    from pyspark.sql.connect.client.retries import DefaultPolicy

    policy = DefaultPolicy()
    if WAIT not in environ:
        return policy
    try:
        seconds = float(environ[WAIT])
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        raise BuildError(f"{WAIT}: expected a number of seconds, got {environ[WAIT]!r}")
    retries, waited, wait = 0, 0.0, float(policy.initial_backoff)
    while retries < policy.max_retries and waited + wait <= seconds * 1000:
        retries, waited = retries + 1, waited + wait
        wait = min(float(policy.max_backoff), wait * policy.backoff_multiplier)
    return DefaultPolicy(max_retries=retries)


def is_connect(session) -> bool:
    return type(session).__module__.startswith("pyspark.sql.connect")


def column_api(session):
    """(functions, Window) of the session's kind. pyspark's own `functions` choose between the
    classic and the Connect implementation by the process-wide switch, which a Connect session
    made here leaves off; so the engine asks for the kind of the session it queries."""
    if is_connect(session):
        from pyspark.sql.connect import functions
        from pyspark.sql.connect.window import Window
    else:
        from pyspark.sql import Window, functions
    return functions, Window


@dataclass
class SparkEngine:
    """Spark behind the aggregation interface. `session` makes (or finds) the Spark session; it
    is called on the first query, so an engine is cheap to create and pyspark loads only then."""
    session: Callable[[], object] | None = None  # default: session_from_environment
    kind: str = "spark"
    _spark: object = field(default=None, repr=False)
    _api: tuple = field(default=(), repr=False)  # (functions, Window) of the session's kind
    _checked: set[str] = field(default_factory=set, repr=False)

    def close(self) -> None:
        """Nothing: the session is the process's (getOrCreate), kept for the next build of `serve`."""

    # -- connecting and reading ---------------------------------------------------------------

    def spark(self, source: Source):
        if self._spark is None:
            try:
                import pyspark  # noqa: F401 - only to tell a missing install from other failures
            except ImportError:
                raise BuildError(f"{source.setting}: dataset '{source.name}' asks for engine = \"spark\", but PySpark "
                                 "is not installed: pip install -r requirements.txt (pyspark), or set "
                                 "engine = \"duckdb\" for this dataset (or in site.toml)") from None
            self._spark = self.guarded(source, self.session or session_from_environment)
            self._api = column_api(self._spark)
        return self._spark

    @property
    def F(self):
        """pyspark's `functions`, classic or Spark Connect as the session is (after `spark()`)."""
        return self._api[0]

    def guarded(self, source: Source, action: Callable[[], object]):
        """`action()`, with Spark's failures turned into messages naming the dataset and the setting."""
        try:
            with quiet():
                return action()
        except BuildError:
            raise
        except Exception as exc:  # noqa: BLE001 - py4j, Spark Connect and Spark errors share no base
            if is_connect(self._spark) and lost_connection(exc):
                disconnect(self._spark)
                self._spark = None
            raise BuildError(explain(source, exc)) from None

    def frame(self, source: Source):
        """The dataset's declared columns as a DataFrame, its schema checked against datasets.toml."""
        spark = self.spark(source)

        def read():
            if source.table:
                return spark.read.table(source.table)
            location = source.uri or source.path.as_posix()
            if source.format == "csv":  # every value as text, checked by the rules as DuckDB does
                return spark.read.options(header=True, mode="FAILFAST").csv(location)
            return spark.read.parquet(location)

        df = self.guarded(source, read)
        self.check_schema(source, df)
        return df.select(*source.columns)

    def check_schema(self, source: Source, df) -> None:
        if source.name in self._checked:
            return
        found = {f.name: f.dataType.typeName() for f in self.guarded(source, lambda: df.schema).fields}
        expected = ", ".join(source.columns)
        for column, kind in source.columns.items():
            if column not in found:
                raise BuildError(f"{source.setting}: dataset '{source.name}' ({source.location}) has no column "
                                 f"'{column}' (expected columns: {expected}; found: {', '.join(found)})")
            if source.format == "csv":
                continue  # text throughout; the rules check each value
            if kind == "integer" and found[column] not in INTEGER_TYPES:
                raise BuildError(f"{source.setting}: dataset '{source.name}' ({source.location}): column '{column}' "
                                 f"holds {found[column]}; expected whole numbers, as "
                                 f"datasets.{source.name}.columns.{column} declares")
            if kind == "code" and found[column] != "string":
                raise BuildError(f"{source.setting}: dataset '{source.name}' ({source.location}): column '{column}' "
                                 f"holds {found[column]}; expected codes as text, as "
                                 f"datasets.{source.name}.columns.{column} declares")
        if source.format == "csv":
            extra = [c for c in found if c not in source.columns]
            if extra:
                raise BuildError(f"{source.setting}: dataset '{source.name}' ({source.location}): unexpected column "
                                 f"'{extra[0]}' (expected columns: {expected})")
        self._checked.add(source.name)

    def collect(self, source: Source, df) -> list:
        return self.guarded(source, df.collect)

    # -- the interface ------------------------------------------------------------------------

    def violation(self, source: Source, rules: list[Rule]) -> tuple[Rule, list[tuple[int, str]]] | None:
        # One scan counts, for every rule, the rows that break it; only when one does is the data
        # numbered (a second, ordered scan) to name the first such rows in the message.
        df = self.frame(source)
        F = self.F
        counts = [F.count(F.lit(1)) if r.kind == "records" else F.count(F.when(broken(F, source, r), 1)) for r in rules]
        found = self.collect(source, df.agg(*counts))[0]
        for rule, value in zip(rules, found):
            if rule.kind == "records" and value == 0:
                return rule, []
            if rule.kind != "records" and value > 0:
                return rule, self.first_broken(source, df, rule)
        return None

    def first_broken(self, source: Source, df, rule: Rule) -> list[tuple[int, str]]:
        F, Window = self._api

        # the header is line 1 of a CSV file, so its first record is on line 2; Parquet rows count from 1
        offset = 1 if source.format == "csv" else 0
        line = F.row_number().over(Window.orderBy(F.monotonically_increasing_id())) + offset
        rows = (df.withColumn("_line", line).where(broken(F, source, rule))
                .select("_line", F.col(rule.column).cast("string")).orderBy("_line").limit(4))
        return [(int(n), "" if v is None else v) for n, v in self.collect(source, rows)]

    def aggregate(self, source: Source, keys: list[str | Derived], sums: list[str], frequency: str | None,
                  keep: ex.Condition | None = None) -> pd.DataFrame:
        df = self.frame(source)
        F = self.F
        # First the records are grouped by the keys, but with a mapped key's own column in its
        # place: the joins with classifications then touch one row per crossing rather than one
        # per record. Then the mapped keys are joined and everything grouped again. Both steps
        # run on the cluster.
        first = {}
        for key in keys:
            if isinstance(key, Derived) and not key.bands:  # a mapping, even an empty one
                first[key.column] = typed(F, source, key.column).alias(key.column)
            else:
                name = key if isinstance(key, str) else key.name
                first[name] = key_column(F, source, key).alias(name)
        units = F.sum(typed(F, source, frequency)) if frequency else F.count(F.lit(1))
        measures = ["_n"] + ["_sum_" + v for v in sums]
        if keep is not None:  # on the cluster, before grouping; a null comparison keeps the record
            df = df.where(F.coalesce(condition_column(F, source, keep), F.lit(True)))
        df = df.groupBy(*first.values()).agg(
            units.cast("long").alias("_n"), *[F.sum(typed(F, source, v)).cast("long").alias("_sum_" + v) for v in sums])
        names, selected = [], []
        for i, key in enumerate(keys):
            if isinstance(key, Derived) and not key.bands:  # a mapping, even an empty one
                # a broadcast hash join with the (small) classification; a code not in it gives
                # null, as DuckDB's left join does
                table = self.spark(source).createDataFrame(list(key.mapping), f"_code{i} string, _value{i} string")
                df = df.join(F.broadcast(table), F.col(key.column) == F.col(f"_code{i}"), "left")
                selected.append(F.col(f"_value{i}").alias(key.name))
            else:
                selected.append(F.col(key if isinstance(key, str) else key.name))
            names.append(key if isinstance(key, str) else key.name)
        grouped = df.select(*selected, *measures).groupBy(*names).agg(
            *[F.sum(m).cast("long").alias(m) for m in measures])
        frame = self.guarded(source, lambda: arrow_frame(grouped))
        for c in measures:
            frame[c] = frame[c].fillna(0).astype("int64")
        return frame

    def fingerprint(self, source: Source) -> str | None:
        """What the table cache keys a cluster dataset by: each of its files' path, size and time,
        read from the cluster's file system (metadata only, no scan). None where Spark cannot tell
        (Spark Connect, a table not stored in files): then the statistic is computed every build."""
        spark = self.spark(source)

        def listing():
            df = self.frame(source)
            # a Spark Connect client has no JVM through which to ask the cluster's file system
            jvm = None if is_connect(spark) else getattr(spark, "_jvm", None)
            if jvm is None:
                return None
            conf = spark._jsc.hadoopConfiguration()
            lines = []
            for name in sorted(df.inputFiles()):
                path = jvm.org.apache.hadoop.fs.Path(name)
                status = path.getFileSystem(conf).getFileStatus(path)
                lines.append(f"{name}:{status.getLen()}:{status.getModificationTime()}")
            return hashlib.sha256("\n".join(lines).encode()).hexdigest() if lines else None

        return self.guarded(source, listing)


def arrow_frame(grouped) -> pd.DataFrame:
    """The aggregate, brought over in Arrow batches: several times faster than rows through py4j
    for the 10⁵ crossings of a statistic like Migration."""
    return grouped.toPandas()


# ----------------------------------------------------------------------------------------------
# translation: rules and derived keys as Spark Columns


def typed(F, source: Source, column: str):
    """A column as the engine computes with it: whole numbers as 64-bit integers. `F` is the
    session's `functions` (SparkEngine.F), here and below."""
    if source.columns.get(column) != "integer":
        return F.col(column)
    # CSV holds text: a value that is not a whole number becomes null, which the rules report
    return F.col(column).try_cast("long") if source.format == "csv" else F.col(column).cast("long")


def key_column(F, source: Source, key: str | Derived):
    """A group-by key: a column of the dataset, or an age band of one (mappings are joined)."""
    if isinstance(key, str):
        return typed(F, source, key)
    value = typed(F, source, key.column)
    banded = None
    for a, b, code in key.bands:
        test = value.between(int(a), int(b))
        banded = F.when(test, F.lit(code)) if banded is None else banded.when(test, F.lit(code))
    return banded


def condition_column(F, source: Source, node: ex.Condition):
    """A Column for a relaxed condition (`expressions.relax`), built from its tree: every name a
    declared column, every constant a literal."""
    if isinstance(node, ex.Logical):
        parts = [condition_column(F, source, n) for n in node.operands]
        return functools.reduce(operator.and_ if node.op == "and" else operator.or_, parts)
    if isinstance(node, ex.Not):
        return ~condition_column(F, source, node.operand)
    if isinstance(node, ex.Member):
        test = typed(F, source, node.name.id).isin([v.value for v in node.values])
        return ~test if node.negated else test
    return COMPARE[node.op](typed(F, source, node.left.id), F.lit(node.right.value))


COMPARE = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
           ">=": operator.ge}


def broken(F, source: Source, rule: Rule):
    """A Column that is true for a row breaking the rule (null counts as kept, as in SQL)."""
    column = F.col(rule.column)
    value = typed(F, source, rule.column)
    if rule.kind == "integer":
        return column.isNull() | value.isNull()
    if rule.kind == "min":
        return value < int(rule.value)
    if rule.kind == "max":
        return value > int(rule.value)
    if rule.kind == "ranges":
        kept = None
        for a, b in rule.value:
            test = value.between(int(a), int(b))
            kept = test if kept is None else kept | test
        return ~kept
    return column.isNull() | ~column.isin(sorted(rule.value))


# ----------------------------------------------------------------------------------------------
# errors


def explain(source: Source, exc: Exception) -> str:
    """A message for a failure of Spark: what went wrong with which dataset, and what to check."""
    where = f"{source.setting}: dataset '{source.name}' ({source.location})"
    condition = error_condition(exc)
    first = first_line(exc)
    if condition in NOT_FOUND or "Path does not exist" in first:
        what = "table" if source.table else "path"
        setting = "table" if source.table else "file"
        return (f"{where}: no such {what} on the cluster ({condition or first}); check "
                f"datasets.{source.name}.{setting}, and that {MASTER} or {REMOTE} points at the right cluster")
    if condition == "JAVA_GATEWAY_EXITED":  # local or client mode starts a JVM on this machine
        return (f"{where}: could not start Spark's JVM ({first}); Spark needs Java 17 or newer here "
                f"(java on PATH, or JAVA_HOME), or set {REMOTE} to use a cluster's Spark Connect server")
    if condition.startswith(("CANNOT_MODIFY_CONFIG", "CANNOT_MODIFY_STATIC_CONFIG")):
        return (f"{where}: the Spark Connect server refused a setting of {CONF} ({first}); a client may change "
                f"only session settings (spark.sql.*): set the others where the server is started")
    if lost_connection(exc):
        return (f"{where}: lost the connection to Spark ({type(exc).__name__}: {first}); check {REMOTE} or "
                f"{MASTER} (now {os.environ.get(REMOTE) or os.environ.get(MASTER, 'local[2]')}) and the "
                "network, then build again")
    return f"{where}: Spark could not read the data ({type(exc).__name__}: {first}); check datasets.{source.name}"


def error_condition(exc: Exception) -> str:
    getter = getattr(exc, "getCondition", None) or getattr(exc, "getErrorClass", None)
    try:
        return (getter() if getter else "") or ""
    except Exception:  # noqa: BLE001 - a lost gateway cannot even say what the error was
        return ""


def lost_connection(exc: Exception) -> bool:
    names = {c.__name__ for c in type(exc).__mro__}
    return bool(names & {"ConnectionError", "Py4JNetworkError", "EOFError"}) or \
        grpc_status(exc) in CONNECT_LOST or error_condition(exc).startswith(SESSION_GONE) or \
        "Connection refused" in str(exc) or "SparkContext was shut down" in str(exc) or \
        "Cannot call methods on a stopped SparkContext" in str(exc)


# Spark Connect: every error of the server arrives as a SparkConnectGrpcException (AnalysisException
# too), so a lost connection is told by the gRPC status, or by the server no longer knowing the
# session (it restarted, or dropped the session while the client was away)
CONNECT_LOST = ("UNAVAILABLE", "DEADLINE_EXCEEDED")
SESSION_GONE = ("INVALID_HANDLE.SESSION_CHANGED", "INVALID_HANDLE.SESSION_NOT_FOUND", "INVALID_HANDLE.SESSION_CLOSED")


def grpc_status(exc: Exception) -> str:
    """The gRPC status of a Spark Connect error (e.g. UNAVAILABLE), or "" for other errors."""
    getter = getattr(exc, "getGrpcStatusCode", None)
    try:
        return getter().name if getter else ""
    except Exception:  # noqa: BLE001 - an error without a status says nothing about the connection
        return ""


def first_line(exc: Exception) -> str:
    text = str(exc).strip()
    # a gRPC failure's text is the repr of the call; its details say what happened
    details = re.search(r'details = "(.*)"', text) if grpc_status(exc) else None
    if details:
        return f"{grpc_status(exc)}: {details.group(1)}"
    return text.splitlines()[0] if text else type(exc).__name__
