"""The project's one configuration (userstream.conf), read the way the C programs read it.

Layers: built-in defaults -> the KEY=value file ($US_CONFIG, else userstream.conf at the
repository root) -> environment (an empty variable counts as unset). Reading a small local
file is all this does: no network, no database, so DAG files may call it at import time.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _parse(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return values
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        if value.startswith("~/"):
            value = str(Path.home() / value[2:])
        values[key] = value
    return values


def load() -> dict[str, str]:
    """Effective settings: file, then environment. As in the stack scripts, US_PORT_OFFSET
    is added to every *_PORT read from the file; a port from the environment is taken as is
    (so the output of `./userstream env` can be fed back without shifting twice)."""
    path = Path(os.environ.get("US_CONFIG") or REPO / "userstream.conf")
    values = _parse(path)
    offset = os.environ.get("US_PORT_OFFSET") or values.get("US_PORT_OFFSET") or "0"
    if offset.isdigit() and int(offset):
        for key, value in values.items():
            if key.endswith("_PORT") and value.isdigit():
                values[key] = str(int(value) + int(offset))
    for key, value in os.environ.items():
        if key.startswith("US_") and value:
            values[key] = value
    return values


def get(conf: dict[str, str], key: str, default: str) -> str:
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
    secrets = get(conf, "US_SECRETS_DIR", os.path.join(get(conf, "US_HOME", "."), "secrets"))
    return os.path.join(secrets, "pgpass-" + get(conf, role_key, role))


def pg_params(conf: dict[str, str], role_key: str = "US_PG_OPS_USER", role: str = "ops") -> dict[str, str]:
    """libpq keywords for the staging database as one of the stack's roles (default: ops,
    which reads staging and reads/writes ops); the password comes from that role's file."""
    return {
        "host": get(conf, "US_PG_HOST", get(conf, "US_BIND", "127.0.0.1")),
        "port": get(conf, "US_PG_PORT", "5433"),
        "dbname": get(conf, "US_PG_DATABASE", "userstream"),
        "user": get(conf, role_key, role),
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
