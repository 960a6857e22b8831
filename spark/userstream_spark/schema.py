"""The explicit schemas of the job: what it reads from a change record.

The Avro record on `userstream.users` (docs/data-contracts.md §3) is stated once,
in stack/avro/users.avsc (this package's users.avsc links to it and travels with
the package to the executors): one field per column of staging.users plus the
change metadata __op, __lsn, __seq, __commit_ts. The job does not trust whatever
schema version a record was written with: every decoded record is projected onto
SOURCE_FIELDS, made from that file below; a field missing from an (older or
newer) writer schema becomes NULL, and a differently typed one is cast.
"""

from __future__ import annotations

import json
import pkgutil
from typing import Any, Iterable

from pyspark.sql.types import (
    BooleanType,
    DataType,
    DateType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

# The data contract: stack/avro/users.avsc.
CONTRACT: dict = json.loads(pkgutil.get_data(__name__.rpartition(".")[0] or "userstream_spark", "users.avsc"))

# Avro type (or (type, logicalType)) -> Spark type after Avro decoding.
_SPARK_TYPES: dict[Any, DataType] = {
    "string": StringType(),
    ("string", "uuid"): StringType(),
    "int": IntegerType(),
    ("int", "date"): DateType(),
    "long": LongType(),
    ("long", "timestamp-micros"): TimestampType(),
    "float": FloatType(),
    "double": DoubleType(),
    "boolean": BooleanType(),
}


def spark_type(avro_type: Any) -> DataType:
    """The Spark type of an Avro field type (a ["null", T] union counts as T)."""
    t = avro_type
    if isinstance(t, list):
        rest = [x for x in t if x != "null"]
        if len(rest) != 1:
            raise ValueError(f"unsupported Avro union {t!r}")
        t = rest[0]
    if isinstance(t, dict):
        t = (t["type"], t["logicalType"]) if "logicalType" in t else t["type"]
    if t not in _SPARK_TYPES:
        raise ValueError(f"unsupported Avro type {avro_type!r}")
    return _SPARK_TYPES[t]


# Column of staging.users -> Spark type, in table order, then the change metadata
# (the headers carry the same values; headers win).
SOURCE_FIELDS: list[tuple[str, DataType]] = [(f["name"], spark_type(f["type"])) for f in CONTRACT["fields"]]

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
