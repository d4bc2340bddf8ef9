"""Each engine's tables opened by the other and by other Delta readers; features only one can read."""

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake
from delta.tables import DeltaTable as SparkDeltaTable
from pyspark.sql.types import StringType, StructField, StructType

from curate.delta.store import open_store
from curate.errors import StorageError

_K = StructType([StructField("k", StringType())])


def _rows(path: str) -> list[dict]:
    return sorted(DeltaTable(path).to_pyarrow_table().to_pylist(), key=lambda r: r["k"])


def test_spark_merges_updates_and_deletes_a_table_delta_rs_wrote(spark, tmp_path):
    path = str(tmp_path / "t")
    write_deltalake(path, pa.table({"k": [1, 2, 3], "v": ["a", "b", "c"]}))
    spark.createDataFrame([(2, "B"), (4, "d")], "k long, v string").createOrReplaceTempView("src")
    spark.sql(f"MERGE INTO delta.`{path}` t USING src s ON t.k = s.k "
              "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *")
    table = SparkDeltaTable.forPath(spark, path)
    table.update("k = 3", {"v": "'C'"})
    table.delete("k = 1")
    assert _rows(path) == [{"k": 2, "v": "B"}, {"k": 3, "v": "C"}, {"k": 4, "v": "d"}]
    assert DeltaTable(path).version() == 3


def test_tables_curate_creates_on_spark_have_no_deletion_vectors(spark, tmp_path):
    """Databricks turns deletion vectors on for new tables by default; delta-rs cannot read them, so
    curate creates its tables with them off, and a DELETE rewrites files instead."""
    native = open_store(spark, str(tmp_path), engine="native")
    spark.conf.set("spark.databricks.delta.properties.defaults.enableDeletionVectors", "true")
    try:
        native.append(spark.range(20).selectExpr("cast(id as string) k"), "t", schema=_K)
        SparkDeltaTable.forPath(spark, native.path("t")).delete("cast(k AS int) < 5")
    finally:
        spark.conf.unset("spark.databricks.delta.properties.defaults.enableDeletionVectors")
    props = SparkDeltaTable.forPath(spark, native.path("t")).detail().first()["properties"]
    assert props.get("delta.enableDeletionVectors") == "false"
    assert DeltaTable(native.path("t")).protocol().reader_features in (None, [])
    assert len(open_store(spark, str(tmp_path), engine="delta-rs").read("t").collect()) == 15


def test_delta_rs_refuses_a_table_with_deletion_vectors_and_spark_reads_it(spark, tmp_path):
    path = str(tmp_path / "tables" / "t")
    _dv_table(spark, path)
    rs = open_store(spark, str(tmp_path), engine="delta-rs")
    for read in (lambda: rs.read("t"), lambda: rs.read_arrow("t"), lambda: rs.rows("t")):
        with pytest.raises(StorageError, match=r"\['deletionVectors'\].*--delta-engine native.*DROP FEATURE"):
            read()
    native = open_store(spark, str(tmp_path), engine="native")
    assert native.rows("t") == 9 and sorted(r.k for r in native.read("t").collect()) == [
        str(i) for i in range(10) if i != 3]




def _dv_table(spark, path: str) -> None:
    spark.range(10).selectExpr("cast(id as string) k").coalesce(1).write.format("delta") \
        .option("delta.enableDeletionVectors", "true").save(path)
    SparkDeltaTable.forPath(spark, path).delete("k = '3'")  # a deletion vector hides the row


def test_native_maps_a_table_with_deletion_vectors_through_spark(spark, tmp_path):
    """Its files do not hold its rows as they are: the native engine reads it through Spark's Delta
    instead of a task per file, and the row a deletion vector hides stays hidden."""
    from collections import Counter

    def same(batches):  # defined here so Spark pickles it by value: workers cannot import test modules
        yield from batches

    def tally(batch):
        return Counter(rows=batch.num_rows)

    _dv_table(spark, str(tmp_path / "tables" / "t"))
    native = open_store(spark, str(tmp_path), engine="native")
    _, counts = native.map_into("t", same, "u", schema=_K, version=native.version("t"), tally=tally)
    assert counts == Counter(rows=9)
    assert [r["k"] for r in _rows(native.path("u"))] == [str(i) for i in range(10) if i != 3]


def test_native_deletes_and_appends_through_a_merge_where_files_are_not_rows(spark, tmp_path):
    """A table with deletion vectors (files that do not hold its rows as they are), and Databricks'
    own Delta (no open source transaction): one MERGE instead of rewriting files in tasks."""
    _dv_table(spark, str(tmp_path / "tables" / "t"))
    native = open_store(spark, str(tmp_path), engine="native")
    new = spark.createDataFrame([("10",)], _K)
    version = native.delete_and_append(new, "t", schema=_K, key="k", remove=["4"], read_version=1)
    assert sorted(r.k for r in native.read("t").collect()) == sorted([str(i) for i in range(10) if i not in (3, 4)]
                                                                       + ["10"])
    native._delta_log = None  # noqa: SLF001  as on Databricks
    native.delete_and_append(spark.createDataFrame([], _K), "t", schema=_K, key="k", remove=["5"],
                             read_version=version)
    assert native.rows("t") == 8


def test_native_without_the_open_source_internals_writes_through_spark(spark, tmp_path):
    """Where Delta's `DeltaLog` is not the open source jar's (Databricks' own Delta), the native
    engine commits task-written files and maps tables through Spark's Delta writes."""
    from curate.delta.datasource import FileSink, delta_arrow_schema

    def same(batches):
        yield from batches

    native = open_store(spark, str(tmp_path), engine="native")
    native._delta_log = None  # noqa: SLF001  as on Databricks
    sink = FileSink(native.path("t"), delta_arrow_schema(_K), storage=native.storage)
    sink.write(pa.table({"k": ["a", "b", "c"]}))
    staged = sink.close()
    assert native.insert_files(staged, "t", schema=_K, keys=["k"], unique=True) == 0
    assert native.version("t") == 0 and native.rows("t") == 3 and native.table_id("t")
    native.map_into("t", same, "u", schema=_K, version=0)
    assert _rows(native.path("u")) == [{"k": "a"}, {"k": "b"}, {"k": "c"}]
    logged = {f.rsplit("/", 1)[-1] for f in DeltaTable(native.path("t")).file_uris()}
    assert not logged & {a["path"] for a in staged}  # read back and written by Spark, then deleted
