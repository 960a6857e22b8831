"""Authentication on every engine (issue 12, items 2 and 3's ACL part).

Each engine refuses a client without credentials; Kafka's ACLs let only the
relay's principal write the users topic; the roles get what they need and no
more; no secret is on a command line or readable by others. The pipeline
running end to end with credentials is test_e2e.py (and every other module
that now logs in).
"""

import glob
import json
import os
import stat
import subprocess
import urllib.error
import urllib.request
import uuid

import pytest
from confluent_kafka import KafkaException, Producer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def secret_files(stack):
    keys = [k for k in stack.cfg if k.endswith(("_CLIENT_FILE", "_CREDENTIALS"))]
    return [stack[k] for k in keys] + glob.glob(os.path.join(stack["US_SECRETS_DIR"], "*"))


# --------------------------------------------------------------------- Kafka


def test_kafka_refuses_a_client_without_credentials(stack):
    p = stack.run(["kcat", "-b", stack["US_KAFKA_BOOTSTRAP"], "-L", "-m", "5"], check=False, timeout=60)
    assert p.returncode != 0
    assert "brokers:" not in p.stdout


def test_kafka_refuses_a_wrong_password(stack, tmp_path):
    bad = tmp_path / "bad.properties"
    bad.write_text("security.protocol=SASL_PLAINTEXT\nsasl.mechanisms=PLAIN\n"
                   "sasl.username=relay\nsasl.password=not-the-password\n")  # fmt: skip
    os.chmod(bad, 0o600)
    p = stack.run(["kcat", "-F", str(bad), "-b", stack["US_KAFKA_BOOTSTRAP"], "-L", "-m", "5"],
                  check=False, timeout=60)  # fmt: skip
    assert p.returncode != 0
    assert "Authentication failed" in p.stderr


def produce_one(conf, topic, headers):
    """Produces one tombstone; returns the delivery error (None when delivered)."""
    errors = []
    p = Producer({**conf, "message.timeout.ms": 15000})
    p.produce(topic, key=str(uuid.uuid4()).encode(), value=None, headers=headers,
              on_delivery=lambda err, msg: errors.append(err))  # fmt: skip
    p.flush(30)
    assert len(errors) == 1
    return errors[0]


@pytest.mark.parametrize("principal", ["spark", "console"])
def test_only_the_relay_principal_may_write_the_users_topic(stack, principal):
    """A tombstone with a huge us.lsn (one that would outrank every later
    change in Cassandra) from a non-relay principal is refused by Kafka."""
    topic = stack["US_KAFKA_TOPIC_USERS"]
    before = stack.run([*stack.kcat_args(), "-Q", "-t", f"{topic}:0:-1"]).stdout
    err = produce_one(stack.kafka_conf(principal), topic, [("us.lsn", str(2**43 - 1).encode())])
    assert err is not None
    assert err.name() == "TOPIC_AUTHORIZATION_FAILED", err
    assert stack.run([*stack.kcat_args(), "-Q", "-t", f"{topic}:0:-1"]).stdout == before


def test_spark_principal_reads_users_but_may_not_read_other_topics(stack):
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(stack.kafka_conf("spark"))
    md = admin.list_topics(timeout=20)
    # Describe: its two topics only (the metadata of the others is filtered out).
    assert stack["US_KAFKA_TOPIC_USERS"] in md.topics
    assert stack["US_KAFKA_TOPIC_DLQ"] in md.topics
    assert all(t in (stack["US_KAFKA_TOPIC_USERS"], stack["US_KAFKA_TOPIC_DLQ"]) for t in md.topics
               if not t.startswith("__"))  # fmt: skip


def test_spark_principal_may_not_create_topics(stack):
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient(stack.kafka_conf("spark"))
    f = admin.create_topics([NewTopic(f"it-auth-{uuid.uuid4().hex[:8]}", 1, 1)])
    with pytest.raises(KafkaException) as e:
        list(f.values())[0].result(30)
    assert "AUTHORIZATION" in str(e.value).upper()


# ----------------------------------------------------------------- Cassandra


def test_cassandra_refuses_cqlsh_without_credentials(stack, tmp_path):
    # HOME elsewhere: no ~/.cassandra/credentials can log it in.
    p = stack.cqlsh("-e", "SELECT release_version FROM system.local", role=None, check=False,
                    env={"HOME": str(tmp_path)}, timeout=120)  # fmt: skip
    assert p.returncode != 0
    assert "AuthenticationFailed" in p.stderr or "requires authentication" in p.stderr, p.stderr


def test_cassandra_default_superuser_is_gone(stack, tmp_path):
    cred = tmp_path / "default.credentials"
    cred.write_text("[plain_text_auth]\nusername = cassandra\npassword = cassandra\n")
    os.chmod(cred, 0o600)
    p = stack.run([os.path.join(stack["US_VENV"], "bin", "cqlsh"), stack["US_CASSANDRA_HOST"],
                   stack["US_CASSANDRA_PORT"], "--credentials", str(cred), "-e", "SELECT now() FROM system.local"],
                  check=False, env={"HOME": str(tmp_path)}, timeout=120)  # fmt: skip
    assert p.returncode != 0
    assert "AuthenticationFailed" in p.stderr, p.stderr


def test_cassandra_roles_have_least_privilege(stack):
    ks = stack["US_CASSANDRA_KEYSPACE"]
    probe = "00000000-0000-4000-8000-00000000a17f"
    # the reader reads, and may not write
    assert stack.cqlsh("-e", f"SELECT count(*) FROM {ks}.schema_migrations", role="READER").returncode == 0
    p = stack.cqlsh("-e", f"DELETE FROM {ks}.users WHERE user_id = {probe}", role="READER", check=False)
    assert "Unauthorized" in p.stderr, p.stderr
    # the writer writes its keyspace, and may not change its schema or read system_auth's roles
    assert stack.cqlsh("-e", f"DELETE FROM {ks}.users WHERE user_id = {probe}", role="WRITER").returncode == 0
    p = stack.cqlsh("-e", f"DROP TABLE {ks}.users", role="WRITER", check=False)
    assert "Unauthorized" in p.stderr, p.stderr
    p = stack.cqlsh("-e", "SELECT salted_hash FROM system_auth.roles", role="WRITER", check=False)
    assert "Unauthorized" in p.stderr, p.stderr


# ------------------------------------------------- userstream-console's logins


def console_dump(stack, *args, env=None):
    """tests/unit/console_kafka_dump: the console's modules, its logins included."""
    for build in ("build-asan", "build"):
        path = os.path.join(ROOT, build, "tests", "unit", "console_kafka_dump")
        if os.path.exists(path):
            return stack.run([path, *args], check=False, timeout=120, env=env)
    pytest.skip("console_kafka_dump is not built")


def test_console_cql_logs_in_as_the_reader_and_is_refused_otherwise(stack, tmp_path):
    """con_cql's AUTHENTICATE -> AUTH_RESPONSE (SASL PLAIN) step: the reader
    role counts; no credentials, or a wrong password, get a clear refusal."""
    ks = stack["US_CASSANDRA_KEYSPACE"]
    cql = f"SELECT count(*) FROM {ks}.schema_migrations"
    ok = console_dump(stack, "cql-count", cql)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["count"] >= 1
    none = console_dump(stack, "cql-count", cql, env={"US_CASSANDRA_READER_CREDENTIALS": ""})
    assert none.returncode == 1 and "asks for authentication" in none.stderr, none.stderr
    bad = tmp_path / "reader.credentials"
    bad.write_text("[plain_text_auth]\nusername = console_reader\npassword = not-the-password\n")
    os.chmod(bad, 0o644)
    loose = console_dump(stack, "cql-count", cql, env={"US_CASSANDRA_READER_CREDENTIALS": str(bad)})
    assert loose.returncode == 2 and "chmod 600" in loose.stderr, loose.stderr
    os.chmod(bad, 0o600)
    wrong = console_dump(stack, "cql-count", cql, env={"US_CASSANDRA_READER_CREDENTIALS": str(bad)})
    assert wrong.returncode == 1 and "code 0x0100" in wrong.stderr, wrong.stderr
    assert "not-the-password" not in wrong.stderr


def test_console_kafka_principal_describes_but_may_not_create_or_join_other_groups(stack):
    """The console's Kafka principal is read-only: it sees the cluster (as
    the console does, through Debian's librdkafka and PLAIN), and Kafka
    refuses it a topic or a consumer group outside userstream-console*."""
    from confluent_kafka import Consumer
    from confluent_kafka.admin import AdminClient, NewTopic

    got = console_dump(stack, "cluster")
    assert got.returncode == 0, got.stderr
    assert stack["US_KAFKA_TOPIC_USERS"] in [t["name"] for t in json.loads(got.stdout)["topics"]]
    admin = AdminClient(stack.kafka_conf("console"))
    f = admin.create_topics([NewTopic(f"it-auth-{uuid.uuid4().hex[:8]}", 1, 1)])
    with pytest.raises(KafkaException) as e:
        list(f.values())[0].result(30)
    assert "AUTHORIZATION" in str(e.value).upper()
    c = Consumer({**stack.kafka_conf("console"), "group.id": f"it-auth-{uuid.uuid4().hex[:8]}",
                  "auto.offset.reset": "earliest"})  # fmt: skip
    try:
        c.subscribe([stack["US_KAFKA_TOPIC_USERS"]])
        msg = c.poll(30)
        assert msg is not None and msg.error() is not None, "joined a group outside userstream-console*"
        assert "GROUP_AUTHORIZATION_FAILED" in msg.error().name(), msg.error()
    finally:
        c.close()


def test_cassandra_jmx_asks_for_a_password(stack, tmp_path):
    """nodetool (JMX on the loopback-only port) without credentials is refused;
    with the controlRole password (from a 0600 file, -pwf) it works."""
    lib = glob.glob(os.path.join(stack["US_CACHE"], "engines", "cassandra-*", "lib"))
    assert lib
    java = os.path.join(stack.env.get("JAVA_HOME", "/usr/lib/jvm/java-17-openjdk-amd64"), "bin", "java")
    opens = [f"--add-{kind}=java.base/{pkg}=ALL-UNNAMED" for kind in ("exports", "opens")
             for pkg in ("sun.nio.ch", "jdk.internal.ref", "java.lang", "java.nio")]  # fmt: skip
    opens += ["--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED",
              "--add-exports=java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED"]  # fmt: skip
    nodetool = [java, "-Xmx128m", *opens, "-cp", os.path.join(lib[0], "*"), "org.apache.cassandra.tools.NodeTool",
                "-h", "127.0.0.1", "-p", stack["US_CASSANDRA_JMX_PORT"]]  # fmt: skip
    p = stack.run([*nodetool, "version"], check=False, timeout=300)
    assert p.returncode != 0
    assert "Authentication failed" in p.stdout + p.stderr, p.stdout[-2000:]
    with open(os.path.join(stack["US_HOME"], "cassandra", "conf", "jmxremote.password")) as f:
        pw = f.read().split()[1]
    pwf = tmp_path / "jmx.password"
    pwf.write_text(f"controlRole {pw}\n")
    os.chmod(pwf, 0o600)
    p = stack.run([*nodetool, "-u", "controlRole", "-pwf", str(pwf), "version"], timeout=300)
    assert "ReleaseVersion:" in p.stdout


# ------------------------------------------------------------------ registry


def registry(method, url, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/vnd.schemaregistry.v1+json", **(headers or {})})  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, None


SCHEMA = {"type": "record", "name": "auth", "namespace": "userstream.it", "fields": [{"name": "a", "type": "string"}]}


def test_registry_refuses_an_anonymous_write_and_allows_anonymous_reads(stack):
    url = stack["US_REGISTRY_URL"]
    subject = f"it-auth-{uuid.uuid4().hex[:8]}-value"
    body = {"schema": json.dumps(SCHEMA)}
    assert registry("POST", f"{url}/subjects/{subject}/versions", body)[0] == 401
    bad = {"Authorization": "Basic " + __import__("base64").b64encode(b"relay:wrong").decode()}
    assert registry("POST", f"{url}/subjects/{subject}/versions", body, bad)[0] == 401
    # the console is read-only
    assert registry("POST", f"{url}/subjects/{subject}/versions", body, stack.registry_headers("console"))[0] == 403
    status, _ = registry("GET", f"{url}/subjects")
    assert status == 200
    # the relay registers; anyone reads the result
    status, reg = registry("POST", f"{url}/subjects/{subject}/versions", body, stack.registry_headers("relay"))
    assert status == 200 and isinstance(reg["id"], int)
    status, got = registry("GET", f"{url}/schemas/ids/{reg['id']}")
    assert status == 200 and json.loads(got["schema"]) == SCHEMA
    # and deleting takes an admin
    assert registry("DELETE", f"{url}/subjects/{subject}", None, stack.registry_headers("console"))[0] == 403
    assert registry("DELETE", f"{url}/subjects/{subject}", None, stack.registry_headers("admin"))[0] == 200


# --------------------------------------------------------------------- Spark


def test_spark_master_refuses_an_application_without_the_secret(stack, tmp_path):
    """spark-submit with no spark.authenticate secret (an empty SPARK_CONF_DIR)
    cannot register with the stack's master."""
    app = tmp_path / "app.py"
    app.write_text("from pyspark import SparkContext\nSparkContext().parallelize([1]).count()\nprint('RAN')\n")
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir()
    name = f"it-auth-{uuid.uuid4().hex[:8]}"
    p = stack.run([os.path.join(stack["US_VENV"], "bin", "spark-submit"), "--master", stack["US_SPARK_MASTER_URL"],
                   "--name", name, "--conf", f"spark.driver.host={stack['US_BIND']}",
                   "--conf", f"spark.driver.bindAddress={stack['US_BIND']}", "--conf", "spark.ui.enabled=false",
                   str(app)],
                  check=False, timeout=300,
                  env={"SPARK_CONF_DIR": str(conf_dir), "SPARK_HOME": "", "JAVA_HOME": stack.env["JAVA_HOME"]})  # fmt: skip
    assert "RAN" not in p.stdout
    assert p.returncode != 0
    with urllib.request.urlopen(f"http://{stack['US_BIND']}:{stack['US_SPARK_MASTER_UI_PORT']}/json/", timeout=10) as r:
        doc = json.load(r)
    assert name not in {a["name"] for a in doc.get("activeapps", []) + doc.get("completedapps", [])}


def test_spark_uis_are_read_only_and_the_secret_is_private(stack):
    conf = os.path.join(stack["US_HOME"], "spark", "conf", "spark-defaults.conf")
    assert stat.S_IMODE(os.stat(conf).st_mode) == 0o600
    lines = dict(line.split(None, 1) for line in open(conf).read().splitlines() if line and not line.startswith("#"))
    assert lines["spark.authenticate"].strip() == "true"
    assert lines["spark.ui.killEnabled"].strip() == "false"


# ------------------------------------------------------------------- secrets


def test_secret_files_are_private(stack):
    for f in secret_files(stack):
        if os.path.exists(f):
            assert stat.S_IMODE(os.stat(f).st_mode) & 0o077 == 0, f


def test_no_secret_on_any_command_line_of_the_stack(stack):
    secrets = set()
    for f in glob.glob(os.path.join(stack["US_SECRETS_DIR"], "*")):
        if os.path.isfile(f) and "." not in os.path.basename(f) and os.path.basename(f) != "pgpass":
            secrets.add(open(f).read().strip())
    assert secrets
    marker = f"US_STACK_HOME={stack['US_HOME']}".encode()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/environ", "rb") as f:
                if marker not in f.read().split(b"\0"):
                    continue
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmdline = f.read().decode(errors="replace")
        except OSError:
            continue
        for s in secrets:
            assert s not in cmdline, f"a secret is on the command line of pid {d}"
