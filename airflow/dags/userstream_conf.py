"""The DAGs' view of the project's one configuration (userstream.conf).

The values come from stack/lib/us_config.py, which every Python part of the project
shares: the environment when ./userstream started this process (the scheduler, the
dag-processor and their task processes: every US_* value is there), else the output of
`./userstream env`. Neither opens a socket or a database, so DAG files may call it at
import time. Every key has its default in userstream.conf.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
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
