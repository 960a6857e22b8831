-- 040_lifecycle: bounded staging and the erasure of one user (docs/lifecycle.md).
-- Numbers 040-049 belong to the data lifecycle.
--
-- Both are SECURITY DEFINER functions owned by the admin, so the roles that call
-- them (ops: the DAGs, ./userstream forget) get exactly these operations and no
-- DELETE on staging, and no right to emit logical decoding messages themselves.

-- pg_walinspect finds the commit LSN of a forget transaction (ops.erasure_refresh).
CREATE EXTENSION IF NOT EXISTS pg_walinspect;

-- BRIN on the fetch time: the purge finds old rows without a scan of the table,
-- and the loader's insert path pays almost nothing (a B-tree here would cost it
-- like the run_id index 010 decided against). Rows are appended in fetch order.
CREATE INDEX IF NOT EXISTS users_fetched_at_brin ON staging.users USING brin (fetched_at);
CREATE INDEX IF NOT EXISTS rejects_fetched_at_brin ON staging.rejects USING brin (fetched_at);

-- One row per purge batch (a transaction of ops.staging_purge_batch).
CREATE TABLE IF NOT EXISTS ops.staging_purges (
    purge_id      bigserial PRIMARY KEY,
    purged_at     timestamptz NOT NULL DEFAULT now(),
    purged_by     text NOT NULL,
    cutoff        timestamptz NOT NULL,            -- rows fetched before this were due
    horizon       timestamptz,                     -- the job's progress (max_commit_ts of 'users')
    users         bigint NOT NULL,
    rejects       bigint NOT NULL,
    wal_lsn       pg_lsn NOT NULL                  -- WAL position inside the purge transaction
);
CREATE INDEX IF NOT EXISTS staging_purges_purged_at ON ops.staging_purges (purged_at);

-- One batch of the staging purge, in the caller's transaction (call it once per
-- transaction, until it returns 0 rows).
--   users:   fetched before now() - retention AND loaded (inserted; the loader never
--            updates a row) before the Spark job's progress minus a margin: the
--            insert has reached Cassandra.
--   rejects: fetched before now() - retention (they never leave PostgreSQL).
-- The transaction first emits the logical decoding message 'userstream.purge':
-- the relay then does not publish the deletes of this transaction (a purge is
-- not a user deletion), but still confirms its LSN, so the slot moves on.
CREATE OR REPLACE FUNCTION ops.staging_purge_batch(p_retention interval, p_limit integer,
                                                   p_by text DEFAULT current_user,
                                                   p_margin interval DEFAULT '10 minutes')
RETURNS ops.staging_purges
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_cutoff  timestamptz := now() - p_retention;
    v_horizon timestamptz;
    v_users   bigint := 0;
    v_rejects bigint := 0;
    v_row     ops.staging_purges;
BEGIN
    IF p_retention IS NULL OR p_retention < interval '0' OR p_limit IS NULL OR p_limit < 1 THEN
        RAISE EXCEPTION 'staging_purge_batch: retention must be >= 0 and limit >= 1';
    END IF;
    SELECT max(max_commit_ts) INTO v_horizon FROM ops.stream_progress WHERE query_name = 'users';
    PERFORM pg_logical_emit_message(true, 'userstream.purge',
        json_build_object('by', p_by, 'cutoff', v_cutoff, 'horizon', v_horizon)::text);
    IF v_horizon IS NOT NULL THEN
        WITH due AS (
            SELECT ctid FROM staging.users
            WHERE fetched_at < v_cutoff AND loaded_at < v_horizon - p_margin
            LIMIT p_limit)
        DELETE FROM staging.users u USING due WHERE u.ctid = due.ctid;
        GET DIAGNOSTICS v_users = ROW_COUNT;
    END IF;
    WITH due AS (
        SELECT reject_id FROM staging.rejects WHERE fetched_at < v_cutoff LIMIT p_limit)
    DELETE FROM staging.rejects r USING due WHERE r.reject_id = due.reject_id;
    GET DIAGNOSTICS v_rejects = ROW_COUNT;
    INSERT INTO ops.staging_purges (purged_by, cutoff, horizon, users, rejects, wal_lsn)
    VALUES (p_by, v_cutoff, v_horizon, v_users, v_rejects, pg_current_wal_insert_lsn())
    RETURNING * INTO v_row;
    RETURN v_row;
END
$$;

-- The erasure record of one user: who asked, when, what each store holds.
-- *_at: when that store was confirmed clean; *_by: when a store that cannot be
-- rewritten at once will be, computed from the configuration in `config`.
CREATE TABLE IF NOT EXISTS ops.erasures (
    erasure_id          bigserial PRIMARY KEY,
    user_id             uuid NOT NULL,
    requested_by        text NOT NULL,
    requested_at        timestamptz NOT NULL DEFAULT now(),
    reason              text,
    staging_rows        integer NOT NULL,          -- staging.users rows deleted (0 or 1)
    reject_rows         integer NOT NULL,          -- staging.rejects rows deleted
    xid                 bigint NOT NULL,           -- the forget transaction
    lsn_before_commit   pg_lsn NOT NULL,           -- WAL position before its commit
    commit_lsn          pg_lsn,                    -- its commit record (ops.erasure_refresh)
    staging_clean_at    timestamptz,               -- = requested_at: same transaction
    kafka_tombstone_at  timestamptz,               -- relay confirmed past the commit: tombstone in Kafka
    spool_clean_at      timestamptz,               -- relay spool holds nothing older (same condition)
    cassandra_clean_at  timestamptz,               -- Spark job's progress passed the commit
    kafka_compacted_by  timestamptz,               -- older values of the key compacted away by then
    kafka_tombstone_gone_by timestamptz,           -- the tombstone itself gone by then
    dlq_expired_by      timestamptz,               -- dead letters of that time deleted by then
    config              jsonb NOT NULL             -- the configuration the times come from
);
CREATE INDEX IF NOT EXISTS erasures_user_id ON ops.erasures (user_id);

-- ms of a config key (jsonb text or number), NULL when absent or unbounded
-- (Kafka's default max.compaction.lag.ms is Long.MAX_VALUE: no bound).
CREATE OR REPLACE FUNCTION ops.lifecycle_ms(p_conf jsonb, p_key text) RETURNS interval
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_conf ? p_key AND (p_conf->>p_key) ~ '^[0-9]{1,13}$'
                THEN (p_conf->>p_key)::bigint * interval '1 millisecond' END
$$;

-- Forget one user: delete it from staging.users (an ordinary delete: the relay
-- publishes a tombstone, the Spark job deletes the Cassandra rows) and every
-- reject whose raw record names its id or its email; write the erasure record.
-- p_conf: the Kafka topic configs in force (segment.ms, max.compaction.lag.ms,
-- delete.retention.ms of the users topic; retention.ms, segment.ms of the DLQ).
CREATE OR REPLACE FUNCTION ops.forget_user(p_user uuid, p_by text, p_reason text, p_conf jsonb)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_email   text;
    v_users   integer;
    v_rejects integer;
    v_id      bigint;
    v_now     timestamptz := now();
    v_compact interval := coalesce(ops.lifecycle_ms(p_conf, 'users.segment.ms'), interval '7 days')
                        + coalesce(ops.lifecycle_ms(p_conf, 'users.max.compaction.lag.ms'), interval '0');
BEGIN
    IF p_user IS NULL OR coalesce(p_by, '') = '' THEN
        RAISE EXCEPTION 'forget_user: a user id and who asks are required';
    END IF;
    SELECT email INTO v_email FROM staging.users WHERE user_id = p_user;
    DELETE FROM staging.users WHERE user_id = p_user;
    GET DIAGNOSTICS v_users = ROW_COUNT;
    IF v_users = 0 THEN
        -- Not (or no longer) in staging, e.g. purged after its retention: Kafka and
        -- Cassandra may still hold it. The relay turns this message into the
        -- tombstone the delete would have produced.
        PERFORM pg_logical_emit_message(true, 'userstream.forget', p_user::text);
    END IF;
    DELETE FROM staging.rejects
    WHERE strpos(lower(raw_text), lower(p_user::text)) > 0
       OR (v_email IS NOT NULL AND v_email <> '' AND strpos(lower(raw_text), lower(v_email)) > 0);
    GET DIAGNOSTICS v_rejects = ROW_COUNT;
    INSERT INTO ops.erasures (user_id, requested_by, requested_at, reason, staging_rows, reject_rows,
                              xid, lsn_before_commit, staging_clean_at, kafka_compacted_by,
                              kafka_tombstone_gone_by, dlq_expired_by, config)
    VALUES (p_user, p_by, v_now, p_reason, v_users, v_rejects, txid_current(),
            pg_current_wal_insert_lsn(), v_now,
            -- max.compaction.lag.ms bounds compaction only when set; else unknown (NULL)
            CASE WHEN ops.lifecycle_ms(p_conf, 'users.max.compaction.lag.ms') IS NOT NULL
                 THEN v_now + v_compact END,
            CASE WHEN ops.lifecycle_ms(p_conf, 'users.max.compaction.lag.ms') IS NOT NULL
                 THEN v_now + v_compact
                      + coalesce(ops.lifecycle_ms(p_conf, 'users.delete.retention.ms'), interval '1 day') END,
            v_now + coalesce(ops.lifecycle_ms(p_conf, 'dlq.retention.ms'), interval '7 days')
                  + coalesce(ops.lifecycle_ms(p_conf, 'dlq.segment.ms'), interval '7 days'),
            p_conf)
    RETURNING erasure_id INTO v_id;
    RETURN v_id;
END
$$;

-- Brings an erasure record up to date (call it after the forget transaction
-- committed, again later): finds the commit LSN in the WAL, then marks Kafka
-- (and the relay spool) clean once the relay's slot is confirmed past it, and
-- Cassandra once the Spark job's progress has a commit at or past it.
CREATE OR REPLACE FUNCTION ops.erasure_refresh(p_id bigint, p_slot text DEFAULT 'userstream_relay')
RETURNS ops.erasures
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    e ops.erasures;
    v_confirmed pg_lsn;
    v_progress numeric;
BEGIN
    SELECT * INTO e FROM ops.erasures WHERE erasure_id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no erasure %', p_id;
    END IF;
    IF e.commit_lsn IS NULL THEN
        -- The commit follows lsn_before_commit closely (./userstream forget refreshes at
        -- once); 256 MB of WAL bounds the scan, and WAL already recycled is no error.
        BEGIN
            SELECT min(w.start_lsn) INTO e.commit_lsn
            FROM public.pg_get_wal_records_info(e.lsn_before_commit,
                     least(pg_current_wal_flush_lsn(), e.lsn_before_commit + 268435456)) w
            WHERE w.resource_manager = 'Transaction' AND w.record_type LIKE 'COMMIT%'
              AND w.xid::text::bigint = (e.xid % 4294967296);
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'erasure %: commit LSN not found in the WAL: %', p_id, SQLERRM;
        END;
    END IF;
    IF e.commit_lsn IS NOT NULL THEN
        SELECT confirmed_flush_lsn INTO v_confirmed FROM pg_replication_slots WHERE slot_name = p_slot;
        IF e.kafka_tombstone_at IS NULL AND v_confirmed > e.commit_lsn THEN
            e.kafka_tombstone_at := now();
            e.spool_clean_at := now();
        END IF;
        SELECT max(max_commit_lsn) INTO v_progress FROM ops.stream_progress WHERE query_name = 'users';
        IF e.cassandra_clean_at IS NULL AND v_progress >= (e.commit_lsn - '0/0'::pg_lsn) THEN
            e.cassandra_clean_at := now();
        END IF;
    END IF;
    UPDATE ops.erasures SET commit_lsn = e.commit_lsn, kafka_tombstone_at = e.kafka_tombstone_at,
        spool_clean_at = e.spool_clean_at, cassandra_clean_at = e.cassandra_clean_at
    WHERE erasure_id = p_id;
    RETURN e;
END
$$;

REVOKE ALL ON FUNCTION ops.staging_purge_batch(interval, integer, text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION ops.forget_user(uuid, text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION ops.erasure_refresh(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ops.staging_purge_batch(interval, integer, text, interval) TO ops;
GRANT EXECUTE ON FUNCTION ops.forget_user(uuid, text, text, jsonb) TO ops;
GRANT EXECUTE ON FUNCTION ops.erasure_refresh(bigint, text) TO ops;
