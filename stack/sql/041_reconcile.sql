-- 041_reconcile: whole-pipeline reconciliation, staging.users against Cassandra's
-- users table by id set (docs/lifecycle.md, "Reconciliation"; DAG userstream_reconcile).
--
-- One row per run in ops.reconcile_runs, one row per difference found in
-- ops.reconcile_diffs. The console's alert 'reconcile' reads the newest finished
-- run. The ops role (the DAG's Connection userstream_pg_ops) writes both tables
-- and airflow reads them, through the default privileges of 002_privileges.sql.
CREATE TABLE IF NOT EXISTS ops.reconcile_runs (
    reconcile_id     bigserial PRIMARY KEY,
    run_by           text        NOT NULL,          -- Airflow run id (or who ran it)
    started_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,                   -- NULL while running (or if it died)
    repair           boolean     NOT NULL,          -- repair was asked for
    ranges           integer     NOT NULL,          -- token ranges of the ring
    ranges_differing integer,                       -- ranges whose digests differed
    staged           bigint,                        -- staging ids compared (in-flight and retired out)
    cassandra        bigint,                        -- Cassandra ids compared (same cut)
    missing          bigint,                        -- staged, not in Cassandra
    ghosts           bigint,                        -- in Cassandra, not staged
    in_flight        bigint,                        -- candidates that the re-check cleared
    repaired         bigint,                        -- missing re-emitted + ghosts deleted
    snapshot_lsn     pg_lsn,                        -- WAL position of the staging snapshot
    progress_lsn     numeric(20,0),                 -- the Spark job's max_commit_lsn ('users')
    progress_ts      timestamptz,                   -- ... and its max_commit_ts
    retired_before   timestamptz,                   -- rows fetched before this: may be purged, not compared
    duration_ms      integer,
    problems         text[] NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS reconcile_runs_finished_at ON ops.reconcile_runs (finished_at);

CREATE TABLE IF NOT EXISTS ops.reconcile_diffs (
    reconcile_id bigint NOT NULL REFERENCES ops.reconcile_runs ON DELETE CASCADE,
    user_id      uuid   NOT NULL,
    kind         text   NOT NULL CHECK (kind IN ('missing', 'ghost')),
    token        bigint NOT NULL,          -- Murmur3 token of the id (Cassandra's partitioner)
    writetime    bigint,                   -- ghosts: the newest write time of the row's cells
    repaired_at  timestamptz,              -- re-emitted (missing) or deleted (ghost)
    PRIMARY KEY (reconcile_id, user_id)
);

-- Repair of a user missing in Cassandra: a no-op UPDATE of its staging row, so the
-- relay publishes its image again ('u') and the Spark job writes it through the
-- normal path, USING TIMESTAMP the update's LSN (deterministic: a replay writes the
-- same cells, and any later change of the user has a higher LSN and wins).
-- SECURITY DEFINER, owned by the admin: the ops role gets this one operation and no
-- UPDATE on staging. Returns the number of rows touched.
CREATE OR REPLACE FUNCTION ops.reconcile_reemit(p_ids uuid[])
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_n bigint;
BEGIN
    IF p_ids IS NULL OR cardinality(p_ids) > 10000 THEN
        RAISE EXCEPTION 'reconcile_reemit: between 0 and 10000 ids per call';
    END IF;
    UPDATE staging.users SET loaded_at = loaded_at WHERE user_id = ANY (p_ids);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN v_n;
END
$$;
REVOKE ALL ON FUNCTION ops.reconcile_reemit(uuid[]) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION ops.reconcile_reemit(uuid[]) TO ops;
