"""The stack as a whole: status, env, ports."""

import re
import socket

# Every engine service `up` starts (stack/services/, in start order).
ENGINES = ("postgres", "kafka", "registry", "cassandra", "spark_master", "spark_worker",
           "airflow_api_server", "airflow_scheduler", "airflow_dag_processor", "airflow_triggerer",
           "prometheus")


def test_status_shows_every_engine_ready(stack):
    out = stack.us("status").stdout
    lines = out.splitlines()
    assert lines[0].split() == ["SERVICE", "GROUP", "PID", "ADDRESS", "STATE", "VERSION", "MEMORY"]
    rows = {l.split()[0]: l for l in lines[1:]}
    for name in ENGINES:
        row = rows[name]
        assert "RUNNING ready" in row, row
        assert re.search(r" engine +\d+ ", row), row
        assert re.search(r"\d+(\.\d)?[KMG]$", row), row
        # columns line up with the header, however long the service name
        assert row.index(" engine ") + 1 == lines[0].index("GROUP"), row


def test_env_is_consistent_and_ports_are_distinct(stack):
    cfg = stack.cfg
    ports = {k: int(v) for k, v in cfg.items() if re.fullmatch(r"US_[A-Z0-9_]+_PORT", k)}
    assert len(set(ports.values())) == len(ports)
    assert cfg["US_KAFKA_BOOTSTRAP"] == f"{cfg['US_BIND']}:{cfg['US_KAFKA_PORT']}"
    assert cfg["US_REGISTRY_URL"] == f"http://{cfg['US_BIND']}:{cfg['US_REGISTRY_PORT']}/apis/ccompat/v7"
    assert cfg["PGPASSFILE"].startswith(cfg["US_HOME"])
    # engines listen on the loopback address only
    for key in ("US_PG_PORT", "US_KAFKA_PORT", "US_REGISTRY_PORT", "US_CASSANDRA_PORT",
                "US_SPARK_MASTER_PORT", "US_SPARK_MASTER_UI_PORT", "US_SPARK_WORKER_PORT",
                "US_SPARK_WORKER_UI_PORT", "US_AIRFLOW_PORT", "US_PROMETHEUS_PORT", "US_KAFKA_METRICS_PORT",
                "US_CASSANDRA_METRICS_PORT"):
        with socket.create_connection((cfg["US_BIND"], ports[key]), timeout=10):
            pass


def test_a_second_up_only_checks(stack):
    out = stack.us("up").stdout
    for name in ENGINES:
        assert f"ok {name} already running" in out
    assert "0 applied" in out


def test_env_output_round_trips_as_environment(stack):
    """`env` output fed back as environment gives the same configuration (no port shifted twice)."""
    first = stack.us("env").stdout
    again = stack.run(["bash", "-c", 'eval "$("$US_ROOT"/userstream env | sed "s/^/export /")" && "$US_ROOT"/userstream env'],
                      env={}, timeout=120)
    assert again.stdout == first
