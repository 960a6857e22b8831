-- 010_ingest_ops: operations tables of the ingestion stage (userstream-load and
-- the Airflow DAGs userstream_ingest / userstream_quality). Nothing here changes
-- the staging contract of 001.

CREATE SCHEMA IF NOT EXISTS ops;

-- One row per loader invocation: inserted when it starts, totals written when
-- it ends (a crashed loader leaves status 'running'; its batches below are
-- still exact).
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
    -- totals of the run's batches, written at the end (ops.load_batches has the truth)
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

-- One row per committed batch (a page), inserted in the batch's own
-- transaction: these counts describe exactly what is in staging.users and
-- staging.rejects, even after a crash. Insert-only, so parallel loader
-- connections never wait on each other for a counter row.
CREATE TABLE IF NOT EXISTS ops.load_batches (
    load_id        bigint NOT NULL REFERENCES ops.load_runs (load_id),
    page           integer NOT NULL,
    page_rejected  boolean NOT NULL,                -- the page itself is a reject row
    fetched        integer NOT NULL,
    staged         integer NOT NULL,
    duplicates     integer NOT NULL,
    rejected       integer NOT NULL,
    retries        bigint NOT NULL,                 -- the run's retries when it committed
    committed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (load_id, page),
    CONSTRAINT load_batches_accounted CHECK (fetched = staged + duplicates + rejected)
);

-- Rejects are few: an index lets the quality check count a run's quickly.
-- (staging.users gets no run_id index on purpose: it would cost the hot load
-- path ~10-20%; the quality check's count there is a scan.)
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

-- Rights. The ops role (reads/writes ops) and airflow (reads ops) get these tables through
-- the default privileges of 002. The loader writes its own run and batch rows: a batch's
-- counts must commit in the same transaction as its rows, so it needs them here.
-- The loader COPYs each batch into a session temporary table (not WAL-logged, private),
-- and up revokes TEMPORARY from PUBLIC: grant it on this database, whatever its name.
DO $$
BEGIN
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO loader', current_database());
END
$$;
GRANT USAGE ON SCHEMA ops TO loader;
GRANT SELECT, INSERT, UPDATE ON ops.load_runs TO loader;
GRANT USAGE ON SEQUENCE ops.load_runs_load_id_seq TO loader;
GRANT SELECT, INSERT ON ops.load_batches TO loader;
