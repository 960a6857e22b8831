"""Where the job writes: Cassandra (through the Spark Cassandra Connector),
the dead-letter topic, and the ops.stream_progress table in PostgreSQL.

Connector quirk that shapes this module: DataFrame writes take a per-row
write timestamp (option writetime=<column>), but the connector has no
DataFrame delete at all, and its RDD deleteFromCassandra builds
"DELETE ... WHERE ..." without USING TIMESTAMP (TableWriter.deleteQueryTemplate
in 3.5.1). A delete stamped with the wall clock would lose against our
LSN-derived timestamps, so deletes are bound and executed on the driver
through the connector's own CassandraConnector session, with USING TIMESTAMP.
Deletes are rare (GDPR erasure, cleanup); upserts stay distributed.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, Optional, Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQueryListener

log = logging.getLogger("userstream.spark")

CASSANDRA_FORMAT = "org.apache.spark.sql.cassandra"


def write_cassandra(df: DataFrame, keyspace: str, table: str, writetime_col: str = "writetime",
                    ignore_nulls: bool = False) -> None:
    """Append (= upsert) `df` into keyspace.table, each row USING TIMESTAMP
    its `writetime_col` (the column itself is not stored). NULLs are written
    (a column set to NULL in PostgreSQL becomes NULL here) unless
    ignore_nulls, for rows whose NULLs mean "not sent"."""
    (
        df.write.format(CASSANDRA_FORMAT)
        .options(keyspace=keyspace, table=table, writetime=writetime_col)
        .option("spark.cassandra.output.ignoreNulls", "true" if ignore_nulls else "false")
        .mode("append")
        .save()
    )


def read_cassandra(spark: SparkSession, keyspace: str, table: str, direct_join: bool = False) -> DataFrame:
    """A Cassandra table as a DataFrame. direct_join: a join with it on the
    partition key becomes per-key reads (the connector's Direct Join) even
    though Spark cannot size the other side (an RDD has no statistics, so the
    connector's automatic choice is a full table scan)."""
    opts = {"keyspace": keyspace, "table": table}
    if direct_join:
        opts["directJoinSetting"] = "on"
    return spark.read.format(CASSANDRA_FORMAT).options(**opts).load()


@dataclass(frozen=True)
class Delete:
    table: str  # users | users_by_email_hash | users_by_country
    key: tuple  # primary key values in table order
    timestamp: int


_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_HMAC = re.compile(r"^[0-9a-f]{64}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


def delete_cql(keyspace: str, d: Delete) -> str:
    """The CQL text of one delete. Every value is checked against its exact
    shape first (uuid, 64 hex digits, two capital letters, small ints), so
    the literals cannot carry anything else. Literals rather than bound
    values: the driver's setters are default interface methods that py4j
    cannot call, and its varargs bind() cannot type a long reliably."""
    ts = int(d.timestamp)
    if d.table == "users":
        (uid,) = d.key
        _check(_UUID, uid)
        where = f"user_id = {uid}"
    elif d.table == "users_by_email_hash":
        h, uid = d.key
        _check(_HMAC, h)
        _check(_UUID, uid)
        where = f"email_hmac = '{h}' AND user_id = {uid}"
    elif d.table == "users_by_country":
        cc, bucket, uid = d.key
        _check(_COUNTRY, cc)
        _check(_UUID, uid)
        if not 0 <= int(bucket) < 16:
            raise ValueError(f"bucket {bucket!r} out of range")
        where = f"country_code = '{cc}' AND bucket = {int(bucket)} AND user_id = {uid}"
    else:
        raise ValueError(f"no delete for table {d.table!r}")
    return f"DELETE FROM {keyspace}.{d.table} USING TIMESTAMP {ts} WHERE {where}"


def _check(pattern, value) -> None:
    if not isinstance(value, str) or not pattern.match(value):
        raise ValueError(f"refusing a malformed key value {value!r}")


PLACEHOLDER_PREFIX = "00000000-0000-0000-"


def placeholder_uuid(version: int) -> str:
    """The user_id that stands in for an erased user in signup_events: zero in
    its first 64 bits (no v4 uuid looks like it), the sign-up's version in the
    last 64, so two erased sign-ups of one window never collide. The version
    (lsn * 2^20 + seq) is a position in the WAL, not the person's id."""
    v = int(version)
    if not 0 <= v < 1 << 63:
        raise ValueError(f"version {version!r} out of range")
    return f"{PLACEHOLDER_PREFIX}{v >> 48:04x}-{v & 0xFFFFFFFFFFFF:012x}"


@dataclass(frozen=True)
class ErasedSignup:
    """The signup_events row of a deleted user (the key kept on its users row,
    cql/032_signup_keys.cql) and the delete's version: erase_cql() replaces the
    row by a placeholder that keeps the window's count and max(version)
    (docs/lifecycle.md, "What erasure does to the sign-up counts")."""

    user_id: str
    minute_ms: int
    country_code: str
    lsn: int
    version: int  # the sign-up's
    delete_version: int

    def window(self) -> SignupWindow:
        return SignupWindow(int(self.minute_ms), self.country_code)

    def erase_cql(self, keyspace: str) -> tuple[str, str]:
        """(placeholder INSERT, DELETE of the user's row). The INSERT carries the
        sign-up's own version (column and write timestamp): the recount of the
        window finds the same count and the same max(version). The DELETE is
        stamped with the user's delete: a late replay of the sign-up loses."""
        day, _, cc = self.window().key()  # checks minute and country
        _check(_UUID, self.user_id)
        lsn, v, dv = int(self.lsn), int(self.version), int(self.delete_version)
        if not 0 <= lsn < 1 << 43 or not 0 <= v < dv < 1 << 63:
            raise ValueError(f"not an erasable sign-up: {self!r}")
        part = f"day = '{day.isoformat()}' AND minute = {int(self.minute_ms)} AND country_code = '{cc}'"
        insert = (
            f"INSERT INTO {keyspace}.signup_events (day, minute, country_code, user_id, commit_lsn, version) "
            f"VALUES ('{day.isoformat()}', {int(self.minute_ms)}, '{cc}', {placeholder_uuid(v)}, {lsn}, {v}) "
            f"USING TIMESTAMP {v}"
        )
        delete = (
            f"DELETE FROM {keyspace}.signup_events USING TIMESTAMP {dv} "
            f"WHERE {part} AND user_id = {self.user_id} AND commit_lsn = {lsn}"
        )
        return insert, delete


def erased_signups(rows: Iterable) -> list[ErasedSignup]:
    """Rows of transform.erased_signups -> ErasedSignup, distinct."""
    out = {
        ErasedSignup(str(r["user_id"]), int(r["minute_ms"]), r["signup_country"], int(r["signup_lsn"]),
                     int(r["signup_version"]), int(r["delete_version"]))
        for r in rows
    }  # fmt: skip
    return sorted(out, key=lambda e: (e.minute_ms, e.country_code, e.user_id, e.lsn, e.delete_version))


class CassandraDeleter:
    """DELETE ... USING TIMESTAMP through the connector's session (JVM),
    asynchronously, then waits for all: a failure raises and fails the batch
    (it is replayed, and deletes are idempotent)."""

    def __init__(self, spark: SparkSession, keyspace: str):
        self._spark = spark
        self._ks = keyspace

    def execute(self, deletes: Sequence[Delete], window: int = 64) -> int:
        if not deletes:
            return 0
        statements = [delete_cql(self._ks, d) for d in deletes]  # all checked before any runs
        self.run(statements, window)
        return len(deletes)

    def erase_signups(self, erased: Sequence[ErasedSignup]) -> int:
        """Placeholders first, then the deletes: whatever runs in between, no
        recount of a window sees fewer rows than before."""
        pairs = [e.erase_cql(self._ks) for e in erased]  # all checked before any runs
        self.run([i for i, _ in pairs])
        self.run([d for _, d in pairs])
        return len(pairs)

    def run(self, statements: Sequence[str], window: int = 64) -> None:
        """Executes checked CQL texts, `window` at a time in flight."""
        if not statements:
            return
        jvm = self._spark.sparkContext._jvm
        conf = self._spark.sparkContext._jsc.sc().getConf()
        session = jvm.com.datastax.spark.connector.cql.CassandraConnector.apply(conf).openSession()
        try:
            pending = []
            for cql in statements:
                pending.append(session.executeAsync(cql).toCompletableFuture())
                if len(pending) >= window:
                    for f in pending:
                        f.get()
                    pending = []
            for f in pending:
                f.get()
        finally:
            session.close()


def bucket_of(uid: str) -> int:
    """Same as transform.country_bucket, for keys built on the driver."""
    return int(uid[0], 16) % 16


def index_deletes(candidates: Iterable) -> list[Delete]:
    """Rows of transform.stale_index_candidates -> distinct index deletes,
    each stamped with the version of the change that made the key stale."""
    out: dict[tuple, Delete] = {}
    for r in candidates:
        ts = int(r["w_version"])
        uid = r["user_id"]
        if r["old_email_hmac"] is not None:
            d = Delete("users_by_email_hash", (r["old_email_hmac"], uid), ts)
            out[(d.table, d.key)] = d
        if r["old_country_code"] is not None:
            d = Delete("users_by_country", (r["old_country_code"], bucket_of(uid), uid), ts)
            out[(d.table, d.key)] = d
    return list(out.values())


def user_deletes(winners: Iterable) -> list[Delete]:
    """Winning delete changes -> deletes of the users rows."""
    return [Delete("users", (r["user_id"],), int(r["writetime"])) for r in winners]


@dataclass(frozen=True)
class SignupWindow:
    """One row of signups_per_minute: an event-time minute and a country."""

    minute_ms: int  # the minute's start, milliseconds since the epoch (UTC)
    country_code: str

    def key(self) -> tuple:
        """(day, minute, country_code) as the driver binds them."""
        minute = datetime.fromtimestamp(self.minute_ms / 1000, tz=timezone.utc)
        if minute.second or minute.microsecond or not _COUNTRY.match(self.country_code or ""):
            raise ValueError(f"not a sign-up window: {self!r}")
        return minute.date(), minute, self.country_code


SIGNUP_COUNT_CQL = "SELECT count(*), max(version) FROM signup_events WHERE day = ? AND minute = ? AND country_code = ?"
SIGNUP_WRITE_CQL = (
    "INSERT INTO signups_per_minute (day, minute, country_code, signups) VALUES (?, ?, ?, ?) USING TIMESTAMP ?"
)


class SignupCounts:
    """signups_per_minute, recounted from signup_events (docs/spark.md, "Sign-ups
    per minute"): for each window a batch wrote sign-ups into, count(*) and
    max(version) of the window's partition, then the count written USING
    TIMESTAMP that max version. A window's sign-up rows only ever grow, so a
    later recount is never smaller and never carries a lower timestamp: the
    newest recount wins in Cassandra (at an equal timestamp the larger value
    wins), whatever crashed or was replayed in between.

    Runs on the driver with the Python driver (few statements per batch,
    prepared, at LOCAL_QUORUM so a count sees the batch's own writes)."""

    def __init__(self, host: str, port: int, keyspace: str, credentials: Optional[tuple[str, str]] = None):
        """credentials: (role, password) of the writer role, or None (no login)."""
        self._contact = (host, port)
        self._credentials = credentials
        self._ks = keyspace
        self._cluster = None
        self._session = None
        self._count = self._write = None

    def _connect(self) -> None:
        if self._session is not None:
            return
        from cassandra import ConsistencyLevel
        from cassandra.cluster import Cluster

        host, port = self._contact
        provider = None
        if self._credentials:
            from cassandra.auth import PlainTextAuthProvider

            provider = PlainTextAuthProvider(*self._credentials)
        self._cluster = Cluster([host], port=port, auth_provider=provider)
        self._session = self._cluster.connect(self._ks)
        self._count = self._session.prepare(SIGNUP_COUNT_CQL)
        self._write = self._session.prepare(SIGNUP_WRITE_CQL)
        for st in (self._count, self._write):
            st.consistency_level = ConsistencyLevel.LOCAL_QUORUM

    def read(self, windows: Iterable[SignupWindow]) -> list[tuple[SignupWindow, int, int]]:
        """(window, signups, max version) of each window, as Cassandra holds them now."""
        from cassandra.concurrent import execute_concurrent_with_args

        windows = sorted(set(windows), key=lambda w: (w.minute_ms, w.country_code))
        keys = [w.key() for w in windows]  # all checked before any runs
        if not keys:
            return []
        self._connect()
        results = execute_concurrent_with_args(self._session, self._count, keys, concurrency=32)
        out = []
        for w, (ok, rs) in zip(windows, results):
            if not ok:
                raise rs
            n, version = rs.one()
            if n:
                out.append((w, int(n), int(version)))
        return out

    def write(self, counts: Sequence[tuple[SignupWindow, int, int]]) -> None:
        from cassandra.concurrent import execute_concurrent_with_args

        if not counts:
            return
        self._connect()
        args = [(*w.key(), n, version) for w, n, version in counts]
        for ok, res in execute_concurrent_with_args(self._session, self._write, args, concurrency=32):
            if not ok:
                raise res

    def close(self) -> None:
        if self._cluster is not None:
            self._cluster.shutdown()
        self._cluster = self._session = None


def dlq_frame(rejects: DataFrame) -> DataFrame:
    """Rejected records -> Kafka sink rows: original key, value and headers,
    plus us.dlq.reason, us.dlq.stage and us.dlq.source ("topic/partition/offset",
    so a consumer can count dead letters exactly despite replays)."""
    extra = F.array(
        F.struct(F.lit("us.dlq.reason").alias("key"), F.col("reject_reason").cast("binary").alias("value")),
        F.struct(F.lit("us.dlq.stage").alias("key"), F.col("reject_stage").cast("binary").alias("value")),
        F.struct(
            F.lit("us.dlq.source").alias("key"),
            F.concat_ws("/", F.col("src_topic"), F.col("src_partition").cast("string"),
                        F.col("src_offset").cast("string")).cast("binary").alias("value"),
        ),
    )  # fmt: skip
    headers = F.concat(F.coalesce(F.col("headers"), F.array().cast("array<struct<key:string,value:binary>>")), extra)
    return rejects.select(F.col("key"), F.col("value"), headers.alias("headers"))


def write_dlq(rejects: DataFrame, bootstrap: str, topic: str, kafka_options=None) -> None:
    """kafka_options: the principal's security settings (auth.kafka_java_options)."""
    writer = (
        dlq_frame(rejects)
        .write.format("kafka")
        .option("kafka.bootstrap.servers", bootstrap)
        .option("topic", topic)
        .option("kafka.acks", "all")
        .option("kafka.enable.idempotence", "true")
    )
    for k, v in (kafka_options or {}).items():
        writer = writer.option(k, v)
    writer.save()


PROGRESS_UPSERT = """
INSERT INTO ops.stream_progress (query_name, batch_id, started_at, finished_at, duration_ms,
    input_rows, upserts, deletes, dead_letters, superseded, min_commit_ts, max_commit_ts,
    max_commit_lsn, latency_p50_ms, latency_p99_ms, latency_max_ms, start_offsets, end_offsets)
VALUES (%(query_name)s, %(batch_id)s, %(started_at)s, %(finished_at)s, %(duration_ms)s,
    %(input_rows)s, %(upserts)s, %(deletes)s, %(dead_letters)s, %(superseded)s, %(min_commit_ts)s,
    %(max_commit_ts)s, %(max_commit_lsn)s, %(latency_p50_ms)s, %(latency_p99_ms)s,
    %(latency_max_ms)s, %(start_offsets)s, %(end_offsets)s)
ON CONFLICT (query_name, batch_id) DO UPDATE SET
    started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at,
    duration_ms = EXCLUDED.duration_ms, input_rows = EXCLUDED.input_rows,
    upserts = EXCLUDED.upserts, deletes = EXCLUDED.deletes,
    dead_letters = EXCLUDED.dead_letters, superseded = EXCLUDED.superseded,
    min_commit_ts = EXCLUDED.min_commit_ts, max_commit_ts = EXCLUDED.max_commit_ts,
    max_commit_lsn = EXCLUDED.max_commit_lsn, latency_p50_ms = EXCLUDED.latency_p50_ms,
    latency_p99_ms = EXCLUDED.latency_p99_ms, latency_max_ms = EXCLUDED.latency_max_ms,
    start_offsets = EXCLUDED.start_offsets, end_offsets = EXCLUDED.end_offsets
"""


STOP_UPSERT = """
INSERT INTO ops.stream_stops (query_name, exit_code, reason) VALUES (%s, %s, %s)
ON CONFLICT (query_name) DO UPDATE SET exit_code = EXCLUDED.exit_code, reason = EXCLUDED.reason,
    stopped_at = now()
"""


def record_stop(conninfo: str, query_name: str, exit_code: int, reason: str) -> None:
    """Why the job stopped for good, for the console (031_stream_stops.sql)."""
    import psycopg2

    with psycopg2.connect(conninfo) as conn, conn.cursor() as cur:
        cur.execute(STOP_UPSERT, (query_name, exit_code, reason))
    conn.close()


class WalPosition:
    """PostgreSQL's current WAL position (pg_current_wal_lsn(), callable by
    any role: the job's own ops login, no grant), read once per micro-batch
    for the us.lsn upper bound (lsn_checks.py). Keeps one connection.

    Returns None when PostgreSQL cannot answer (down, unreachable, a standby
    in recovery): the batch then goes without the upper bound, and that is
    logged. Refusing every record instead would dead-letter a whole batch of
    good changes for an outage of a database the job does not otherwise need
    to read Kafka; while PostgreSQL is down it writes no WAL, so the relay
    sends nothing new that the bound would have to judge, and the Kafka ACL
    (only the relay writes the topic) and the per-key order check still hold."""

    QUERY = "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::numeric(20,0)"

    def __init__(self, conninfo: str):
        # a short statement timeout: a hung server must not hold the batch
        self._conninfo = conninfo + " options='-c statement_timeout=10000'"
        self._conn = None

    def read(self) -> tuple[Optional[int], Optional[str]]:
        """(position in bytes, None) or (None, why not, one line)."""
        import psycopg2

        for attempt in range(2):  # a connection dropped since the last batch: once more
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = psycopg2.connect(self._conninfo)
                    self._conn.autocommit = True
                with self._conn.cursor() as cur:
                    cur.execute(self.QUERY)
                    return int(cur.fetchone()[0]), None
            except psycopg2.Error as e:
                self.close()
                if attempt == 1:
                    why = (str(e).strip().splitlines() or [type(e).__name__])[0]
                    return None, f"{type(e).__name__}: {why}"[:300]
        return None, "unreachable"  # not reached

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001 - a broken connection is being dropped
                pass
            self._conn = None


class ProgressWriter:
    """Writes one ops.stream_progress row per batch (idempotent by batch id).
    Keeps one connection; reconnects after an error."""

    def __init__(self, conninfo: str):
        self._conninfo = conninfo
        self._conn = None
        self._cleared = False

    def write(self, row: dict) -> None:
        row = dict(row)
        for k in ("start_offsets", "end_offsets"):
            if row.get(k) is not None and not isinstance(row[k], str):
                row[k] = json.dumps(row[k], sort_keys=True)

        def run(cur):
            cur.execute(PROGRESS_UPSERT, row)
            if not self._cleared:
                # A batch of this query succeeded: an earlier stop is over.
                cur.execute("DELETE FROM ops.stream_stops WHERE query_name = %s", (row["query_name"],))
                self._cleared = True

        self._with_cursor(run)

    def _with_cursor(self, run) -> None:
        """run(cursor) on the kept connection (autocommit), reconnecting and
        running again up to three times when the connection is lost."""
        import psycopg2  # the driver only; executors never import it

        for attempt in range(3):
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = psycopg2.connect(self._conninfo)
                    self._conn.autocommit = True
                with self._conn.cursor() as cur:
                    run(cur)
                return
            except (psycopg2.OperationalError, psycopg2.InterfaceError):
                self._conn = None
                if attempt == 2:
                    raise

    def dead_letters(self, rows) -> None:
        """ops.dead_letter_keys rows (source, record_key, commit_lsn, reason) of records
        the topic already has; a replay writes the same sources, so nothing twice."""
        self._with_cursor(lambda cur: cur.executemany(DEAD_LETTER_INSERT, rows))

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


DEAD_LETTER_INSERT = """INSERT INTO ops.dead_letter_keys (source, record_key, commit_lsn, reason)
VALUES (%s, %s, %s, %s) ON CONFLICT (source) DO NOTHING"""


def dead_letter_keys(rejects: DataFrame) -> list:
    """(source, key as text, lsn, reason) of rejected records, for ops.dead_letter_keys."""
    source = F.concat_ws("/", F.col("src_topic"), F.col("src_partition").cast("string"),
                         F.col("src_offset").cast("string"))
    rows = rejects.select(source.alias("source"), F.col("key").cast("string").alias("k"),
                          F.col("lsn").cast("string").alias("lsn"), F.col("reject_reason")).collect()
    return [(r["source"], r["k"], r["lsn"], r["reject_reason"] or "unknown") for r in rows]


class ProgressListener(StreamingQueryListener):
    """Adds each batch's Kafka offset range to its ops.stream_progress row.
    foreachBatch does not see offsets; Spark's progress event does, right
    after the batch. A failure here is logged, never raised: offsets are
    informational, the counts are already written."""

    def __init__(self, conninfo: str, names=("users",)):
        self._conninfo = conninfo
        self._names = set(names)
        self._conn = None

    def onQueryStarted(self, event):
        pass

    def onQueryProgress(self, event):
        p = event.progress
        if p.name not in self._names or not p.sources or p.numInputRows == 0:
            return
        try:
            start = _topic_offsets(p.sources[0].startOffset)
            end = _topic_offsets(p.sources[0].endOffset)
            import psycopg2

            if self._conn is None or self._conn.closed:
                self._conn = psycopg2.connect(self._conninfo)
                self._conn.autocommit = True
            with self._conn.cursor() as cur:
                cur.execute(
                "UPDATE ops.stream_progress SET start_offsets = %s::jsonb, end_offsets = %s::jsonb "
                "WHERE query_name = %s AND batch_id = %s",
                (json.dumps(start, sort_keys=True), json.dumps(end, sort_keys=True), p.name, p.batchId),
                )
        except Exception as e:  # noqa: BLE001 - see docstring
            self._conn = None
            log.warning("progress offsets of %s batch %s not recorded: %s", p.name, p.batchId, e)

    def onQueryIdle(self, event):
        pass

    def onQueryTerminated(self, event):
        pass


def _topic_offsets(text):
    """Spark's Kafka offsets JSON {"topic": {"0": 12, ...}} -> {"0": 12, ...}.
    The first batch of a query has no start offset: pyspark 3.5 hands the
    Java null over as the string "None" (str() of it), so that is no offsets."""
    if not text or text.strip() in ("None", "null"):
        return None
    d = json.loads(text)
    return next(iter(d.values())) if isinstance(d, dict) and len(d) == 1 else d
