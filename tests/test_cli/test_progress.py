"""Stage progress: an updating line on a terminal, periodic log lines otherwise."""

from __future__ import annotations

import io
import logging

import pyarrow.compute as pc

from curate.progress import progress_line, stage_progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def slow_job(spark) -> int:
    """A real Spark job of 8 tasks, each over 250 000 rows, long enough to be polled."""
    df = spark.range(0, 2_000_000, numPartitions=8)
    return df.selectExpr("sum(length(sha2(cast(id as string), 256)))").first()[0]


def test_a_terminal_gets_one_line_redrawn_in_place(spark):
    term = Terminal()
    with stage_progress(spark, "demo", stream=term, refresh=0.05):
        assert slow_job(spark) == 2_000_000 * 64
    out = term.getvalue()
    lines = [part for part in out.split("\r\x1b[K") if part]
    assert lines and all(line.startswith("demo: tasks ") and "records/s" in line for line in lines)
    assert "\n" not in out and out.endswith("\r\x1b[K")  # redrawn in place, cleared at the end
    done, total = lines[-1].split("tasks ")[1].split(",")[0].split("/")
    assert 0 <= int(done) <= int(total) and int(total) >= 1


def test_elsewhere_progress_is_logged_now_and_then(spark, caplog):
    caplog.set_level(logging.INFO, logger="curate.progress")
    with stage_progress(spark, "demo", stream=io.StringIO(), refresh=0.01, log_every=0.2):
        slow_job(spark)
    logged = [r.getMessage() for r in caplog.records if r.name == "curate.progress"]
    assert logged and all(m.startswith("demo: tasks ") for m in logged)
    with stage_progress(spark, "quick", stream=io.StringIO(), log_every=60):
        pass
    assert not [r for r in caplog.records if "quick" in r.getMessage()]


def test_progress_line_reports_rate():
    line = progress_line("annotate", tasks_done=3, tasks=8, records=12_000, elapsed=75.0)
    assert line == "annotate: tasks 3/8, 12,000 records read, 1m15s, 160 records/s"


def test_tasks_that_read_their_files_themselves_count_their_records(spark, tmp_path):
    """map_files tasks read Parquet without Spark's input metrics: their rows reach the progress
    line through the records counter, not as one record per task."""
    from pyspark.sql.types import LongType, StructField, StructType

    from curate.delta.store import open_store
    from curate.progress import SparkProgress

    schema = StructType([StructField("n", LongType())])
    store = open_store(spark, str(tmp_path), engine="delta-rs")  # map_files: the engine whose tasks read Parquet
    for start in (0, 1000, 3000):  # three files of 1000, 2000 and 500 rows
        end = {0: 1000, 1000: 3000, 3000: 3500}[start]
        version = store.append(spark.range(start, end).withColumnRenamed("id", "n"), "numbers", schema=schema)
    progress = SparkProgress(spark)
    store.map_into("numbers", lambda batches: (b.filter(pc.less(b["n"], 10)) for b in batches), "small",
                   schema=schema, version=version)
    assert store.rows("small") == 10
    assert progress.poll()[2] == 3500
