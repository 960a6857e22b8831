-- 002_privileges: least privilege for the roles of the parts (created, with
-- generated passwords, by ./userstream up before migrations run; names are
-- fixed: see docs/development.md). Later migrations that add tables grant
-- their own rights; the defaults below cover staging tables made by the admin.
--
--   loader   writes staging (INSERT/UPDATE/SELECT), nothing else
--   relay    REPLICATION (role attribute) + SELECT on staging (snapshots)
--   ops      reads staging, reads and writes ops (Spark job, console, checks)
--   airflow  owns the airflow database; reads staging and ops for checks
--   registry owns the registry database only
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON SCHEMA staging, ops FROM PUBLIC;

GRANT USAGE ON SCHEMA staging TO loader, relay, ops, airflow;
GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA staging TO loader;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA staging TO loader;
GRANT SELECT ON ALL TABLES IN SCHEMA staging TO relay, ops, airflow;
ALTER DEFAULT PRIVILEGES IN SCHEMA staging GRANT SELECT, INSERT, UPDATE ON TABLES TO loader;
ALTER DEFAULT PRIVILEGES IN SCHEMA staging GRANT USAGE ON SEQUENCES TO loader;
ALTER DEFAULT PRIVILEGES IN SCHEMA staging GRANT SELECT ON TABLES TO relay, ops, airflow;

GRANT USAGE ON SCHEMA ops TO ops, airflow;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ops TO ops;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA ops TO ops;
GRANT SELECT ON ALL TABLES IN SCHEMA ops TO airflow;
ALTER DEFAULT PRIVILEGES IN SCHEMA ops GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ops;
ALTER DEFAULT PRIVILEGES IN SCHEMA ops GRANT USAGE ON SEQUENCES TO ops;
ALTER DEFAULT PRIVILEGES IN SCHEMA ops GRANT SELECT ON TABLES TO airflow;
