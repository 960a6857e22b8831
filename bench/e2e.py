"""bench/e2e.py: end-to-end numbers of the whole pipeline, on the running stack.

    ./userstream run            # the stack and the pipeline programs
    ./userstream airflow dags pause userstream_ingest   # nothing else writes meanwhile
    $US_VENV/bin/python bench/e2e.py throughput [--users 100000 --runs 3]
    $US_VENV/bin/python bench/e2e.py latency [--rate 1000 --seconds 60]
    $US_VENV/bin/python bench/e2e.py catchup [--users 200000 --rate 500 --after 90]
    $US_VENV/bin/python bench/e2e.py seed [--users 30000]

throughput  userstream-load fetches N users from userstream-source (pages of
            5,000, 4 concurrent fetches, a fresh seed) into PostgreSQL; the
            relay streams them to Kafka; the spark_job service writes them to
            Cassandra. users/s = N / (loader start -> the end of the Spark batch
            that completes them, from ops.stream_progress); also the loader's
            own rate and the Spark stage's (its first batch's start -> last end).
latency     userstream-load --follow --rate R (R/10 users per page, 10 commits
            a second) for S seconds; afterwards every record of the run is
            read back from Kafka with its us.commit_ts header (the PostgreSQL
            commit time the relay read from the WAL) and matched, by
            partition and offset, to the Spark batch that wrote it:
            latency = batch finished (Cassandra written) - commit time;
            p50/p99/max over all records. Per hop, for the same records:
              source_to_commit        fetched_at of the user's staging row (the
                                      loader's clock when the page's HTTP
                                      response had arrived) -> us.commit_ts
              commit_to_kafka         us.commit_ts -> the record's Kafka
                                      timestamp (its type, CreateTime or
                                      LogAppendTime, is in the output: with
                                      CreateTime it is the relay's produce call,
                                      not the broker's ack)
              kafka_to_batch_start    Kafka timestamp -> started_at of the batch
                                      (when the job's foreachBatch function
                                      began: Spark had fixed its offsets)
              batch_start_to_written  started_at -> finished_at of that batch
                                      (all its Cassandra writes acknowledged)

            Both throughput and latency also report the CPU-seconds of every process of the stack, by service,
over the run (loader start -> the last batch done) and per 100,000 users
(bench/stack_cpu.py: /proc utime+stime, children excluded), with the Spark
stage = spark_job (driver) + spark_executor + cassandra; a table goes to
stderr, the numbers into the JSON line. userstream-load is the bench's own
child and is reported beside them (loader_cpu_s_per_100k).

catchup     stops spark_job, stages N users (the backlog) and waits until the
            relay has them in Kafka; then a paced load (--rate users/s, pages as
            latency makes them) while spark_job restarts, until --after
            seconds past the batch that clears the backlog. Per batch (from
            ops.stream_progress): rows, duration, p99 commit -> Cassandra; the
            batch that clears the backlog (its end offsets reach the Kafka
            end marks after staging); the catch-up rate (rows up to that batch
            / time from the restart, and from the first batch's start); how
            long after that until every later batch's p99 is under 1 s (null:
            never, see settled_p99_ms, the median of the last 5); the stack's
            CPU from the restart to the last batch, per 100k users.

seed        the seed project's design on the same engines, our code: one
            HTTP request per user to userstream-source (a new connection each,
            like requests.get), the flattened JSON straight to Kafka, a Spark
            job from_json -> Cassandra (bench/e2e_seed_job.py); users/s from the
            first request to the last row in Cassandra.

Prints one JSON line per result.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from typing import Optional

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "spark"))
from userstream_spark import auth  # noqa: E402 - the credentials readers of the job

sys.path.insert(0, HERE)
import stack_cpu  # noqa: E402 - CPU-seconds per process group of the stack


def kafka_conf(cfg) -> dict:
    """confluent_kafka settings as the stack's Kafka admin (SCRAM-SHA-512)."""
    return {"bootstrap.servers": cfg["US_KAFKA_BOOTSTRAP"], **auth.kafka_librdkafka_conf(cfg.get("US_KAFKA_ADMIN_CLIENT_FILE", ""))}
ROOT = os.path.dirname(HERE)
LOADER = os.path.join(ROOT, "build", "src", "load", "userstream-load")


def env() -> dict:
    """The stack's effective configuration (stack/lib/us_config.py)."""
    sys.path.insert(0, os.path.join(ROOT, "stack", "lib"))
    import us_config

    return us_config.load()


def supervisorctl(cfg, *args):
    conf = os.path.join(cfg["US_HOME"], "supervisor", "supervisord.conf")
    return subprocess.run([os.path.join(cfg["US_VENV"], "bin", "supervisorctl"), "-c", conf, *args],
                          capture_output=True, text=True)  # fmt: skip


def psql(cfg, sql):
    return subprocess.run(["psql", "-h", cfg["US_PG_HOST"], "-p", cfg["US_PG_PORT"], "-U", cfg["US_PG_OPS_USER"],
                           "-d", cfg["US_PG_DATABASE"], "-w", "-X", "-At", "-c", sql],
                          capture_output=True, text=True, check=True, env=dict(os.environ, PGPASSFILE=cfg["PGPASSFILE"])
                          ).stdout  # fmt: skip


def last_batch(cfg) -> int:
    return int(psql(cfg, "SELECT coalesce(max(batch_id), -1) FROM ops.stream_progress WHERE query_name = 'users'"))


def processed_since(cfg, batch) -> int:
    return int(psql(cfg, "SELECT coalesce(sum(input_rows), 0) FROM ops.stream_progress "
                         f"WHERE query_name = 'users' AND batch_id > {batch}"))  # fmt: skip


def wait_processed(cfg, batch, n, timeout=1800):
    """Until the users query has processed n records in batches after `batch`."""
    deadline = time.time() + timeout
    while processed_since(cfg, batch) < n:
        if time.time() > deadline:
            raise SystemExit(f"the Spark job processed {processed_since(cfg, batch)} of {n} records in {timeout}s")
        time.sleep(0.5)


def wait_offsets(cfg, batch, timeout=60):
    """Until every users batch after `batch` has its Kafka offsets: the
    ProgressListener adds them to the row right after the batch."""
    deadline = time.time() + timeout
    sql = ("SELECT count(*) FROM ops.stream_progress WHERE query_name = 'users' "
           f"AND batch_id > {batch} AND input_rows > 0 AND end_offsets IS NULL")  # fmt: skip
    while int(psql(cfg, sql)) > 0:
        if time.time() > deadline:
            raise SystemExit(f"batches after {batch} still have no offsets in ops.stream_progress after {timeout}s")
        time.sleep(0.2)


def load(cfg, *args) -> dict:
    """Runs userstream-load; its summary line + "cpu_s", its own CPU time
    (rusage of the reaped child: the bench's psql polls are other children)."""
    import tempfile

    env = dict(os.environ, **{k: v for k, v in cfg.items() if k.startswith("US_") or k == "PGPASSFILE"})
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        p = subprocess.Popen([LOADER, *args], env=env, stdout=out, stderr=err, text=True)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    lines = [x for x in stdout.splitlines() if x.startswith("{")]
    if p.returncode != 0 or not lines:
        raise SystemExit(f"userstream-load exited {p.returncode}: {stderr[-2000:]}")
    return dict(json.loads(lines[-1]), cpu_s=ru.ru_utime + ru.ru_stime)


def cpu_report(cpu: stack_cpu.StackCpu, users: int, loader_cpu: float, title: str) -> dict:
    """Stops the sampler; prints the table to stderr; the JSON fields of the result."""
    used = cpu.stop()
    print(stack_cpu.table(title, used, users, cpu.wall), file=sys.stderr, flush=True)
    per = stack_cpu.per_100k(used, users)
    print(f"  (userstream-load, the bench's child: {loader_cpu:.1f} CPU s, "
          f"{loader_cpu * 100000 / max(1, users):.1f} per 100k)", file=sys.stderr, flush=True)  # fmt: skip
    return {"cpu_s": {g: round(v, 2) for g, v in used.items()}, "cpu_s_per_100k": per,
            "spark_stage_cpu_ms_per_user": round(per["spark_stage"] / 100.0, 3),
            "loader_cpu_s_per_100k": round(loader_cpu * 100000 / max(1, users), 2),
            "cpu_window_s": round(cpu.wall, 1)}  # fmt: skip


def cmd_throughput(cfg, a):
    for run in range(a.runs):
        before = last_batch(cfg)
        pages = max(1, a.users // 5000)
        n = pages * 5000
        cpu = stack_cpu.StackCpu(cfg).start()
        t0 = time.time()
        s = load(cfg, "--seed", f"bench-e2e-{uuid.uuid4().hex[:12]}", "--pages", str(pages), "--results", "5000",
                 "--run-id", f"bench-e2e-{run}")  # fmt: skip
        wait_processed(cfg, before, n)
        cpu_fields = cpu_report(cpu, n, s["cpu_s"], f"throughput run {run + 1}")
        row = psql(cfg, "SELECT extract(epoch FROM max(finished_at)), extract(epoch FROM min(started_at)), count(*) "
                        f"FROM ops.stream_progress WHERE query_name = 'users' AND batch_id > {before} "
                        "AND input_rows > 0").strip().split("|")  # fmt: skip
        end, first_start, batches = float(row[0]), float(row[1]), int(row[2])
        print(json.dumps({"bench": "throughput", "run": run + 1, "users": n, "staged": s["staged"],
                          "batches": batches, "seconds": round(end - t0, 1),
                          "users_per_s": round(n / (end - t0)),
                          "loader_users_per_s": round(s["users_per_second"]),
                          "spark_stage_users_per_s": round(n / (end - first_start)), **cpu_fields}),
              flush=True)  # fmt: skip


def kafka_marks(cfg) -> dict[int, int]:
    from confluent_kafka import Consumer, TopicPartition

    topic = cfg["US_KAFKA_TOPIC_USERS"]
    c = Consumer({**kafka_conf(cfg), "group.id": "bench-" + uuid.uuid4().hex})
    try:
        parts = c.list_topics(topic, timeout=10).topics[topic].partitions
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts}
    finally:
        c.close()


def kafka_records(cfg, start: dict[int, int], end: dict[int, int]) -> list[tuple]:
    """(partition, offset, us.commit_ts in microseconds, Kafka timestamp type,
    Kafka timestamp in ms, key) of every record in [start, end)."""
    from confluent_kafka import Consumer, TopicPartition

    topic = cfg["US_KAFKA_TOPIC_USERS"]
    c = Consumer({**kafka_conf(cfg), "group.id": "bench-" + uuid.uuid4().hex,
                  "enable.auto.commit": False})  # fmt: skip
    out, left = [], {p for p in end if end[p] > start.get(p, 0)}
    try:
        c.assign([TopicPartition(topic, p, start.get(p, 0)) for p in left])
        while left:
            msgs = c.consume(1000, timeout=10)
            if not msgs:
                break
            for m in msgs:
                if m.error() or m.offset() >= end[m.partition()]:
                    left.discard(m.partition())
                    continue
                h = dict(m.headers() or [])
                if h.get("us.commit_ts"):
                    ts_type, ts_ms = m.timestamp()
                    key = m.key().decode() if m.key() else None
                    out.append((m.partition(), m.offset(), int(h["us.commit_ts"]), ts_type, ts_ms, key))
                if m.offset() + 1 >= end[m.partition()]:
                    left.discard(m.partition())
        return out
    finally:
        c.close()


def topic_timestamp_type(cfg) -> str:
    """message.timestamp.type of the users topic (CreateTime: the producer's
    clock when the relay handed the record to librdkafka; LogAppendTime: the
    broker's when it appended it)."""
    from confluent_kafka.admin import AdminClient, ConfigResource

    admin = AdminClient(kafka_conf(cfg))
    res = ConfigResource(ConfigResource.Type.TOPIC, cfg["US_KAFKA_TOPIC_USERS"])
    for f in admin.describe_configs([res]).values():
        return f.result(30)["message.timestamp.type"].value
    return "unknown"


def fetch_times(cfg, seed: str) -> dict[str, int]:
    """user_id -> fetched_at (microseconds) of the users a run staged: the wall
    time at which userstream-load had received the page from the source."""
    rows = psql(cfg, "SELECT user_id, (extract(epoch FROM fetched_at) * 1000000)::bigint FROM staging.users "
                     f"WHERE source_seed = '{seed}'")  # fmt: skip
    out = {}
    for line in rows.splitlines():
        uid, us = line.split("|")
        out[uid] = int(us)
    return out


def pcts(values: list[float]) -> dict:
    """p50/p99/max in milliseconds (nearest rank) and the count."""
    v = sorted(values)

    def pct(q):
        return round(v[min(len(v) - 1, int(q * len(v)))]) if v else None

    return {"n": len(v), "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": pct(1.0)}


def cmd_latency(cfg, a):
    before_batch = last_batch(cfg)
    start = kafka_marks(cfg)
    per_page = max(1, a.rate // 10)
    pages = a.seconds * 10
    seed = f"lat-{uuid.uuid4().hex[:12]}"
    cpu = stack_cpu.StackCpu(cfg).start()
    s = load(cfg, "--seed", seed, "--follow", "--rate", str(a.rate), "--results",
             str(per_page), "--max-pages", str(pages), "--concurrency", "2", "--run-id", "bench-latency")  # fmt: skip
    wait_processed(cfg, before_batch, s["staged"])
    cpu_fields = cpu_report(cpu, s["staged"], s["cpu_s"], f"latency {a.rate} users/s for {a.seconds} s")
    wait_offsets(cfg, before_batch)
    end = kafka_marks(cfg)
    recs = kafka_records(cfg, start, end)
    rows = psql(cfg, "SELECT start_offsets, end_offsets, extract(epoch FROM started_at), "
                     "extract(epoch FROM finished_at) FROM ops.stream_progress "
                     f"WHERE query_name = 'users' AND batch_id > {before_batch} AND end_offsets IS NOT NULL")  # fmt: skip
    batches = []
    for line in rows.splitlines():
        so, eo, sta, fin = line.split("|")
        batches.append((json.loads(so), json.loads(eo), float(sta), float(fin)))
    fetched = fetch_times(cfg, seed)
    ts_type = topic_timestamp_type(cfg)
    hops = {"source_to_commit": [], "commit_to_kafka": [], "kafka_to_batch_start": [],
            "batch_start_to_written": [], "commit_to_written": []}  # fmt: skip
    for p, off, us, _, ts_ms, key in recs:
        for so, eo, sta, fin in batches:
            if int(so.get(str(p), -1)) <= off < int(eo.get(str(p), -1)):
                hops["commit_to_written"].append(fin * 1000 - us / 1000)
                hops["commit_to_kafka"].append(ts_ms - us / 1000)
                hops["kafka_to_batch_start"].append(sta * 1000 - ts_ms)
                hops["batch_start_to_written"].append((fin - sta) * 1000)
                if key in fetched:
                    hops["source_to_commit"].append((us - fetched[key]) / 1000)
                break
    total = pcts(hops["commit_to_written"])
    print(f"  per hop (ms; Kafka timestamps are {ts_type}):", file=sys.stderr)
    for name, v in hops.items():
        q = pcts(v)
        print(f"  {name:<24} n={q['n']:<7} p50={q['p50_ms']} p99={q['p99_ms']} max={q['max_ms']}",
              file=sys.stderr, flush=True)  # fmt: skip
    print(json.dumps({"bench": "latency", "rate": a.rate, "seconds": a.seconds, "staged": s["staged"],
                      "records": len(recs), "matched": total["n"], "batches": len(batches),
                      "p50_ms": total["p50_ms"], "p99_ms": total["p99_ms"], "max_ms": total["max_ms"],
                      "kafka_timestamp_type": ts_type,
                      "hops": {k: pcts(v) for k, v in hops.items()}, **cpu_fields}), flush=True)  # fmt: skip


def batch_rows(cfg, after: int) -> list[tuple]:
    """(batch_id, started_at, finished_at (epoch s), duration_ms, input_rows,
    latency_p99_ms, end_offsets) of the users batches after `after` with records."""
    rows = psql(cfg, "SELECT batch_id, extract(epoch FROM started_at), extract(epoch FROM finished_at), duration_ms, "
                     "input_rows, coalesce(latency_p99_ms, -1), coalesce(end_offsets::text, '{}') "
                     f"FROM ops.stream_progress WHERE query_name = 'users' AND batch_id > {after} "
                     "AND input_rows > 0 ORDER BY batch_id")  # fmt: skip
    out = []
    for line in rows.splitlines():
        b, sta, fin, dur, n, p99, eo = line.split("|")
        out.append((int(b), float(sta), float(fin), int(dur), int(n), float(p99), json.loads(eo)))
    return out


def cleared_by(batch: tuple, marks: dict[int, int]) -> bool:
    """Whether the batch's end offsets reach the Kafka end marks `marks`."""
    return all(int(batch[6].get(str(p), -1)) >= o for p, o in marks.items() if o > 0)


def program_setting(cfg, program: str, key: str) -> Optional[str]:
    """KEY as the running supervisord program holds it (its process's
    environment): what the job uses, which the bench's own environment (an
    exported `./userstream env`) may not say after userstream.conf changed."""
    for pid, name in stack_cpu.supervised_pids(cfg).items():
        if name != program:
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                for item in f.read().split(b"\0"):
                    k, _, v = item.decode(errors="replace").partition("=")
                    if k == key:
                        return v
        except OSError:
            pass
    return None


def cmd_catchup(cfg, a):
    """A backlog of N users staged while spark_job is stopped, then a paced
    load while the job restarts and catches up (docs/benchmarks.md, issue 13)."""
    supervisorctl(cfg, "stop", "spark_job")
    before = last_batch(cfg)
    start = kafka_marks(cfg)
    staged = 0
    if a.users > 0:
        s = load(cfg, "--seed", f"catchup-{uuid.uuid4().hex[:12]}", "--pages", str(max(1, a.users // 5000)),
                 "--results", "5000", "--run-id", "bench-catchup-backlog")  # fmt: skip
        staged = s["staged"]
    deadline = time.time() + 300
    while sum(kafka_marks(cfg).values()) - sum(start.values()) < staged:
        if time.time() > deadline:
            raise SystemExit("the backlog did not reach Kafka in 300 s")
        time.sleep(1)
    backlog_end = kafka_marks(cfg)
    # The backlog: every record the job has not processed (an earlier run's leftovers too).
    done = psql(cfg, "SELECT coalesce(end_offsets::text, '{}') FROM ops.stream_progress "
                     f"WHERE query_name = 'users' AND batch_id = {before}").strip() or "{}"  # fmt: skip
    committed = {int(p): int(o) for p, o in json.loads(done).items()}
    backlog = sum(max(0, o - committed.get(p, start.get(p, 0))) for p, o in backlog_end.items())
    cpu = stack_cpu.StackCpu(cfg).start()
    env = dict(os.environ, **{k: v for k, v in cfg.items() if k.startswith("US_") or k == "PGPASSFILE"})
    per_page = max(1, a.rate // 10)
    paced = subprocess.Popen([LOADER, "--seed", f"catchup-live-{uuid.uuid4().hex[:12]}", "--follow", "--rate",
                              str(a.rate), "--results", str(per_page), "--max-pages", "0",
                              "--concurrency", "2", "--run-id", "bench-catchup-live"],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    t_restart = time.time()
    r = supervisorctl(cfg, "start", "spark_job")
    cpu.refresh()
    if "started" not in r.stdout:
        print(f"supervisorctl start spark_job: {r.stdout.strip()} {r.stderr.strip()}", file=sys.stderr)
    bound = program_setting(cfg, "spark_job", "US_SPARK_MAX_OFFSETS_PER_TRIGGER")
    trigger = program_setting(cfg, "spark_job", "US_SPARK_TRIGGER_MS")
    # The paced load runs until --after seconds past the batch that clears the backlog.
    deadline = time.time() + a.timeout
    while not any(cleared_by(b, backlog_end) for b in batch_rows(cfg, before)):
        if time.time() > deadline or paced.poll() is not None:
            paced.terminate()
            raise SystemExit(f"the backlog was not cleared in {a.timeout} s (or the paced load exited)")
        time.sleep(2)
    time.sleep(a.after)
    paced.terminate()
    out, err = paced.communicate()
    lines = [x for x in out.splitlines() if x.startswith("{")]
    if not lines:
        raise SystemExit(f"the paced userstream-load exited {paced.returncode} without a summary: {err[-2000:]}")
    live = json.loads(lines[-1])["staged"]
    wait_processed(cfg, before, backlog + live)
    wait_offsets(cfg, before)
    cpu_fields = cpu_report(cpu, backlog + live, 0.0, f"catch-up of {backlog} + {live} paced at {a.rate}/s")
    batches = batch_rows(cfg, before)
    cleared = next(b for b in batches if cleared_by(b, backlog_end))
    first = batches[0]
    print(f"  batch    start_s  rows     dur_ms   p99_ms   (start_s: since the restart; * = backlog cleared)",
          file=sys.stderr)  # fmt: skip
    for b in batches:
        mark = "*" if b is cleared else " "
        print(f"  {b[0]:<6}{mark} {b[1] - t_restart:>7.1f}  {b[4]:<8} {b[3]:<8} {b[5]:<8.0f}", file=sys.stderr)
    after = [b for b in batches if b[0] > cleared[0]]
    under = next((b for b in after if 0 <= b[5] < 1000 and all(0 <= x[5] < 1000 for x in after if x[0] > b[0])),
                 None)  # fmt: skip
    upto = [b for b in batches if b[0] <= cleared[0]]
    tail = after[-5:]
    print(json.dumps({"bench": "catchup", "backlog": backlog, "paced_rate": a.rate, "paced_staged": live,
                      "max_offsets_per_trigger": int(bound or cfg.get("US_SPARK_MAX_OFFSETS_PER_TRIGGER", 0)),
                      "trigger_ms": int(trigger or cfg.get("US_SPARK_TRIGGER_MS", 0)),
                      "batches_to_clear": len(upto), "max_batch_rows": max(b[4] for b in upto),
                      "max_batch_ms": max(b[3] for b in upto),
                      "first_batch_s_after_restart": round(first[1] - t_restart, 1),
                      "cleared_s_after_restart": round(cleared[2] - t_restart, 1),
                      "catchup_users_per_s": round(sum(b[4] for b in upto) / (cleared[2] - t_restart)),
                      "catchup_users_per_s_from_first_batch": round(sum(b[4] for b in upto) / (cleared[2] - first[1])),
                      "p99_under_1s_s_after_clear": round(under[2] - cleared[2], 1) if under else None,
                      "settled_p99_ms": round(sorted(b[5] for b in tail)[len(tail) // 2]) if tail else None,
                      **cpu_fields}), flush=True)  # fmt: skip


def cmd_seed(cfg, a):
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    topic, ks = f"seed_users_created_{uuid.uuid4().hex[:8]}", "spark_streams"  # fresh topic: counts start at 0
    admin = AdminClient(kafka_conf(cfg))  # keep a reference: futures need it
    for f in admin.create_topics([NewTopic(topic, 1, 1)]).values():
        try:
            f.result(60)
        except Exception as e:  # noqa: BLE001 - it exists from an earlier run
            print(f"topic {topic}: {e}", file=sys.stderr)
    cq = [os.path.join(cfg["US_VENV"], "bin", "cqlsh"), cfg["US_CASSANDRA_HOST"], cfg["US_CASSANDRA_PORT"],
          "--credentials", cfg["US_CASSANDRA_ADMIN_CREDENTIALS"]]
    subprocess.run(cq + ["-e", f"CREATE KEYSPACE IF NOT EXISTS {ks} WITH replication = {{'class': "
                               "'SimpleStrategy', 'replication_factor': 1}; "
                               f"DROP TABLE IF EXISTS {ks}.created_users; "
                               f"CREATE TABLE {ks}.created_users (id uuid PRIMARY KEY, first_name text, "
                               "last_name text, gender text, address text, post_code text, email text, "
                               "username text, registered_date text, phone text, picture text);"],
                   check=True)  # fmt: skip
    port = a.source_port
    src = subprocess.Popen([os.path.join(ROOT, "build", "src", "source", "userstream-source"), "--port", str(port),
                            "--metrics-port", "0"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    supervisorctl(cfg, "stop", "spark_job")  # same Spark resources for the seed job
    job = subprocess.Popen([os.path.join(ROOT, "stack", "spark", "submit"), "--name", "seed-design",
                            os.path.join(HERE, "e2e_seed_job.py"), "--bootstrap", cfg["US_KAFKA_BOOTSTRAP"],
                            "--topic", topic, "--keyspace", ks, "--checkpoint", f"/tmp/seed-chk-{uuid.uuid4().hex}",
                            "--kafka-client-file", cfg.get("US_KAFKA_ADMIN_CLIENT_FILE", ""),
                            "--cassandra-credentials", cfg.get("US_CASSANDRA_ADMIN_CREDENTIALS", "")],
                           stdout=open("/tmp/seed-job.log", "w"), stderr=subprocess.STDOUT)  # fmt: skip
    try:
        time.sleep(3)
        p = Producer(kafka_conf(cfg))
        time.sleep(40)  # let the seed job start streaming before the clock starts
        t0 = time.time()
        for i in range(a.users):
            if job.poll() is not None:
                raise SystemExit(f"the seed job exited {job.returncode}; see /tmp/seed-job.log")
            # The seed's get_data + format_data: one user per request, flattened.
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/1.4/?seed=seedbench&page={i + 1}",
                                        timeout=10) as resp:  # fmt: skip
                res = json.load(resp)["results"][0]
            loc = res["location"]
            data = {"id": str(uuid.uuid4()), "first_name": res["name"]["first"], "last_name": res["name"]["last"],
                    "gender": res["gender"],
                    "address": f"{loc['street']['number']} {loc['street']['name']}, {loc['city']}, "
                               f"{loc['state']}, {loc['country']}",
                    "post_code": str(loc["postcode"]), "email": res["email"], "username": res["login"]["username"],
                    "dob": res["dob"]["date"], "registered_date": res["registered"]["date"], "phone": res["phone"],
                    "picture": res["picture"]["medium"]}  # fmt: skip
            p.produce(topic, json.dumps(data).encode())
            p.poll(0)
        p.flush()
        produce_s = time.time() - t0
        while True:
            out = subprocess.run(cq + ["-e", f"SELECT count(*) FROM {ks}.created_users"], capture_output=True,
                                 text=True).stdout  # fmt: skip
            got = int(next(x.strip() for x in out.splitlines() if x.strip().isdigit()))
            if got >= a.users or time.time() - t0 > 900 or job.poll() is not None:
                break
            time.sleep(1)
        total_s = time.time() - t0
        print(json.dumps({"bench": "seed", "users": a.users, "in_cassandra": got,
                          "producer_users_per_s": round(a.users / produce_s),
                          "end_to_end_users_per_s": round(got / total_s), "seconds": round(total_s, 1)}))  # fmt: skip
    finally:
        job.terminate()
        src.terminate()
        job.wait(60)
        src.wait(10)
        supervisorctl(cfg, "start", "spark_job")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("throughput")
    t.add_argument("--users", type=int, default=100000)
    t.add_argument("--runs", type=int, default=3)
    lat = sub.add_parser("latency")
    lat.add_argument("--rate", type=int, default=1000)
    lat.add_argument("--seconds", type=int, default=60)
    c = sub.add_parser("catchup")
    c.add_argument("--users", type=int, default=200000)
    c.add_argument("--rate", type=int, default=500)
    c.add_argument("--after", type=int, default=90, help="seconds of paced load after the backlog cleared")
    c.add_argument("--timeout", type=int, default=1800)
    s = sub.add_parser("seed")
    s.add_argument("--users", type=int, default=3000)
    s.add_argument("--source-port", type=int, default=18410)
    a = ap.parse_args()
    cfg = env()
    {"throughput": cmd_throughput, "latency": cmd_latency, "catchup": cmd_catchup, "seed": cmd_seed}[a.cmd](cfg, a)


if __name__ == "__main__":
    main()
