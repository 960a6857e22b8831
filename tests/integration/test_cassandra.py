"""Cassandra 5.0 through cqlsh (PyPI, in the project venv)."""

import uuid


def test_keyspace_table_insert_select(stack):
    ks = f"it_{uuid.uuid4().hex[:8]}"
    stack.cqlsh("-e", f"CREATE KEYSPACE {ks} WITH replication = "
                      "{'class': 'SimpleStrategy', 'replication_factor': 1};"
                      f"CREATE TABLE {ks}.users (user_id uuid PRIMARY KEY, email text, n int);")
    ids = [uuid.uuid4() for _ in range(3)]
    stmts = "".join(f"INSERT INTO {ks}.users (user_id, email, n) VALUES ({u}, 'u{i}@example.com', {i});"
                    for i, u in enumerate(ids))
    stack.cqlsh("-e", stmts)
    # an insert is an upsert: writing the same row again changes nothing
    stack.cqlsh("-e", f"INSERT INTO {ks}.users (user_id, email, n) VALUES ({ids[0]}, 'u0@example.com', 0);")
    out = stack.cqlsh("-e", f"SELECT user_id, email, n FROM {ks}.users").stdout
    rows = {line.split("|")[0].strip(): (line.split("|")[1].strip(), int(line.split("|")[2]))
            for line in out.splitlines() if line.count("|") == 2 and "user_id" not in line}
    assert rows == {str(u): (f"u{i}@example.com", i) for i, u in enumerate(ids)}
    stack.cqlsh("-e", f"DROP KEYSPACE {ks}")


def test_pipeline_keyspace_and_migrations_table(stack):
    ks = stack["US_CASSANDRA_KEYSPACE"]
    out = stack.cqlsh("-e", f"SELECT keyspace_name FROM system_schema.tables "
                            f"WHERE keyspace_name = '{ks}' AND table_name = 'schema_migrations'").stdout
    assert ks in out
