"""userstream-spark: Kafka `userstream.users` -> Cassandra, dead letters to
`userstream.users.dlq`, progress to ops.stream_progress.

One streaming query (`users`, foreachBatch): decode (writer schema by id),
validate, transform, one change per user, upserts/deletes USING TIMESTAMP
from (us.lsn, us.seq), dead letters, sign-ups per minute, one progress row
per batch.

Exactly-once effect = checkpointed Kafka offsets (replay after a crash) +
idempotent writes (deterministic values and write timestamps). Sign-ups per
minute are recounted from one row per sign-up, not kept in Spark state
(docs/spark.md, "Sign-ups per minute").

Usage (normally through the spark-job service / spark-submit):
  spark-submit ... spark/job.py [--available-now] [--master URL]
Exit codes: 0 stopped (SIGTERM/SIGINT or --available-now done), 1 a query
failed, 2 bad configuration, 3 data loss: Kafka no longer holds offsets the
job has not read (recorded in ops.stream_stops; not restarted).
"""

from __future__ import annotations

import argparse
import glob
import json
import logging
import os
import re
import signal
import sys
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Optional

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType

from . import config as config_mod
from . import decode as dec
from . import auth, jvm_lookups, lsn_checks, pii, sinks, transform
from .registry import Registry

log = logging.getLogger("userstream.spark")
# Test-only fault injection: "POINT" or "POINT@N" makes the driver kill -9
# itself (JVM and Python) the Nth time it reaches POINT. Unset: no effect.
KILL_AT_ENV = "US_SPARK_TEST_KILL_AT"
# Exit code of a stop for good: Kafka lost offsets the job has not read. The
# spark_job service does not restart it (stack/services/85-spark-job.sh).
EXIT_DATA_LOSS = 3
KILL_POINTS = ("signups-before-write", "signups-after-write", "signups-mid-counts", "batch-end")


# ---------------------------------------------------------------- session


def build_session(cfg: config_mod.JobConfig, master: Optional[str] = None, app: str = "userstream-spark"):
    builder = SparkSession.builder.appName(app)
    if master:
        builder = builder.master(master)
    jars = sorted(glob.glob(os.path.join(cfg.jars_dir, "*.jar"))) if cfg.jars_dir else []
    if jars:
        builder = builder.config("spark.jars", ",".join(jars))
    # Python workers run the HMAC pandas UDF: they need this venv's
    # pandas/pyarrow. PySpark takes the workers' interpreter from the
    # environment when the context starts (not from spark.pyspark.python).
    if not os.environ.get("PYSPARK_PYTHON"):
        os.environ["PYSPARK_PYTHON"] = sys.executable
    conf = {
        "spark.sql.extensions": "com.datastax.spark.connector.CassandraSparkExtensions",
        "spark.cassandra.connection.host": cfg.cassandra_host,
        "spark.cassandra.connection.port": str(cfg.cassandra_port),
        "spark.cassandra.output.consistency.level": "LOCAL_QUORUM",
        "spark.cassandra.input.consistency.level": "LOCAL_QUORUM",
        # One row per partition key, so batching by partition gives single-row
        # statements: more of them in flight per task is what helps (measured
        # in docs/benchmarks.md); multi-partition batches only add warnings.
        "spark.cassandra.output.concurrent.writes": "16",
        # Per-key reads (Direct Join) in flight per task: the default 512 times
        # two or three tasks is more than the one connection per node takes
        # (1,024 requests), and the overflow fails with "No connection was available".
        "spark.cassandra.concurrent.reads": "128",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": "2",
        "spark.ui.port": str(cfg.driver_ui_port),
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.streaming.stopGracefullyOnShutdown": "true",
        # Checkpoint retention: offsets/commits/state of this many batches.
        "spark.sql.streaming.minBatchesToRetain": str(cfg.min_batches_to_retain),
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # Constraint propagation is exponential in the number of projected
        # columns over a filter: the ~45-column users row made the optimizer
        # run out of heap. The job's filters gain nothing from it.
        "spark.sql.constraintPropagation.enabled": "false",
        # Whole-stage codegen of the ~45-column rows produces methods over
        # HotSpot's 8,000-byte JIT limit, which then run interpreted: a third
        # of the executor's samples sat in those methods (JFR). Compiling
        # them cut a 150,000-record batch from 115 s to 85 s here.
        "spark.executor.extraJavaOptions": "-XX:-DontCompileHugeMethods",
    }
    if cfg.cassandra_credentials:
        user, pw = auth.cassandra_credentials(cfg.cassandra_credentials)
        conf["spark.cassandra.auth.username"] = user
        conf["spark.cassandra.auth.password"] = pw
    for k, v in conf.items():
        builder = builder.config(k, v)
    spark = builder.getOrCreate()
    jvm_lookups.speed_up(spark)
    return spark


def ship_package(spark: SparkSession, work_dir: str) -> None:
    """Zip this package and add it to the executors' Python path."""
    here = os.path.dirname(os.path.abspath(__file__))
    os.makedirs(work_dir, exist_ok=True)
    path = os.path.join(work_dir, "userstream_spark.zip")
    with zipfile.ZipFile(path + ".tmp", "w") as z:
        for name in sorted(os.listdir(here)):
            if name.endswith((".py", ".avsc")):  # users.avsc: the data contract (schema.py)
                z.write(os.path.join(here, name), os.path.join("userstream_spark", name))
    os.replace(path + ".tmp", path)
    spark.sparkContext.addPyFile(path)


def kafka_stream(spark: SparkSession, cfg: config_mod.JobConfig) -> DataFrame:
    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", cfg.kafka_bootstrap)
        .option("subscribe", cfg.topic)
        .option("startingOffsets", "earliest")
        .option("includeHeaders", "true")
        # The gap detector: offsets that vanished before we read them fail the
        # query instead of being skipped silently.
        .option("failOnDataLoss", "true")
    )
    if cfg.max_offsets_per_trigger > 0:
        reader = reader.option("maxOffsetsPerTrigger", str(cfg.max_offsets_per_trigger))
    for k, v in auth.kafka_java_options(cfg.kafka_client_file).items():
        reader = reader.option(k, v)
    return reader.load()


# ---------------------------------------------------------------- users query


class UsersBatch:
    """The foreachBatch function of the users query.

    Spark jobs per batch in the usual case (inserts, one change per user, no
    bad records): one aggregation for the stats, three Cassandra writes.
    Dead letters, updates and deletes add work only when present."""

    def __init__(self, spark, cfg: config_mod.JobConfig, registry: Registry, keys: DataFrame, progress):
        self.spark = spark
        self.cfg = cfg
        self.registry = registry
        self.keys = keys
        self.progress = progress
        self.deleter = sinks.CassandraDeleter(spark, cfg.keyspace)
        creds = auth.cassandra_credentials(cfg.cassandra_credentials) if cfg.cassandra_credentials else None
        self.signups = sinks.SignupCounts(cfg.cassandra_host, cfg.cassandra_port, cfg.keyspace, creds)
        self.wal = sinks.WalPosition(cfg.pg_conninfo)

    def _lsn_limit(self, batch_id: int) -> Optional[int]:
        """The batch's us.lsn upper bound (lsn_checks.py), read now: every
        record of the batch was in Kafka before this batch's offsets were
        fixed, so before PostgreSQL's position is read."""
        pos, why = self.wal.read()
        if pos is None:
            log.warning("users batch %d: PostgreSQL's WAL position is unknown (%s): the us.lsn upper bound is "
                        "not checked in this batch (the per-key order check is)", batch_id, why)  # fmt: skip
        return lsn_checks.lsn_limit(pos, self.cfg.lsn_margin_bytes)

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        started = datetime.now(timezone.utc)
        steps = Steps(time.monotonic())
        env = dec.parse_envelope(batch)
        limit = self._lsn_limit(batch_id)
        inverted: tuple = ()
        classified = transform.classify(dec.decode(env, self.registry.known()), limit)
        steps.mark("plan")
        classified = classified.persist()
        try:
            st = _users_stats(classified)
            steps.mark("decode")
            redo = bool(st["unknown_ids"]) and self._fetch(st["unknown_ids"])  # a schema registered since we looked
            if st["inverted"]:
                # Records the per-key order check refuses (rare: a relay restart
                # cut by the batch's end, or a forged or buggy LSN).
                inverted = tuple((int(r["src_partition"]), int(r["src_offset"])) for r in st["inverted"])
                log.warning("users batch %d: %d record(s) refused, us.lsn not monotonic per key (partition/offset: "
                            "%s)", batch_id, len(inverted), ", ".join(f"{p}/{o}" for p, o in inverted[:20]))  # fmt: skip
                redo = True
            if redo:
                classified.unpersist()
                classified = transform.classify(dec.decode(env, self.registry.known()), limit, inverted).persist()
                st = _users_stats(classified)
                steps.mark("redecode")
            if st["n"]:
                self._write(classified, st, batch_id, started, steps)
        finally:
            classified.unpersist()

    def _fetch(self, ids) -> bool:
        found = False
        for sid in ids:
            if 0 <= sid <= 0x7FFFFFFF and self.registry.schema_by_id(int(sid)) is not None:
                found = True
        return found

    def _write(self, classified, st, batch_id, started, steps) -> None:
        cfg = self.cfg
        if st["rejects"]:
            sinks.write_dlq(transform.rejected(classified), cfg.kafka_bootstrap, cfg.dlq_topic,
                            auth.kafka_java_options(cfg.kafka_client_file))
            # their keys, once the topic has them: the reconciliation's "dead letters"
            self.progress.dead_letters(sinks.dead_letter_keys(transform.rejected(classified)))
            steps.mark("dlq")
        good = transform.good(classified)
        upsert_src = pii.with_key(good.where(~F.col("is_tombstone")), self.keys)
        users_all = transform.user_rows(upsert_src, pii.hmac_column, cfg.pii_mode, keep=("op", "unchanged"))
        n_deletes = 0
        simple = st["ud"] == 0
        if simple:
            # Inserts and snapshot rows only (the usual case): no index key
            # can be stale and nothing is deleted. A user twice in the batch
            # is a replay of the same image (same write timestamp): writing
            # both is harmless, so no dedupe shuffle.
            # Every row is a sign-up: its signup_events key goes on the users row
            # in the same write (docs/lifecycle.md: erasure finds it there).
            winners = transform.with_signup_key(users_all).persist()
        else:
            tombstones = transform.delete_rows(good.where(F.col("op") == "d"))
            changes = users_all.unionByName(tombstones, allowMissingColumns=True)
            winners = transform.latest_per_user(changes).persist()
        try:
            erased_windows = []
            if not simple:
                self._delete_stale_index_rows(users_all, winners)
                # Every delete of the batch, the winning ones and those a later
                # insert of the same id superseded, erases the sign-ups before
                # it: those Cassandra holds and those of this batch. Before the
                # batch's sign-up keys go over the stored ones (a replay after a
                # crash in between finds the same keys); the erasing DELETEs are
                # stamped with the delete's version, so the batch's own
                # sign-up rows, written below at lower versions, stay erased.
                erased_windows = self._erase_signups(
                    tombstones.select("user_id", "writetime"), transform.signup_key_rows(good)
                )
                steps.mark("stale")
            upserts = winners.where(F.col("op") != "d")
            n_upserts = (st["good"] - st["ud"]) if simple else upserts.count()
            if st["partial"]:
                # Rows the relay sent without some (unchanged TOASTed) columns:
                # those are NULL here and must not be written as NULL.
                parts = [(upserts.where(F.col("unchanged").isNull()), False),
                         (upserts.where(F.col("unchanged").isNotNull()), True)]  # fmt: skip
            else:
                parts = [(upserts, False)]
            windows = [sinks.SignupWindow(int(w["minute_ms"]), w["country_code"]) for w in st["signup_windows"]]
            windows += erased_windows
            extra = [(transform.signup_rows(good), "signup_events")] if windows else []
            if windows and not simple:
                # The winner may be an update or a delete: the sign-up keys are
                # written on their own (these columns only, at the sign-up's version).
                extra.append((transform.signup_key_rows(good), "users"))
            kill_point("signups-before-write")
            for part, ignore_nulls in parts:
                self._upsert(part.drop("op", "unchanged"), ignore_nulls, steps, extra)
                extra = []  # once
            kill_point("signups-after-write")
            if not simple:
                dels = winners.where(F.col("op") == "d").select("user_id", "writetime").collect()
                n_deletes = self.deleter.execute(sinks.user_deletes(dels))
                steps.mark("deletes")
        finally:
            winners.unpersist()
        if st["truncate_version"] is not None:
            n_deletes += self._truncate(int(st["truncate_version"]))
            steps.mark("truncate")
        n_signups = self._count_signups(windows)
        steps.mark("signups")
        done_ms = time.time() * 1000.0
        p01, p50 = (st["pcts"] or [None, None])[:2]

        def lat(us):  # commit -> written, for a record committed at `us`
            return None if us is None else max(0.0, done_ms - us / 1000.0)

        self.progress.write(
            {
                "query_name": cfg.query_prefix + "users",
                "batch_id": batch_id,
                "started_at": started,
                "finished_at": datetime.now(timezone.utc),
                "duration_ms": steps.total_ms(),
                "input_rows": st["n"],
                "upserts": n_upserts,
                "deletes": n_deletes,
                "dead_letters": st["rejects"] or 0,
                "superseded": (st["good"] or 0) - n_upserts - n_deletes,
                "min_commit_ts": _ts(st["min_us"]),
                "max_commit_ts": _ts(st["max_us"]),
                "max_commit_lsn": st["max_lsn"],
                "latency_p50_ms": lat(p50),
                "latency_p99_ms": lat(p01),
                "latency_max_ms": lat(st["min_us"]),
                "start_offsets": None,  # filled in by ProgressListener
                "end_offsets": None,
            }
        )
        steps.mark("progress")
        log.info(
            "users batch %d: %d records, %d upserts, %d deletes, %d dead letters, %d sign-up windows "
            "(%d sign-ups in them), %d ms (%s)",
            batch_id, st["n"], n_upserts, n_deletes, st["rejects"] or 0, len(windows), n_signups,
            steps.total_ms(), steps,
        )  # fmt: skip
        kill_point("batch-end")

    def _erase_signups(self, deletes: DataFrame, batch_keys: DataFrame) -> list:
        """The signup_events rows of the users this batch deletes (`deletes`:
        user_id, writetime), found by the keys on their users rows and the
        batch's own sign-up keys (`batch_keys`): each replaced by a placeholder
        that keeps the window's count (docs/lifecycle.md). Returns their
        windows, recounted with the batch's own (the count stays)."""
        stored = (
            sinks.read_cassandra(self.spark, self.cfg.keyspace, "users", direct_join=True)
            .select("user_id", *transform.SIGNUP_KEY_COLUMNS)
            .join(deletes.select("user_id").distinct(), "user_id")  # per-key reads, as for the stale index rows
        )
        keys = stored.unionByName(batch_keys.select("user_id", *transform.SIGNUP_KEY_COLUMNS))
        erased = sinks.erased_signups(transform.erased_signups(keys, deletes).collect())
        self.deleter.erase_signups(erased)
        return [e.window() for e in erased]

    def _count_signups(self, windows) -> int:
        """Recounts every sign-up window this batch wrote into (its rows are
        in Cassandra by now) and writes the counts: idempotent, so a replay
        of the batch, or of any of its records later, writes the same."""
        counts = self.signups.read(windows)
        half = len(counts) // 2
        self.signups.write(counts[:half])
        kill_point("signups-mid-counts")
        self.signups.write(counts[half:])
        return sum(n for _, n, _ in counts)

    def _upsert(self, users: DataFrame, ignore_nulls: bool, steps, extra=()) -> None:
        """The three tables (and `extra` (frame, table) writes: the batch's
        sign-up rows) are written by concurrent Spark jobs: they are
        independent, and each mostly waits on Cassandra, so overlapping them
        hides the jobs' scheduling and I/O time. All must succeed."""
        ks = self.cfg.keyspace
        writes = [
            (users, "users", ignore_nulls),
            (transform.email_index_rows(users), "users_by_email_hash", ignore_nulls),
            (transform.country_index_rows(users), "users_by_country", ignore_nulls),
        ] + [(df, table, False) for df, table in extra]
        steps.mark("wplan")
        with ThreadPoolExecutor(max_workers=len(writes)) as pool:
            futures = [pool.submit(sinks.write_cassandra, df, ks, table, ignore_nulls=nulls)
                       for df, table, nulls in writes]  # fmt: skip
            for f in futures:
                f.result()
        steps.mark("cassandra")

    def _truncate(self, version: int) -> int:
        """TRUNCATE staging.users reached us as a marker: delete every user
        (and its index rows, and its id in its sign-up row) stamped with the
        marker's version, so whatever was written before it goes and whatever
        came after it stays. Cassandra has no timestamped TRUNCATE, hence a
        scan with one delete per key, streamed through the driver: slow for
        millions of users, and rare. The sign-up counts stay as they are
        (placeholders), so their windows need no recount."""
        users = sinks.read_cassandra(self.spark, self.cfg.keyspace, "users")
        cols = ("user_id", "email_hmac", "country_code", *transform.SIGNUP_KEY_COLUMNS)
        n, index, erased, ids = 0, [], [], []
        for r in users.select(*cols).toLocalIterator():
            cand = {"user_id": r["user_id"], "w_version": version, "w_op": "d",
                    "old_email_hmac": r["email_hmac"], "old_country_code": r["country_code"]}  # fmt: skip
            index += sinks.index_deletes([cand])
            if r["signup_version"] is not None and r["signup_version"] < version:
                erased += sinks.erased_signups([{
                    "user_id": r["user_id"], "minute_ms": int(r["signup_minute"].timestamp() * 1000),
                    "signup_country": r["signup_country"], "signup_lsn": r["signup_lsn"],
                    "signup_version": r["signup_version"], "delete_version": version}])  # fmt: skip
            ids.append(r["user_id"])
            n += 1
            if len(ids) >= 1000:
                self._truncate_flush(index, erased, ids, version)
                index, erased, ids = [], [], []
        self._truncate_flush(index, erased, ids, version)
        log.info("truncate marker at version %d: %d users deleted", version, n)
        return n

    def _truncate_flush(self, index, erased, ids, version) -> None:
        """Index rows and sign-up rows first, then the users rows that led to them."""
        self.deleter.execute(index)
        self.deleter.erase_signups(erased)
        self.deleter.execute([sinks.Delete("users", (uid,), version) for uid in ids])

    def _delete_stale_index_rows(self, users_all: DataFrame, winners: DataFrame) -> None:
        cfg = self.cfg
        rows = transform.stale_index_candidates(users_all, winners).collect()
        ud = winners.where(F.col("op").isin("u", "d")).select("user_id")
        current = (
            sinks.read_cassandra(self.spark, cfg.keyspace, "users", direct_join=True)
            .select("user_id", "email_hmac", "country_code")
            .join(ud, "user_id")  # per-key reads through the connector, not a scan
        )
        rows += transform.stale_index_candidates(current, winners, earlier_only=False).collect()
        self.deleter.execute(sinks.index_deletes(rows))


def _users_stats(classified: DataFrame):
    """One pass over the batch: counts, schema ids nobody knew, the
    commit-time percentiles from which latencies follow (latency is
    decreasing in commit time: p99 latency = written - p1 commit time), and
    the records the per-key us.lsn order check refuses (`inverted`: a window
    per (partition, key) over the few columns this pass reads; its offsets
    become a rule of classify)."""
    narrow = classified.select(*_users_stats_inputs())  # what crosses the window's shuffle: no `rec`, no bytes
    checked = lsn_checks.with_order_check(narrow, "_inverted")
    return checked.agg(*_users_stats_columns()).collect()[0]


@jvm_lookups.cached_columns
def _users_stats_inputs() -> tuple:
    cols = ("src_partition", "src_offset", "key_text", "lsn", "op", "unchanged", "version", "commit_ts",
            "schema_id", "decode_error", "reject_reason")  # fmt: skip
    return (*[F.col(c) for c in cols], transform.signup_window_key().alias("_signup_key"))


@jvm_lookups.cached_columns
def _users_stats_columns() -> tuple:
    ok = F.col("reject_reason").isNull()
    us = F.unix_micros(F.col("commit_ts"))
    unknown = F.col("decode_error").startswith("unknown schema id")
    return (
        F.count(F.lit(1)).alias("n"),
        F.sum(F.when(~ok, 1).otherwise(0)).alias("rejects"),
        F.sum(F.when(ok, 1).otherwise(0)).alias("good"),
        F.sum(F.when(ok & F.col("op").isin("u", "d"), 1).otherwise(0)).alias("ud"),
        F.sum(F.when(ok & F.col("unchanged").isNotNull(), 1).otherwise(0)).alias("partial"),
        F.max(F.when(ok & (F.col("op") == "t"), F.col("version"))).alias("truncate_version"),
        F.collect_set(F.when(unknown, F.col("schema_id"))).alias("unknown_ids"),
        # accuracy 1000 = rank error 0.1%: plenty for latencies, and far
        # cheaper than the default 10000 (seconds of CPU per batch here).
        F.percentile_approx(us, [0.01, 0.5], 1000).alias("pcts"),
        F.min(us).alias("min_us"),
        F.max(us).alias("max_us"),
        F.max(F.when(ok, F.col("lsn"))).alias("max_lsn"),
        F.collect_set(F.when(ok, F.col("_signup_key"))).alias("signup_windows"),
        F.collect_list(F.when(F.col("_inverted"), F.struct("src_partition", "src_offset"))).alias("inverted"),
    )


class Steps:
    """Milliseconds spent per step of a batch, for the log line."""

    def __init__(self, t0: float):
        self.last = t0
        self.done: list[tuple[str, float]] = []

    def mark(self, name: str) -> None:
        now = time.monotonic()
        self.done.append((name, (now - self.last) * 1000))
        self.last = now

    def total_ms(self) -> int:
        return int(sum(ms for _, ms in self.done))

    def __str__(self) -> str:
        return " ".join(f"{n}={ms:.0f}" for n, ms in self.done)


def _ts(us):
    return None if us is None else datetime.fromtimestamp(us / 1e6, tz=timezone.utc)


def start_users_query(spark, cfg, registry, keys, progress, available_now=False):
    w = (
        kafka_stream(spark, cfg)
        .writeStream.queryName(cfg.query_prefix + "users")
        .option("checkpointLocation", os.path.join(cfg.checkpoint_dir, "users"))
        .foreachBatch(UsersBatch(spark, cfg, registry, keys, progress))
    )
    if available_now:
        w = w.trigger(availableNow=True)
    elif cfg.trigger_ms > 0:
        w = w.trigger(processingTime=f"{cfg.trigger_ms} milliseconds")
    return w.start()


# ---------------------------------------------------------------- test hooks


_kill_seen: dict[str, int] = {}


def kill_point(name: str) -> None:
    """Test-only: kill -9 of this driver (its JVM, then this Python process)
    when US_SPARK_TEST_KILL_AT names this point ("POINT" or "POINT@N": the Nth
    time it is reached in this process), after appending the spec to
    $US_HOME/test-kills.log. Without the variable it does nothing."""
    spec = os.environ.get(KILL_AT_ENV)
    if not spec:
        return
    point, _, nth = spec.partition("@")
    if point not in KILL_POINTS:
        raise ValueError(f"{KILL_AT_ENV}={spec!r}: the point must be one of {', '.join(KILL_POINTS)}")
    if point != name:
        return
    _kill_seen[name] = _kill_seen.get(name, 0) + 1
    if _kill_seen[name] >= int(nth or 1):
        # Our stderr reaches the log through the JVM, which dies first: the
        # test reads this file instead ($US_HOME is the test's own directory).
        with open(os.path.join(os.environ.get("US_HOME", "."), "test-kills.log"), "a") as f:
            f.write(f"{spec}\n")
            f.flush()
            os.fsync(f.fileno())
        os.kill(os.getppid(), signal.SIGKILL)  # the driver JVM (spark-submit) that runs this Python
        os.kill(os.getpid(), signal.SIGKILL)


# ---------------------------------------------------------------- driver


class Driver:
    """Starts the query, stops it on SIGTERM/SIGINT (handlers only set a flag)."""

    def __init__(self, spark, cfg, available_now):
        self.spark = spark
        self.cfg = cfg
        self.available_now = available_now
        self.registry = Registry(cfg.registry_url)
        self.stop_requested = threading.Event()
        self.queries = {}

    def start(self) -> None:
        cfg = self.cfg
        keys = pii.key_frame(self.spark, pii.load_key(cfg.pii_key_file))
        self.registry.subject_schema_ids(cfg.subject)  # every version known so far
        self.spark.streams.addListener(sinks.ProgressListener(cfg.pg_conninfo, (cfg.query_prefix + "users",)))
        self.queries["users"] = start_users_query(
            self.spark, cfg, self.registry, keys, sinks.ProgressWriter(cfg.pg_conninfo), self.available_now
        )

    def run(self) -> int:
        q = self.queries["users"]
        while True:
            if self.stop_requested.is_set():
                log.info("stopping (signal)")
                q.stop()
                return 0
            try:
                if q.awaitTermination(1):
                    break
            except Exception as e:  # StreamingQueryException from the failed query
                err = str(e)
                loss = data_loss_reason(err)
                if loss:
                    return self._stop_for_data_loss(loss)
                log.error("the streaming query failed: %s", err.splitlines()[0] if err else e)
                return 1
        if self.available_now:
            return 0
        log.error("query stopped: users")
        return 1


    def _stop_for_data_loss(self, reason: str) -> int:
        """Kafka no longer holds offsets the job has not read: a restart would
        fail the same way, and reading on would skip them silently. Exit
        EXIT_DATA_LOSS (not restarted by the service) with the reason in the
        log and in ops.stream_stops (the console's "stopped" alert)."""
        name = self.cfg.query_prefix + "users"
        log.error("DATA LOSS, stopping for good (exit %d): %s. What was deleted from %s never reached "
                  "Cassandra; see docs/spark.md, \"Data loss\", to recover.", EXIT_DATA_LOSS, reason,
                  self.cfg.topic)  # fmt: skip
        try:
            sinks.record_stop(self.cfg.pg_conninfo, name, EXIT_DATA_LOSS, f"data loss in {self.cfg.topic}: {reason}")
        except Exception as e:  # noqa: BLE001 - the log line above is the record of last resort
            log.error("could not record the stop in ops.stream_stops: %s", e)
        return EXIT_DATA_LOSS


# Spark's Kafka source with failOnDataLoss=true: every data-loss error says
# how to turn the check off (KafkaSourceProvider's INSTRUCTION_FOR_FAIL_ON_DATA_LOSS_TRUE,
# or the KAFKA_DATA_LOSS error class's text), wrapped over lines.
_DATA_LOSS = re.compile(r'KAFKA_DATA_LOSS|failOnDataLoss"? to "?false')


def data_loss_reason(err: str) -> Optional[str]:
    """What Spark says was lost, from a failed query's error text (one line,
    at most 500 characters), or None when the failure is something else."""
    text = " ".join(err.split())
    m = _DATA_LOSS.search(text)
    if not m:
        return None
    reason = re.search(r"Reason: (.*?)(?: at org\.apache| at java\.|$)", text[m.start():])
    if reason:
        return reason.group(1).strip().rstrip(".")[:500]
    head = text[: text.find("Some data may have been")] if "Some data may have been" in text else text[: m.start()]
    return head.rsplit("Exception: ", 1)[-1].strip().rstrip(".")[:500] or "failOnDataLoss"


def parse_args(argv):
    p = argparse.ArgumentParser(prog="userstream-spark", description=__doc__.split("\n\n")[0])
    p.add_argument("--master", help="Spark master URL (default: whatever spark-submit set, else local[2])")
    p.add_argument("--available-now", action="store_true",
                   help="process what Kafka holds now, then stop (deterministic stop for tests)")
    p.add_argument("--init-key", action="store_true",
                   help="create the PII key file if missing, then exit")
    p.add_argument("--restore-signup-keys", action="store_true",
                   help="write the sign-up key of every user in `users` from signup_events, then exit "
                        "(after `rebuild --truncate`: docs/lifecycle.md)")
    return p.parse_args(argv)


def restore_signup_keys(spark, cfg) -> int:
    """The sign-up keys of the users rows from signup_events (a batch job). After
    `rebuild --truncate` the users rows come back from the compacted topic, where a
    user updated since its sign-up has no insert left: without its key, its erasure
    could not find its signup_events row. Only users present in `users` get one,
    written USING TIMESTAMP the sign-up's version, so a user deleted since keeps its
    tombstone; placeholder rows (erased users) are skipped. Both tables are scanned
    (a rebuild reads them whole anyway): a per-key Direct Join ran more reads at
    once than the one connection per node takes (the connector's 512 concurrent
    reads per task, several tasks) and failed with "No connection was available"."""
    events = sinks.read_cassandra(spark, cfg.keyspace, "signup_events").where(
        ~F.col("user_id").startswith(sinks.PLACEHOLDER_PREFIX))
    users = sinks.read_cassandra(spark, cfg.keyspace, "users").select("user_id")
    keys = events.join(users, "user_id").select(
        "user_id",
        F.col("minute").alias("signup_minute"),
        F.col("country_code").alias("signup_country"),
        F.col("commit_lsn").alias("signup_lsn"),
        F.col("version").alias("signup_version"),
        F.col("version").alias("writetime"),
    ).persist()  # fmt: skip
    try:
        n = keys.count()
        sinks.write_cassandra(keys, cfg.keyspace, "users")
    finally:
        keys.unpersist()
    log.info("sign-up keys restored on %d users rows", n)
    return n


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)  # fmt: skip
    logging.getLogger("py4j").setLevel(logging.WARNING)  # a line per listener callback otherwise
    args = parse_args(argv if argv is not None else sys.argv[1:])
    try:
        conf = config_mod.load()
        cfg = config_mod.JobConfig.from_conf(conf)
        # libpq reads the ops role's password there (the service exports it too).
        os.environ.setdefault("PGPASSFILE", os.path.join(conf["US_SECRETS_DIR"], "pgpass-" + conf.get("US_PG_OPS_USER", "ops")))
    except (config_mod.ConfigError, KeyError, ValueError) as e:
        print(f"userstream-spark: configuration: {e}", file=sys.stderr)
        return 2
    if args.init_key:
        created = pii.generate_key_file(cfg.pii_key_file)
        print(f"userstream-spark: PII key file {cfg.pii_key_file} {'created' if created else 'exists'}")
        return 0
    if os.environ.get(KILL_AT_ENV, "").partition("@")[0] not in ("", *KILL_POINTS):
        print(f"userstream-spark: {KILL_AT_ENV} must name one of {', '.join(KILL_POINTS)}", file=sys.stderr)
        return 2
    # A second instance (a rebuild, a test) names its own marker: the service's
    # readiness check reads job.ready.
    marker = os.path.join(cfg.state_dir, "spark", cfg.query_prefix + "job.ready")
    _remove(marker)
    spark = build_session(cfg, args.master)
    spark.sparkContext.setLogLevel("WARN")
    ship_package(spark, os.path.join(cfg.state_dir, "spark"))
    if args.restore_signup_keys:
        restore_signup_keys(spark, cfg)
        spark.stop()
        return 0
    driver = Driver(spark, cfg, args.available_now)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: driver.stop_requested.set())
    try:
        driver.start()
    except (pii.KeyError_, config_mod.ConfigError) as e:
        print(f"userstream-spark: {e}", file=sys.stderr)
        return 2
    _write_marker(marker, spark, driver)
    try:
        rc = driver.run()
    finally:
        _remove(marker)
    spark.stop()
    return rc


def _write_marker(path: str, spark, driver) -> None:
    """What the service's readiness check reads: the queries have started."""
    doc = {
        "pid": os.getpid(),
        "app_id": spark.sparkContext.applicationId,
        "queries": {n: str(q.id) for n, q in driver.queries.items()},
    }
    with open(path + ".tmp", "w") as f:
        json.dump(doc, f)
    os.replace(path + ".tmp", path)


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


if __name__ == "__main__":
    sys.exit(main())
