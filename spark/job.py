"""Entry point for spark-submit: `spark-submit [...] spark/job.py [--help]`.
The job itself is the userstream_spark package beside this file."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from userstream_spark.job import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
