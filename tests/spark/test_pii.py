"""pii.py: HMAC values, key file handling, the UDF on executors."""

import os

import pytest
from pyspark.sql import functions as F

from userstream_spark import pii


def test_hmac_matches_rfc4231_case_1():
    key = bytes([0x0B] * 20)
    assert pii.hmac_hex(key, "Hi There") == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
    assert pii.hmac_hex(key, None) is None


def test_key_file_created_once_private(tmp_path):
    path = str(tmp_path / "secrets" / "pii_hmac_key")
    assert pii.generate_key_file(path) is True
    key = pii.load_key(path)
    assert len(key) == 2 * pii.KEY_BYTES  # hex text, used as it is
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert pii.generate_key_file(path) is False and pii.load_key(path) == key


def test_key_file_refusals(tmp_path):
    with pytest.raises(pii.KeyError_, match="missing"):
        pii.load_key(str(tmp_path / "none"))
    p = tmp_path / "k"
    p.write_text("00" * 32)
    os.chmod(p, 0o644)
    with pytest.raises(pii.KeyError_, match="group or others"):
        pii.load_key(str(p))
    os.chmod(p, 0o600)
    p.write_text("short\n")
    with pytest.raises(pii.KeyError_, match="16 bytes"):
        pii.load_key(str(p))


def test_sql_hmac_equals_python_without_key_in_plan(spark):
    for key in (b"k" * 32, bytes(range(100))):  # short key padded, long key hashed (RFC 2104)
        keys = pii.key_frame(spark, key)
        df = spark.createDataFrame([("a@example.com",), (None,), ("",), ("ü",)], "v string")
        out = pii.with_key(df, keys).select(pii.hmac_column(F.col("v")).alias("h"))
        assert [r[0] for r in out.collect()] == [pii.hmac_hex(key, v) for v in ("a@example.com", None, "", "ü")]
        plan = out._jdf.queryExecution().toString()
        assert key.hex() not in plan and "6b6b6b6b" not in plan and "5d5d5d5d" not in plan
