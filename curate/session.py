"""The one SparkSession factory.

Run directly (`curate ...`), it builds a `local[*]` session sized for a small machine. Launched by
`spark-submit` (the JVM started us and exported PYSPARK_GATEWAY_PORT), it takes the master and
conf it was given and only fills in settings nobody set.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from curate import class_archive
from curate.errors import DependencyError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from curate.schemas.config import SparkConfig
    from curate.storage import Storage

log = logging.getLogger(__name__)

_LOG4J = Path(__file__).with_name("log4j2.properties")

# Settings curate relies on; applied only where the launcher did not set them.
_RUNTIME_DEFAULTS = {
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # Bounded Arrow batches keep per-task memory flat even with multi-MB documents.
    "spark.sql.execution.arrow.maxRecordsPerBatch": "2000",
    "spark.sql.session.timeZone": "UTC",
}


def launched_by_spark_submit() -> bool:
    return "PYSPARK_GATEWAY_PORT" in os.environ


# What a session needs besides the jars for Spark's Delta (SQL, MERGE, the catalog's USING DELTA).
DELTA_SESSION_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}


def jvm_conf(*, delta: bool, storage: Storage | None, shuffle_partitions: int) -> dict[str, str]:
    """Settings of a session curate starts: Spark's own Delta when `delta` and set-up installed its
    jars (none when it has not: the session then has no Delta, and `auto` picks delta-rs); S3A
    pointed at `storage` when an object store is in use."""
    from curate.jars import installed

    jars = installed("delta") if delta else []
    conf: dict[str, str] = {}
    if jars:
        conf.update(DELTA_SESSION_CONF)
        # Delta rebuilds a snapshot's file list in this many tasks (default 50): on a laptop's tables
        # that is 50 tiny tasks each time a table is opened.
        conf["spark.databricks.delta.snapshotPartitions"] = str(shuffle_partitions)
        # After each commit Delta computes the new snapshot's whole state (a Spark job) to write a
        # checksum file next to it; curate reads its tables through the log without it.
        conf["spark.databricks.delta.writeChecksumFile.enabled"] = "false"
    if storage is not None:
        s3 = installed("s3")
        if not s3:
            raise DependencyError("an s3:// root or input needs hadoop-aws's S3A jars: run scripts/setup.sh "
                                  "(python -m curate.jars install s3)")
        jars += s3
        conf.update(storage.spark_conf())
    if jars:
        conf["spark.jars"] = ",".join(str(j) for j in jars)
    return conf


def get_spark(cfg: SparkConfig, *, app_name: str = "curate", verbose: bool = False,
              delta_engine: str = "auto", storage: Storage | None = None) -> SparkSession:
    """Return the session for this process, creating it on first use. Unless `delta_engine` is
    delta-rs, a session curate starts loads Spark's Delta when set-up installed it; with `storage`
    (an object store in use), S3A for it. Under spark-submit the launcher's jars are kept and S3A's
    settings go into the Hadoop configuration where nobody set them."""
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.appName(app_name)
    log_level = "INFO" if verbose else cfg.log_level
    if not launched_by_spark_submit():
        # Python workers (UDFs and the data source planner alike) must run this interpreter,
        # which has curate and its models installed.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = (
            builder.master(cfg.master)
            .config("spark.driver.memory", cfg.driver_memory)
            .config("spark.sql.shuffle.partitions", str(cfg.shuffle_partitions))
            .config("spark.ui.enabled", str(cfg.ui).lower())
            .config("spark.log.level", log_level)
            .config("spark.ui.showConsoleProgress", "false")
        )
        java_options = f"-Dlog4j2.configurationFile=file:{_LOG4J}"
        if cfg.master.startswith("local"):
            # Workers on this machine: the pip pyspark is Spark's own. The one JVM is this
            # machine's too, so set-up's class archive fits it.
            builder = builder.config("spark.python.daemon.module", "curate.spark_daemon")
            # Reads name their files (from the Delta log): above 32 paths Spark would stat them in
            # a job of its own (0.7 s for 40 files), parallelism no local disk needs.
            builder = builder.config("spark.sql.sources.parallelPartitionDiscovery.threshold", "100000")
            java_options = f"{java_options} {class_archive.java_options()}".strip()
        builder = builder.config("spark.driver.extraJavaOptions", java_options)
        for key, value in _RUNTIME_DEFAULTS.items():
            builder = builder.config(key, value)
        conf = jvm_conf(delta=delta_engine != "delta-rs", storage=storage, shuffle_partitions=cfg.shuffle_partitions)
        for key, value in conf.items():
            builder = builder.config(key, value)
        for key, value in cfg.conf.items():
            builder = builder.config(key, str(value))
    spark = builder.getOrCreate()
    if launched_by_spark_submit():
        given = spark.sparkContext.getConf()
        for key, value in _RUNTIME_DEFAULTS.items():
            if not given.contains(key):
                spark.conf.set(key, value)
        if storage is not None:
            hadoop = spark.sparkContext._jsc.hadoopConfiguration()  # noqa: SLF001
            for key, value in storage.spark_conf().items():
                if not given.contains(key):
                    hadoop.set(key.removeprefix("spark.hadoop."), value)
    spark.sparkContext.setLogLevel(log_level)
    log.debug("spark session: master=%s version=%s", spark.sparkContext.master, spark.version)
    return spark
