"""The DAGs' view of the project's one configuration (userstream.conf).

The values come from stack/lib/us_config.py, which every Python part of the project
shares: the environment when ./userstream started this process (the scheduler, the
dag-processor and their task processes: every US_* value is there), else the output of
`./userstream env`. Neither opens a socket or a database, so DAG files may call it at
import time. Every key has its default in userstream.conf.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "stack" / "lib") not in sys.path:
    sys.path.insert(0, str(REPO / "stack" / "lib"))

import us_config  # noqa: E402

ConfigError = us_config.ConfigError
require = us_config.require


def load() -> dict[str, str]:
    """The effective configuration (stack/lib/us_config.py)."""
    return us_config.load()


def get(conf: dict[str, str], key: str, default: str) -> str:
    """conf[key] unless it is empty. Every key has its default in userstream.conf: use
    require() for those; a default here is only for keys that may be absent on purpose."""
    value = conf.get(key, "")
    return value if value else default


def loader_binary(conf: dict[str, str]) -> str:
    """userstream-load: US_LOAD_BIN, else on PATH, else the repository's build."""
    explicit = conf.get("US_LOAD_BIN")
    if explicit:
        return explicit
    found = shutil.which("userstream-load")
    if found:
        return found
    return str(REPO / "build" / "src" / "load" / "userstream-load")


def pgpass_file(conf: dict[str, str], role_key: str, role: str) -> str:
    """The libpq password file of one role ($US_SECRETS_DIR/pgpass-<role>, written by `up`):
    Airflow's own processes hold only the airflow role's file, so a task that acts as
    another role names that role's file for that connection (or the loader's process)."""
    return os.path.join(require(conf, "US_SECRETS_DIR"), "pgpass-" + (conf.get(role_key) or role))


def pg_params(conf: dict[str, str], role_key: str = "US_PG_OPS_USER", role: str = "ops") -> dict[str, str]:
    """libpq keywords for the staging database as one of the stack's roles (default: ops,
    which reads staging and reads/writes ops); the password comes from that role's file."""
    return {
        "host": require(conf, "US_PG_HOST"),
        "port": require(conf, "US_PG_PORT"),
        "dbname": require(conf, "US_PG_DATABASE"),
        "user": conf.get(role_key) or role,
        "passfile": pgpass_file(conf, role_key, role),
        "application_name": "userstream-airflow",
        "connect_timeout": "10",
    }


def connect(conf: dict[str, str]):
    """A DB-API connection to the staging database: psycopg 3 (Airflow's postgres extra
    brings it), else psycopg2. Imported here so that DAG files stay light to parse."""
    params = pg_params(conf)
    try:
        import psycopg
    except ImportError:
        import psycopg2

        return psycopg2.connect(**params)
    return psycopg.connect(**params)
