"""The running stack against the data contract (stack/avro/users.avsc): the table that
the migrations made, and the schema the relay registered (tests/unit/python/
test_data_contract.py checks the files and the programs). Read-only."""

import json
import os
import urllib.error
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ANNOTATIONS = {"doc", "pg_type", "pg_not_null", "pg_primary_key", "pg_default", "relay_metadata"}


def contract():
    with open(os.path.join(ROOT, "stack", "avro", "users.avsc"), encoding="utf-8") as f:
        return json.load(f)


def test_the_staging_table_is_the_contract(stack):
    rows = stack.psql(
        stack["US_PG_OPS_USER"],
        "SELECT column_name, data_type, is_nullable, coalesce(column_default, '') "
        "FROM information_schema.columns WHERE table_schema = 'staging' AND table_name = 'users' "
        "ORDER BY ordinal_position",
    ).stdout.splitlines()
    got = [tuple(r.split("|")) for r in rows]
    want = [(f["name"], f["pg_type"], "NO" if f["pg_not_null"] else "YES", f.get("pg_default", ""))
            for f in contract()["fields"] if not f.get("relay_metadata")]
    assert got == want


def test_the_registered_schema_is_the_contract(stack):
    url = f"{stack['US_REGISTRY_URL'].rstrip('/')}/subjects/{stack['US_REGISTRY_SUBJECT']}/versions/latest"
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            registered = json.loads(json.load(r)["schema"])
    except urllib.error.HTTPError as e:
        if e.code == 404:
            pytest.skip("the relay has not registered the users schema on this stack yet")
        raise
    c = contract()
    wire = {k: v for k, v in c.items() if k != "doc"}
    wire["fields"] = [{k: v for k, v in f.items() if k not in ANNOTATIONS} for f in c["fields"]]
    assert registered == wire
