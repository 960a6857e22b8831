"""transform.py: validation rules, derived columns, per-user winner, stale
index keys, write timestamps."""

import hashlib
import json
from datetime import date, datetime, timezone

from avro_util import change, headers, new_uuid, user, users_schema, utc
from pyspark.sql import functions as F

from userstream_spark import decode as dec
from userstream_spark import transform as tr

V1 = users_schema()
SCHEMAS = {1: json.dumps(V1)}


def fake_hmac(c):
    # Stand-in for the keyed UDF: deterministic, same shape (64 hex chars).
    return F.sha2(F.concat(F.lit("k:"), c), 256)


def classified(kafka_df, recs):
    return tr.classify(dec.decode(dec.parse_envelope(kafka_df(recs)), SCHEMAS)).orderBy("src_offset")


def reasons(kafka_df, recs):
    return [(r["reject_stage"], r["reject_reason"]) for r in classified(kafka_df, recs).collect()]


def test_good_records_pass(kafka_df):
    recs = [change(V1, 1, "c", 10, 0, user()), (new_uuid(5), None, headers("d", 11, 0))]
    assert reasons(kafka_df, recs) == [(None, None), (None, None)]


REJECTIONS = [
    (user(first_name="  "), {}, ("validate", "first_name missing")),
    (user(last_name=None), {}, ("validate", "last_name missing")),
    (user(email="not-an-email"), {}, ("validate", "email missing or malformed")),
    (user(email=None), {}, ("validate", "email missing or malformed")),
    (user(nat=""), {}, ("validate", "nat missing")),
    (user(latitude=91.0), {}, ("validate", "latitude out of range")),
    (user(longitude=-180.5), {}, ("validate", "longitude out of range")),
    (user(dob=utc(2030, 1, 1)), {}, ("validate", "dob after the commit time")),
    (user(), {"key": new_uuid(99)}, ("validate", "user_id does not match the record key")),
    (user(), {"key": "not-a-uuid"}, ("validate", "key is not a user id (uuid text)")),
    (user(), {"op": "x"}, ("decode", "header us.op missing or not one of r,c,u,d")),
    (user(), {"op": "d"}, ("decode", "delete (us.op=d) with a non-null value")),
    (user(), {"lsn": 2**43}, ("validate", "us.lsn beyond the write-timestamp range (2^43)")),
    (user(), {"op": "t"}, ("decode", "truncate marker (us.op=t) with a non-null value")),
    (user(), {"seq": 2**20 + 5}, (None, None)),  # a huge transaction: the ordinal is clamped, not rejected
    (user(), {}, (None, None)),
]  # fmt: skip


def test_rejections(kafka_df):
    recs = []
    for rec, over, _ in REJECTIONS:
        key, value, _ = change(V1, 1, "c", 5, 0, rec)
        hdrs = headers(over.get("op", "c"), over.get("lsn", 5), over.get("seq", 0))
        recs.append((over.get("key", key), value, hdrs))
    assert reasons(kafka_df, recs) == [expected for _, _, expected in REJECTIONS]


def test_tombstone_without_delete_op_and_missing_headers(kafka_df):
    recs = [
        (None, None, headers("t", 9, 0)),  # a truncate marker: no key, no value, fine
        (new_uuid(1), None, headers("u", 1, 0)),
        (new_uuid(2), None, [("us.op", b"d")]),
        (new_uuid(3), None, [("us.op", b"d"), ("us.lsn", b"1"), ("us.seq", b"0")]),
    ]
    assert reasons(kafka_df, recs) == [
        (None, None),
        ("decode", "tombstone with us.op=u"),
        ("decode", "header us.lsn missing or not an unsigned decimal"),
        ("decode", "header us.commit_ts missing or not microseconds"),
    ]


def test_version_orders_by_lsn_then_seq(spark):
    pairs = [(1, 0), (1, 1), (1, 2**20 - 1), (1, 2**20 + 7), (2, 0), (2**43 - 1, 2**20 - 1)]
    df = spark.createDataFrame([(str(a), b) for a, b in pairs], "lsn string, seq long")
    v = [r[0] for r in df.select(tr.version_column(F.col("lsn").cast("decimal(20,0)"), F.col("seq"))).collect()]
    assert v == sorted(v)
    assert v[2] == v[3] == (2 << 20) - 1  # past 2^20-1 the ordinal is clamped, still below lsn 2
    assert v[0] == 1 << 20 and v[-1] == 2**63 - 1


def user_row(kafka_df, rec, mode="hmac", commit_ts=None):
    c = classified(kafka_df, [change(V1, 1, "c", 7, 3, rec, commit_ts=commit_ts)])
    return tr.user_rows(tr.good(c), fake_hmac, mode).first()


def test_user_row_derivations(kafka_df):
    r = user_row(kafka_df, user(first_name=" Jennie ", email="Jennie.Nichols@Example.COM"))
    assert str(r["user_id"]) == "7a0eed16-9430-4d68-901f-c0d4c1c3bf00"
    assert r["full_name"] == "Jennie Nichols"
    assert r["email_domain"] == "example.com"
    expected = hashlib.sha256(b"k:jennie.nichols@example.com").hexdigest()
    assert r["email_hmac"] == expected
    assert r["phone_hmac"] == hashlib.sha256(b"k:2727900888").hexdigest()
    assert r["country_code"] == "US"
    assert str(r["birth_date"]) == "1992-03-08" and str(r["registered_date"]) == "2007-07-09"
    assert r["age"] == 34  # at the commit time 2026-11-24
    assert r["location"] == "8929 Valwood Pkwy, Billings, Michigan 63104, United States"
    assert r["writetime"] == (7 << 20) + 3 and r["commit_lsn"] == 7 and r["commit_seq"] == 3
    assert "email" not in r.asDict() and "phone_digits" not in r.asDict()  # hmac mode: no raw PII


def test_raw_mode_keeps_normalised_values(kafka_df):
    r = user_row(kafka_df, user(cell="K13 O92-2360"), mode="raw")  # CA numbers carry letters upstream
    assert r["email"] == "jennie.nichols@example.com"
    assert r["phone_digits"] == "2727900888" and r["cell_digits"] == "13922360"
    assert r["email_hmac"] is not None


def test_age_is_relative_to_the_commit_time(kafka_df):
    dob = utc(2000, 11, 25, 0, 0, 0)
    assert user_row(kafka_df, user(dob=dob), commit_ts=utc(2026, 11, 24, 23, 0, 0))["age"] == 25
    assert user_row(kafka_df, user(dob=dob), commit_ts=utc(2026, 11, 25, 0, 0, 1))["age"] == 26


def test_country_code_fallbacks(spark):
    df = spark.createDataFrame(
        [("France", "FR"), ("United Kingdom", "GB"), (None, "LEGO"), ("Atlantis", "de"), (None, "NZ")],
        "country string, nat string",
    )
    got = [r[0] for r in df.select(tr.country_code(F.col("country"), F.col("nat"))).collect()]
    assert got == ["FR", "GB", "ZZ", "DE", "NZ"]


def test_phone_digits(spark):
    df = spark.createDataFrame([("(068) H76-9825",), ("---",), (None,), ("+41 75 123 45 67",)], "p string")
    assert [r[0] for r in df.select(tr.phone_digits(F.col("p"))).collect()] == ["068769825", None, None,
                                                                               "41751234567"]


def test_latest_per_user_keeps_highest_version_including_deletes(kafka_df):
    a, b = new_uuid(1), new_uuid(2)
    recs = [
        change(V1, 1, "c", 10, 0, user(user_id=a, city="One")),
        change(V1, 1, "u", 12, 0, user(user_id=a, city="Three")),
        change(V1, 1, "u", 11, 5, user(user_id=a, city="Two")),
        change(V1, 1, "c", 10, 1, user(user_id=b)),
        (b, None, headers("d", 13, 0)),
    ]
    c = classified(kafka_df, recs)
    g = tr.good(c)
    users_all = tr.user_rows(g.where(~F.col("is_tombstone")), fake_hmac, keep=("op",))
    changes = users_all.unionByName(tr.delete_rows(g.where(F.col("is_tombstone"))), allowMissingColumns=True)
    w = {str(r["user_id"]): r for r in tr.latest_per_user(changes).collect()}
    assert w[a]["city"] == "Three" and w[a]["writetime"] == 12 << 20 and w[a]["op"] == "u"
    assert w[b]["op"] == "d" and w[b]["writetime"] == 13 << 20


def test_stale_index_keys(kafka_df, spark):
    a, b, c = new_uuid(1), new_uuid(2), new_uuid(3)
    recs = [
        change(V1, 1, "c", 10, 0, user(user_id=a, country="France", nat="FR")),
        change(V1, 1, "u", 11, 0, user(user_id=a, country="Germany", nat="DE")),
        change(V1, 1, "c", 10, 1, user(user_id=b)),
        (b, None, headers("d", 12, 0)),
        change(V1, 1, "c", 10, 2, user(user_id=c)),
        change(V1, 1, "u", 12, 1, user(user_id=c, city="Elsewhere")),  # same index keys: nothing stale
    ]
    g = tr.good(classified(kafka_df, recs))
    users_all = tr.user_rows(g.where(~F.col("is_tombstone")), fake_hmac, keep=("op",))
    changes = users_all.unionByName(tr.delete_rows(g.where(F.col("is_tombstone"))), allowMissingColumns=True)
    winners = tr.latest_per_user(changes)
    got = {(str(r["user_id"]), r["w_op"], r["old_email_hmac"] is not None, r["old_country_code"], r["w_version"])
           for r in tr.stale_index_candidates(users_all, winners).collect()}  # fmt: skip
    assert got == {(a, "u", False, "FR", 11 << 20), (b, "d", True, "US", 12 << 20)}


def test_stale_keys_from_current_rows(spark):
    winners = spark.createDataFrame(
        [("u1", 50, "u", "h-new", "DE"), ("u2", 60, "d", None, None), ("u3", 70, "u", "h3", "FR")],
        "user_id string, writetime long, op string, email_hmac string, country_code string",
    )
    current = spark.createDataFrame(
        [("u1", "h-old", "DE"), ("u2", "h2", "US"), ("u3", "h3", "FR")],
        "user_id string, email_hmac string, country_code string",
    )
    got = sorted(tuple(r) for r in tr.stale_index_candidates(current, winners, earlier_only=False).collect())
    assert got == [("u1", 50, "u", "h-old", None), ("u2", 60, "d", "h2", "US")]


def test_country_bucket_matches_driver_side(spark):
    from userstream_spark.sinks import bucket_of

    ids = [new_uuid(i) for i in range(3)] + ["f" + new_uuid(0)[1:], "0" + new_uuid(0)[1:]]
    df = spark.createDataFrame([(i,) for i in ids], "u string")
    assert [r[0] for r in df.select(tr.country_bucket(F.col("u"))).collect()] == [bucket_of(i) for i in ids]


def test_signup_rows_take_good_inserts_only(kafka_df):
    recs = [
        change(V1, 1, "c", 10, 0, user(user_id=new_uuid(1))),
        change(V1, 1, "r", 10, 1, user(user_id=new_uuid(2), country="France")),
        change(V1, 1, "u", 11, 0, user(user_id=new_uuid(1))),
        (new_uuid(3), None, headers("d", 12, 0)),
        change(V1, 1, "c", 13, 0, user(user_id=new_uuid(4), email="not an email")),  # a dead letter
        change(V1, 1, "c", 10, 0, user(user_id=new_uuid(1))),  # a replay: the same row again
    ]
    good = tr.good(classified(kafka_df, recs))
    signups = tr.signup_rows(good).withColumn("minute", F.col("minute").cast("string"))  # UTC session
    rows = [r.asDict() for r in signups.orderBy("version").collect()]
    minute = "2026-11-24 01:00:00"  # headers' default commit time 01:00:02 UTC, truncated
    v1, v2 = 10 << 20, (10 << 20) + 1
    assert rows == [
        {"day": date(2026, 11, 24), "minute": minute, "country_code": "US", "user_id": new_uuid(1),
         "commit_lsn": 10, "version": v1, "writetime": v1},
        {"day": date(2026, 11, 24), "minute": minute, "country_code": "US", "user_id": new_uuid(1),
         "commit_lsn": 10, "version": v1, "writetime": v1},
        {"day": date(2026, 11, 24), "minute": minute, "country_code": "FR", "user_id": new_uuid(2),
         "commit_lsn": 10, "version": v2, "writetime": v2},
    ]  # fmt: skip
    keys = {(r["minute_ms"], r["country_code"]) for r in
            good.select(tr.signup_window_key().alias("w")).where("w IS NOT NULL").select("w.*").collect()}  # fmt: skip
    ms = int(datetime(2026, 11, 24, 1, 0, tzinfo=timezone.utc).timestamp() * 1000)
    assert keys == {(ms, "US"), (ms, "FR")}


def test_unchanged_toast_columns_are_not_rejected_nor_derived(kafka_df):
    key, value, hdrs = change(V1, 1, "u", 20, 0, user(email=None, country=None))
    hdrs = hdrs + [("us.unchanged", b"email,country")]
    c = classified(kafka_df, [(key, value, hdrs)])
    assert [(r["reject_stage"], r["reject_reason"]) for r in c.collect()] == [(None, None)]
    u = tr.user_rows(tr.good(c), fake_hmac, keep=("unchanged",))
    row = u.first()
    assert row["email_hmac"] is None and row["country_code"] is None and row["location"] is None
    assert row["full_name"] == "Jennie Nichols" and row["unchanged"] == "email,country"
    assert tr.email_index_rows(u).count() == 0 and tr.country_index_rows(u).count() == 0


def test_signup_keys_and_erased_signups(kafka_df, spark):
    recs = [
        change(V1, 1, "c", 10, 0, user(user_id=new_uuid(1))),
        change(V1, 1, "r", 10, 1, user(user_id=new_uuid(2), country="France")),
        change(V1, 1, "u", 11, 0, user(user_id=new_uuid(1), country="Germany")),
        (new_uuid(3), None, headers("d", 12, 0)),
    ]
    good = tr.good(classified(kafka_df, recs))
    keys = tr.signup_key_rows(good).orderBy("signup_version").collect()
    ms = int(datetime(2026, 11, 24, 1, 0, tzinfo=timezone.utc).timestamp() * 1000)  # the commit time's minute
    assert [(r["user_id"], r["signup_country"], r["signup_lsn"], r["signup_version"], r["writetime"])
            for r in keys] == [(new_uuid(1), "US", 10, 10 << 20, 10 << 20),
                               (new_uuid(2), "FR", 10, (10 << 20) + 1, (10 << 20) + 1)]  # fmt: skip
    assert {int(r["signup_minute"].timestamp() * 1000) for r in keys} == {ms}  # naive local time, as collected
    # the same key from the users row of an insert
    u = tr.with_signup_key(tr.user_rows(good.where(F.col("op") == "c"), fake_hmac)).first()
    assert (u["signup_country"], u["signup_lsn"], u["signup_version"]) == ("US", 10, 10 << 20)
    # a delete erases the sign-ups older than it, not one that came after it (the id inserted again)
    deletes = spark.createDataFrame([(new_uuid(1), 12 << 20), (new_uuid(2), (10 << 20) + 1)],
                                    "user_id string, writetime long")  # fmt: skip
    erased = tr.erased_signups(tr.signup_key_rows(good).unionByName(tr.signup_key_rows(good)), deletes).collect()
    assert [tuple(r) for r in erased] == [(new_uuid(1), ms, "US", 10, 10 << 20, 12 << 20)]


def test_a_delete_superseded_in_its_batch_still_erases_the_sign_up_before_it(kafka_df, spark):
    """Inserted, deleted and inserted again in one batch: the winner is the second
    insert, yet the first sign-up (in the batch, and one Cassandra holds from an
    earlier batch) is erased by the delete; the second is not."""
    uid = new_uuid(7)
    recs = [
        change(V1, 1, "c", 10, 0, user(user_id=uid)),
        (uid, None, headers("d", 12, 0)),
        change(V1, 1, "c", 14, 0, user(user_id=uid)),
    ]
    good = tr.good(classified(kafka_df, recs))
    deletes = tr.delete_rows(good.where(F.col("op") == "d")).select("user_id", "writetime")
    stored = spark.createDataFrame([(uid, datetime(2026, 11, 24, 0, 59), "US", 8, 8 << 20)],
                                   "user_id string, signup_minute timestamp, signup_country string, "
                                   "signup_lsn long, signup_version long")  # fmt: skip
    keys = stored.unionByName(tr.signup_key_rows(good).select("user_id", *tr.SIGNUP_KEY_COLUMNS))
    erased = sorted((r["signup_lsn"], r["delete_version"]) for r in tr.erased_signups(keys, deletes).collect())
    assert erased == [(8, 12 << 20), (10, 12 << 20)]
