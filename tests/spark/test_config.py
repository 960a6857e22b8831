"""config.py: the job's configuration is ./userstream's effective configuration
(stack/lib/us_config.py): the environment when it holds it, else `./userstream env`."""

import os

import pytest

from userstream_spark import config as c

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BASE = {"PATH": os.environ["PATH"], "HOME": os.path.expanduser("~")}


def write(tmp_path, extra=""):
    """The repository's userstream.conf (every key, with its default) plus lines."""
    with open(os.path.join(ROOT, "userstream.conf"), encoding="utf-8") as f:
        text = f.read()
    p = tmp_path / "u.conf"
    p.write_text(text + "\n" + extra)
    return str(p)


def load(tmp_path, extra="", **env):
    return c.load(dict(BASE, US_CONFIG=write(tmp_path, extra), **env))


def test_file_values_and_derivations(tmp_path):
    conf = load(tmp_path, "US_HOME=~/state\nUS_REGISTRY_PORT=\"8085\"\nUS_CASSANDRA_PORT=9042   # note\n")
    assert conf["US_HOME"] == os.path.join(os.path.expanduser("~"), "state")
    assert conf["US_KAFKA_BOOTSTRAP"] == "127.0.0.1:9092"
    assert conf["US_REGISTRY_URL"] == "http://127.0.0.1:8085/apis/ccompat/v7"
    assert conf["US_CASSANDRA_PORT"] == "9042"
    assert conf["US_SPARK_PII_KEY_FILE"] == conf["US_HOME"] + "/secrets/pii_hmac_key"
    job = c.JobConfig.from_conf(conf)
    assert job.dlq_topic == "userstream.users.dlq" and job.subject == "userstream.users-value"
    assert job.pii_mode == "hmac" and "port=5433" in job.pg_conninfo and "user=ops" in job.pg_conninfo
    assert job.max_offsets_per_trigger == 200000
    assert job.lsn_margin_bytes == 16 << 20  # one WAL segment (userstream.conf)


def test_port_offset_and_environment(tmp_path):
    conf = load(tmp_path, US_PORT_OFFSET="4000", US_CASSANDRA_PORT="19999", US_SPARK_PII_MODE="",
                US_HOME="/x")
    assert conf["US_KAFKA_BOOTSTRAP"] == "127.0.0.1:13092"  # base port + offset
    assert conf["US_CASSANDRA_PORT"] == "19999"  # an exported port is already effective
    assert conf["US_SPARK_PII_MODE"] == "hmac"  # empty variable = unset
    assert conf["US_SPARK_CHECKPOINT_DIR"] == "/x/spark/checkpoints"


def test_explicit_derived_value_wins(tmp_path):
    assert load(tmp_path, US_KAFKA_BOOTSTRAP="broker:1")["US_KAFKA_BOOTSTRAP"] == "broker:1"
    conf = load(tmp_path, "US_SPARK_PII_KEY_FILE=/keys/k\n")
    assert conf["US_SPARK_PII_KEY_FILE"] == "/keys/k"  # written in the file: taken as it is


def test_an_effective_environment_is_taken_as_it_is(tmp_path):
    conf = load(tmp_path)
    env = dict(conf, US_HOME="/elsewhere", OTHER="x")  # no ./userstream is run
    again = c.load(env)
    assert again["US_HOME"] == "/elsewhere" and "OTHER" not in again
    assert {k: v for k, v in again.items() if k != "US_HOME"} == {
        k: v for k, v in conf.items() if k != "US_HOME"}


def test_errors(tmp_path):
    with pytest.raises(c.ConfigError, match=r"u\.conf:2: expected KEY=value"):
        p = tmp_path / "u.conf"
        p.write_text("A=1\nnot a line\n")
        c.load(dict(BASE, US_CONFIG=str(p)))
    conf = load(tmp_path, US_SPARK_PII_MODE="plain")
    with pytest.raises(c.ConfigError, match="hmac or raw"):
        c.JobConfig.from_conf(conf)
    with pytest.raises(c.ConfigError, match="US_SPARK_LSN_MARGIN_BYTES must be a number of bytes"):
        c.JobConfig.from_conf(dict(conf, US_SPARK_PII_MODE="hmac", US_SPARK_LSN_MARGIN_BYTES="-1"))
    with pytest.raises(c.ConfigError, match="US_SPARK_TRIGGER_MS is not set"):
        c.JobConfig.from_conf({k: v for k, v in conf.items() if k != "US_SPARK_TRIGGER_MS"}
                              | {"US_SPARK_PII_MODE": "raw"})


def test_repository_conf_parses():
    conf = c.load(dict(BASE))
    assert conf["US_KAFKA_TOPIC_DLQ"] == "userstream.users.dlq"
