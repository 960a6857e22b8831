"""The users record is stated once, in stack/avro/users.avsc; every part that writes
its shape down must agree with it:

- the staging DDL (stack/sql: CREATE TABLE staging.users): names, order, types,
  NOT NULL, primary key, defaults;
- the loader's column list (src/load: ld_user_columns + LD_LINEAGE_COLUMNS): every
  column but those the table fills by default;
- the relay's schema: what userstream-relay builds from the table's Relation message
  (relay_avro_dump on the pgoutput stream recorded from that DDL) is the file without
  its annotations (doc, pg_*, relay_metadata);
- the Spark job's SOURCE_FIELDS (made from the file) type every field as Spark
  decodes the relay's schema.

tests/integration/test_data_contract.py checks the running stack the same way
(information_schema, the schema registered in the registry).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = Path(os.environ.get("US_ROOT") or HERE.parents[2])
BUILD = Path(os.environ.get("US_BUILD_DIR") or ROOT / "build")
AVSC = ROOT / "stack" / "avro" / "users.avsc"
ANNOTATIONS = {"doc", "pg_type", "pg_not_null", "pg_primary_key", "pg_default", "relay_metadata"}
# PostgreSQL's names of the DDL's type spellings (information_schema.columns.data_type)
PG_TYPES = {"timestamptz": "timestamp with time zone", "int": "integer", "int4": "integer",
            "float8": "double precision", "int8": "bigint", "bool": "boolean"}


def contract() -> dict:
    return json.loads(AVSC.read_text())


def columns(c: dict) -> list[dict]:
    return [f for f in c["fields"] if not f.get("relay_metadata")]


def wire_schema(c: dict) -> dict:
    """The file without this project's annotations: what the relay registers."""
    out = {k: v for k, v in c.items() if k != "doc"}
    out["fields"] = [{k: v for k, v in f.items() if k not in ANNOTATIONS} for f in c["fields"]]
    return out


def ddl_columns() -> list[dict]:
    """staging.users as the migrations create it."""
    sql = {p.name: p.read_text() for p in sorted((ROOT / "stack" / "sql").glob("*.sql"))}
    later = [n for n, text in sql.items()
             if re.search(r"ALTER\s+TABLE\s+(IF\s+EXISTS\s+)?(ONLY\s+)?staging\.users\b", text, re.I)]
    assert not later, f"{later} alter staging.users: state the change in stack/avro/users.avsc and here"
    m = re.search(r"CREATE TABLE IF NOT EXISTS staging\.users \((.*?)\n\);", sql["001_staging.sql"], re.S)
    assert m, "CREATE TABLE staging.users not found in 001_staging.sql"
    out = []
    for line in m.group(1).splitlines():
        line = line.split("--", 1)[0].strip().rstrip(",")
        if not line:
            continue
        name, rest = line.split(None, 1)
        rest_l = rest.lower()
        typ = re.split(r"\s+(?:not null|primary key|default|references|unique)\b", rest_l)[0].strip()
        d = re.search(r"\bdefault\s+(.+)$", rest_l)
        out.append({"name": name, "pg_type": PG_TYPES.get(typ, typ),
                    "pg_not_null": "not null" in rest_l or "primary key" in rest_l,
                    "pg_primary_key": "primary key" in rest_l,
                    "pg_default": d.group(1).strip() if d else None})
    return out


def test_the_file_is_an_avro_schema():
    fastavro = pytest.importorskip("fastavro")
    fastavro.parse_schema(wire_schema(contract()))
    names = [f["name"] for f in contract()["fields"]]
    assert len(names) == len(set(names))
    assert [f["name"] for f in contract()["fields"] if f.get("relay_metadata")] == [
        "__op", "__lsn", "__seq", "__commit_ts"]
    assert all(f.get("doc") for f in contract()["fields"])


def test_the_staging_ddl_matches():
    want = [{"name": f["name"], "pg_type": f["pg_type"], "pg_not_null": f["pg_not_null"],
             "pg_primary_key": f.get("pg_primary_key", False), "pg_default": f.get("pg_default")}
            for f in columns(contract())]
    assert ddl_columns() == want


def test_the_loader_columns_match():
    user_c = (ROOT / "src" / "load" / "ld_user.c").read_text()
    page_h = (ROOT / "src" / "load" / "ld_page.h").read_text()
    m = re.search(r"ld_user_columns\[LD_NCOLS\] = \{(.*?)\};", user_c, re.S)
    assert m, "ld_user_columns not found in src/load/ld_user.c"
    loaded = re.findall(r'"([a-z_0-9]+)"', m.group(1))
    m = re.search(r'#define LD_LINEAGE_COLUMNS "([^"]*)"', page_h)
    assert m, "LD_LINEAGE_COLUMNS not found in src/load/ld_page.h"
    loaded += [c.strip() for c in m.group(1).split(",")]
    assert loaded == [f["name"] for f in columns(contract()) if not f.get("pg_default")]


def relay_schema() -> dict:
    dump = BUILD / "tests" / "unit" / "relay_avro_dump"
    if not dump.exists():
        pytest.skip(f"{dump} is not built")
    fixture = ROOT / "tests" / "unit" / "relay_fixtures" / "pgoutput_v1.bin"
    p = subprocess.run([str(dump), str(fixture)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    # the first row is of the table as 001_staging.sql creates it (relay_fixtures/README.md)
    return json.loads(json.loads(p.stdout.splitlines()[0])["schema"])


def test_the_relay_schema_matches():
    assert relay_schema() == wire_schema(contract())


def test_the_spark_fields_match():
    pytest.importorskip("pyspark")
    sys.path.insert(0, str(ROOT / "spark"))
    from userstream_spark import schema

    relay = relay_schema()
    assert [n for n, _ in schema.SOURCE_FIELDS] == [f["name"] for f in relay["fields"]]
    assert [t for _, t in schema.SOURCE_FIELDS] == [schema.spark_type(f["type"]) for f in relay["fields"]]
