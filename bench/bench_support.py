"""Helpers of the benchmarks that drive the running stack from outside:
its configuration (stack/lib/us_config.py, the one reader), psql as one of
its roles, and staging synthetic rows without sending them to Kafka. No
benchmark here."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
US = str(REPO / "userstream")
sys.path.insert(0, str(REPO / "stack" / "lib"))

import us_config  # noqa: E402


def env() -> dict[str, str]:
    """This process's environment with the stack's effective configuration."""
    return {**os.environ, **us_config.load()}


def psql(e, sql: str, role: str | None = None) -> str:
    return subprocess.run(
        ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", e["US_PG_HOST"], "-p", e["US_PG_PORT"],
         "-U", role or e["US_PG_ADMIN_USER"], "-d", e["US_PG_DATABASE"], "-w", "-c", sql],
        env=e, capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip


def stage_unpublished(e, insert_sql: str, rows: int, **fmt) -> None:
    """Runs insert_sql (with {lo} and {hi}, plus fmt) for rows 1..rows in
    chunks of 100,000, with staging.users briefly out of the relay's
    publication: the rows are staged, but nothing goes to Kafka."""
    pub = e.get("US_RELAY_PUBLICATION", "userstream_users")
    psql(e, f"ALTER PUBLICATION {pub} DROP TABLE staging.users")
    try:
        for lo in range(1, rows + 1, 100_000):
            psql(e, insert_sql.format(lo=lo, hi=min(lo + 99_999, rows), **fmt))
    finally:
        psql(e, f"ALTER PUBLICATION {pub} ADD TABLE staging.users")
    psql(e, "VACUUM ANALYZE staging.users")
