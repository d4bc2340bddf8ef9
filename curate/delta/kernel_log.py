"""A table's data files as of a version, read from its Delta log in the driver by Delta Kernel
(io.delta:delta-kernel-defaults, installed with Spark's Delta by set-up), with the session's Hadoop
settings. Spark's Delta answers the same questions by reconstructing the snapshot's state in Spark
jobs, once per table version a stage reads; the native engine asks Kernel instead where it has it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import unquote, urlparse

from pyspark.sql.types import StructType

from curate.storage import join


@dataclass(frozen=True)
class LogFile:
    path: str  # as the log's add action has it
    uri: str
    size: int
    num_records: int | None  # None: the add action has no statistics
    max_values: dict = field(default_factory=dict, compare=False)  # the statistics' maxValues (columns without: absent)


@dataclass(frozen=True)
class LogSnapshot:
    schema: StructType
    files: list[LogFile]


class KernelLog:
    def __init__(self, spark):
        self._jvm = spark._jvm  # noqa: SLF001
        self._engine = self._jvm.io.delta.kernel.defaults.engine.DefaultEngine.create(
            spark.sparkContext._jsc.hadoopConfiguration())  # noqa: SLF001

    @classmethod
    def load(cls, spark) -> KernelLog | None:
        """None where the session has no Delta Kernel (Databricks' runtime, jars of another build)."""
        try:
            spark._jvm.org.apache.spark.util.Utils.classForName(  # noqa: SLF001
                "io.delta.kernel.defaults.engine.DefaultEngine", True, False)
        except Exception:  # Py4JJavaError: no such class
            return None
        return cls(spark)

    def snapshot(self, table_uri: str, version: int) -> LogSnapshot:
        snapshot = self._jvm.io.delta.kernel.TableManager.loadSnapshot(table_uri).atVersion(version).build(self._engine)
        scan_files = snapshot.getScanBuilder().build().getScanFiles(self._engine, True)
        add_ordinal = self._jvm.io.delta.kernel.internal.InternalScanFileUtils.ADD_FILE_ORDINAL
        files = []
        try:
            while scan_files.hasNext():
                files += self._batch_files(scan_files.next(), add_ordinal, table_uri)
        finally:
            scan_files.close()
        return LogSnapshot(StructType.fromJson(json.loads(snapshot.getSchema().toJson())), files)

    def _batch_files(self, filtered, add_ordinal: int, table_uri: str) -> list[LogFile]:
        batch, selection = filtered.getData(), filtered.getSelectionVector()
        selected = selection.get() if selection.isPresent() else None
        add = batch.getColumnVector(add_ordinal)
        fields = add.getDataType()
        path, size, stats = (add.getChild(fields.indexOf(f)) for f in ("path", "size", "stats"))
        files = []
        for row in range(batch.getSize()):
            if selected is not None and (selected.isNullAt(row) or not selected.getBoolean(row)):
                continue
            if add.isNullAt(row):
                continue
            rel = path.getString(row)
            stat = None if stats.isNullAt(row) else stats.getString(row)
            stat = json.loads(stat) if stat else {}  # a writer may leave ""
            uri = rel if urlparse(rel).scheme else join(table_uri, unquote(rel))
            files.append(LogFile(rel, uri, size.getLong(row), stat.get("numRecords"), stat.get("maxValues") or {}))
        return files
