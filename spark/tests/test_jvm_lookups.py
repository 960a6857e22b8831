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
