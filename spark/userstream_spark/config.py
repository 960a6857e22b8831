"""The Spark job's configuration: the effective configuration of ./userstream.

Every key and its default is in userstream.conf (section "Spark 3.5"); the
derived ones (US_KAFKA_BOOTSTRAP, US_SPARK_PII_KEY_FILE, ...) are computed by
stack/lib/config.sh. This module only types what the job needs: the values come
from stack/lib/us_config.py, shared by every Python part of the project.
Secrets are never read here: only the path of the PII key file is.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

REPO_ROOT = Path(__file__).resolve().parents[2]


class ConfigError(Exception):
    pass


def load(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The effective configuration as a flat dict of strings (stack/lib/us_config.py).

    Imported here, not at the top: the executors import this package too, and
    never need the configuration (the driver hands them what they use)."""
    lib = str(REPO_ROOT / "stack" / "lib")
    if lib not in sys.path:
        sys.path.insert(0, lib)
    import us_config

    try:
        return us_config.load(env)
    except us_config.ConfigError as e:
        raise ConfigError(str(e)) from None


def _get(conf: Mapping[str, str], key: str) -> str:
    if key not in conf:
        raise ConfigError(f"{key} is not set (userstream.conf holds every key with its default)")
    return conf[key]


@dataclass(frozen=True)
class JobConfig:
    """What the job needs, typed; built from the flat configuration."""

    kafka_bootstrap: str
    topic: str
    dlq_topic: str
    registry_url: str
    subject: str
    cassandra_host: str
    cassandra_port: int
    keyspace: str
    pg_conninfo: str
    pii_mode: str
    pii_key_file: str
    checkpoint_dir: str
    jars_dir: str
    max_offsets_per_trigger: int
    trigger_ms: int
    driver_ui_port: int
    state_dir: str
    query_prefix: str = ""
    min_batches_to_retain: int = 100

    @staticmethod
    def from_conf(conf: Mapping[str, str]) -> "JobConfig":
        def get(key: str) -> str:
            return _get(conf, key)

        mode = get("US_SPARK_PII_MODE").strip().lower()
        if mode not in ("hmac", "raw"):
            raise ConfigError(f"US_SPARK_PII_MODE must be hmac or raw, not {mode!r}")
        pg = (
            f"host={get('US_PG_HOST')} port={get('US_PG_PORT')} "
            f"dbname={get('US_PG_DATABASE')} user={get('US_SPARK_PG_USER')} "
            "application_name=userstream-spark connect_timeout=10"
        )
        return JobConfig(
            kafka_bootstrap=get("US_KAFKA_BOOTSTRAP"),
            topic=get("US_KAFKA_TOPIC_USERS"),
            dlq_topic=get("US_KAFKA_TOPIC_DLQ"),
            registry_url=get("US_REGISTRY_URL").rstrip("/"),
            subject=get("US_REGISTRY_SUBJECT"),
            cassandra_host=get("US_CASSANDRA_HOST"),
            cassandra_port=int(get("US_CASSANDRA_PORT")),
            keyspace=get("US_CASSANDRA_KEYSPACE"),
            pg_conninfo=pg,
            pii_mode=mode,
            pii_key_file=get("US_SPARK_PII_KEY_FILE"),
            checkpoint_dir=get("US_SPARK_CHECKPOINT_DIR"),
            jars_dir=get("US_SPARK_JARS_DIR"),
            max_offsets_per_trigger=int(get("US_SPARK_MAX_OFFSETS_PER_TRIGGER")),
            trigger_ms=int(get("US_SPARK_TRIGGER_MS")),
            driver_ui_port=int(get("US_SPARK_DRIVER_UI_PORT")),
            state_dir=get("US_HOME"),
            query_prefix=get("US_SPARK_QUERY_PREFIX"),
            # Checkpoint retention (userstream.conf, Data lifecycle).
            min_batches_to_retain=int(get("US_SPARK_MIN_BATCHES_TO_RETAIN")),
        )
