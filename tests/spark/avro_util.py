"""Test helpers: the Avro schema the relay derives from staging.users
(docs/data-contracts.md §3) and records framed the Confluent way."""

from __future__ import annotations

import io
import json
import struct
import uuid
from datetime import datetime, timezone

import fastavro

UUID_T = {"type": "string", "logicalType": "uuid"}
TS_T = {"type": "long", "logicalType": "timestamp-micros"}

# (column, Avro type) in staging.users order (stack/sql/001_staging.sql).
COLUMNS = [
    ("user_id", UUID_T), ("gender", "string"), ("title", "string"), ("first_name", "string"),
    ("last_name", "string"), ("street_number", "int"), ("street_name", "string"), ("city", "string"),
    ("state", "string"), ("country", "string"), ("postcode", "string"), ("latitude", "double"),
    ("longitude", "double"), ("tz_offset", "string"), ("tz_description", "string"), ("email", "string"),
    ("username", "string"), ("dob", TS_T), ("registered_at", TS_T), ("phone", "string"), ("cell", "string"),
    ("id_name", "string"), ("id_value", "string"), ("picture_large", "string"), ("picture_medium", "string"),
    ("picture_thumbnail", "string"), ("nat", "string"), ("source_url", "string"), ("source_seed", "string"),
    ("source_page", "int"), ("fetched_at", TS_T), ("run_id", "string"), ("loaded_at", TS_T),
]  # fmt: skip


def users_schema(extra=(), drop=()) -> dict:
    cols = [c for c in COLUMNS if c[0] not in drop] + list(extra)
    fields = [{"name": n, "type": ["null", t], "default": None} for n, t in cols]
    fields += [
        {"name": "__op", "type": "string"},
        {"name": "__lsn", "type": "long"},
        {"name": "__seq", "type": "int"},
        {"name": "__commit_ts", "type": TS_T},
    ]
    return {"type": "record", "name": "users", "namespace": "userstream.staging", "fields": fields}


def encode(schema: dict, record: dict, schema_id: int) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(json.loads(json.dumps(schema))), record)
    return b"\x00" + struct.pack(">i", schema_id) + buf.getvalue()


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def user(**over) -> dict:
    """A plausible randomuser-derived staging row (the docs example)."""
    rec = {
        "user_id": "7a0eed16-9430-4d68-901f-c0d4c1c3bf00", "gender": "female", "title": "Miss",
        "first_name": "Jennie", "last_name": "Nichols", "street_number": 8929, "street_name": "Valwood Pkwy",
        "city": "Billings", "state": "Michigan", "country": "United States", "postcode": "63104",
        "latitude": -69.8246, "longitude": 134.8719, "tz_offset": "+9:30", "tz_description": "Adelaide, Darwin",
        "email": "jennie.nichols@example.com", "username": "yellowpeacock117", "dob": utc(1992, 3, 8, 15, 13, 16),
        "registered_at": utc(2007, 7, 9, 5, 51, 59), "phone": "(272) 790-0888", "cell": "(489) 330-2385",
        "id_name": "SSN", "id_value": "405-88-3636",
        "picture_large": "https://randomuser.me/api/portraits/women/75.jpg",
        "picture_medium": "https://randomuser.me/api/portraits/med/women/75.jpg",
        "picture_thumbnail": "https://randomuser.me/api/portraits/thumb/women/75.jpg", "nat": "US",
        "source_url": "http://127.0.0.1:8100/api/1.4/?seed=abc&page=1&results=5000", "source_seed": "abc",
        "source_page": 1, "fetched_at": utc(2026, 11, 24, 1, 0, 0), "run_id": "manual__1",
        "loaded_at": utc(2026, 11, 24, 1, 0, 1),
    }  # fmt: skip
    rec.update(over)
    return rec


def new_uuid(n: int) -> str:
    return str(uuid.UUID(int=(0x7A0EED16_9430_4D68_901F_000000000000 + n)))


def headers(op: str, lsn: int, seq: int, commit_ts: datetime | None = None, xid: int = 1000):
    ts = commit_ts or utc(2026, 11, 24, 1, 0, 2)
    us = int(ts.timestamp()) * 1_000_000 + ts.microsecond
    return [
        ("us.op", op.encode()), ("us.lsn", str(lsn).encode()), ("us.seq", str(seq).encode()),
        ("us.commit_ts", str(us).encode()), ("us.xid", str(xid).encode()),
    ]  # fmt: skip


def change(schema: dict, schema_id: int, op: str, lsn: int, seq: int, rec: dict | None, commit_ts=None):
    """(key, value, headers) of one change record as the relay writes it."""
    ts = commit_ts or utc(2026, 11, 24, 1, 0, 2)
    uid = (rec or {}).get("user_id")
    value = None
    if rec is not None:
        full = dict(rec)
        full.update({"__op": op, "__lsn": lsn, "__seq": seq, "__commit_ts": ts})
        value = encode(schema, full, schema_id)
    return uid, value, headers(op, lsn, seq, ts)
