"""PostgreSQL: scram-sha-256 logins with generated passwords, nothing else gets in."""

import os
import stat


def test_each_role_connects_with_its_generated_password(stack):
    for key in ("US_PG_ADMIN_USER", "US_PG_LOADER_USER", "US_PG_RELAY_USER",
                "US_PG_OPS_USER", "US_PG_AIRFLOW_USER", "US_PG_REGISTRY_USER"):
        role = stack[key]
        db = {"US_PG_AIRFLOW_USER": stack["US_PG_AIRFLOW_DATABASE"],
              "US_PG_REGISTRY_USER": stack["US_PG_REGISTRY_DATABASE"]}.get(key)
        assert stack.psql(role, "SELECT current_user", db=db).stdout.strip() == role


def test_login_without_password_is_refused(stack):
    p = stack.psql(stack["US_PG_LOADER_USER"], "SELECT 1", check=False,
                   env={"PGPASSFILE": "/nonexistent", "PGPASSWORD": ""})
    assert p.returncode != 0
    assert "no password supplied" in p.stderr


def test_login_with_wrong_password_is_refused(stack):
    for role in (stack["US_PG_ADMIN_USER"], stack["US_PG_LOADER_USER"]):
        p = stack.psql(role, "SELECT 1", check=False,
                       env={"PGPASSFILE": "/nonexistent", "PGPASSWORD": "not-the-password"})
        assert p.returncode != 0
        assert f'password authentication failed for user "{role}"' in p.stderr


def test_server_allows_scram_sha_256_only_and_logical_wal(stack):
    admin = stack["US_PG_ADMIN_USER"]
    methods = stack.psql(admin, "SELECT DISTINCT auth_method FROM pg_hba_file_rules").stdout.split()
    assert methods == ["scram-sha-256"]
    assert stack.psql(admin, "SHOW password_encryption").stdout.strip() == "scram-sha-256"
    assert stack.psql(admin, "SHOW wal_level").stdout.strip() == "logical"
    # every stored password is a SCRAM verifier
    kinds = stack.psql(admin, "SELECT DISTINCT left(rolpassword, 14) FROM pg_authid "
                              "WHERE rolpassword IS NOT NULL").stdout.split()
    assert kinds == ["SCRAM-SHA-256$"]


def test_secrets_are_private_and_never_printed(stack):
    secrets = stack["US_SECRETS_DIR"]
    assert stat.S_IMODE(os.stat(secrets).st_mode) == 0o700
    values = []
    for name in os.listdir(secrets):
        path = os.path.join(secrets, name)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
        if name.startswith("pg-"):
            with open(path) as f:
                values.append(f.read().strip())
    assert len(values) == 6
    printed = stack.us("env").stdout + stack.us("status").stdout
    assert stack["PGPASSFILE"] in printed
    for v in values:
        assert v not in printed


def test_roles_have_least_privilege(stack):
    loader, relay, ops = stack["US_PG_LOADER_USER"], stack["US_PG_RELAY_USER"], stack["US_PG_OPS_USER"]
    admin = stack["US_PG_ADMIN_USER"]
    attrs = dict(
        line.split("|", 1)
        for line in stack.psql(admin, "SELECT rolname, rolsuper::text || ',' || rolreplication::text "
                                      "FROM pg_roles WHERE rolname NOT LIKE 'pg\\_%'").stdout.split()
    )
    assert attrs[admin] == "true,true"
    assert attrs[relay] == "false,true"
    for role in (loader, ops, stack["US_PG_AIRFLOW_USER"], stack["US_PG_REGISTRY_USER"]):
        assert attrs[role] == "false,false", role
    # the loader writes staging but cannot read ops or create tables
    # (any count: other modules of the session may have loaded rows already)
    assert stack.psql(loader, "SELECT count(*) FROM staging.users").stdout.strip().isdigit()
    p = stack.psql(loader, "SELECT count(*) FROM ops.schema_migrations", check=False)
    assert "permission denied" in p.stderr
    p = stack.psql(loader, "CREATE TABLE public.x (i int)", check=False)
    assert "permission denied" in p.stderr
    # the relay only reads staging
    p = stack.psql(relay, "DELETE FROM staging.users", check=False)
    assert "permission denied" in p.stderr
    # the registry role cannot reach the pipeline database at all
    p = stack.psql(stack["US_PG_REGISTRY_USER"], "SELECT 1", check=False)
    assert "permission denied for database" in p.stderr


def test_migrations_are_recorded_once(stack):
    names = stack.psql(stack["US_PG_ADMIN_USER"],
                       "SELECT name FROM ops.schema_migrations ORDER BY name").stdout.split()
    assert names[:2] == ["001_staging.sql", "002_privileges.sql"]
    files = sorted(f for f in os.listdir(os.path.join(stack["US_ROOT"], "stack", "sql")) if f.endswith(".sql"))
    assert names == files
    # applying again changes nothing
    stack.us("migrate")
    again = stack.psql(stack["US_PG_ADMIN_USER"], "SELECT name FROM ops.schema_migrations ORDER BY name").stdout.split()
    assert again == names
