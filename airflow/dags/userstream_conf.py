"""The project's one configuration (userstream.conf), read the way the C programs read it.

Layers: built-in defaults -> the KEY=value file ($US_CONFIG, else userstream.conf at the
repository root) -> environment (an empty variable counts as unset). Reading a small local
file is all this does: no network, no database, so DAG files may call it at import time.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
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


def pg_params(conf: dict[str, str], role_key: str = "US_PG_OPS_USER", role: str = "ops") -> dict[str, str]:
    """libpq keywords for the staging database as one of the stack's roles (default: ops,
    which reads staging and reads/writes ops); the password comes from PGPASSFILE."""
    return {
        "host": get(conf, "US_PG_HOST", get(conf, "US_BIND", "127.0.0.1")),
        "port": get(conf, "US_PG_PORT", "5433"),
        "dbname": get(conf, "US_PG_DATABASE", "userstream"),
        "user": get(conf, role_key, role),
        "application_name": "userstream-airflow",
        "connect_timeout": "10",
    }


# The Airflow Connections `up` creates (stack/services/60-airflow-api-server.sh).
LOADER_CONN_ID = "userstream_pg_loader"
OPS_CONN_ID = "userstream_pg_ops"


def conn_params(conn_id: str) -> dict[str, str]:
    """libpq keywords (password included) of an Airflow Connection."""
    from airflow.hooks.base import BaseHook

    c = BaseHook.get_connection(conn_id)
    return {"host": c.host, "port": str(c.port or 5432), "dbname": c.schema, "user": c.login,
            "password": c.password or "", "application_name": "userstream-airflow", "connect_timeout": "10"}


@contextlib.contextmanager
def pgpass_env(conn_id: str):
    """Environment for a libpq program (the loader) to log in as the role of
    conn_id: a private pgpass file (mode 0600, removed afterwards) named by
    PGPASSFILE, and the US_PG_* keys of the connection. The password is never
    on a command line nor in the environment."""
    p = conn_params(conn_id)
    with tempfile.TemporaryDirectory(prefix="userstream-pgpass-") as d:
        path = os.path.join(d, "pgpass")
        esc = {k: p[k].replace("\\", "\\\\").replace(":", "\\:") for k in ("host", "port", "dbname", "user", "password")}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("{host}:{port}:{dbname}:{user}:{password}\n".format(**esc))
        yield {"PGPASSFILE": path, "US_PG_HOST": p["host"], "US_PG_PORT": p["port"],
               "US_PG_DATABASE": p["dbname"], "US_PG_LOADER_USER": p["user"]}


def connect(conf: dict[str, str]):
    """A DB-API connection to the staging database as the ops role, from the
    Airflow Connection userstream_pg_ops: psycopg 3 (Airflow's postgres extra
    brings it), else psycopg2. Imported here so that DAG files stay light to parse."""
    params = conn_params(OPS_CONN_ID)
    try:
        import psycopg
    except ImportError:
        import psycopg2

        return psycopg2.connect(**params)
    return psycopg.connect(**params)
