begin;
insert into staging.users (user_id, first_name, last_name, email, nat, source_url, source_seed, source_page, fetched_at, run_id)
select ('10000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, 'F'||g, 'L'||g, 'e'||g||'@x', 'US', 'u', 's', g, '2026-11-24 01:00:00+00', 'run-3' from generate_series(1,500) g;
savepoint a;
insert into staging.users (user_id, first_name, last_name, email, nat, source_url, source_seed, source_page, fetched_at, run_id)
select ('20000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, 'F'||g, 'L'||g, 'e'||g||'@x', 'US', 'u', 's', g, '2026-11-24 01:00:00+00', 'run-3' from generate_series(1,300) g;
rollback to savepoint a;
commit;
begin;
insert into staging.users (user_id, first_name, last_name, email, nat, source_url, source_seed, source_page, fetched_at, run_id)
select ('30000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, 'F'||g, 'L'||g, 'e'||g||'@x', 'US', 'u', 's', g, '2026-11-24 01:00:00+00', 'run-4' from generate_series(1,500) g;
rollback;
