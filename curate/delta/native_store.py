"""The native engine: Spark's own Delta Lake (io.delta:delta-spark), as Databricks and clusters run it.

Every read and write, metadata included, goes through Delta's own code with the session's storage
settings: Spark's Delta, and Delta Kernel (installed with it) where a table's files and row counts
as of a version are read from its log in the driver rather than by Spark jobs. Files curate's own tasks write (DeltaStore.insert_files, map_into) are committed as they
are by Delta's own transaction, where the open source jar's internals are reachable (elsewhere they
are read back and written through Spark). Tables curate creates have deletion vectors off (Databricks turns them on by default):
delta-rs, and so curate's other engine and many Delta readers, cannot read a table that has them.
"""

from __future__ import annotations

import functools
import json
import logging
import time
import uuid
from collections import Counter
from typing import TYPE_CHECKING, Iterator, Sequence

from pyspark.accumulators import AccumulatorParam
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, DoubleType, IntegerType, LongType, StringType, StructType, TimestampType

from curate.delta.datasource import (
    FileSink,
    delta_arrow_schema,
    files_frame,
    most_work_first,
    read_files,
    rows_table,
    without_keys,
    write_files,
)
from curate.delta.kernel_log import KernelLog, LogFile, LogSnapshot
from curate.delta.store import DeltaStore, files_hold_rows
from curate.errors import StorageError
from curate.faults import fault_point
from curate.schemas.tables import SPLIT_FILES_BY, conform
from curate.spark_tasks import same_batches
from curate.storage import Storage, join

if TYPE_CHECKING:
    import pyarrow as pa

    from curate.delta.datasource import BatchFn, TallyFn, WhereIn

log = logging.getLogger(__name__)

# Columns of documents' text and other free text: Delta would keep 32-character prefixes of them in
# each file's statistics (in the log, useless for skipping, and costly to compute over whole texts).
_FREE_TEXT = {"text", "excerpt", "reason", "message"}


# The types Delta keeps min/max statistics of (others it refuses in delta.dataSkippingStatsColumns).
_STATS_TYPES = (StringType, LongType, IntegerType, DoubleType, TimestampType, DateType)


def create_properties(schema: StructType) -> dict[str, str]:
    """Table properties of a table curate creates: no deletion vectors (readable by delta-rs and every
    Delta reader), statistics of the columns a reader can skip files by."""
    stats = [f.name for f in schema.fields
             if f.name not in _FREE_TEXT and isinstance(f.dataType, _STATS_TYPES)]
    return {"delta.enableDeletionVectors": "false", "delta.dataSkippingStatsColumns": ",".join(stats)}


class NativeStore(DeltaStore):
    engine = "native"

    def __init__(self, spark, root: str, *, storage: Storage):
        super().__init__(spark, root, storage=storage)
        self._delta_log = _delta_log_class(spark)
        self._kernel = KernelLog.load(spark)
        self._counts: dict[tuple[str, str, int], int] = {}  # (table, table id, version) -> rows

    def _delta_table(self, name: str):
        from delta.tables import DeltaTable

        return DeltaTable.forPath(self.spark, self.path(name))

    def _reader(self, name: str, version: int | None):
        reader = self.spark.read.format("delta")
        return reader if version is None else reader.option("versionAsOf", version)

    # ---- metadata ------------------------------------------------------------------------------
    def _is_table(self, name: str) -> bool:
        snapshot = self._snapshot(name)
        if snapshot is not None:
            return snapshot.version() >= 0
        from delta.tables import DeltaTable

        return DeltaTable.isDeltaTable(self.spark, self.path(name))

    def _snapshot(self, name: str):
        """The table's latest snapshot from Delta's `DeltaLog`, without a Spark job, where the open
        source jar's internals are reachable; None where they are not (Databricks' own Delta)."""
        if self._delta_log is None:
            return None
        none = self.spark._jvm.scala.Option.empty()  # noqa: SLF001
        return self._delta_log.forTable(self.spark._jsparkSession, self.path(name)).update(  # noqa: SLF001
            False, none, none)

    def version(self, name: str) -> int | None:
        """From the snapshot where it is reachable; through DESCRIBE HISTORY (a job) where it is not."""
        snapshot = self._snapshot(name)
        if snapshot is not None:
            return None if snapshot.version() < 0 else snapshot.version()
        if not self._is_table(name):
            return None
        return self._delta_table(name).history(1).select("version").first()[0]

    def _plain_files(self, snapshot) -> bool:
        """Whether the table's data files hold its rows as they are (no deletion vectors, no column
        mapping, no partition columns), as far as its latest `snapshot` tells."""
        if not snapshot.metadata().partitionColumns().isEmpty():
            return False
        protocol = snapshot.protocol()
        features = self.spark._jvm.scala.jdk.javaapi.CollectionConverters.asJava(protocol.readerFeatureNames())  # noqa: SLF001
        return files_hold_rows(protocol.minReaderVersion(), list(features))

    def _log_snapshot(self, name: str, version: int | None) -> LogSnapshot | None:
        """Table `name` as of `version` (None: the latest) from its log by Delta Kernel (no Spark job),
        where the session has Kernel and the data files hold the rows as they are; else None."""
        latest = self._snapshot(name)
        if self._kernel is None or latest is None or not self._plain_files(latest):
            return None
        return self._kernel.snapshot(self.path(name), latest.version() if version is None else version)

    def history(self, name: str) -> list[dict]:
        if not self._is_table(name):
            return []
        rows = self._delta_table(name).history().select(
            "version", F.unix_millis("timestamp").alias("timestamp")).collect()
        return [r.asDict() for r in rows]

    def rows(self, name: str, *, version: int | None = None) -> int:
        """The sum of the files' statistics where Kernel lists them and all have statistics; else a
        count by Spark's Delta (a job, which answers from the statistics too, deletion vectors
        included, and scans only the files without). Kept per table version."""
        version = self.version(name) if version is None else version
        if version is None:
            raise self._missing(name)
        key = (name, self.table_id(name), version)
        if key not in self._counts:
            snapshot = self._log_snapshot(name, version)
            if snapshot is not None and all(f.num_records is not None for f in snapshot.files):
                self._counts[key] = sum(f.num_records for f in snapshot.files)
            else:
                self._counts[key] = self.read(name, version=version).count()
        return self._counts[key]

    def column_names(self, name: str, *, version: int | None = None) -> list[str]:
        return self.read(name, version=version).columns

    def table_id(self, name: str) -> str | None:
        """From the snapshot where it is reachable; through DESCRIBE DETAIL (a job) where it is not."""
        if not self._is_table(name):
            return None
        snapshot = self._snapshot(name)
        if snapshot is not None:
            return snapshot.metadata().id()
        return self._delta_table(name).detail().select("id").first()[0]

    # ---- reading -------------------------------------------------------------------------------
    def read(self, name: str, *, version: int | None = None, schema: StructType | None = None) -> DataFrame:
        if not self._is_table(name):
            if schema is not None:
                return self.spark.createDataFrame([], schema)
            raise self._missing(name)
        snapshot = self._log_snapshot(name, version)
        if snapshot is None:
            return self._reader(name, version).load(self.path(name))
        # Spark's Parquet reader over the files Kernel listed: what Delta's own scan of such a table
        # reads, without the Spark jobs that rebuild the snapshot's state first.
        if not snapshot.files:
            return self.spark.createDataFrame([], snapshot.schema)
        return self.spark.read.schema(snapshot.schema).parquet(*(f.uri for f in snapshot.files))

    def read_arrow(self, name: str, *, version: int | None = None,
                   columns: Sequence[str] | None = None) -> pa.Table | None:
        if not self._is_table(name):
            return None
        snapshot = self._log_snapshot(name, version)
        if snapshot is not None:
            return read_files([f.uri for f in snapshot.files], snapshot.schema, columns=columns, storage=self.storage)
        df = self.read(name, version=version)
        return (df.select(*columns) if columns else df).toArrow()

    def _source_files(self, name: str, version: int, where_true: str | None) -> list[str] | None:
        """The snapshot's files, less those whose statistics show `where_true` false in every row."""
        snapshot = self._log_snapshot(name, version)
        if snapshot is None:
            return None
        files = [f for f in snapshot.files if where_true is None or f.max_values.get(where_true) is not False]
        return most_work_first([(f.uri, f.size, f.num_records) for f in files])

    def _spark_frame(self, name: str, fn: BatchFn, schema: StructType | str, *, version: int,
                     columns: Sequence[str] | None, where_true: str | None,
                     where_in: WhereIn | None = None) -> DataFrame:
        rows = self.read(name, version=version)
        if where_true is not None:
            rows = rows.where(F.col(where_true))  # Delta skips files by their statistics
        if where_in is not None:
            rows = rows.where(F.col(where_in[0]).isin(where_in[1].to_pylist()))
        return (rows.select(*columns) if columns else rows).mapInArrow(fn, schema)

    def _unreferenced(self, name: str, retention_hours: int) -> list[str]:
        """Delta's VACUUM ... DRY RUN (FULL by default: it lists the folder, crash orphans included).
        Its listing job has spark.sql.sources.parallelPartitionDiscovery.parallelism tasks (default
        10,000, minutes of empty tasks on a small cluster): here as many as the cluster's cores."""
        conf = {"spark.databricks.delta.retentionDurationCheck.enabled": "false",
                "spark.sql.sources.parallelPartitionDiscovery.parallelism":
                    str(self.spark.sparkContext.defaultParallelism)}
        before = {k: self.spark.conf.get(k, None) for k in conf}  # None: not set (Delta not loaded yet)
        for k, v in conf.items():
            self.spark.conf.set(k, v)
        try:
            rows = self.spark.sql(f"VACUUM delta.`{self.path(name)}` RETAIN {retention_hours} HOURS DRY RUN").collect()
        finally:
            for k, v in before.items():
                self.spark.conf.unset(k) if v is None else self.spark.conf.set(k, v)
        base = self.storage.filesystem(self.path(name))[1] + "/"
        return [self.storage.filesystem(r.path)[1].removeprefix(base) for r in rows]

    # ---- writing -------------------------------------------------------------------------------
    def _write(self, df: DataFrame, name: str, *, schema: StructType, overwrite: bool,
               read_version: int | None = None) -> int:
        """One Delta commit. `read_version`: the version `df` was computed from; a table that moved on
        since is not overwritten (Delta's own check starts when the write does). Where Delta's open
        source transaction is reachable, the tasks write the files and the driver commits them
        (`_commit_files`), as `map_into` does; elsewhere (Databricks' own Delta) Spark's Delta writes."""
        df = _faulted(conform(df, schema, table=name), f"write:{name}")
        current = self.version(name)
        if read_version is not None and current != read_version:
            raise self._conflict(name)
        if self._delta_log is not None:
            # The frame's own nullability, as Spark's Delta writer takes it (a table it creates too).
            try:
                adds = write_files(df, self.path(name), df.schema, split_by=SPLIT_FILES_BY.get(name, ()),
                                   storage=self.storage)
            except Exception as err:
                raise self._write_error(name, err) from err
            return self._commit_files(name, adds, df.schema, read_version=read_version, overwrite=overwrite)
        writer = df.write.format("delta").mode("overwrite" if overwrite else "append")
        if current is None:
            writer = writer.options(**create_properties(schema))
        fault_point(f"commit:{name}")  # nothing written
        try:
            writer.save(self.path(name))
        except Exception as err:
            raise self._write_error(name, err) from err
        fault_point(f"committed:{name}")  # committed, the job not told yet
        return self.version(name)

    def delete(self, name: str, *, where: str) -> int:
        fault_point(f"commit:{name}")
        try:
            self._delta_table(name).delete(where)
        except Exception as err:
            raise self._write_error(name, err) from err
        fault_point(f"committed:{name}")
        return self.version(name)

    def _delete_and_append(self, df: DataFrame, name: str, *, schema: StructType, key: str,
                           remove: Sequence[str]) -> int:
        """With nothing to remove, an append (a MERGE would join the whole table). Otherwise, where the
        table's files hold its rows as they are and Delta's transaction is reachable: a task per data
        file reads its key column and, when it holds a removed key, writes it again without those
        rows; `df`'s rows are written as new files by its tasks; one commit removes the files
        rewritten and adds the new ones. A MERGE rewrites the same files, but after joining the whole
        table in Spark jobs, and writes every column back through the JVM. Elsewhere, that MERGE."""
        version = self.version(name)
        if not remove:
            return self._write(df, name, schema=schema, overwrite=False, read_version=version)
        snapshot = self._log_snapshot(name, version)
        if snapshot is None or self._delta_log is None:
            return self._merge_delete_and_append(df, name, schema=schema, key=key, remove=remove)
        split_by = SPLIT_FILES_BY.get(name, ())
        try:
            rewritten, adds = without_keys(self.spark, [f.uri for f in snapshot.files], key=key, keys=remove,
                                           uri=self.path(name), schema=schema, split_by=split_by, storage=self.storage)
            adds += write_files(conform(df, schema, table=name), self.path(name), schema, split_by=split_by,
                                storage=self.storage)
        except Exception as err:
            raise self._write_error(name, err) from err
        return self._commit_files(name, adds, schema, read_version=version,
                                  removed=[f for f in snapshot.files if f.uri in rewritten])

    def _merge_delete_and_append(self, df: DataFrame, name: str, *, schema: StructType, key: str,
                                 remove: Sequence[str]) -> int:
        """One MERGE: the removed keys delete their rows, the rows of `df` whose key the table lacks
        are inserted."""
        source = conform(df, schema, table=name).withColumn("_remove", F.lit(False))
        gone = self.spark.createDataFrame([(k,) for k in remove], StructType([schema[key]]))
        nulls = [F.col(f.name) if f.name == key else F.lit(None).cast(f.dataType).alias(f.name)
                 for f in schema.fields]
        source = source.unionByName(gone.select(*nulls, F.lit(True).alias("_remove")))
        merge = self._delta_table(name).alias("t").merge(source.alias("s"), f"t.`{key}` = s.`{key}`")
        fault_point(f"commit:{name}")
        try:
            (merge.whenMatchedDelete(condition="s._remove")
             .whenNotMatchedInsert(condition="NOT s._remove", values={c: f"s.`{c}`" for c in schema.names})
             .execute())
        except Exception as err:
            raise self._write_error(name, err) from err
        fault_point(f"committed:{name}")
        return self.version(name)

    def append_rows(self, rows: list[tuple], name: str, *, schema: StructType) -> int:
        """Written from here as one file and committed as it is (a Spark write of a row costs a job);
        columns the table lacks are added by Spark's schema merge."""
        if self._is_table(name) and set(schema.names) - set(self.column_names(name)):
            df = self.spark.createDataFrame(rows, schema)
            df.write.format("delta").mode("append").option("mergeSchema", "true").save(self.path(name))
            return self.version(name)
        sink = FileSink(self.path(name), delta_arrow_schema(schema), storage=self.storage)
        sink.write(rows_table(rows, schema))
        return self._commit_files(name, sink.close(), schema, read_version=None)

    def _merge_new(self, df: DataFrame, name: str, *, schema: StructType, keys: Sequence[str]) -> int:
        cond = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
        merge = self._delta_table(name).alias("t").merge(conform(df, schema, table=name).alias("s"), cond)
        fault_point(f"commit:{name}")
        try:
            merge.whenNotMatchedInsertAll().execute()
        except Exception as err:
            raise self._write_error(name, err) from err
        fault_point(f"committed:{name}")
        return self.version(name)

    def _commit_files(self, name: str, adds: list[dict], schema: StructType, *, read_version: int | None,
                      overwrite: bool = False, removed: Sequence[LogFile] = ()) -> int:
        """The files are committed as they are through Delta's own transaction (`OptimisticTransaction`,
        which checks concurrent commits as Spark's writes do) where the open source jar's internals
        are reachable; elsewhere (Databricks' own Delta) they are read back and written through Spark.
        `removed`: files of `read_version` the same commit removes (there, the open source jar's)."""
        from curate.delta.datasource import delete_files

        if self._delta_log is None:
            if removed:
                raise StorageError(f"removing files of table {name!r} needs Delta's open source transaction")
            return self._rewrite_files(name, adds, schema, read_version=read_version, overwrite=overwrite)
        jvm = self.spark._jvm  # noqa: SLF001
        try:
            txn = self._delta_log.forTable(self.spark._jsparkSession, self.path(name)).startTransaction()  # noqa: SLF001
            if read_version is not None and txn.readVersion() != read_version:
                raise self._conflict(name)
            actions = [_action(jvm, {"add": _add_action(a)}) for a in adds]
            if txn.readVersion() < 0:
                txn.updateMetadataForNewTable(_action(jvm, {"metaData": _metadata(schema)}))
            elif overwrite:
                actions += self._removes(name, txn)
                current = json.loads(txn.metadata().schemaString())
                if set(schema.names) - {f["name"] for f in current["fields"]}:  # a newer curate's columns
                    txn.updateMetadata(_action(jvm, {"metaData": {**_metadata(schema), "id": txn.metadata().id()}}),
                                       False)
            if removed:
                txn.readWholeTable()  # a concurrent commit conflicts
                actions += _remove_actions(jvm, removed)
            fault_point(f"commit:{name}")  # every task's files written, nothing committed
            version = txn.commit(jvm.scala.jdk.javaapi.CollectionConverters.asScala(actions).toSeq(),
                                 _manual_update(jvm))
        except Exception as err:
            delete_files(self.path(name), [a["path"] for a in adds], storage=self.storage)
            if isinstance(err, StorageError):
                raise
            raise self._write_error(name, err) from err
        fault_point(f"committed:{name}")  # committed, the job not told yet
        if overwrite or txn.readVersion() < 0:  # the version holds these files' rows alone
            rows = sum(json.loads(a["stats"])["numRecords"] for a in adds)
            self._counts[(name, self.table_id(name), version)] = rows
        return version

    def _removes(self, name: str, txn) -> list:
        """Remove actions of every file of the version `txn` read, the whole table marked read (a
        concurrent commit conflicts). Listed by Kernel where it can: `filterFiles` would reconstruct
        the snapshot's state in Spark jobs."""
        jvm = self.spark._jvm  # noqa: SLF001
        snapshot = self._log_snapshot(name, txn.readVersion())
        if snapshot is None:
            return [f.remove() for f in jvm.scala.jdk.javaapi.CollectionConverters.asJava(txn.filterFiles())]
        txn.readWholeTable()
        return _remove_actions(jvm, snapshot.files)

    def _rewrite_files(self, name: str, adds: list[dict], schema: StructType, *, read_version: int | None,
                       overwrite: bool) -> int:
        """The files read back (a task per file: the table's files keep their granularity) and written
        through Spark's Delta, then deleted."""
        from curate.delta.datasource import delete_files

        staged = files_frame(self.spark, [join(self.path(name), a["path"]) for a in adds], same_batches, schema,
                             storage=self.storage)
        try:
            return self._write(staged, name, schema=schema, overwrite=overwrite, read_version=read_version)
        finally:
            delete_files(self.path(name), [a["path"] for a in adds], storage=self.storage)

    def _spark_map_into(self, src: str, fn: BatchFn, dst: str, *, schema: StructType, version: int,
                        columns: Sequence[str] | None, tally: TallyFn | None,
                        where_true: str | None, overwrite: bool) -> tuple[int, Counter]:
        """Through a Spark write; `tally` is summed in the writing tasks (an accumulator: a write is one
        result stage, whose successful tasks' updates Spark applies once), not by reading the table
        written again."""
        counts = self.spark.sparkContext.accumulator(Counter(), _CounterSum())
        if tally is not None:
            fn = functools.partial(_tallied, fn=fn, tally=tally, counts=counts)
        frame = self._spark_frame(src, fn, schema, version=version, columns=columns, where_true=where_true)
        read_version = version if dst == src else self.version(dst)
        return self._write(frame, dst, schema=schema, overwrite=overwrite, read_version=read_version), counts.value


def _action(jvm, action: dict):
    """A Delta log action (`AddFile`, `Metadata`) from its JSON, as the log stores it."""
    return jvm.org.apache.spark.sql.delta.actions.Action.fromJson(json.dumps(action))


def _remove_actions(jvm, files: Sequence[LogFile]) -> list:
    now = int(time.time() * 1000)
    return [_action(jvm, {"remove": {"path": f.path, "deletionTimestamp": now, "dataChange": True,
                                     "extendedFileMetadata": True, "partitionValues": {}, "size": f.size}})
            for f in files]


def _add_action(add: dict) -> dict:
    """A `FileSink` add action (delta-rs's field names) in the log's own."""
    return {"path": add["path"], "partitionValues": add["partition_values"] or {}, "size": add["size"],
            "modificationTime": add["modification_time"], "dataChange": add["data_change"], "stats": add["stats"]}


def _metadata(schema: StructType) -> dict:
    return {"id": str(uuid.uuid4()), "format": {"provider": "parquet", "options": {}}, "schemaString": schema.json(),
            "partitionColumns": [], "configuration": create_properties(schema), "createdTime": int(time.time() * 1000)}


def _manual_update(jvm):
    """Delta's `ManualUpdate` operation (the one its own tools commit hand-made actions as)."""
    cls = jvm.org.apache.spark.util.Utils.classForName("org.apache.spark.sql.delta.DeltaOperations$ManualUpdate$",
                                                       True, False)
    return cls.getField("MODULE$").get(None)


class _CounterSum(AccumulatorParam):
    def zero(self, value: Counter) -> Counter:
        return Counter()

    def addInPlace(self, total: Counter, more: Counter) -> Counter:
        total.update(more)
        return total


def _tallied(batches, *, fn: BatchFn, tally: TallyFn, counts) -> Iterator:
    for batch in fn(batches):
        counts.add(tally(batch))
        yield batch


def _delta_log_class(spark):
    """Delta's `DeltaLog` with the `update` the open source jar has, or None (another build of Delta)."""
    try:
        cls = spark._jvm.org.apache.spark.util.Utils.classForName(  # noqa: SLF001
            "org.apache.spark.sql.delta.DeltaLog", True, False)
        if any(m.getName() == "update" and m.getParameterCount() == 3 for m in cls.getMethods()):
            return spark._jvm.org.apache.spark.sql.delta.DeltaLog  # noqa: SLF001
    except Exception:  # Py4JJavaError: no such class
        pass
    return None


def _faulted(df: DataFrame, point: str) -> DataFrame:
    """`df`, with the fault point `point` reached in each writing task after its last row, when the
    crash tests arm it (Spark's Delta writes in the JVM, where no Python point can be)."""
    from curate.faults import armed

    if not armed(point):
        return df

    def rows_then_fault(batches):
        yield from batches
        fault_point(point)

    return df.mapInArrow(rows_then_fault, df.schema)
