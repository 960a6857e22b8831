"""Trust in the us.lsn header (issue 12 item 3): the two checks that keep one
forged or buggy record from outranking every later change of a user.

The job writes every change to Cassandra USING TIMESTAMP lsn * 2^20 + seq, so
a record whose us.lsn is too high wins over every real change of that user
until PostgreSQL's WAL catches up with it (up to 8 TiB of WAL for 2^43 - 1).
Kafka's ACLs are the first defence (only the relay's principal may write the
users topic); these checks are the second, for what that principal sends:

1. Upper bound. A record's us.lsn must not be beyond PostgreSQL's current WAL
   position (pg_current_wal_lsn(), read once per micro-batch on the driver)
   plus US_SPARK_LSN_MARGIN_BYTES. The relay sends only WAL that PostgreSQL
   has written, and every record of a batch was in Kafka before the batch's
   offsets were fixed, so before the position is read: a real record is never
   beyond it. Not the slot's confirmed_flush_lsn: that lags behind the
   records in flight (the relay confirms only what Kafka acknowledged), so it
   would refuse good records.

2. Order per key. Within one Kafka partition (every record of a key is in the
   partition of its key) the relay sends a key's changes in commit order, so
   its us.lsn never decreases from one offset to the next, with one
   legitimate exception: after a restart the relay re-sends what the slot had
   not confirmed, so the key's LSNs drop back to an LSN it already sent and
   then repeat the same LSNs again. Equal LSNs are always fine (changes of one
   transaction, a snapshot's rows, re-sends). A drop that is not a re-send
   means one of the two records is wrong, and the one that can do harm is
   the HIGHER one: it would outrank the later, lower change (and every later
   change until the WAL passes it), while a wrong lower record loses against
   anything newer. So, precisely, within one batch:

       record R of key K (partition P) is refused when a later offset of K
       in P carries a smaller us.lsn that K did not carry before in P (not a
       re-send), and R's own us.lsn does not come again after R (R is not
       re-sent itself).

   Records without a key or without a valid us.lsn (refused by other rules)
   take no part. A relay restart whose re-sends are cut by the end of the
   batch can refuse a record whose own re-send, in the next batch, is then
   written: a dead letter too many, never a wrong row (docs/spark.md).

Cost: the upper bound is a comparison with a literal, a column of classify.
The order check needs the other records of the key: it is computed inside
the batch's stats aggregation (job._users_stats, the one pass the batch
makes anyway) by windows over the (partition, key) of a few narrow columns,
one shuffle of those columns and no O(n^2) frame; the offsets it finds
(usually none) then become a literal rule of classify.
"""

from __future__ import annotations

from typing import Iterable, Optional

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from .decode import MAX_LSN
from .jvm_lookups import cached_columns

LIMIT_REASON = "us.lsn beyond PostgreSQL's WAL position plus US_SPARK_LSN_MARGIN_BYTES"
ORDER_REASON = "us.lsn not monotonic per key: a later record of the key in the batch has a smaller LSN"
LIMIT_COL = "_lsn_limit"
ORDER_COL = "_lsn_inverted"
_L, _RESENT = "_lsn_l", "_lsn_resent"


# ------------------------------------------------------------ upper bound


def lsn_limit(current_wal_lsn: Optional[int], margin: int) -> Optional[int]:
    """The highest us.lsn a record of the batch may carry; None: unknown."""
    return None if current_wal_lsn is None else int(current_wal_lsn) + int(margin)


def limit_literal(limit: Optional[int]) -> Column:
    """The batch's limit as a column (decimal(20,0), like `lsn`); NULL: none."""
    return F.lit(None if limit is None else str(int(limit))).cast("decimal(20,0)")


@cached_columns
def limit_rule() -> Column:
    """True for a record beyond the batch's limit; never when the limit is
    unknown (NULL: PostgreSQL could not be asked)."""
    return F.coalesce(F.col("lsn") > F.col(LIMIT_COL), F.lit(False))


# ------------------------------------------------------------ order per key


def with_order_check(df: DataFrame, name: str = "lsn_inverted") -> DataFrame:
    """Adds `name`: True for a record the order rule refuses. df: a batch's
    rows with src_partition, src_offset, key_text and lsn (any later columns
    too). Two window specs on the same partitioning: one shuffle."""
    return df.withColumns(_order_inputs()).withColumn(name, _order_column()).drop(_L, _RESENT)


@cached_columns
def _order_inputs() -> dict:
    lsn = F.col("lsn")
    takes_part = F.col("key_text").isNotNull() & (lsn <= F.lit(MAX_LSN))
    l_ = F.when(takes_part, lsn.cast("long"))
    by_lsn = Window.partitionBy("src_partition", "key_text").orderBy(l_, F.col("src_offset"))
    # The previous record of the key in (lsn, offset) order has the same LSN:
    # this LSN came earlier for the key, the record is a re-send.
    return {_L: l_, _RESENT: F.coalesce(F.lag(l_, 1).over(by_lsn) == l_, F.lit(False))}


@cached_columns
def _order_column() -> Column:
    l_ = F.col(_L)
    by_lsn = Window.partitionBy("src_partition", "key_text").orderBy(l_, F.col("src_offset"))
    again = F.coalesce(F.lead(l_, 1).over(by_lsn) == l_, F.lit(False))  # the LSN comes again later
    # min over the LATER offsets of the key, as a growing frame in reverse
    # offset order (a frame up to unbounded following is recomputed per row).
    later = (
        Window.partitionBy("src_partition", "key_text")
        .orderBy(F.col("src_offset").desc())
        .rowsBetween(Window.unboundedPreceding, -1)
    )
    later_min = F.min(F.when(~F.col(_RESENT), l_)).over(later)
    return F.coalesce(l_.isNotNull() & (later_min < l_) & ~again, F.lit(False))


def violations(df: DataFrame) -> list[tuple[int, int]]:
    """(partition, offset) of every record the order rule refuses: an action,
    for tests and tools; the job gets the same from its stats pass."""
    rows = with_order_check(df, "_v").where(F.col("_v")).select("src_partition", "src_offset").collect()
    return sorted((int(r[0]), int(r[1])) for r in rows)


def order_literal(refused: Iterable[tuple[int, int]]) -> Column:
    """classify's order rule for this batch: True at the given (partition,
    offset) pairs (found by the stats pass; usually there are none)."""
    keys = sorted({f"{int(p)}/{int(o)}" for p, o in refused})
    if not keys:
        return F.lit(False)
    return F.concat_ws("/", F.col("src_partition").cast("string"), F.col("src_offset").cast("string")).isin(keys)
