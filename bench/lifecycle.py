"""bench/lifecycle.py: the cost of the staging purge (docs/lifecycle.md), on the running stack.

    ./userstream up && ./userstream restart relay     # engines + relay; the Spark job has
                                                      # written at least one batch (progress)
    $US_VENV/bin/python bench/lifecycle.py purge [--rows 1000000 --batch 5000]

purge  inserts N synthetic rows into staging.users, fetched 30 days ago, with the table
       briefly out of the publication (so the bench does not put N records into Kafka: only
       the deletes are under test, and those are decoded in full by pgoutput and dropped by
       the relay as a purge), then runs `./userstream purge` and reports: rows, seconds,
       rows/s, WAL bytes written by the purge (pg_current_wal_lsn before/after), the
       relay's purged_rows_total, and the replication lag of the relay's slot
       (pg_current_wal_lsn - confirmed_flush_lsn, sampled every 0.5 s) during the purge and
       how long after the purge the slot passed its end.

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import threading
import time
import urllib.request

from bench_support import US, env, psql, stage_unpublished




def purged_total(e) -> float:
    url = f"http://{e['US_BIND']}:{e['US_RELAY_METRICS_PORT']}/metrics"
    with urllib.request.urlopen(url, timeout=10) as r:
        m = re.search(r"^userstream_relay_purged_rows_total (\S+)$", r.read().decode(), re.M)
    return float(m.group(1)) if m else 0.0


INSERT = """
INSERT INTO staging.users (user_id, first_name, last_name, email, nat, country, city,
    source_url, source_seed, source_page, fetched_at, run_id, loaded_at)
SELECT gen_random_uuid(), 'F' || g, 'L' || g, 'bench' || g || '@example.com', 'FR', 'France', 'Paris',
       'bench', 'bench', g / 5000, now() - interval '30 days', 'bench-purge', now() - interval '30 days'
FROM generate_series({lo}, {hi}) g
"""


def purge(args) -> dict:
    e = env()
    slot = e.get("US_RELAY_SLOT", "userstream_relay")
    stage_unpublished(e, INSERT, args.rows)
    lag_sql = (f"SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint "
               f"FROM pg_replication_slots WHERE slot_name = '{slot}'")
    lags: list[int] = []
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            lags.append(int(psql(e, lag_sql) or 0))
            time.sleep(0.5)

    before = psql(e, "SELECT pg_current_wal_lsn()")
    purged0 = purged_total(e)
    t = threading.Thread(target=sample, daemon=True)
    t.start()
    t0 = time.monotonic()
    out = subprocess.run([US, "purge", "--batch", str(args.batch)], env=e, capture_output=True, text=True, check=True)
    seconds = time.monotonic() - t0
    after = psql(e, "SELECT pg_current_wal_lsn()")
    while psql(e, f"SELECT confirmed_flush_lsn >= '{after}' FROM pg_replication_slots WHERE slot_name = '{slot}'") != "t":
        time.sleep(0.2)
    caught_up = time.monotonic() - t0 - seconds
    stop.set()
    t.join()
    wal = int(psql(e, f"SELECT pg_wal_lsn_diff('{after}', '{before}')::bigint"))
    rows = int(re.search(r"(\d+) users", out.stdout).group(1))
    return {"bench": "purge", "rows": rows, "batch": args.batch, "seconds": round(seconds, 1),
            "rows_per_s": round(rows / seconds), "wal_bytes": wal, "wal_bytes_per_row": round(wal / max(rows, 1)),
            "relay_purged_rows": purged_total(e) - purged0,
            "slot_lag_bytes_max": max(lags or [0]), "slot_lag_bytes_median": sorted(lags)[len(lags) // 2] if lags else 0,
            "slot_caught_up_s_after_purge": round(caught_up, 1)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    pp = sub.add_parser("purge")
    pp.add_argument("--rows", type=int, default=1_000_000)
    pp.add_argument("--batch", type=int, default=5000)
    args = p.parse_args()
    print(json.dumps(purge(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
