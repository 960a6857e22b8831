insert into staging.users (user_id, gender, title, first_name, last_name, street_number, street_name, city, state, country, postcode, latitude, longitude, tz_offset, tz_description, email, username, dob, registered_at, phone, cell, id_name, id_value, picture_large, picture_medium, picture_thumbnail, nat, source_url, source_seed, source_page, fetched_at, run_id)
values ('7a0eed16-9430-4d68-901f-c0d4c1c3bf00','female','Ms','Zoë','O''Brien',42,'Main St','Zürich','ZH','Switzerland','8001',47.3769,8.5417,'+1:00','Brussels','zoe@example.com','zoe42','1990-05-17 10:11:12.345+00','2015-01-01 00:00:00+00','555','556','AVS',NULL,'http://x/l.jpg','http://x/m.jpg','http://x/t.jpg','CH','http://127.0.0.1:8100/api/1.4/?seed=a&page=1','a',1,'2026-11-24 01:00:00+00','run-1');
begin;
insert into staging.users (user_id, first_name, last_name, email, nat, source_url, source_seed, source_page, fetched_at, run_id, dob, latitude, street_number)
select ('00000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, 'F'||g, 'L'||g, 'e'||g||'@x', 'US', 'u', 's', g, '2026-11-24 01:00:00+00', 'run-2', '0044-03-15 00:00:00 BC', -0.5, -g from generate_series(1,3) g;
commit;
update staging.users set city = 'Bern', latitude = 'NaN' where user_id = '7a0eed16-9430-4d68-901f-c0d4c1c3bf00';
update staging.users set user_id = '00000000-0000-4000-8000-000000000099' where user_id = '00000000-0000-4000-8000-000000000003';
delete from staging.users where user_id = '00000000-0000-4000-8000-000000000002';
update staging.users set dob = 'infinity', registered_at = '-infinity' where user_id = '00000000-0000-4000-8000-000000000001';
alter table staging.users add column score integer;
update staging.users set score = 7 where user_id = '00000000-0000-4000-8000-000000000001';
alter table staging.users drop column score;
truncate staging.users;
