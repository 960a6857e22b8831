#!/usr/bin/env python3
"""userstream-relay vs Debezium 3.5 (PostgreSQL connector on Kafka Connect 4.1),
side by side in one run, on the same PostgreSQL and Kafka of a running stack.

    eval "$(./userstream env | sed 's/^/export /')"
    python3 bench/relay_vs_debezium.py [--rows 300000] [--rate 5000] [--seconds 60]

Both capture the same table (a copy of staging.users' shape) through pgoutput,
each with its own slot and publication, and both write Avro with the schema in
the stack's Apicurio registry (the relay through the Confluent-compatible API,
Debezium through Apicurio's own Kafka Connect converter, 2.6.13). Both topics have 4
partitions and message.timestamp.type=LogAppendTime, so a record's timestamp
is when the broker appended it.

Equal latency settings (stated in the output): producer linger.ms=5, lz4,
acks=all, idempotence on; Debezium poll.interval.ms=5 (its default 500 would
add up to half a second), max.batch.size 2048 / max.queue.size 8192 (defaults).

1. Throughput: the CDC process is stopped while ROWS rows are inserted (1,000 per
   transaction); then it is started and the rate is rows / (last append - first
   append), so start-up time (JVM, connector) is not counted against either.
2. Latency: with the CDC process running and warmed up (WARMUP seconds at the same
   rate, not measured), RATE rows/s for SECONDS seconds (100 rows per transaction);
   per row, broker append time - the time COMMIT returned to the load generator.
   p50/p99 over every row.
Resident memory (peak RSS) and CPU (user+system over wall time, and CPU-seconds)
are sampled from /proc for the CDC process only, during each phase; the stack's
own processes (Kafka, PostgreSQL, the registry) by bench/stack_cpu.py, as
CPU-seconds per 100,000 rows. The systems run one after the other, never at the
same time, on the 2 shared cores. --relay-only skips Debezium.

On a stack with authentication (US_KAFKA_ADMIN_CLIENT_FILE set, as
`./userstream env` prints it), the harness reads and creates its topics as the
Kafka admin (kcat -F, the wrapper's admin client properties), grants the relay's
principal what the stack grants it on the users topic (Write, Read, Describe),
on the bench topic only and for the run only, and runs the bench relay as the
pipeline's relay runs: its own Kafka client file and registry credentials, from
the same environment. Kafka Connect logs in as the admin (SCRAM-SHA-512) and
Apicurio's converter with the registry admin's basic-auth credentials. On a
stack without authentication nothing of this is used.
"""
import argparse
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.realpath(__file__))
REPO = os.path.dirname(HERE)
RELAY = os.environ.get("US_RELAY_BIN") or os.path.join(REPO, "build", "src", "relay", "userstream-relay")
TABLE = "staging.bench_cdc"
RELAY_TOPIC = "bench.relay.users"
DBZ_PREFIX = "bench"
DBZ_TOPIC = "bench.staging.bench_cdc"
DBZ_HEARTBEAT = "__debezium-heartbeat.bench"
CONNECT_PORT = 18383
RELAY_METRICS = 18384
RELAY_ACL = ("--operation", "Write", "--operation", "Read", "--operation", "Describe")
sys.path.insert(0, HERE)


def env(key):
    v = os.environ.get(key)
    if not v:
        sys.exit(f"{key} is not set: run with the stack's environment (./userstream env)")
    return v


def sh(args, **kw):
    kw.setdefault("check", True)
    return subprocess.run(args, capture_output=True, text=True, **kw)


def psql(sql, user=None):
    return sh(["psql", "-h", env("US_PG_HOST"), "-p", env("US_PG_PORT"), "-U", user or env("US_PG_ADMIN_USER"),
               "-d", env("US_PG_DATABASE"), "-w", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql]).stdout.strip()


def userstream(*args, check=True):
    return sh([os.path.join(env("US_ROOT"), "userstream"), *args], check=check)


def admin_client_file():
    """The Kafka admin's librdkafka file, or None on a stack without authentication."""
    f = os.environ.get("US_KAFKA_ADMIN_CLIENT_FILE")
    return f if f and os.path.isfile(f) else None


def kcat(*args, **kw):
    f = admin_client_file()
    return sh(["kcat", *(["-F", f] if f else []), "-b", env("US_KAFKA_BOOTSTRAP"), *args], **kw)


def client_props(path):
    props = {}
    for line in open(path):
        k, sep, v = line.strip().partition("=")
        if sep and not k.startswith("#"):
            props[k.strip()] = v.strip()
    return props


def relay_acl(action):
    """Adds (or removes) the relay principal's rights on the bench topic, as the admin."""
    cfg = os.path.join(env("US_HOME"), "kafka", "config", "admin-client.properties")
    userstream("kafka-run", "org.apache.kafka.tools.AclCommand", "--bootstrap-server", env("US_KAFKA_BOOTSTRAP"),
               "--command-config", cfg, action, "--force", "--allow-principal", "User:relay", *RELAY_ACL,
               "--topic", RELAY_TOPIC)


def pg_password(user):
    for line in open(env("PGPASSFILE")):
        f = line.rstrip("\n").split(":")
        if len(f) >= 5 and f[3] in (user, "*"):
            return ":".join(f[4:])
    sys.exit(f"no password for {user} in PGPASSFILE")


# ---------------------------------------------------------------- set-up

def fetch_debezium(cache):
    """Debezium's plugin and Apicurio's converter into CACHE/plugins (once)."""
    plugins = os.path.join(cache, "plugins")
    if os.path.isdir(os.path.join(plugins, "debezium-connector-postgres")):
        return plugins
    m2 = os.path.join(cache, "m2")
    dl = os.path.join(cache, "dl")
    pom = os.path.join(HERE, "debezium", "pom.xml")
    sh(["mvn", "-q", "-B", "-s", os.path.join(HERE, "debezium", "settings.xml"), f"-Dmaven.repo.local={m2}",
        "-f", pom, "dependency:copy-dependencies",
        f"-DoutputDirectory={dl}", "-DexcludeTypes=pom"])
    os.makedirs(plugins, exist_ok=True)
    tgz = glob.glob(os.path.join(dl, "debezium-connector-postgres-*-plugin.tar.gz"))[0]
    with tarfile.open(tgz) as t:
        t.extractall(plugins)
    conv = os.path.join(plugins, "apicurio-converter")
    os.makedirs(conv, exist_ok=True)
    # Only Apicurio's own dependencies: Kafka, Jackson and SLF4J come from
    # Connect, Debezium's jars from its plugin directory.
    provided = re.compile(r"^(debezium-|kafka-clients|connect-api|slf4j-|postgresql-|protobuf-java|"
                          r"jackson-(core|databind|annotations)-)")
    for jar in glob.glob(os.path.join(dl, "*.jar")):
        if not provided.match(os.path.basename(jar)):
            shutil.copy(jar, conv)
    return plugins


def kafka_lib():
    libs = glob.glob(os.path.join(env("US_CACHE"), "engines", "kafka-*", "lib"))
    if not libs:
        sys.exit("Kafka's lib dir not found under US_CACHE/engines")
    return libs[0]


def reset(work):
    for slot in ("bench_relay", "bench_dbz"):
        psql(f"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '{slot}'")
    psql(f"DROP PUBLICATION IF EXISTS bench_relay; DROP PUBLICATION IF EXISTS bench_dbz; DROP TABLE IF EXISTS {TABLE}")
    psql(f"CREATE TABLE {TABLE} (LIKE staging.users INCLUDING ALL); GRANT SELECT ON {TABLE} TO {env('US_PG_RELAY_USER')};"
         f"CREATE PUBLICATION bench_relay FOR TABLE {TABLE}; CREATE PUBLICATION bench_dbz FOR TABLE {TABLE}")
    psql(f"DELETE FROM ops.relay_slots WHERE slot_name = 'bench_relay'")
    for topic in (RELAY_TOPIC, DBZ_TOPIC, DBZ_HEARTBEAT):
        userstream("kafka-topics", "--delete", "--topic", topic, check=False)
    time.sleep(2)
    # Connect's producer blocks on a topic that does not exist (no auto-create).
    userstream("kafka-topics", "--create", "--topic", DBZ_HEARTBEAT, "--partitions", "1")
    for topic in (RELAY_TOPIC, DBZ_TOPIC):
        userstream("kafka-topics", "--create", "--topic", topic, "--partitions", "4",
                   "--config", "message.timestamp.type=LogAppendTime")
    if admin_client_file():
        relay_acl("--add")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)


def build_loadgen(work):
    out = os.path.join(work, "relay_bench_load")
    sh(["cc", "-O2", "-o", out, os.path.join(HERE, "relay_bench_load.c"), "-I/usr/include/postgresql", "-lpq"])
    return out


def conninfo(user):
    return f"host={env('US_PG_HOST')} port={env('US_PG_PORT')} dbname={env('US_PG_DATABASE')} user={user}"


def load(gen, work, first, rows, per, rate, name):
    out = os.path.join(work, f"{name}.commits")
    sh([gen, conninfo(env("US_PG_LOADER_USER")), TABLE, str(first), str(rows), str(per), str(rate), out])
    commits = {}
    for line in open(out):
        a, n, t = map(int, line.split())
        for g in range(a, a + n):
            commits[g] = t
    return commits


# ---------------------------------------------------------------- processes

def relay_env(extra=None):
    e = dict(os.environ)
    e.update({"US_RELAY_TABLE": TABLE, "US_RELAY_PUBLICATION": "bench_relay", "US_RELAY_SLOT": "bench_relay",
              "US_KAFKA_TOPIC_USERS": RELAY_TOPIC, "US_RELAY_METRICS_PORT": str(RELAY_METRICS),
              "US_RELAY_LINGER_MS": "5"})
    e.update(extra or {})
    return e


def start_relay(work, *args):
    log = open(os.path.join(work, "relay.log"), "a")
    return subprocess.Popen([RELAY, *args], env=relay_env(), stdout=log, stderr=subprocess.STDOUT)


def connect_files(work, plugins):
    pw = pg_password(env("US_PG_ADMIN_USER"))
    # Apicurio 2.6's converter (the 3.x converter jars are not served by the
    # registry mirror) speaks the registry's v2 API, which Apicurio 3 still serves.
    reg = re.sub(r"/apis/ccompat/v7/?$", "/apis/registry/v2", env("US_REGISTRY_URL"))
    worker = f"""bootstrap.servers={env('US_KAFKA_BOOTSTRAP')}
{connect_auth()}key.converter=org.apache.kafka.connect.storage.StringConverter
value.converter=io.apicurio.registry.utils.converter.AvroConverter
value.converter.apicurio.registry.url={reg}
value.converter.apicurio.registry.auto-register=true
value.converter.apicurio.registry.find-latest=true
offset.storage.file.filename={work}/connect.offsets
offset.flush.interval.ms=1000
plugin.path={plugins}
listeners=http://127.0.0.1:{CONNECT_PORT}
producer.linger.ms=5
producer.compression.type=lz4
producer.acks=all
producer.enable.idempotence=true
"""
    connector = f"""name=bench-dbz
connector.class=io.debezium.connector.postgresql.PostgresConnector
tasks.max=1
database.hostname={env('US_PG_HOST')}
database.port={env('US_PG_PORT')}
database.user={env('US_PG_ADMIN_USER')}
database.password={pw}
database.dbname={env('US_PG_DATABASE')}
topic.prefix={DBZ_PREFIX}
plugin.name=pgoutput
slot.name=bench_dbz
publication.name=bench_dbz
publication.autocreate.mode=disabled
table.include.list={TABLE}
snapshot.mode=no_data
poll.interval.ms=5
max.batch.size=2048
max.queue.size=8192
heartbeat.interval.ms=10000
"""
    log4j = """rootLogger.level=WARN
rootLogger.appenderRef.stdout.ref=STDOUT
appender.stdout.type=Console
appender.stdout.name=STDOUT
appender.stdout.layout.type=PatternLayout
appender.stdout.layout.pattern=[%d] %p %m (%c)%n
"""
    for name, text in (("worker.properties", worker), ("pg.properties", connector), ("log4j2.properties", log4j)):
        with open(os.path.join(work, name), "w") as f:
            f.write(text)
        os.chmod(os.path.join(work, name), 0o600)


def connect_auth():
    """Kafka Connect's SASL settings (worker, producer, consumer, admin) as the
    Kafka admin, and the converter's registry login: "" without authentication."""
    f = admin_client_file()
    if not f:
        return ""
    p = client_props(f)
    jaas = ('org.apache.kafka.common.security.scram.ScramLoginModule required '
            f'username="{p["sasl.username"]}" password="{p["sasl.password"]}";')
    lines = []
    for pre in ("", "producer.", "consumer.", "admin."):
        lines += [f"{pre}security.protocol=SASL_PLAINTEXT", f"{pre}sasl.mechanism=SCRAM-SHA-512",
                  f"{pre}sasl.jaas.config={jaas}"]
    cred = os.environ.get("US_REGISTRY_ADMIN_CREDENTIALS")
    if cred and os.path.isfile(cred):
        user, _, pw = open(cred).read().strip().partition(":")
        lines += [f"value.converter.apicurio.auth.username={user}", f"value.converter.apicurio.auth.password={pw}"]
    return "\n".join(lines) + "\n"


def start_connect(work):
    java = os.path.join(os.environ.get("JAVA_HOME", "/usr/lib/jvm/java-17-openjdk-amd64"), "bin", "java")
    log = open(os.path.join(work, "connect.log"), "a")
    args = [java, "-Xms256m", "-Xmx1g", f"-Dlog4j2.configurationFile=file:{work}/log4j2.properties",
            "-cp", os.path.join(kafka_lib(), "*"), "org.apache.kafka.connect.cli.ConnectStandalone",
            os.path.join(work, "worker.properties"), os.path.join(work, "pg.properties")]
    p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{CONNECT_PORT}/connectors/bench-dbz/status", timeout=2) as r:
                st = json.loads(r.read())
            if st["connector"]["state"] == "RUNNING" and st["tasks"] and st["tasks"][0]["state"] == "RUNNING":
                if psql("SELECT active FROM pg_replication_slots WHERE slot_name = 'bench_dbz'") == "t":
                    return p
        except (OSError, KeyError, ValueError):
            pass
        if p.poll() is not None:
            sys.exit(f"Kafka Connect exited; see {work}/connect.log")
        time.sleep(0.5)
    sys.exit(f"Debezium did not start; see {work}/connect.log")


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


# ---------------------------------------------------------------- measuring

class Sampler:
    """Peak RSS and CPU time of one process, from /proc, every 0.1 s in a thread."""

    def __init__(self, pid):
        self.pid, self.peak = pid, 0
        self.t0, self.cpu0 = time.time(), self.cpu()
        self.cpu_last, self.t_last = self.cpu0, self.t0
        self.running = True
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def cpu(self):
        try:
            f = open(f"/proc/{self.pid}/stat").read().rsplit(")", 1)[1].split()
            return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            return None

    def loop(self):
        while self.running:
            self.sample()
            time.sleep(0.1)

    def sample(self):
        try:
            for line in open(f"/proc/{self.pid}/status"):
                if line.startswith("VmRSS:"):
                    self.peak = max(self.peak, int(line.split()[1]) * 1024)
        except OSError:
            pass
        c = self.cpu()
        if c is not None:
            self.cpu_last, self.t_last = c, time.time()

    def result(self):
        self.running = False
        self.thread.join()
        wall = max(self.t_last - self.t0, 0.001)
        return {"peak_rss_mb": round(self.peak / 2**20, 1), "cpu_cores": round((self.cpu_last - self.cpu0) / wall, 2),
                "cpu_s": round(self.cpu_last - self.cpu0, 2)}


def end_offsets(topic):
    """[end offset of partition 0..3]"""
    out = kcat("-Q", *sum((["-t", f"{topic}:{p}:-1"] for p in range(4)), [])).stdout
    offs = [0] * 4
    for p, o in re.findall(r"\[(\d+)\]\s+offset (\d+)", out):
        offs[int(p)] = int(o)
    return offs


KEY = re.compile(r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-([0-9a-f]{12}))")


def appended(topic, start=None):
    """{row number: broker append time in ms} for every keyed record after the
    offsets `start` (first occurrence: re-sent duplicates do not count)."""
    got = {}
    for p, off in enumerate(start or [0] * 4):
        out = kcat("-C", "-t", topic, "-p", str(p), "-o", str(off), "-e", "-q", "-f", "%k\t%T\n", timeout=1800).stdout
        for line in out.splitlines():
            k, t = line.split("\t")
            m = KEY.search(k)
            if m:
                got.setdefault(int(m.group(2)), int(t))
    return got


def wait_rows(topic, start, rows, timeout=1800):
    """Waits until every row number in `rows` is in the topic after `start`."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = appended(topic, start)
        if all(g in got for g in rows):
            return got
        time.sleep(2)
    sys.exit(f"{topic}: rows missing after {timeout}s")


def throughput(times, first, n):
    ts = [times[g] for g in range(first, first + n) if g in times]
    assert len(ts) == n, f"only {len(ts)} of {n} rows arrived"
    return round(n / max((max(ts) - min(ts)) / 1000, 0.001))


def latency(times, commits):
    lat = sorted(times[g] - commits[g] / 1000 for g in commits if g in times)
    assert len(lat) == len(commits), f"only {len(lat)} of {len(commits)} rows arrived"
    pick = lambda q: round(lat[min(len(lat) - 1, int(q * len(lat)))], 1)
    return {"p50_ms": pick(0.50), "p99_ms": pick(0.99), "max_ms": round(lat[-1], 1)}


# ---------------------------------------------------------------- the run

class StackSampler:
    """CPU-seconds of the stack's processes by service (bench/stack_cpu.py) over
    one phase; the bench's own processes (relay, Connect, kcat) are not the stack's."""

    def __init__(self):
        try:
            import stack_cpu

            self.c = stack_cpu.StackCpu(os.environ).start()
        except Exception as e:  # noqa: BLE001 - a measurement aid, never the reason a run fails
            print(f"stack CPU not measured: {e}", file=sys.stderr)
            self.c = None

    def result(self, rows):
        if not self.c:
            return {}
        used = self.c.stop()
        f = 100000.0 / max(1, rows)
        out = {f"{g}_cpu_s_per_100k": round(used.get(g, 0.0) * f, 2) for g in ("kafka", "postgres", "registry")}
        out["stack_cpu_s_per_100k"] = round(sum(used.values()) * f, 2)
        return out


def per_100k(res, phase, rows):
    res[f"{phase}_cpu_s_per_100k"] = round(res.pop(f"{phase}_cpu_s") * 100000.0 / max(1, rows), 2)


def run(a, res):
    relay_only = a.relay_only
    plugins = None if relay_only else fetch_debezium(os.path.join(env("US_CACHE"), "bench"))
    reset(a.work)
    gen = build_loadgen(a.work)
    if not relay_only:
        connect_files(a.work, plugins)

    # Slots first (empty table), so both stream the same WAL afterwards.
    p = start_relay(a.work, "--end-lsn", psql("SELECT pg_current_wal_lsn()"))
    assert p.wait(timeout=300) == 0, f"relay set-up failed; see {a.work}/relay.log"
    if not relay_only:
        stop(start_connect(a.work))

    # 1. Throughput: catch up on ROWS rows written while stopped.
    load(gen, a.work, 1, a.rows, 1000, 0, "bulk")
    end = psql("SELECT pg_current_wal_lsn()")
    start = end_offsets(RELAY_TOPIC)
    p = start_relay(a.work, "--end-lsn", end)
    s, st = Sampler(p.pid), StackSampler()
    assert p.wait(timeout=1800) == 0, f"relay catch-up failed; see {a.work}/relay.log"
    res["relay"].update({f"bulk_{k}": v for k, v in s.result().items()})
    res["relay"].update({f"bulk_{k}": v for k, v in st.result(a.rows).items()})
    per_100k(res["relay"], "bulk", a.rows)
    res["relay"]["throughput_rows_s"] = throughput(appended(RELAY_TOPIC, start), 1, a.rows)

    if not relay_only:
        start = end_offsets(DBZ_TOPIC)
        c = start_connect(a.work)
        s = Sampler(c.pid)
        got = wait_rows(DBZ_TOPIC, start, range(1, a.rows + 1))
        res["debezium"].update({f"bulk_{k}": v for k, v in s.result().items()})
        per_100k(res["debezium"], "bulk", a.rows)
        res["debezium"]["throughput_rows_s"] = throughput(got, 1, a.rows)
        stop(c)

    # 2. Latency at a fixed rate, each system alone, after a warm-up of
    # WARMUP seconds at the same rate (JIT, caches) that is not measured.
    n = a.rate * a.seconds
    w = a.rate * a.warmup
    first = a.rows + 1
    p = start_relay(a.work)
    start = end_offsets(RELAY_TOPIC)
    wait_rows(RELAY_TOPIC, start, load(gen, a.work, first, w, 100, a.rate, "relay-warmup"))
    first += w
    start = end_offsets(RELAY_TOPIC)
    s, st = Sampler(p.pid), StackSampler()
    commits = load(gen, a.work, first, n, 100, a.rate, "relay-paced")
    got = wait_rows(RELAY_TOPIC, start, commits)
    res["relay"].update({f"paced_{k}": v for k, v in s.result().items()})
    res["relay"].update({f"paced_{k}": v for k, v in st.result(n).items()})
    per_100k(res["relay"], "paced", n)
    stop(p)
    res["relay"].update(latency(got, commits))

    if not relay_only:
        first += n
        c = start_connect(a.work)
        start = end_offsets(DBZ_TOPIC)
        wait_rows(DBZ_TOPIC, start, load(gen, a.work, first, w, 100, a.rate, "dbz-warmup"))
        first += w
        start = end_offsets(DBZ_TOPIC)
        s = Sampler(c.pid)
        commits = load(gen, a.work, first, n, 100, a.rate, "dbz-paced")
        got = wait_rows(DBZ_TOPIC, start, commits)
        res["debezium"].update({f"paced_{k}": v for k, v in s.result().items()})
        per_100k(res["debezium"], "paced", n)
        stop(c)
        res["debezium"].update(latency(got, commits))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=300000)
    ap.add_argument("--rate", type=int, default=5000)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=15)
    ap.add_argument("--relay-only", action="store_true", help="the relay's phases only (no Debezium)")
    ap.add_argument("--work", default=os.path.join(env("US_HOME"), "bench"))
    a = ap.parse_args()
    res = {"relay": {}, "debezium": {}}
    print(f"load average before: {' '.join(open('/proc/loadavg').read().split()[:3])}", file=sys.stderr)
    try:
        run(a, res)
    finally:
        if admin_client_file():
            relay_acl("--remove")
    print(f"load average after: {' '.join(open('/proc/loadavg').read().split()[:3])}", file=sys.stderr)

    res["settings"] = {"rows": a.rows, "rate": a.rate, "seconds": a.seconds, "warmup_s": a.warmup, "linger_ms": 5,
                       "debezium_poll_interval_ms": 5, "compression": "lz4", "format": "Avro + Apicurio",
                       "authenticated": bool(admin_client_file())}
    if a.relay_only:
        del res["debezium"]
    print(json.dumps(res, indent=2))
    r = res["relay"]
    d = res.get("debezium")
    print(f"\nthroughput: relay {r['throughput_rows_s']} rows/s"
          + (f", Debezium {d['throughput_rows_s']} rows/s ({r['throughput_rows_s'] / d['throughput_rows_s']:.1f}x)" if d else ""))
    print(f"latency @ {a.rate} rows/s: relay p50 {r['p50_ms']} ms p99 {r['p99_ms']} ms"
          + (f"; Debezium p50 {d['p50_ms']} ms p99 {d['p99_ms']} ms" if d else ""))
    print(f"peak RSS: relay {max(r['bulk_peak_rss_mb'], r['paced_peak_rss_mb'])} MB"
          + (f", Debezium {max(d['bulk_peak_rss_mb'], d['paced_peak_rss_mb'])} MB" if d else ""))
    print(f"relay CPU-s per 100k rows: catch-up {r['bulk_cpu_s_per_100k']}, paced {r['paced_cpu_s_per_100k']}; "
          f"Kafka {r.get('bulk_kafka_cpu_s_per_100k', '?')} / {r.get('paced_kafka_cpu_s_per_100k', '?')}")
    with open(os.path.join(a.work, "result.json"), "w") as f:
        json.dump(res, f, indent=2)


if __name__ == "__main__":
    main()
