-- 011_rejects_once: a record reject is stored once per ingestion run (issue 12 item 11).
--
-- A rerun of an ingestion run (the Airflow task retried after its loader was killed,
-- a backfill) loads the same pages again: its users are duplicates (ON CONFLICT
-- (user_id) DO NOTHING), and its record rejects are the same records, which were
-- inserted a second time. This index makes the loader's INSERT ... ON CONFLICT DO
-- NOTHING skip them; the loader counts a skipped reject as a duplicate, so every page
-- still has fetched = staged + duplicates + rejected, and the quality check's
-- "record rejects in staging.rejects = rejected" holds across reruns. A whole-page
-- reject (record_index NULL) is an event of one fetch, not a record: each is kept.
--
-- Rejects stored twice before this migration are removed first (the oldest row stays).
DELETE FROM staging.rejects a
 USING staging.rejects b
 WHERE a.record_index IS NOT NULL
   AND a.run_id = b.run_id AND a.source_url = b.source_url
   AND coalesce(a.source_seed, '') = coalesce(b.source_seed, '')
   AND coalesce(a.source_page, -1) = coalesce(b.source_page, -1)
   AND a.record_index = b.record_index
   AND a.reject_id > b.reject_id;

CREATE UNIQUE INDEX IF NOT EXISTS rejects_record_once
    ON staging.rejects (run_id, source_url, (coalesce(source_seed, '')), (coalesce(source_page, -1)), record_index)
 WHERE record_index IS NOT NULL;
