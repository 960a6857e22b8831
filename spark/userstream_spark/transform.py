"""Validate and transform change records: pure DataFrame -> DataFrame functions.

Input: rows of decode.decode() (envelope + `rec` + `decode_error`).
Outputs, all deterministic functions of the record (nothing depends on the
wall clock, so replaying a batch writes the same values with the same write
timestamps):
  * classify()         adds reject_stage / reject_reason ("decode" | "validate")
  * latest_per_user()  one change per user: the highest (lsn, seq)
  * user_rows()        the columns of the Cassandra `users` row
  * email_index_rows(), country_index_rows(), signup_rows()
"""

from __future__ import annotations

from typing import Callable, Iterable, Optional

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from . import lsn_checks
from .decode import MAX_LSN, MAX_SEQ, SEQ_BITS, UUID_RE, VALID_OPS
from .jvm_lookups import cached_columns

# location.country (randomuser 1.4 fullNatName) -> ISO 3166-1 alpha-2.
COUNTRY_CODES = {
    "Australia": "AU", "Brazil": "BR", "Canada": "CA", "Switzerland": "CH",
    "Germany": "DE", "Denmark": "DK", "Spain": "ES", "Finland": "FI",
    "France": "FR", "United Kingdom": "GB", "Ireland": "IE", "India": "IN",
    "Iran": "IR", "Mexico": "MX", "Netherlands": "NL", "Norway": "NO",
    "New Zealand": "NZ", "Serbia": "RS", "Turkey": "TR", "Ukraine": "UA",
    "United States": "US",
}  # fmt: skip
# ISO 3166 user-assigned code for "unknown" (e.g. LEGO records have no country).
UNKNOWN_COUNTRY = "ZZ"
# users_by_country spreads each country over this many partitions.
COUNTRY_BUCKETS = 16
EMAIL_RE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"

HmacFn = Callable[[Column], Column]


def version_column(lsn: Column, seq: Column) -> Column:
    """The Cassandra write timestamp of a change: lsn * 2^20 + min(seq, 2^20-1).

    Increasing in (commit LSN, ordinal), so the last change in PostgreSQL
    commit order wins in Cassandra whatever order records arrive in, and a
    replayed record writes the same timestamp (no effect). lsn < 2^43 (8 TiB
    of WAL), else classify() dead-letters the record. Ordinals past 2^20-1
    (transactions or snapshots of over a million rows) share the last slot:
    still above every earlier transaction and below every later one; only two
    changes of the SAME user inside one such transaction, both past the
    millionth row, would tie (the batch's own dedupe still orders them by
    (lsn, seq))."""
    clamped = F.least(seq.cast("long"), F.lit(MAX_SEQ).cast("long"))
    return (lsn.cast("long") * F.lit(1 << SEQ_BITS) + clamped).cast("long")


def _blank(c: Column) -> Column:
    return c.isNull() | (F.trim(c) == "")


def unchanged(name: str) -> Column:
    """True when the relay did not send column `name` (header us.unchanged:
    an unchanged TOASTed value, encoded as null): it must be left as it is."""
    return F.coalesce(F.array_contains(F.split(F.col("unchanged"), ","), F.lit(name)), F.lit(False))


def classify(decoded: DataFrame, lsn_limit: Optional[int] = None, inverted: Iterable[tuple[int, int]] = ()) -> DataFrame:
    """Adds `uid` (the key as a lower-case uuid), `version`, and
    `reject_stage` / `reject_reason`: the first rule a record breaks, or NULL
    for a good record. Reasons never contain field values (PII).

    The us.lsn checks (lsn_checks.py): lsn_limit is the highest us.lsn a
    record may carry (PostgreSQL's WAL position + margin), None: not checked
    (PostgreSQL could not be asked); inverted are the (partition, offset) of
    the records the order rule refuses, found over the whole batch
    (lsn_checks.with_order_check, in the job's stats pass)."""
    checks = {lsn_checks.LIMIT_COL: lsn_checks.limit_literal(lsn_limit),
              lsn_checks.ORDER_COL: lsn_checks.order_literal(inverted)}  # fmt: skip
    return (
        decoded.withColumns(checks)
        .withColumns(_classify_columns())
        .drop(lsn_checks.LIMIT_COL, lsn_checks.ORDER_COL)
    )


@cached_columns
def _classify_columns() -> dict:
    rec = F.col("rec")
    op = F.col("op")
    key_ok = F.col("key_text").isNotNull() & F.col("key_text").rlike(UUID_RE)
    decode_rules = [
        (~op.isin(*VALID_OPS) | op.isNull(), F.lit("header us.op missing or not one of r,c,u,d")),
        (F.col("lsn").isNull(), F.lit("header us.lsn missing or not an unsigned decimal")),
        (F.col("seq").isNull(), F.lit("header us.seq missing or not a decimal")),
        (F.col("commit_ts").isNull(), F.lit("header us.commit_ts missing or not microseconds")),
        (F.col("is_tombstone") & ~op.isin("d", "t"), F.concat(F.lit("tombstone with us.op="), op)),
        (~F.col("is_tombstone") & (op == "t"), F.lit("truncate marker (us.op=t) with a non-null value")),
        (~F.col("is_tombstone") & (op == "d"), F.lit("delete (us.op=d) with a non-null value")),
        (F.col("decode_error").isNotNull(), F.col("decode_error")),
    ]
    validate_rules = [
        ((op != "t") & ~key_ok, F.lit("key is not a user id (uuid text)")),
        (F.col("lsn") > F.lit(MAX_LSN), F.lit("us.lsn beyond the write-timestamp range (2^43)")),
        (lsn_checks.limit_rule(), F.lit(lsn_checks.LIMIT_REASON)),
        (F.col(lsn_checks.ORDER_COL), F.lit(lsn_checks.ORDER_REASON)),
    ]
    row_rules = [
        (rec["user_id"].isNull() | (F.lower(rec["user_id"]) != F.lower(F.col("key_text"))),
         F.lit("user_id does not match the record key")),
        (~unchanged("first_name") & _blank(rec["first_name"]), F.lit("first_name missing")),
        (~unchanged("last_name") & _blank(rec["last_name"]), F.lit("last_name missing")),
        (~unchanged("email") & (rec["email"].isNull() | ~F.trim(rec["email"]).rlike(EMAIL_RE)),
         F.lit("email missing or malformed")),
        (~unchanged("nat") & _blank(rec["nat"]), F.lit("nat missing")),
        (rec["latitude"].isNotNull() & ~rec["latitude"].between(-90.0, 90.0), F.lit("latitude out of range")),
        (rec["longitude"].isNotNull() & ~rec["longitude"].between(-180.0, 180.0),
         F.lit("longitude out of range")),
        (rec["dob"].isNotNull() & (rec["dob"] > F.col("commit_ts")), F.lit("dob after the commit time")),
    ]  # fmt: skip

    stage: Optional[Column] = None
    reason: Optional[Column] = None
    for cond, why in decode_rules:
        stage = F.when(cond, F.lit("decode")) if stage is None else stage.when(cond, F.lit("decode"))
        reason = F.when(cond, why) if reason is None else reason.when(cond, why)
    for cond, why in validate_rules:
        stage = stage.when(cond, F.lit("validate"))
        reason = reason.when(cond, why)
    not_tomb = ~F.col("is_tombstone")
    for cond, why in row_rules:
        stage = stage.when(not_tomb & cond, F.lit("validate"))
        reason = reason.when(not_tomb & cond, why)

    return {
        "uid": F.when(key_ok, F.lower(F.col("key_text"))),
        "version": version_column(F.col("lsn"), F.col("seq")),
        "reject_stage": stage,
        "reject_reason": reason,
    }


def good(classified: DataFrame) -> DataFrame:
    return classified.where(_is_good())


def rejected(classified: DataFrame) -> DataFrame:
    return classified.where(~_is_good())


@cached_columns
def _is_good() -> Column:
    return F.col("reject_reason").isNull()


def delete_rows(deletes: DataFrame) -> DataFrame:
    """Good tombstones -> (user_id, writetime, op='d', commit_lsn, commit_seq),
    aligned with user_rows."""
    return deletes.select(
        F.col("uid").alias("user_id"),
        F.col("version").alias("writetime"),
        F.col("op"),
        F.col("lsn").cast("long").alias("commit_lsn"),
        F.col("seq").cast("int").alias("commit_seq"),
    )


def latest_per_user(changes: DataFrame, key: str = "user_id") -> DataFrame:
    """One row per `key`: the change with the highest (commit_lsn, commit_seq).
    Earlier images in the same batch would lose in Cassandra anyway (lower
    write timestamp); dropping them saves the writes and makes the batch's
    outcome per user unambiguous: one upsert or one delete."""
    cols = [c for c in changes.columns if c != key]
    return (
        changes.groupBy(key)
        .agg(F.max_by(F.struct(*cols), F.struct("commit_lsn", "commit_seq")).alias("_latest"))
        .select(key, *[F.col("_latest")[c].alias(c) for c in cols])
    )


def stale_index_candidates(images: DataFrame, winners: DataFrame, earlier_only: bool = True) -> DataFrame:
    """Index keys that a user's winning change makes stale: (user_id,
    w_version, w_op, old_email_hmac, old_country_code). `images` are other
    images of the same users: the batch's own earlier ones (earlier_only) or
    the rows currently in Cassandra (their write time is not known, and need
    not be: a delete stamped with the winner's version cannot remove a newer
    row). A delete makes every image's keys stale; an update only those that
    differ from its own."""
    w = winners.select(
        F.col("user_id"),
        F.col("writetime").alias("w_version"),
        F.col("op").alias("w_op"),
        F.col("email_hmac").alias("w_email_hmac"),
        F.col("country_code").alias("w_country_code"),
    )
    if earlier_only:
        i = images.where(F.col("op") != "d").select("user_id", "writetime", "email_hmac", "country_code")
        j = i.join(w, "user_id").where(F.col("writetime") < F.col("w_version"))
    else:
        j = images.select("user_id", "email_hmac", "country_code").join(w, "user_id")
    # A NULL new key means "not sent" (us.unchanged), not "changed".
    stale_email = (F.col("w_op") == "d") | (
        F.col("w_email_hmac").isNotNull() & ~F.col("email_hmac").eqNullSafe(F.col("w_email_hmac")))
    stale_country = (F.col("w_op") == "d") | (
        F.col("w_country_code").isNotNull() & ~F.col("country_code").eqNullSafe(F.col("w_country_code")))
    return j.where(stale_email | stale_country).select(
        "user_id",
        "w_version",
        "w_op",
        F.when(stale_email, F.col("email_hmac")).alias("old_email_hmac"),
        F.when(stale_country, F.col("country_code")).alias("old_country_code"),
    )


def country_code(country: Column, nat: Column) -> Column:
    mapping = F.create_map(*[x for kv in sorted(COUNTRY_CODES.items()) for x in (F.lit(kv[0]), F.lit(kv[1]))])
    nat_ok = F.when(F.upper(nat).isin(*COUNTRY_CODES.values()), F.upper(nat))
    return F.coalesce(mapping[F.trim(country)], nat_ok, F.lit(UNKNOWN_COUNTRY))


def phone_digits(phone: Column) -> Column:
    """Digits only. Letters that randomuser puts in CA/UA numbers (an upstream
    bug) are dropped like any other non-digit; no digits at all -> NULL."""
    d = F.regexp_replace(phone, r"[^0-9]", "")
    return F.when(F.length(d) > 0, d)


def age_at(dob: Column, when: Column) -> Column:
    """Whole years from dob to `when` (the commit time: deterministic, unlike
    today's date, so a replay writes the same age)."""
    return F.floor(F.months_between(F.to_date(when), F.to_date(dob)) / 12).cast("int")


def location_text(street_number: Column, street_name: Column, city: Column, state: Column,
                  postcode: Column, country: Column) -> Column:
    street = F.concat_ws(" ", street_number.cast("string"), street_name)
    parts = [street, city, F.concat_ws(" ", state, postcode), country]
    text = F.concat_ws(", ", *[F.when(F.trim(p) != "", F.trim(p)) for p in parts])
    return F.when(text != "", text)


def country_bucket(uid: Column) -> Column:
    """0..15 from the first hex digit of the (random, v4) uuid."""
    return F.conv(F.substring(uid, 1, 1), 16, 10).cast("int") % F.lit(COUNTRY_BUCKETS)


def user_rows(upserts: DataFrame, hmac: HmacFn, pii_mode: str = "hmac", keep: tuple = ()) -> DataFrame:
    """Good non-delete changes -> the `users` table columns (+ `writetime`,
    + the `keep` input columns). In "hmac" mode the raw email and phone
    numbers are not written at all; in "raw" mode they are written beside
    their HMACs."""
    return upserts.select(*_user_columns(hmac, pii_mode, tuple(keep)))


@cached_columns
def _user_columns(hmac: HmacFn, pii_mode: str, keep: tuple) -> list:
    r = F.col("rec")
    email_norm = F.lower(F.trim(r["email"]))
    phone_d = phone_digits(r["phone"])
    cell_d = phone_digits(r["cell"])
    first = F.trim(r["first_name"])
    last = F.trim(r["last_name"])
    cols = [
        F.col("uid").alias("user_id"),
        r["gender"].alias("gender"),
        r["title"].alias("title"),
        first.alias("first_name"),
        last.alias("last_name"),
        F.when(~unchanged("first_name") & ~unchanged("last_name"), F.concat_ws(" ", first, last)).alias("full_name"),
        F.substring_index(email_norm, "@", -1).alias("email_domain"),
        hmac(email_norm).alias("email_hmac"),
        hmac(phone_d).alias("phone_hmac"),
        hmac(cell_d).alias("cell_hmac"),
        r["username"].alias("username"),
        r["dob"].alias("dob"),
        F.to_date(r["dob"]).alias("birth_date"),
        age_at(r["dob"], F.col("commit_ts")).alias("age"),
        r["registered_at"].alias("registered_at"),
        F.to_date(r["registered_at"]).alias("registered_date"),
        r["street_number"].alias("street_number"),
        r["street_name"].alias("street_name"),
        r["city"].alias("city"),
        r["state"].alias("state"),
        r["postcode"].alias("postcode"),
        r["country"].alias("country"),
        F.when(~unchanged("country") & ~unchanged("nat"), country_code(r["country"], r["nat"])).alias("country_code"),
        F.when(~F.greatest(*[unchanged(c) for c in ("street_number", "street_name", "city", "state", "postcode",
                                                       "country")]),
               location_text(r["street_number"], r["street_name"], r["city"], r["state"], r["postcode"],
                             r["country"])).alias("location"),
        r["latitude"].alias("latitude"),
        r["longitude"].alias("longitude"),
        r["tz_offset"].alias("tz_offset"),
        r["tz_description"].alias("tz_description"),
        r["id_name"].alias("id_name"),
        r["id_value"].alias("id_value"),
        r["picture_large"].alias("picture_large"),
        r["picture_medium"].alias("picture_medium"),
        r["picture_thumbnail"].alias("picture_thumbnail"),
        F.upper(r["nat"]).alias("nat"),
        r["source_url"].alias("source_url"),
        r["source_seed"].alias("source_seed"),
        r["source_page"].alias("source_page"),
        r["fetched_at"].alias("fetched_at"),
        r["run_id"].alias("run_id"),
        r["loaded_at"].alias("loaded_at"),
        F.col("lsn").cast("long").alias("commit_lsn"),
        F.col("seq").cast("int").alias("commit_seq"),
        F.col("commit_ts").alias("commit_ts"),
        F.col("version").alias("writetime"),
    ]  # fmt: skip
    if pii_mode == "raw":
        cols += [email_norm.alias("email"), phone_d.alias("phone_digits"), cell_d.alias("cell_digits")]
    elif pii_mode != "hmac":
        raise ValueError(f"pii_mode must be hmac or raw, not {pii_mode!r}")
    return cols + [F.col(k) for k in keep]


def email_index_rows(users: DataFrame) -> DataFrame:
    """users_by_email_hash: the lookup "which user(s) have this email"."""
    return users.where(_not_null("email_hmac")).select(
        "email_hmac", "user_id", "full_name", "country_code", "email_domain", "registered_at", "writetime")


def country_index_rows(users: DataFrame) -> DataFrame:
    """users_by_country: "users of country X", spread over 16 buckets."""
    return users.where(_not_null("country_code")).select(
        "country_code",
        _bucket_column(),
        "user_id",
        "full_name",
        "city",
        "email_domain",
        "registered_at",
        "writetime",
    )


@cached_columns
def _not_null(name: str) -> Column:
    return F.col(name).isNotNull()


@cached_columns
def _bucket_column() -> Column:
    return country_bucket(F.col("user_id")).alias("bucket")


def signup_rows(good: DataFrame) -> DataFrame:
    """Good change records -> `signup_events` rows: one per validated insert or
    snapshot row (us.op c/r), in the minute of its commit time. Keyed in
    Cassandra by (day, minute, country_code, user_id, commit_lsn), so a replayed
    or re-sent record is the same row, whenever it comes back. `writetime` is
    the record's version (deterministic write timestamp, not stored)."""
    return good.where(_is_signup()).select(*_signup_columns())


def signup_window(commit_ts: Column) -> Column:
    """The event-time minute of a sign-up (UTC, the session time zone)."""
    return F.date_trunc("minute", commit_ts)


@cached_columns
def _is_signup() -> Column:
    return F.col("op").isin("c", "r") & ~F.col("is_tombstone")


@cached_columns
def _signup_columns() -> list:
    minute = signup_window(F.col("commit_ts"))
    return [
        F.to_date(minute).alias("day"),
        minute.alias("minute"),
        country_code(F.col("rec")["country"], F.col("rec")["nat"]).alias("country_code"),
        F.col("uid").alias("user_id"),
        F.col("lsn").cast("long").alias("commit_lsn"),
        F.col("version").alias("version"),
        F.col("version").alias("writetime"),
    ]


@cached_columns
def signup_window_key() -> Column:
    """(minute as epoch milliseconds, country_code) of a good record that is a
    sign-up, NULL otherwise: collect_set of it = the windows a batch touches."""
    minute = F.unix_millis(signup_window(F.col("commit_ts")))
    cc = country_code(F.col("rec")["country"], F.col("rec")["nat"])
    return F.when(_is_signup(), F.struct(minute.alias("minute_ms"), cc.alias("country_code")))


SIGNUP_KEY_COLUMNS = ("signup_minute", "signup_country", "signup_lsn", "signup_version")


def with_signup_key(users: DataFrame) -> DataFrame:
    """user_rows() of sign-ups (c/r records only) + the key of their
    signup_events row, stored on the users row so that the user's deletion can
    find that row (docs/lifecycle.md). Derived from the same columns as
    signup_rows(): the minute of the commit time, the country code, the LSN and
    the version."""
    return users.withColumns(_signup_key_from_users())


@cached_columns
def _signup_key_from_users() -> dict:
    return {
        "signup_minute": signup_window(F.col("commit_ts")),
        "signup_country": F.col("country_code"),
        "signup_lsn": F.col("commit_lsn"),
        "signup_version": F.col("writetime"),
    }


def signup_key_rows(good: DataFrame) -> DataFrame:
    """Good sign-up records -> (user_id, signup_*, writetime) rows of `users`:
    only those columns, so an update or a delete in the same batch is not
    touched (written USING TIMESTAMP the sign-up's version, below them)."""
    return signup_rows(good).select(
        "user_id",
        F.col("minute").alias("signup_minute"),
        F.col("country_code").alias("signup_country"),
        F.col("commit_lsn").alias("signup_lsn"),
        F.col("version").alias("signup_version"),
        "writetime",
    )


def erased_signups(keys: DataFrame, deletes: DataFrame) -> DataFrame:
    """Sign-ups of users deleted by this batch: `keys` (user_id, signup_*) are the
    sign-up keys as Cassandra holds them and the batch's own, `deletes`
    (user_id, writetime) every delete of the batch, superseded ones included.
    Only sign-ups older than a delete: a sign-up after it (the same id
    inserted again) is a new, living user's."""
    d = deletes.select("user_id", F.col("writetime").alias("delete_version"))
    return (
        keys.select("user_id", *SIGNUP_KEY_COLUMNS)
        .join(d, "user_id")
        .where(F.col("signup_version").isNotNull() & (F.col("signup_version") < F.col("delete_version")))
        .select("user_id", F.unix_millis(F.col("signup_minute")).alias("minute_ms"), "signup_country",
                "signup_lsn", "signup_version", "delete_version")
        .distinct()
    )  # fmt: skip
