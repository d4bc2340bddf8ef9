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
    spark.range(10).selectExpr("cast(id as string) k").coalesce(1).write.format("delta") \
        .option("delta.enableDeletionVectors", "true").save(path)
    SparkDeltaTable.forPath(spark, path).delete("k = '3'")  # a deletion vector hides the row
    rs = open_store(spark, str(tmp_path), engine="delta-rs")
    for read in (lambda: rs.read("t"), lambda: rs.read_arrow("t"), lambda: rs.rows("t")):
        with pytest.raises(StorageError, match=r"\['deletionVectors'\].*--delta-engine native.*DROP FEATURE"):
            read()
    native = open_store(spark, str(tmp_path), engine="native")
    assert native.rows("t") == 9 and sorted(r.k for r in native.read("t").collect()) == [
        str(i) for i in range(10) if i != 3]


