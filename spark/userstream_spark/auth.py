"""Engine credentials of the job, read at run time from the files the stack
generates (mode 0600, docs/development.md "Roles and secrets").

Kafka: the principal's librdkafka properties file (sasl.username,
sasl.password); the job, a Java client, always authenticates with
SCRAM-SHA-512 (the file's sasl.mechanisms names what librdkafka 2.0.2 can
do). Cassandra: a cqlsh credentials file ([plain_text_auth]). Nothing read
here is ever logged or put on a command line; Spark redacts option values
that contain "password" from its UI and logs (spark.redaction.regex).
"""

import configparser
import os
import stat
from typing import Dict, Tuple

from .config import ConfigError


def _check_private(path: str) -> None:
    try:
        st = os.stat(path)
    except OSError as e:
        raise ConfigError(f"credentials file {path}: {e.strerror}") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"credentials file {path}: group or others may read it (chmod 600)")


def read_properties(path: str) -> Dict[str, str]:
    """key=value lines ('#' comments), as kcat -F reads them."""
    _check_private(path)
    out = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, eq, val = line.partition("=")
            if not eq:
                raise ConfigError(f"{path}:{n}: expected key=value")
            out[key.strip()] = val.strip()
    return out


def kafka_credentials(path: str) -> Tuple[str, str]:
    props = read_properties(path)
    user, pw = props.get("sasl.username", ""), props.get("sasl.password", "")
    if not user or not pw:
        raise ConfigError(f"{path}: sasl.username and sasl.password are required")
    if any(c in user + pw for c in '"\\;'):
        raise ConfigError(f"{path}: a username or password with \" \\ or ; cannot go into a JAAS entry")
    return user, pw


def kafka_java_options(path: str, prefix: str = "kafka.") -> Dict[str, str]:
    """Java client settings (SASL_PLAINTEXT + SCRAM-SHA-512) for the principal
    of the file; {} when no file is configured (an unauthenticated cluster)."""
    if not path:
        return {}
    user, pw = kafka_credentials(path)
    jaas = f'org.apache.kafka.common.security.scram.ScramLoginModule required username="{user}" password="{pw}";'
    return {
        prefix + "security.protocol": "SASL_PLAINTEXT",
        prefix + "sasl.mechanism": "SCRAM-SHA-512",
        prefix + "sasl.jaas.config": jaas,
    }


def cassandra_credentials(path: str) -> Tuple[str, str]:
    """(username, password) of a cqlsh credentials file."""
    _check_private(path)
    cp = configparser.RawConfigParser()
    cp.read(path, encoding="utf-8")
    try:
        return cp.get("plain_text_auth", "username"), cp.get("plain_text_auth", "password")
    except (configparser.NoSectionError, configparser.NoOptionError):
        raise ConfigError(f"{path}: expected [plain_text_auth] with username and password") from None


def kafka_librdkafka_conf(path: str) -> Dict[str, str]:
    """confluent_kafka settings for the principal of the file. The wheel's
    librdkafka (2.16) does SCRAM-SHA-512, which Debian's 2.0.2 cannot do
    with Kafka 4: the file's own mechanism is overridden. {} without a file."""
    if not path:
        return {}
    user, pw = kafka_credentials(path)
    return {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "SCRAM-SHA-512",
            "sasl.username": user, "sasl.password": pw}  # fmt: skip
