from collections import Counter

import pyarrow as pa

from curate.spark_tasks import map_groups, tally_batches


def test_map_groups_runs_each_group_in_its_own_task_in_order(spark):
    groups = [["a", "b"], [], ["c"]]

    def fn(group):
        from pyspark import TaskContext

        yield pa.RecordBatch.from_pydict({"item": group, "part": [TaskContext.get().partitionId()] * len(group)})

    rows = map_groups(spark, groups, fn, "item string, part long").collect()
    assert [(r["item"], r["part"]) for r in rows] == [("a", 0), ("b", 0), ("c", 2)]


def test_tally_batches_sums_counts_made_in_the_tasks(spark):
    df = spark.range(0, 1000, 1, 4)

    def fn(batch):
        return Counter(rows=batch.num_rows, even=sum(1 for v in batch.column("id").to_pylist() if v % 2 == 0))

    assert tally_batches(df, fn) == Counter(rows=1000, even=500)


def test_local_workers_import_pyspark_from_its_package_not_sparks_zip(spark):
    """The local session's daemon (curate.spark_daemon) drops Spark's zips from the workers' path, so
    pyspark's cached bytecode is used instead of compiling it from the zip in every worker."""

    def where(batches):
        import sys

        import pyspark

        for _ in batches:
            yield pa.RecordBatch.from_pydict({"file": [pyspark.__file__], "zips": [sum(".zip" in p and "pyspark" in p
                                                                                       for p in sys.path)]})

    row = spark.range(1).mapInArrow(where, "file string, zips long").first()
    assert ".zip" not in row["file"] and row["file"].endswith("pyspark/__init__.py")
    assert row["zips"] == 0
