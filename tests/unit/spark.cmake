# Unit tests of the Spark job (tests/spark, pytest on a local SparkSession).
# Registered with ctest so `./userstream test unit` runs them; only in the
# normal build: a sanitizer build changes nothing for Python and the JVM.
if(NOT US_SANITIZE AND DEFINED ENV{US_VENV})
  add_test(NAME spark_unit
           COMMAND $ENV{US_VENV}/bin/python -m pytest -q -p no:cacheprovider ${PROJECT_SOURCE_DIR}/tests/spark
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}/spark)
  set_tests_properties(spark_unit PROPERTIES TIMEOUT 900
                       ENVIRONMENT "US_ROOT=${PROJECT_SOURCE_DIR}")
endif()
