"""Spark against the S3 server in the environment (run by conftest.spark_job, in a process of its own):
  python spark_job.py BUCKET DELTA_RS_TABLE RESULTS_JSON
Parquet through S3A at s3a:// and s3://, one multipart upload through S3A's own output stream, a
Delta table written by Spark's Delta, and the table delta-rs wrote read back by Spark's Delta."""

from __future__ import annotations

import json
import os
import sys
import time

from curate.jars import installed
from curate.objectstore import spark_conf
from curate.schemas.config import SparkConfig
from curate.session import get_spark

# S3A's upload part size (its smallest is 5 MiB): MULTIPART_BYTES then goes up in three parts.
PART_SIZE = "5M"
MULTIPART_BYTES = 12 * 1024 * 1024 + 321


def multipart_payload() -> bytes:
    return bytes(range(256)) * (MULTIPART_BYTES // 256) + bytes(range(MULTIPART_BYTES % 256))


def main(bucket: str, delta_rs_table: str, results_path: str) -> None:
    from pyspark.sql import functions as F

    jars = [str(j) for feature in ("delta", "s3") for j in installed(feature)]
    conf = {**spark_conf(endpoint=os.environ["AWS_ENDPOINT_URL"], region=os.environ["AWS_REGION"], path_style=True),
            "spark.jars": ",".join(jars), "spark.hadoop.fs.s3a.multipart.size": PART_SIZE}
    started = time.monotonic()
    spark = get_spark(SparkConfig(master="local[2]", shuffle_partitions=2, driver_memory="2g", conf=conf),
                      app_name="curate-objectstore-test", delta_engine="native")
    results: dict = {"session_seconds": time.monotonic() - started}

    docs = spark.range(1000).withColumn("text", F.concat(F.lit("doc-"), F.col("id").cast("string")))
    for scheme in ("s3a", "s3"):
        path = f"{scheme}://{bucket}/parquet-{scheme}"
        docs.write.mode("overwrite").parquet(path)
        docs.where("id < 500").write.mode("overwrite").parquet(path)  # the overwrite deletes the first files
        back = spark.read.parquet(path).agg(F.count("*").alias("n"), F.sum("id").alias("ids")).first()
        results[f"parquet_{scheme}"] = {"rows": back["n"], "id_sum": back["ids"]}

    jvm = spark.sparkContext._jvm
    hadoop_conf = spark.sparkContext._jsc.hadoopConfiguration()
    blob = jvm.org.apache.hadoop.fs.Path(f"s3a://{bucket}/multipart/blob.bin")
    stream = blob.getFileSystem(hadoop_conf).create(blob, True)
    stream.write(multipart_payload())
    stream.close()

    table = f"s3a://{bucket}/spark-delta"
    started = time.monotonic()
    docs.write.format("delta").mode("overwrite").save(table)
    results["delta_write_seconds"] = time.monotonic() - started
    docs.where("id < 10").withColumn("id", F.col("id") + 1000).write.format("delta").mode("append") \
        .save(table.replace("s3a://", "s3://"))
    results["spark_delta_rows"] = spark.read.format("delta").load(table).count()

    # delta-rs wrote it at s3://: Spark reads it at s3a://, the same objects.
    rows = spark.read.format("delta").load(delta_rs_table.replace("s3://", "s3a://")).orderBy("id").collect()
    results["delta_rs_table"] = [[r["id"], r["lang"]] for r in rows]
    with open(results_path, "w") as out:
        json.dump(results, out)
    spark.stop()


if __name__ == "__main__":
    main(*sys.argv[1:])
