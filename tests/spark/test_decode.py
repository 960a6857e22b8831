"""decode.py: Confluent framing, headers, per-id writer schemas, failures."""

import json

from avro_util import change, encode, headers, new_uuid, user, users_schema, utc

from userstream_spark import decode as dec

V1 = users_schema()
V2 = users_schema(extra=[("nickname", "string"), ("loyalty_points", "long")])
SCHEMAS = {1: json.dumps(V1), 2: json.dumps(V2)}


def rows(df, *cols):
    return [tuple(r[c] for c in cols) for r in df.orderBy("src_offset").collect()]


def test_envelope_parses_headers_and_framing(kafka_df):
    big_lsn = 2**64 - 1  # us.lsn is unsigned 64-bit
    recs = [
        change(V1, 1, "c", 0x16B3748, 3, user()),
        (new_uuid(1), None, headers("d", big_lsn, 0)),
        (new_uuid(2), b"\x01\x00\x00\x00\x01abc", headers("c", 5, 0)),
        (new_uuid(3), b"\x00\x00", headers("c", 5, 1)),
        (new_uuid(4), b"\x00\x00\x00\x00\x07xyz", [("us.op", b"c"), ("us.lsn", b"-5"), ("us.seq", b"x")]),
    ]
    env = dec.parse_envelope(kafka_df(recs))
    got = rows(env, "key_text", "op", "lsn", "seq", "is_tombstone", "bad_frame", "schema_id")
    assert got[0] == ("7a0eed16-9430-4d68-901f-c0d4c1c3bf00", "c", 0x16B3748, 3, False, False, 1)
    assert got[1][1:5] == ("d", big_lsn, 0, True)
    assert got[1][5] is False and got[1][6] is None
    assert got[2][5] is True  # wrong magic byte
    assert got[3][5] is True  # shorter than the 5-byte header
    assert got[4][2:4] == (None, None) and got[4][6] == 7  # bad numbers -> NULL, not an error
    from pyspark.sql import functions as F

    us = env.orderBy("src_offset").select(F.unix_micros("commit_ts")).first()[0]
    assert us == int(utc(2026, 11, 24, 1, 0, 2).timestamp()) * 1_000_000


def test_duplicate_headers_take_the_last(kafka_df):
    h = headers("c", 10, 0) + [("us.lsn", b"11")]
    env = dec.parse_envelope(kafka_df([(new_uuid(1), None, h)]))
    assert env.first()["lsn"] == 11


def test_old_and_new_writer_schemas_both_decode(kafka_df):
    old = user(user_id=new_uuid(1))
    new = dict(user(user_id=new_uuid(2)), nickname="jen", loyalty_points=7)
    recs = [change(V1, 1, "c", 100, 0, old), change(V2, 2, "c", 200, 0, new)]
    out = dec.decode(dec.parse_envelope(kafka_df(recs)), SCHEMAS).orderBy("src_offset").collect()
    assert [r["decode_error"] for r in out] == [None, None]
    assert [r["rec"]["user_id"] for r in out] == [new_uuid(1), new_uuid(2)]
    assert out[0]["rec"]["email"] == "jennie.nichols@example.com"
    assert out[1]["rec"]["__lsn"] == 200 and out[1]["rec"]["__op"] == "c"
    assert out[0]["rec"]["street_number"] == 8929 and out[0]["rec"]["latitude"] == -69.8246


def test_field_missing_from_writer_schema_is_null(kafka_df):
    v3 = users_schema(drop=("tz_description",))
    rec = user()
    rec.pop("tz_description")
    out = dec.decode(dec.parse_envelope(kafka_df([change(v3, 3, "c", 1, 0, rec)])), {3: json.dumps(v3)}).first()
    assert out["decode_error"] is None
    assert out["rec"]["tz_description"] is None and out["rec"]["city"] == "Billings"


def test_unknown_id_and_undecodable_bytes_get_a_reason(kafka_df):
    good = change(V1, 1, "c", 1, 0, user())
    unknown = change(V1, 9, "c", 2, 0, user(user_id=new_uuid(1)))
    garbage = (new_uuid(2), b"\x00\x00\x00\x00\x01" + b"\xff" * 3, headers("c", 3, 0))
    tomb = (new_uuid(3), None, headers("d", 4, 0))
    out = dec.decode(dec.parse_envelope(kafka_df([good, unknown, garbage, tomb])), SCHEMAS)
    errs = [r[0] for r in rows(out, "decode_error")]
    assert errs[0] is None
    assert errs[1] == "unknown schema id 9"
    assert errs[2] == "Avro decoding failed with writer schema id 1"
    assert errs[3] is None  # a tombstone has nothing to decode


def test_no_schemas_at_all(kafka_df):
    out = dec.decode(dec.parse_envelope(kafka_df([change(V1, 1, "c", 1, 0, user())])), {}).first()
    assert out["decode_error"] == "unknown schema id 1" and out["rec"] is None


def test_signup_projection_reads_only_needed_fields(kafka_df):
    from pyspark.sql.types import StringType

    fields = [("user_id", StringType()), ("country", StringType())]
    out = dec.decode(dec.parse_envelope(kafka_df([change(V2, 2, "c", 1, 0, dict(user(), nickname="x",
                     loyalty_points=1))])), SCHEMAS, fields).first()  # fmt: skip
    assert out["decode_error"] is None
    assert out["rec"].asDict() == {"user_id": "7a0eed16-9430-4d68-901f-c0d4c1c3bf00", "country": "United States"}


def test_encode_helper_frames_like_the_contract():
    b = encode(V1, dict(user(), __op="c", __lsn=1, __seq=0, __commit_ts=utc(2026, 1, 1)), 258)
    assert b[:5] == b"\x00\x00\x00\x01\x02"
