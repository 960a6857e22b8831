-- 042_reconcile_index: the reconciliation also compares the index tables with the users
-- rows (docs/lifecycle.md, "Reconciliation"; issue 12, item 6: a re-snapshot leaves the
-- index rows of emails and countries changed while no slot existed).
--
-- A difference of the index tables is one row of ops.reconcile_diffs with the index key
-- it names: kind stale_email_index / stale_country_index (an index row whose users row
-- holds another key, or none) or missing_email_index / missing_country_index (a users
-- row's key without its index row). One user can have several, hence the wider key.
ALTER TABLE ops.reconcile_runs
    ADD COLUMN IF NOT EXISTS stale_index bigint,             -- index rows no users row asks for
    ADD COLUMN IF NOT EXISTS missing_index bigint,           -- users rows' keys without index row
    ADD COLUMN IF NOT EXISTS index_ranges_differing integer; -- ranges whose (user, key) digests differed

ALTER TABLE ops.reconcile_diffs
    ADD COLUMN IF NOT EXISTS index_key text NOT NULL DEFAULT '';  -- email_hmac, or country_code/bucket
ALTER TABLE ops.reconcile_diffs DROP CONSTRAINT IF EXISTS reconcile_diffs_kind_check;
ALTER TABLE ops.reconcile_diffs ADD CONSTRAINT reconcile_diffs_kind_check CHECK (kind IN
    ('missing', 'ghost', 'stale_email_index', 'stale_country_index', 'missing_email_index', 'missing_country_index'));
ALTER TABLE ops.reconcile_diffs DROP CONSTRAINT IF EXISTS reconcile_diffs_pkey;
ALTER TABLE ops.reconcile_diffs ADD PRIMARY KEY (reconcile_id, user_id, kind, index_key);

-- The epoch of the newest finished snapshot when the run ran (ops.relay_slots
-- consistent_lsn * 2^20): ghosts and stale index rows written below it are the ones a
-- re-snapshot explains, repaired even without repair.
ALTER TABLE ops.reconcile_runs ADD COLUMN IF NOT EXISTS snapshot_epoch numeric(20,0);
