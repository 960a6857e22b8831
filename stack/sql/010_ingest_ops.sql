-- 010_ingest_ops: operations tables of the ingestion stage (userstream-load and
-- the Airflow DAGs userstream_ingest / userstream_quality). Nothing here changes
-- the staging contract of 001.

CREATE SCHEMA IF NOT EXISTS ops;

-- One row per loader invocation. The loader inserts it when it starts and adds
-- each batch's counts in the same transaction as the batch's rows, so these
-- counters always describe exactly what is committed in staging.users and
-- staging.rejects, even after a crash.
CREATE TABLE IF NOT EXISTS ops.load_runs (
    load_id          bigserial PRIMARY KEY,
    run_id           text NOT NULL,                 -- Airflow run id or loader-made id
    source_url       text NOT NULL,                 -- API base URL without credentials
    source_seed      text NOT NULL,
    first_page       integer NOT NULL,
    pages            integer,                       -- NULL: --follow (open ended)
    results_per_page integer NOT NULL,
    status           text NOT NULL DEFAULT 'running'
                     CHECK (status IN ('running', 'ok', 'partial', 'failed', 'interrupted')),
    exit_code        integer,
    pages_done       integer NOT NULL DEFAULT 0,    -- batches committed (loaded or rejected pages)
    pages_rejected   integer NOT NULL DEFAULT 0,    -- pages rejected whole (staging.rejects, record_index NULL)
    fetched          bigint NOT NULL DEFAULT 0,     -- user records received in usable pages
    staged           bigint NOT NULL DEFAULT 0,     -- rows inserted into staging.users
    duplicates       bigint NOT NULL DEFAULT 0,     -- valid records whose user_id was already staged
    rejected         bigint NOT NULL DEFAULT 0,     -- invalid records (staging.rejects, record_index set)
    retries          bigint NOT NULL DEFAULT 0,     -- HTTP/page retries
    seconds          double precision,
    started_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    -- the accounting rule of the pipeline, enforced where the counts are written
    CONSTRAINT load_runs_accounted CHECK (fetched = staged + duplicates + rejected)
);
CREATE INDEX IF NOT EXISTS load_runs_run_id ON ops.load_runs (run_id);

-- Lets the quality checks count what one run staged without a full scan.
CREATE INDEX IF NOT EXISTS users_run_id ON staging.users (run_id);
CREATE INDEX IF NOT EXISTS rejects_run_id ON staging.rejects (run_id);

-- One row per check of one ingestion run by the userstream_quality DAG.
CREATE TABLE IF NOT EXISTS ops.ingest_quality (
    check_id            bigserial PRIMARY KEY,
    run_id              text NOT NULL,              -- the ingestion run checked
    checked_at          timestamptz NOT NULL DEFAULT now(),
    checked_by          text,                       -- the quality DAG's run id
    ok                  boolean NOT NULL,
    load_runs           integer NOT NULL,           -- loader invocations of this run
    fetched             bigint NOT NULL,
    staged              bigint NOT NULL,
    duplicates          bigint NOT NULL,
    rejected            bigint NOT NULL,
    pages_rejected      bigint NOT NULL,
    staged_in_table     bigint NOT NULL,            -- count(*) of staging.users with this run_id
    rejected_in_table   bigint NOT NULL,            -- record rejects in staging.rejects
    page_rejects_in_table bigint NOT NULL,          -- whole-page rejects in staging.rejects
    newest_loaded_at    timestamptz,
    freshness_seconds   double precision,
    problems            text[] NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS ingest_quality_run_id ON ops.ingest_quality (run_id);

-- The loader's role (created by the stack's `up`) needs these; granted only
-- when it exists so the migration also applies to a bare database.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'userstream_load') THEN
        GRANT USAGE ON SCHEMA staging, ops TO userstream_load;
        GRANT SELECT, INSERT ON staging.users, staging.rejects TO userstream_load;
        GRANT USAGE ON SEQUENCE staging.rejects_reject_id_seq TO userstream_load;
        GRANT SELECT, INSERT, UPDATE ON ops.load_runs TO userstream_load;
        GRANT USAGE ON SEQUENCE ops.load_runs_load_id_seq TO userstream_load;
        GRANT SELECT, INSERT ON ops.ingest_quality TO userstream_load;
        GRANT USAGE ON SEQUENCE ops.ingest_quality_check_id_seq TO userstream_load;
    END IF;
END
$$;
