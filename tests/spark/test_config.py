"""config.py: the layered configuration (file, environment, derived values)."""

import os

import pytest

from userstream_spark import config as c

CONF = """
# comment
US_HOME=~/state
US_BIND=127.0.0.1
US_PORT_OFFSET=0
US_KAFKA_PORT=9092
US_REGISTRY_PORT="8085"
US_CASSANDRA_PORT=9042   # trailing comment
US_PG_PORT=5433
US_KAFKA_TOPIC_USERS=userstream.users
"""


def write(tmp_path, text=CONF):
    p = tmp_path / "u.conf"
    p.write_text(text)
    return str(p)


def test_file_values_and_derivations(tmp_path):
    conf = c.load(env={}, path=write(tmp_path))
    assert conf["US_HOME"] == os.path.join(os.path.expanduser("~"), "state")
    assert conf["US_KAFKA_BOOTSTRAP"] == "127.0.0.1:9092"
    assert conf["US_REGISTRY_URL"] == "http://127.0.0.1:8085/apis/ccompat/v7"
    assert conf["US_CASSANDRA_PORT"] == "9042"
    assert conf["US_SPARK_PII_KEY_FILE"] == conf["US_HOME"] + "/secrets/pii_hmac_key"
    job = c.JobConfig.from_conf(conf)
    assert job.dlq_topic == "userstream.users.dlq" and job.subject == "userstream.users-value"
    assert job.pii_mode == "hmac" and "port=5433" in job.pg_conninfo


def test_port_offset_and_environment(tmp_path):
    env = {"US_PORT_OFFSET": "4000", "US_CASSANDRA_PORT": "19999", "US_SPARK_PII_MODE": "", "US_HOME": "/x"}
    conf = c.load(env=env, path=write(tmp_path))
    assert conf["US_KAFKA_BOOTSTRAP"] == "127.0.0.1:13092"  # base port + offset
    assert conf["US_CASSANDRA_PORT"] == "19999"  # an exported port is already effective
    assert conf["US_SPARK_PII_MODE"] == "hmac"  # empty variable = unset
    assert conf["US_SPARK_CHECKPOINT_DIR"] == "/x/spark/checkpoints"


def test_explicit_derived_value_wins(tmp_path):
    conf = c.load(env={"US_KAFKA_BOOTSTRAP": "broker:1"}, path=write(tmp_path))
    assert conf["US_KAFKA_BOOTSTRAP"] == "broker:1"


def test_errors(tmp_path):
    with pytest.raises(c.ConfigError, match="u.conf:2"):
        c.load(env={}, path=write(tmp_path, "A=1\nnot a line\n"))
    conf = c.load(env={"US_SPARK_PII_MODE": "plain"}, path=write(tmp_path))
    with pytest.raises(c.ConfigError, match="hmac or raw"):
        c.JobConfig.from_conf(conf)


def test_repository_conf_parses():
    conf = c.load(env={})
    assert conf["US_KAFKA_TOPIC_DLQ"] == "userstream.users.dlq"
