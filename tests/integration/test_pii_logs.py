"""PII never reaches a log: a PostgreSQL error is logged with its SQLSTATE, its
message (quoted values blanked) and the constraint/column/table it names, never
its DETAIL ("Failing row contains (...)") or CONTEXT (the COPY line)."""

from __future__ import annotations

import json
import os
import uuid

from loadtest_support import ingest_for, unique


def log_files(stack):
    """Every log of the stack: services, PostgreSQL, Airflow's task logs."""
    roots = [stack["US_LOG_DIR"], os.path.join(stack["US_HOME"], "airflow", "logs")]
    for root in roots:
        for d, _, files in os.walk(root):
            for f in files:
                yield os.path.join(d, f)


def test_copy_error_logs_no_row_values(stack):
    admin = stack["US_PG_ADMIN_USER"]
    with ingest_for(stack) as ing:
        seed, run = unique("it-pii"), unique("it-run")
        users = ing.page(seed, 1, 5)["results"]
        emails = [u["email"] for u in users]
        assert len(emails) == 5
        # A check that this page's rows break: PostgreSQL's DETAIL then holds
        # each failing row whole, email included.
        name = f"it_pii_{uuid.uuid4().hex[:8]}"
        stack.psql(admin, f"ALTER TABLE staging.users ADD CONSTRAINT {name} "
                          f"CHECK (source_seed <> '{seed}') NOT VALID")
        try:
            rc, summary, err = ing.load("--seed", seed, "--pages", "1", "--results", "5", "--run-id", run)
        finally:
            stack.psql(admin, f"ALTER TABLE staging.users DROP CONSTRAINT IF EXISTS {name}")
        assert rc != 0, err
        # What is kept: the SQLSTATE and the constraint's name.
        assert "23514" in err and name in err, err
        texts = {"loader stderr": err, "loader summary": json.dumps(summary)}
        texts["ops.load_runs"] = stack.psql(admin, "SELECT coalesce(string_agg(r::text, ' '), '') FROM ops.load_runs r "
                                                   f"WHERE run_id = '{run}'").stdout
        for path in log_files(stack):
            with open(path, "rb") as f:
                texts[path] = f.read().decode(errors="replace")
        assert any(name in t for p, t in texts.items() if p.endswith("postgres.log")), "server log has no error"
        for where, text in texts.items():
            for email in emails:
                assert email not in text, f"{email} in {where}"
