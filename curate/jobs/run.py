"""`curate run`: the whole DAG in one Spark application. Also `spark-submit curate/jobs/run.py`."""

from __future__ import annotations

import sys

from curate.jobs.common import stage_main

if __name__ == "__main__":
    sys.exit(stage_main("run"))
