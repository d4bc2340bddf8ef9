"""The delta-rs engine: where Spark has no Delta jar (an air-gapped laptop, a cluster without it).

Writes: Spark tasks write Parquet files and return add actions with statistics, the driver commits
them through delta-rs as one transaction (`datasource.py`). Reads: the snapshot's file list read by
Spark's own Parquet reader (faster than a Python reader; SPARK_NOTES.md), so a table feature that
changes what a file's rows mean (deletion vectors, column mapping) is refused, never misread.
"""

from __future__ import annotations

import logging
from typing import Sequence

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from curate.delta.store import FILE_READABLE, DeltaStore, files_hold_rows, has_delta_classes, in_list
from curate.errors import StorageError
from curate.schemas.tables import SPLIT_FILES_BY, conform
from curate.storage import Storage

log = logging.getLogger(__name__)


class DeltaRsStore(DeltaStore):
    engine = "delta-rs"

    def __init__(self, spark: SparkSession, root: str, *, storage: Storage, register_format: bool = True):
        super().__init__(spark, root, storage=storage)
        if register_format and not has_delta_classes(spark):  # with the jar, "delta" is Spark's
            from curate.delta.datasource import DeltaRsDataSource

            spark.dataSource.register(DeltaRsDataSource)

    def _table(self, name: str, version: int | None = None):
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        try:
            return DeltaTable(self.path(name), version=version, storage_options=self._options(name))
        except TableNotFoundError:
            return None

    def _existing(self, name: str, version: int | None = None):
        dt = self._table(name, version)
        if dt is None:
            raise self._missing(name)
        return dt

    def _options(self, name: str) -> dict[str, str] | None:
        return self.storage.delta_rs_options(self.path(name))

    def _readable(self, name: str, dt):
        """`dt`, when its rows are what its data files hold."""
        protocol = dt.protocol()
        if not files_hold_rows(protocol.min_reader_version, protocol.reader_features):
            used = sorted(set(protocol.reader_features or ()) - FILE_READABLE) or ["columnMapping (reader version 2)"]
            raise StorageError(
                f"table {name!r} at {self.path(name)} uses the Delta reader feature(s) {used}, which the delta-rs "
                f"engine does not read (it would return rows a deletion vector hides, or misname columns): read it "
                f"with delta.engine: native (--delta-engine native), or make it readable by both engines with Spark's "
                f"Delta: ALTER TABLE delta.`{self.path(name)}` DROP FEATURE <feature>")
        return dt

    # ---- metadata ------------------------------------------------------------------------------
    def version(self, name: str) -> int | None:
        dt = self._table(name)
        return None if dt is None else dt.version()

    def history(self, name: str) -> list[dict]:
        dt = self._table(name)
        return [] if dt is None else [{"version": h["version"], "timestamp": h["timestamp"]} for h in dt.history()]

    def rows(self, name: str, *, version: int | None = None) -> int:
        """From the log's per-file statistics, without a Spark job; Spark counts when a file has none."""
        dt = self._readable(name, self._existing(name, version))
        records = pa.table(dt.get_add_actions()).column("num_records")
        if records.null_count:
            return self.read(name, version=version).count()
        return int(pc.sum(records).as_py() or 0)

    def column_names(self, name: str, *, version: int | None = None) -> list[str]:
        return pa.schema(self._existing(name, version).schema().to_arrow()).names

    def table_id(self, name: str) -> str | None:
        dt = self._table(name)
        return None if dt is None else dt.metadata().id

    # ---- reading -------------------------------------------------------------------------------
    def read(self, name: str, *, version: int | None = None, schema: StructType | None = None) -> DataFrame:
        from pyspark.sql.pandas.types import from_arrow_schema

        dt = self._table(name, version)
        if dt is None:
            if schema is not None:
                return self.spark.createDataFrame([], schema)
            raise self._missing(name)
        table_schema = from_arrow_schema(pa.schema(self._readable(name, dt).schema().to_arrow()))
        files = dt.file_uris()
        if not files:
            return self.spark.createDataFrame([], table_schema)
        # The schema given: Spark would otherwise run a job to read a footer and infer it. Partition
        # values come from the directory names, typed by it.
        df = self.spark.read.schema(table_schema).option("basePath", self.path(name)).parquet(*files)
        return df.select(table_schema.names)

    def read_arrow(self, name: str, *, version: int | None = None,
                   columns: Sequence[str] | None = None) -> pa.Table | None:
        dt = self._table(name, version)
        if dt is None:
            return None
        return self._readable(name, dt).to_pyarrow_table(columns=list(columns) if columns else None)

    def _source_files(self, name: str, version: int, where_true: str | None) -> list[str]:
        from curate.delta.datasource import data_files

        self._readable(name, self._existing(name, version))
        return data_files(self.path(name), version, where_true, storage=self.storage)

    def _unreferenced(self, name: str, retention_hours: int) -> list[str]:
        """delta-rs's vacuum, `full`: also the files no commit in the log names (crash orphans)."""
        return self._existing(name).vacuum(retention_hours, dry_run=True, enforce_retention_duration=False, full=True)

    # ---- writing -------------------------------------------------------------------------------
    def _write(self, df: DataFrame, name: str, *, schema: StructType, overwrite: bool,
               read_version: int | None = None) -> int:
        from curate.delta.datasource import storage_option, write_frame

        opts = {"path": self.path(name), "split_by": ",".join(SPLIT_FILES_BY.get(name, ())),
                "storage": storage_option(self.storage)}
        if read_version is not None:
            opts["read_version"] = str(read_version)
        try:
            write_frame(conform(df, schema, table=name), opts, overwrite=overwrite)
        except Exception as err:
            raise self._write_error(name, err) from err
        return self.version(name)

    def delete(self, name: str, *, where: str) -> int:
        from deltalake import CommitProperties

        from curate.delta.datasource import ENGINE

        dt = self._readable(name, self._existing(name))
        try:
            dt.delete(where, commit_properties=CommitProperties(custom_metadata={"engine": ENGINE}))
        except Exception as err:
            raise self._write_error(name, err) from err
        return self.version(name)

    def _delete_and_append(self, df: DataFrame, name: str, *, schema: StructType, key: str,
                           remove: Sequence[str]) -> int:
        """Two commits: delta-rs's DELETE (it rewrites the files that hold a removed row), then the
        append. A crash between them leaves the table changed since the writer's last recorded run,
        which the jobs that update tables this way take as a reason to rewrite it whole."""
        if remove:
            self.delete(name, where=in_list(key, remove))
        return self._write(df, name, schema=schema, overwrite=False, read_version=self.version(name))

    def append_rows(self, rows: list[tuple], name: str, *, schema: StructType) -> int:
        """delta-rs writes them from here: a Spark write of one row costs a job and Python planner
        processes, seconds on a cold session."""
        from deltalake import CommitProperties, write_deltalake

        from curate.delta.datasource import ENGINE, rows_table

        table = rows_table(rows, schema)
        try:
            write_deltalake(self.path(name), table, mode="append", schema_mode="merge", storage_options=self._options(name),
                            commit_properties=CommitProperties(custom_metadata={"engine": ENGINE}))
        except Exception as err:
            raise self._write_error(name, err) from err
        return self.version(name)

    def _merge_new(self, df: DataFrame, name: str, *, schema: StructType, keys: Sequence[str]) -> int:
        version = self.version(name)
        new = df.join(self.read(name, version=version).select(*keys), list(keys), "left_anti")
        return self._write(new, name, schema=schema, overwrite=False, read_version=version)

    def _commit_files(self, name: str, adds: list[dict], schema: StructType, *, read_version: int | None,
                      overwrite: bool = False) -> int:
        from curate.delta.datasource import commit_files

        try:
            commit_files(self.path(name), adds, schema, read_version=read_version, overwrite=overwrite,
                         storage=self.storage)
        except Exception as err:
            raise self._write_error(name, err) from err
        return self.version(name)
