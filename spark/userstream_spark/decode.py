"""Kafka record -> change record: pure DataFrame -> DataFrame functions.

Wire format of a `userstream.users` value (docs/data-contracts.md §3):

    byte 0      0x00                 magic byte of the Confluent framing
    bytes 1-4   schema id            big-endian int32, assigned by the registry
    bytes 5-    Avro binary          encoded with that writer schema

A NULL value is a tombstone (a delete). Every record, tombstones included,
carries the headers us.op, us.lsn (commit LSN, unsigned decimal), us.seq
(ordinal in the transaction), us.commit_ts (microseconds since the epoch).

Spark's from_avro does not speak the registry, so the header is stripped here
and each record is decoded with the writer schema of ITS OWN id (fetched from
the registry by the caller): records written before and after a schema change
both decode, and each decoded record is projected onto the job's explicit
SOURCE_FIELDS (schema.py). Nothing here raises on bad input: a bad record gets
a reason and goes to the dead-letter topic.
"""

from __future__ import annotations

import json
from typing import Mapping, Optional, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.avro.functions import from_avro
from pyspark.sql.types import DataType, StructType

from .jvm_lookups import cached_columns
from .schema import SOURCE_FIELDS, avro_field_names, project_avro_schema

VALID_OPS = ("r", "c", "u", "d", "t")
UUID_RE = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
# Cassandra write timestamp = lsn * 2^SEQ_BITS + seq (see version_column).
SEQ_BITS = 20
MAX_SEQ = (1 << SEQ_BITS) - 1
MAX_LSN = (1 << (63 - SEQ_BITS)) - 1


def header(name: str) -> Column:
    """The last value of Kafka header `name` as text (NULL if absent).
    filter + try_element_at: duplicate header keys cannot fail the batch
    (map_from_entries would)."""
    hs = F.filter(F.coalesce(F.col("headers"), F.array()), lambda h: h["key"] == F.lit(name))
    return F.try_element_at(hs, F.lit(-1))["value"].cast("string")


def parse_envelope(kafka: DataFrame) -> DataFrame:
    """Kafka source rows -> one row per record with the framing and the change
    metadata parsed, still undecoded. Keeps the original key, value and
    headers for the dead-letter topic."""
    return kafka.select(*_envelope_columns())


@cached_columns
def _envelope_columns() -> tuple:
    lsn_txt = header("us.lsn")
    seq_txt = header("us.seq")
    ts_txt = header("us.commit_ts")
    value = F.col("value")
    return (
        F.col("topic").alias("src_topic"),
        F.col("partition").alias("src_partition"),
        F.col("offset").alias("src_offset"),
        F.col("key"),
        value,
        F.col("headers"),
        F.col("key").cast("string").alias("key_text"),
        header("us.op").alias("op"),
        header("us.unchanged").alias("unchanged"),
        F.when(lsn_txt.rlike(r"^[0-9]{1,20}$"), lsn_txt.cast("decimal(20,0)")).alias("lsn"),
        F.when(seq_txt.rlike(r"^[0-9]{1,10}$"), seq_txt.cast("long")).alias("seq"),
        F.when(ts_txt.rlike(r"^-?[0-9]{1,18}$"), F.timestamp_micros(ts_txt.cast("long"))).alias("commit_ts"),
        value.isNull().alias("is_tombstone"),
        F.when(F.length(value) >= 5, F.conv(F.hex(F.substring(value, 2, 4)), 16, 10).cast("long")).alias(
            "schema_id"
        ),
        F.when(
            value.isNotNull() & ((F.length(value) < 5) | (F.substring(value, 1, 1) != F.unhex(F.lit("00")))),
            F.lit(True),
        )
        .otherwise(F.lit(False))
        .alias("bad_frame"),
        F.when(F.length(value) >= 5, F.expr("substring(value, 6, length(value) - 5)")).alias("payload"),
    )


def _projection(decoded: Column, present: Sequence[str], fields: Sequence[tuple[str, DataType]]) -> Column:
    parts = []
    for name, dtype in fields:
        if name in present:
            parts.append(decoded[name].cast(dtype).alias(name))
        else:
            parts.append(F.lit(None).cast(dtype).alias(name))
    return F.struct(*parts)


def _decoder_name(sid: int) -> str:
    return f"_avro_{sid}"


def with_decoded(
    envelope: DataFrame,
    writer_schemas: Mapping[int, str],
    fields: Sequence[tuple[str, DataType]] = SOURCE_FIELDS,
) -> DataFrame:
    """Adds `rec`: a struct of `fields` decoded from `payload` with the writer
    schema of each row's `schema_id`; NULL where the id is not in
    `writer_schemas`; all fields NULL where the bytes are not valid Avro for
    that schema (from_avro PERMISSIVE mode returns an all-NULL row).

    Each from_avro is evaluated once per row, inside a generator
    (inline(array(struct(...)))), and only the generator's output columns
    are projected. Without that barrier the optimizer pushes every rec.field
    access down into the decoder (SimplifyExtractValueOps), so from_avro would
    run once per field reference (~80 times per record) and planning alone
    takes tens of seconds."""
    if not writer_schemas:
        return envelope.withColumn("rec", F.lit(None).cast(null_struct_type(fields)))
    generator, rec, drop = _decoder_columns(tuple(sorted(writer_schemas.items())), tuple(fields))
    return envelope.select("*", generator).withColumn("rec", rec).drop(*drop)


@cached_columns
def _decoder_columns(writer_schemas: tuple, fields: tuple) -> tuple:
    """(the generator column, the `rec` column, the generator's columns to
    drop) for writer_schemas = ((id, schema json), ...) in id order."""
    wanted = [n for n, _ in fields]
    none = F.lit(None).cast(null_struct_type(fields))
    decoders, present = [], {}
    for sid, writer in writer_schemas:
        present[sid] = [n for n in avro_field_names(writer) if n in wanted]
        reader = project_avro_schema(writer, present[sid])
        decoded = from_avro(F.col("payload"), writer, {"mode": "PERMISSIVE", "avroSchema": reader})
        decoders.append(F.when(F.col("schema_id") == F.lit(sid), decoded).alias(_decoder_name(sid)))
    expr: Optional[Column] = None
    for sid, _ in writer_schemas:
        branch = _projection(F.col(_decoder_name(sid)), present[sid], fields)
        cond = F.col("schema_id") == F.lit(sid)
        expr = F.when(cond, branch) if expr is None else expr.when(cond, branch)
    generator = F.inline(F.array(F.struct(*decoders)))
    return generator, expr.otherwise(none), tuple(_decoder_name(sid) for sid, _ in writer_schemas)


def null_struct_type(fields: Sequence[tuple[str, DataType]]) -> StructType:
    st = StructType()
    for n, t in fields:
        st.add(n, t, True)
    return st


def decode(envelope: DataFrame, writer_schemas: Mapping[int, str], fields=SOURCE_FIELDS) -> DataFrame:
    """parse_envelope rows + `rec` (the decoded record, or NULL) and
    `decode_error` (why a non-tombstone could not be decoded, or NULL)."""
    df = with_decoded(envelope, writer_schemas, fields)
    return df.withColumn("decode_error", _decode_error_column(tuple(sorted(writer_schemas)), tuple(fields)))


@cached_columns
def _decode_error_column(known: tuple, fields: tuple) -> Column:
    all_null = ~F.greatest(*[F.col("rec")[n].isNotNull() for n, _ in fields])
    known_id = F.col("schema_id").isin(*known) if known else F.lit(False)
    return (
        F.when(F.col("is_tombstone"), F.lit(None))
        .when(F.col("bad_frame"), F.lit("value is not Confluent-framed Avro (magic byte 0 + 4-byte schema id)"))
        .when(~known_id, F.concat(F.lit("unknown schema id "), F.col("schema_id").cast("string")))
        .when(F.col("rec").isNull() | all_null, F.concat(
            F.lit("Avro decoding failed with writer schema id "), F.col("schema_id").cast("string")))
    )


def schema_ids(envelope: DataFrame) -> DataFrame:
    """Distinct schema ids of the framed (non-tombstone) records."""
    return envelope.where(~F.col("is_tombstone") & ~F.col("bad_frame")).select("schema_id").distinct()


def describe_writer_schemas(schemas: Mapping[int, str]) -> str:
    """For logs: ids and field counts, never the records."""
    return ", ".join(f"{sid}:{len(json.loads(s).get('fields', []))} fields" for sid, s in sorted(schemas.items()))
