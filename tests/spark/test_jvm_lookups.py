"""jvm_lookups: memoized py4j name lookups give the same classes, and a
name that does not exist still fails loudly."""

import pytest
from py4j.java_gateway import JavaClass, JavaPackage
from pyspark.sql import functions as F

from userstream_spark import jvm_lookups


def test_single_imports_resolve_to_their_classes(spark):
    jvm = spark.sparkContext._jvm
    f = jvm.functions
    assert isinstance(f, JavaClass) and f._fqn == "org.apache.spark.sql.functions"
    assert jvm.functions is f  # memoized: no second round trip


def test_dotted_paths_are_memoized_per_segment(spark):
    jvm = spark.sparkContext._jvm
    pkg = jvm.org.apache.spark.sql
    assert isinstance(pkg, JavaPackage)
    assert jvm.org.apache.spark.sql is pkg
    assert jvm.org.apache.spark.sql.avro.functions._fqn == "org.apache.spark.sql.avro.functions"


def test_a_missing_class_still_fails_when_used(spark):
    # py4j answers an unknown name with a package (it cannot tell a package
    # from a missing class); memoizing that package changes nothing: using
    # it as a class fails the same way, every time.
    jvm = spark.sparkContext._jvm
    for _ in range(2):
        missing = jvm.org.apache.spark.sql.NoSuchClassAnywhere
        assert isinstance(missing, JavaPackage)
        with pytest.raises(TypeError):  # 'JavaPackage' object is not callable
            missing()


def test_speed_up_is_idempotent_and_columns_still_work(spark):
    jvm_lookups.speed_up(spark)
    jvm_lookups.speed_up(spark)
    row = spark.range(3).select(F.sum(F.col("id") * 2).alias("s")).collect()[0]
    assert row["s"] == 6


def test_cached_columns_are_built_once_and_apply_to_any_frame(spark):
    calls = []

    @jvm_lookups.cached_columns
    def plus_one(name):
        calls.append(name)
        return (F.col(name) + 1).alias(name + "1")

    a, b, c = plus_one("x"), plus_one("x"), plus_one("y")
    assert a is b and a is not c and calls == ["x", "y"]
    # the same expressions on two different DataFrames, each resolved anew
    first = spark.createDataFrame([(1, 10)], "x int, y int").select(a, c).first()
    second = spark.createDataFrame([(5, 7)], "x int, y int").select(plus_one("x"), plus_one("y")).first()
    assert tuple(first) == (2, 11) and tuple(second) == (6, 8) and calls == ["x", "y"]
