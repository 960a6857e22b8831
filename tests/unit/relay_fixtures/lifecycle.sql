-- The data lifecycle (docs/lifecycle.md): transactions marked by logical
-- decoding messages, recorded with the pgoutput option messages=true.
-- 1. three users
insert into staging.users (user_id, first_name, last_name, email, nat, source_url, source_seed, source_page, fetched_at, run_id)
select ('40000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, 'F'||g, 'L'||g, 'e'||g||'@x', 'US', 'u', 's', g, '2026-11-24 01:00:00+00', 'run-5' from generate_series(1,3) g;
-- 2. a staging purge: the message first, then its deletes (not published)
begin;
select pg_logical_emit_message(true, 'userstream.purge', '{"by":"fixture"}');
delete from staging.users where user_id in ('40000000-0000-4000-8000-000000000001', '40000000-0000-4000-8000-000000000002');
commit;
-- 3. the erasure of a user no longer in staging: the message is its tombstone
select pg_logical_emit_message(true, 'userstream.forget', '40000000-0000-4000-8000-000000000001');
-- 4. an ordinary delete (published as a tombstone)
delete from staging.users where user_id = '40000000-0000-4000-8000-000000000003';
-- 5. a non-transactional message (not part of any transaction)
select pg_logical_emit_message(false, 'other.prefix', 'ignored');
-- 6. a purge too big for logical_decoding_work_mem (64kB): streamed, the message
--    inside the stream block with its transaction id
insert into staging.users (user_id, first_name, last_name, email, nat, source_url, source_seed, source_page, fetched_at, run_id)
select ('50000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, 'F'||g, 'L'||g, 'e'||g||'@x', 'US', 'u', 's', g, '2026-11-24 01:00:00+00', 'run-6' from generate_series(1,600) g;
begin;
select pg_logical_emit_message(true, 'userstream.purge', '{"by":"fixture-big"}');
delete from staging.users where run_id = 'run-6';
commit;
