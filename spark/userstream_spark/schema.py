"""The explicit schemas of the job: what it reads from a change record.

The Avro record on `userstream.users` (docs/data-contracts.md §3) has one
field per column of staging.users (stack/sql/001_staging.sql) plus the change
metadata __op, __lsn, __seq, __commit_ts. The job does not trust whatever
schema version a record was written with: every decoded record is projected
onto SOURCE_FIELDS below, a field missing from an (older or newer) writer
schema becomes NULL, and a differently typed one is cast.
"""

from __future__ import annotations

import json
from typing import Iterable

from pyspark.sql.types import (
    DataType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

# Column of staging.users -> Spark type after Avro decoding (uuid -> string,
# timestamp-micros -> timestamp, ...). Order follows 001_staging.sql.
SOURCE_FIELDS: list[tuple[str, DataType]] = [
    ("user_id", StringType()),
    ("gender", StringType()),
    ("title", StringType()),
    ("first_name", StringType()),
    ("last_name", StringType()),
    ("street_number", IntegerType()),
    ("street_name", StringType()),
    ("city", StringType()),
    ("state", StringType()),
    ("country", StringType()),
    ("postcode", StringType()),
    ("latitude", DoubleType()),
    ("longitude", DoubleType()),
    ("tz_offset", StringType()),
    ("tz_description", StringType()),
    ("email", StringType()),
    ("username", StringType()),
    ("dob", TimestampType()),
    ("registered_at", TimestampType()),
    ("phone", StringType()),
    ("cell", StringType()),
    ("id_name", StringType()),
    ("id_value", StringType()),
    ("picture_large", StringType()),
    ("picture_medium", StringType()),
    ("picture_thumbnail", StringType()),
    ("nat", StringType()),
    ("source_url", StringType()),
    ("source_seed", StringType()),
    ("source_page", IntegerType()),
    ("fetched_at", TimestampType()),
    ("run_id", StringType()),
    ("loaded_at", TimestampType()),
    # change metadata (the headers carry the same values; headers win)
    ("__op", StringType()),
    ("__lsn", LongType()),
    ("__seq", IntegerType()),
    ("__commit_ts", TimestampType()),
]

SOURCE_SCHEMA = StructType([StructField(n, t, True) for n, t in SOURCE_FIELDS])

# What the sign-ups query needs from a record: a much smaller reader schema
# makes Avro skip (not materialise) everything else.
SIGNUP_FIELDS = ["user_id", "country", "nat"]


def avro_field_names(schema_json: str) -> list[str]:
    """Top-level field names of an Avro record schema (JSON text)."""
    schema = json.loads(schema_json)
    if not isinstance(schema, dict) or schema.get("type") != "record":
        raise ValueError("the value schema is not an Avro record")
    return [f["name"] for f in schema.get("fields", [])]


def project_avro_schema(schema_json: str, keep: Iterable[str]) -> str:
    """The writer schema restricted to `keep` fields: a valid Avro reader
    schema for data written with the full one (same name, same field types,
    fewer fields), so decoding skips the rest."""
    schema = json.loads(schema_json)
    wanted = set(keep)
    schema["fields"] = [f for f in schema.get("fields", []) if f["name"] in wanted]
    return json.dumps(schema, separators=(",", ":"))
