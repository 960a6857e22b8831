"""bench/cassandra_ceiling.py: the Cassandra ceiling of the Spark stage (issue 13).

    eval "$(./userstream env | sed 's/^/export /')"
    ./userstream stop spark_job          # the pipeline idle: nothing else writes
    $US_VENV/bin/python bench/cassandra_ceiling.py [--users 100000] [--warmup 20000]
                                                   [--in-flight 128] [--tables 3] [--runs 1] [--keep]
                                                   [--layout tables|sai|both] [--lookups 0] [--page 100]
                                                   [--settle] [--sai-columns email_hmac,country_code]

Cassandra alone, writing per user the rows the Spark job writes (the users row
with all its columns, users_by_email_hash, users_by_country; --tables 4 adds the
signup_events row the job also writes) with prepared statements, USING TIMESTAMP,
at LOCAL_QUORUM, asynchronously with at most --in-flight requests outstanding:
bench/cassandra_ceiling/CassandraCeiling.java, on the DataStax Java driver 4.x
that the Spark Cassandra Connector brings (the stack's Spark jars), compiled
here with the stack's JDK into build/bench/cassandra-ceiling/. It logs in as the
admin role (US_CASSANDRA_ADMIN_CREDENTIALS) into its own keyspace
bench_ceiling_<hex>, made with US_CASSANDRA_REPLICATION from every
stack/cql/0*.cql migration as `up` applies them, dropped at the end (--keep
keeps it).

--layout sai (issue 13, "Lever: SAI instead of lookup tables"): one write per
user, the users row alone, into a keyspace bench_sai_<hex> whose users table
has Storage-Attached Indexes on email_hmac and country_code (CREATE INDEX ...
USING 'sai'); --tables 4 adds the signup_events row as before. --layout both
runs the two layouts side by side in one invocation, each in its own
keyspace, alternating which goes first from run to run.

--lookups N: after each run's writes, N lookups by email HMAC (of users that
run wrote) and N by country (first page of --page rows), one at a time, timed
on the client (p50/p99/max), with Cassandra's CPU over them: the project's
queries against users_by_email_hash / users_by_country (stack/cql/030_users.cql
Q2, Q3) for tables, the same questions against users through the indexes for
sai.

--settle: after each run's writes, wait until Cassandra is idle again (its
flushes, index builds and compactions done: under 0.15 core for 3 s in a row,
at most 300 s) and report that CPU too (settle_cassandra_cpu_s_per_100k, and
write + settle as total_cassandra_cpu_s_per_100k): what the writes cost
Cassandra in the end, not only while they are acknowledged; the lookups then
run on an idle node, and the next run starts on one.

Reports users/s (measured users / the time from the first write after the
warm-up to the last acknowledgement) and CPU-seconds per 100,000 users of
Cassandra and of the client JVM over the same window (bench/stack_cpu.py), and
of every other process of the stack. One JSON line per run on stdout, a table
on stderr.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "stack", "lib"))

import stack_cpu  # noqa: E402
import us_config  # noqa: E402

SRC = os.path.join(HERE, "cassandra_ceiling", "CassandraCeiling.java")
OUT = os.path.join(ROOT, "build", "bench", "cassandra-ceiling")


def stack_paths(cfg) -> dict:
    """JAVA_HOME of the stack (its JDK 17), the Spark jars directory and SPARK_HOME,
    from the stack's own shell functions (what stack/spark/submit uses)."""
    script = ('set -e; for f in util config setup supervisor stack; do source "$US_ROOT/stack/lib/$f.sh"; done; '
              'us_config_load; us_services_load; echo "$JAVA_HOME_17"; us_spark_jars_dir; us_spark_home')  # fmt: skip
    p = subprocess.run(["bash", "-c", script], env=dict(os.environ, US_ROOT=ROOT), capture_output=True, text=True)
    lines = p.stdout.split()
    if p.returncode != 0 or len(lines) != 3:
        raise SystemExit(f"could not locate the stack's JDK and jars: {p.stderr[-1000:]}")
    return {"java_home": lines[0], "jars": os.path.join(lines[1], "lib"), "spark_home": lines[2]}


def classpath(paths) -> str:
    jars = sorted(glob.glob(os.path.join(paths["jars"], "*.jar")))
    # The driver logs through slf4j: the API from pyspark's jars, no binding (NOP).
    jars += sorted(glob.glob(os.path.join(paths["spark_home"], "jars", "slf4j-api-*.jar")))
    if not any("java-driver-core" in j for j in jars):
        raise SystemExit(f"no DataStax Java driver in {paths['jars']} (./userstream setup)")
    return ":".join(jars)


def compile_tool(paths, cp) -> None:
    cls = os.path.join(OUT, "CassandraCeiling.class")
    if os.path.exists(cls) and os.path.getmtime(cls) >= os.path.getmtime(SRC):
        return
    os.makedirs(OUT, exist_ok=True)
    javac = os.path.join(paths["java_home"], "bin", "javac")
    p = subprocess.run([javac, "-d", OUT, "-cp", cp, SRC], capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"javac failed:\n{p.stderr}")


def cqlsh(cfg, *args, check=True):
    cmd = [os.path.join(cfg["US_VENV"], "bin", "cqlsh"), cfg["US_CASSANDRA_HOST"], cfg["US_CASSANDRA_PORT"],
           "--credentials", cfg["US_CASSANDRA_ADMIN_CREDENTIALS"], "--request-timeout", "60", *args]  # fmt: skip
    p = subprocess.run(cmd, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise SystemExit(f"cqlsh {' '.join(args)[:200]} failed: {p.stderr[-1000:]}")
    return p


# The indexes of --layout sai: the lookups of users_by_email_hash and
# users_by_country answered from users itself.
SAI_INDEXES = (
    "CREATE INDEX IF NOT EXISTS users_email_hmac_sai ON users (email_hmac) USING 'sai'",
    "CREATE INDEX IF NOT EXISTS users_country_code_sai ON users (country_code) USING 'sai'",
)


def make_keyspace(cfg, ks: str, layout: str = "tables", sai_columns=("email_hmac", "country_code")) -> None:
    cqlsh(cfg, "-e", f"CREATE KEYSPACE {ks} WITH replication = {cfg['US_CASSANDRA_REPLICATION']}")
    for f in sorted(glob.glob(os.path.join(ROOT, "stack", "cql", "0*.cql"))):
        cqlsh(cfg, "-k", ks, "-f", f)
    if layout == "sai":
        for i in SAI_INDEXES:
            if i.split("(")[1].split(")")[0] in sai_columns:
                cqlsh(cfg, "-k", ks, "-e", i)


def cassandra_pid(cfg) -> int:
    for pid, name in stack_cpu.supervised_pids(cfg).items():
        if name == "cassandra":
            return pid
    raise SystemExit("Cassandra is not running in this stack")


def settle(pid: int, idle_core=0.15, idle_s=3, limit_s=300.0) -> tuple[float, float]:
    """Waits until the process used under idle_core of a core in each of idle_s
    seconds in a row (or limit_s passed): (its CPU-seconds meanwhile, seconds waited)."""
    t0, first = time.time(), stack_cpu.read_stat(pid)
    last, quiet = first, 0
    while quiet < idle_s and time.time() - t0 < limit_s:
        time.sleep(1.0)
        now = stack_cpu.read_stat(pid)
        if now is None or first is None:
            raise SystemExit("Cassandra exited during the settle")
        quiet = quiet + 1 if (now[1] - last[1]) / stack_cpu.TICK < idle_core else 0
        last = now
    return (last[1] - first[1]) / stack_cpu.TICK, time.time() - t0


def run_once(cfg, paths, cp, ks, a, run, layout="tables") -> dict:
    java = os.path.join(paths["java_home"], "bin", "java")
    cmd = [java, f"-Xmx{a.heap}", "-cp", f"{OUT}:{cp}", "CassandraCeiling", "--host", cfg["US_CASSANDRA_HOST"],
           "--port", cfg["US_CASSANDRA_PORT"], "--credentials", cfg["US_CASSANDRA_ADMIN_CREDENTIALS"],
           "--keyspace", ks, "--users", str(a.users), "--warmup", str(a.warmup), "--in-flight", str(a.in_flight),
           "--tables", str(a.tables), "--seed", str(run), "--layout", layout, "--lookups", str(a.lookups),
           "--page", str(a.page), "--settle", "1" if a.settle else "0"]  # fmt: skip
    cpu, lcpu = stack_cpu.StackCpu(cfg), stack_cpu.StackCpu(cfg)
    settled = None
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.PIPE if a.settle else None, text=True)
    cpu.add("ceiling_client", p.pid)
    lcpu.add("ceiling_client", p.pid)
    result, used, lused = None, None, None
    for line in p.stdout:
        line = line.strip()
        if line == "MEASURE-START":
            cpu.start()
        elif line == "MEASURE-END":
            used = cpu.stop()
        elif line == "SETTLE":
            settled = settle(cassandra_pid(cfg))
            p.stdin.write("go\n")
            p.stdin.flush()
        elif line == "LOOKUP-START":
            lcpu.start()
        elif line == "LOOKUP-END":
            lused = lcpu.stop()
        elif line.startswith("{"):
            result = json.loads(line)
    if p.wait() != 0 or result is None or used is None:
        raise SystemExit(f"CassandraCeiling exited {p.returncode}")
    title = f"Cassandra ceiling run {run}, layout {layout}"
    print(stack_cpu.table(title, used, a.users, cpu.wall), file=sys.stderr, flush=True)
    per = stack_cpu.per_100k(used, a.users)
    out = dict(result, run=run, keyspace=ks, cpu_s={g: round(v, 2) for g, v in used.items()},
               cpu_s_per_100k=per, cassandra_cpu_s_per_100k=per.get("cassandra", 0.0),
               client_cpu_s_per_100k=per.get("ceiling_client", 0.0))  # fmt: skip
    if settled is not None:
        s_per = round(settled[0] * 100000.0 / a.users, 2)
        out.update(settle_seconds=round(settled[1], 1), settle_cassandra_cpu_s_per_100k=s_per,
                   total_cassandra_cpu_s_per_100k=round(out["cassandra_cpu_s_per_100k"] + s_per, 2))  # fmt: skip
        print(f"  settle: {settled[1]:.0f} s until Cassandra idle, {s_per} CPU-s per 100k more: "
              f"{out['total_cassandra_cpu_s_per_100k']} in all", file=sys.stderr, flush=True)  # fmt: skip
    if lused is not None:
        # CPU per 1,000 lookups (a.lookups by email + a.lookups by country).
        out["lookup_cassandra_cpu_ms_per_1k"] = round(lused.get("cassandra", 0.0) * 1e6 / (2 * a.lookups), 1)
        print(f"  lookups: email p50 {result['by_email']['p50_ms']} ms p99 {result['by_email']['p99_ms']} ms; "
              f"country p50 {result['by_country']['p50_ms']} ms p99 {result['by_country']['p99_ms']} ms; "
              f"Cassandra {out['lookup_cassandra_cpu_ms_per_1k']} ms CPU per 1,000 lookups",
              file=sys.stderr, flush=True)  # fmt: skip
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=100000, help="measured users per run")
    ap.add_argument("--warmup", type=int, default=20000, help="users written first, not measured (JIT, connections)")
    ap.add_argument("--in-flight", type=int, default=128, help="requests outstanding at most")
    ap.add_argument("--tables", type=int, choices=(3, 4), default=3,
                    help="3: users + the two lookup tables; 4: + signup_events, as the job writes")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--heap", default="256m", help="the client JVM's -Xmx")
    ap.add_argument("--keep", action="store_true", help="keep the keyspace(s)")
    ap.add_argument("--layout", choices=("tables", "sai", "both"), default="tables",
                    help="tables: users + the two lookup tables (today); sai: users alone with SAI indexes; "
                         "both: the two side by side, alternating")  # fmt: skip
    ap.add_argument("--lookups", type=int, default=0, help="timed lookups by email and by country after each run")
    ap.add_argument("--page", type=int, default=100, help="rows per lookup by country (LIMIT)")
    ap.add_argument("--settle", action="store_true",
                    help="after the writes, wait for Cassandra to go idle and count that CPU too")
    ap.add_argument("--sai-columns", default="email_hmac,country_code",
                    help="the users columns --layout sai indexes (email_hmac, country_code; none: no index)")
    a = ap.parse_args()
    if a.users < 1 or a.warmup < 0 or a.in_flight < 1 or a.lookups < 0 or a.page < 1:
        ap.error("--users, --in-flight and --page must be positive, --warmup and --lookups not negative")
    sai_columns = tuple(c for c in a.sai_columns.split(",") if c and c != "none")
    if not set(sai_columns) <= {"email_hmac", "country_code"}:
        ap.error("--sai-columns: email_hmac and/or country_code, or none (the users row alone, no index)")
    if a.lookups and len(sai_columns) < 2 and a.layout != "tables":
        ap.error("--lookups needs both SAI columns indexed")
    cfg = us_config.load()
    paths = stack_paths(cfg)
    cp = classpath(paths)
    compile_tool(paths, cp)
    layouts = ("tables", "sai") if a.layout == "both" else (a.layout,)
    prefix = {"tables": "bench_ceiling", "sai": "bench_sai"}
    keyspaces = {lay: f"{prefix[lay]}_{uuid.uuid4().hex[:8]}" for lay in layouts}
    try:
        for lay in layouts:
            make_keyspace(cfg, keyspaces[lay], lay, sai_columns)
        for run in range(1, a.runs + 1):
            order = layouts if run % 2 else tuple(reversed(layouts))
            for lay in order:
                print(json.dumps(run_once(cfg, paths, cp, keyspaces[lay], a, run, lay)), flush=True)
    finally:
        if not a.keep:
            for ks in keyspaces.values():
                cqlsh(cfg, "-e", f"DROP KEYSPACE IF EXISTS {ks}", check=False)


if __name__ == "__main__":
    main()
