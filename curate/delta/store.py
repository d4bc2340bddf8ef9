"""Delta tables under the storage root: read, append, overwrite, merge, rewrite.

Two engines behind one interface. Where the Delta JVM classes are on the classpath (Databricks,
clusters that fetched io.delta:delta-spark) Spark's own Delta source does the work. Elsewhere the
delta-rs-backed Python data source in `datasource.py` writes, and reads go through the snapshot's
file list and Spark's native Parquet reader (faster than a Python reader; see SPARK_NOTES.md).
Either way every call is one Delta commit and nothing is collected to the driver.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from typing import TYPE_CHECKING, Sequence

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from curate.errors import StorageError
from curate.schemas.tables import SPLIT_FILES_BY, conform
from curate.spark_tasks import tally_batches

if TYPE_CHECKING:
    from curate.delta.datasource import BatchFn, TallyFn

log = logging.getLogger(__name__)

# A commit rejected by Delta's optimistic concurrency: delta-rs, then Delta on the JVM.
_CONFLICT = re.compile(r"CommitFailedError|Concurrent\w*Exception|MetadataChangedException|ProtocolChangedException")


def has_delta_jar(spark: SparkSession) -> bool:
    try:
        spark._jvm.java.lang.Class.forName("io.delta.tables.DeltaTable")  # noqa: SLF001
        return True
    except Exception:  # Py4JJavaError (class absent) or no JVM gateway (Spark Connect)
        return False


def _join_uri(root: str, *parts: str) -> str:
    return "/".join([root.rstrip("/"), *parts])


class DeltaStore:
    """The tables of one storage root: `<root>/tables/<name>`."""

    def __init__(self, spark: SparkSession, root: str, *, register_format: bool = True):
        """`register_format`: without the jar, register the delta-rs data source so that users' own
        `df.write.format("delta")` works. curate's jobs pass False: they write through
        `write_frame`, and the registration costs a Python planner worker (about 2 s)."""
        self.spark = spark
        self.root = root
        self.native = has_delta_jar(spark)
        if register_format and not self.native:
            from curate.delta.datasource import DeltaRsDataSource

            spark.dataSource.register(DeltaRsDataSource)

    # ---- reading -------------------------------------------------------------------------------
    def path(self, name: str) -> str:
        return _join_uri(self.root, "tables", name)

    def _table(self, name: str, version: int | None = None):
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        try:
            return DeltaTable(self.path(name), version=version)
        except TableNotFoundError:
            return None

    def exists(self, name: str) -> bool:
        return self._table(name) is not None

    def version(self, name: str) -> int | None:
        dt = self._table(name)
        return None if dt is None else dt.version()

    def versions(self, names: Sequence[str]) -> dict[str, int]:
        """Current versions of the tables that exist (recorded as a stage's inputs/outputs)."""
        return {n: v for n in names if (v := self.version(n)) is not None}

    def history(self, name: str) -> list[dict]:
        dt = self._table(name)
        return [] if dt is None else dt.history()

    def _existing(self, name: str, version: int | None = None):
        dt = self._table(name, version)
        if dt is None:
            raise StorageError(f"table {name!r} does not exist at {self.path(name)}")
        return dt

    def rows(self, name: str, *, version: int | None = None) -> int:
        """The table's row count from its log's per-file statistics, without a Spark job. Spark counts
        when a file has none, or when deletion vectors (a jar's MERGE/DELETE) may hide some rows."""
        dt = self._existing(name, version)
        records = pa.table(dt.get_add_actions()).column("num_records")
        if records.null_count or "deletionVectors" in (dt.protocol().reader_features or ()):
            return self.read(name, version=version).count()
        return int(pc.sum(records).as_py() or 0)

    def read(self, name: str, *, version: int | None = None, schema: StructType | None = None) -> DataFrame:
        """The table as a DataFrame; an absent table reads as empty when `schema` is given."""
        dt = self._table(name, version)
        if dt is None:
            if schema is not None:
                return self.spark.createDataFrame([], schema)
            raise StorageError(
                f"table {name!r} does not exist at {self.path(name)}; run the stage that writes it first"
            )
        if self.native:
            reader = self.spark.read.format("delta")
            if version is not None:
                reader = reader.option("versionAsOf", version)
            return reader.load(self.path(name))
        from pyspark.sql.pandas.types import from_arrow_schema
        import pyarrow as pa

        table_schema = from_arrow_schema(pa.schema(dt.schema().to_arrow()))
        files = dt.file_uris()
        if not files:
            return self.spark.createDataFrame([], table_schema)
        # The schema given: Spark would otherwise run a job to read a footer and infer it. Partition
        # values come from the directory names, typed by it.
        df = self.spark.read.schema(table_schema).option("basePath", self.path(name)).parquet(*files)
        return df.select(table_schema.names)

    def column_names(self, name: str, *, version: int | None = None) -> list[str]:
        return pa.schema(self._existing(name, version).schema().to_arrow()).names

    def read_arrow(self, name: str, *, version: int | None = None,
                   columns: Sequence[str] | None = None) -> pa.Table | None:
        """A small table (the `runs` log; a table the caller has bounded by its row count) read into
        the driver: with delta-rs, without a Spark job; with the jar, through Spark."""
        dt = self._table(name, version)
        if dt is None:
            return None
        if self.native:
            df = self.read(name, version=version)
            return (df.select(*columns) if columns else df).toArrow()
        return dt.to_pyarrow_table(columns=list(columns) if columns else None)

    # ---- writing -------------------------------------------------------------------------------
    def _write(self, df: DataFrame, name: str, *, mode: str, schema: StructType,
               partition_by: Sequence[str] = (), txn: tuple[str, int] | None = None,
               read_version: int | None = None, partition_filter: list | None = None,
               replace_where: str | None = None) -> int:
        df = conform(df, schema, table=name)
        opts: dict[str, str] = {}
        if self.native:
            if txn is not None:
                opts.update(txnAppId=txn[0], txnVersion=str(txn[1]))
            if replace_where:
                opts["replaceWhere"] = replace_where
        else:
            if txn is not None:
                opts.update(txn_app_id=txn[0], txn_version=str(txn[1]))
            opts["partition_by"] = ",".join(partition_by)
            opts["split_by"] = ",".join(SPLIT_FILES_BY.get(name, ()))
            if read_version is not None:
                opts["read_version"] = str(read_version)
            if partition_filter:
                opts["partition_filter"] = json.dumps(partition_filter)
            if partition_by:  # one file per partition value per task, not tasks x values
                df = df.repartition(*partition_by)
        try:
            if self.native:
                writer = df.write.format("delta").mode(mode).options(**opts)
                if partition_by:
                    writer = writer.partitionBy(*partition_by)
                writer.save(self.path(name))
            else:
                from curate.delta.datasource import write_frame

                write_frame(df, {"path": self.path(name), **opts}, overwrite=mode == "overwrite")
        except Exception as err:
            raise self._write_error(name, err) from err
        version = self.version(name)
        log.debug("wrote %s (%s) -> version %s", name, mode, version)
        return version

    def _write_error(self, name: str, err: Exception) -> StorageError:
        if _CONFLICT.search(f"{type(err).__name__}: {err}"):  # delta-rs raised here, or through Spark
            return StorageError(
                f"table {name!r} at {self.path(name)} was changed by another writer while this run wrote it "
                f"(Delta commit conflict); this write committed nothing. Rerun when the other run has finished"
            )
        return StorageError(f"writing table {name!r} at {self.path(name)} failed: {err}")

    def rewrite(self, name: str, fn: BatchFn, *, schema: StructType, version: int,
                tally: TallyFn | None = None) -> tuple[int, Counter]:
        """Replace every row of table `name` (as of `version`) by `fn` of it, in one commit made
        against `version`. `fn` maps Arrow batches to batches as `mapInArrow` takes it, keeping each
        row where it is (new values for some columns). Returns what `map_into` returns."""
        return self.map_into(name, fn, name, schema=schema, version=version, tally=tally)

    def map_into(self, src: str, fn: BatchFn, dst: str, *, schema: StructType, version: int,
                 columns: Sequence[str] | None = None, tally: TallyFn | None = None,
                 where_true: str | None = None) -> tuple[int, Counter]:
        """Replace table `dst` by `fn` of the rows (`columns`, default all) of table `src` as of
        `version`, in one commit (against `version` when `dst` is `src`). `fn` maps Arrow batches to
        batches as `mapInArrow` takes it. Without the jar, each task reads a data file of `src` and
        writes `dst` files itself (`datasource.map_files`): no column passes through the JVM.
        `where_true` (a boolean column of `src`, not `dst`): `fn` needs only the rows where it is
        true, and files that hold none may be skipped. Returns the version written and the sum of
        `tally` over the batches written (empty without `tally`)."""
        if where_true is not None and dst == src:
            raise StorageError(f"map_into {src!r} into itself with where_true={where_true!r} would drop the rows "
                               "of the files it skips")
        if self.native:
            frame = self.file_frame(src, fn, schema, version=version, columns=columns, where_true=where_true)
            out_version = self.overwrite(frame, dst, schema=schema)
            return out_version, tally_batches(self.read(dst, version=out_version), tally) if tally else Counter()
        from curate.delta.datasource import map_files

        dst_version = version if dst == src else self.version(dst)
        try:
            counts = map_files(self.spark, self.path(src), version, fn, self.path(dst), schema,
                               columns=list(columns) if columns else None, dst_version=dst_version, tally=tally,
                               where_true=where_true, split_by=SPLIT_FILES_BY.get(dst, ()))
        except Exception as err:
            raise self._write_error(dst, err) from err
        return self.version(dst), counts

    def file_frame(self, name: str, fn: BatchFn, schema: StructType | str, *, version: int,
                   columns: Sequence[str] | None = None, where_true: str | None = None) -> DataFrame:
        """`fn` (as `mapInArrow` takes it) of the rows (`columns`, default all) of table `name` as of
        `version`; `where_true`: a boolean column, `fn` needs only the rows where it is true. Without
        the jar each task reads a data file itself (`datasource.file_frame`): for a filter that
        keeps few rows, the others never pass through the JVM; files that hold no `where_true` row
        are skipped by their statistics."""
        if self.native:
            rows = self.read(name, version=version)
            if where_true is not None:
                rows = rows.where(F.col(where_true))  # Delta skips files by their statistics
            return (rows.select(*columns) if columns else rows).mapInArrow(fn, schema)
        from curate.delta.datasource import file_frame

        return file_frame(self.spark, self.path(name), version, fn, schema, columns=list(columns) if columns else None,
                          where_true=where_true)

    def append(self, df: DataFrame, name: str, *, schema: StructType, partition_by: Sequence[str] = (),
               txn: tuple[str, int] | None = None) -> int:
        """Append `df` as one commit; with `txn=(app_id, version)` a repeated write is skipped."""
        return self._write(df, name, mode="append", schema=schema, partition_by=partition_by, txn=txn)

    def append_rows(self, rows: list[tuple], name: str, *, schema: StructType) -> int:
        """Append a few rows made on the driver (a run record) as one commit. Without the jar
        delta-rs writes them from here: a Spark write of one row costs a job and Python planner
        processes, seconds on a cold session."""
        if self.native:
            return self.append(self.spark.createDataFrame(rows, schema), name, schema=schema)
        from deltalake import CommitProperties, write_deltalake

        from curate.delta.datasource import ENGINE, delta_arrow_schema

        arrow_schema = delta_arrow_schema(schema)
        table = pa.Table.from_pylist([dict(zip(schema.names, r)) for r in rows], schema=arrow_schema)
        try:
            write_deltalake(self.path(name), table, mode="append",
                            commit_properties=CommitProperties(custom_metadata={"engine": ENGINE}))
        except Exception as err:
            raise self._write_error(name, err) from err
        return self.version(name)

    def overwrite(self, df: DataFrame, name: str, *, schema: StructType, where: str | None = None,
                  partitions: dict[str, str] | None = None, partition_by: Sequence[str] = (),
                  txn: tuple[str, int] | None = None) -> int:
        """Replace the table's rows, all of them or those matching `where` / `partitions`.

        `partitions` ({column: value}) replaces whole partitions. `where` is any SQL predicate:
        without the jar the table is rewritten as (rows not matching) + `df`, in one commit made
        against the version that was read, so a concurrent commit makes it fail, not vanish.
        """
        if partitions and where:
            raise StorageError("overwrite takes `where` or `partitions`, not both")
        if partitions:
            if self.native:
                where = " AND ".join(f"{c} = '{v}'" for c, v in partitions.items())
            else:
                pf = [[c, "=", str(v)] for c, v in partitions.items()]
                return self._write(df, name, mode="overwrite", schema=schema, partition_by=partition_by,
                                   txn=txn, partition_filter=pf, read_version=self.version(name))
        if where and not self.native and self.exists(name):
            version = self.version(name)
            kept = self.read(name, version=version).filter(~F.coalesce(F.expr(where), F.lit(False)))
            df = kept.unionByName(conform(df, schema, table=name))
            return self._write(df, name, mode="overwrite", schema=schema, partition_by=partition_by,
                               txn=txn, read_version=version)
        return self._write(df, name, mode="overwrite", schema=schema, partition_by=partition_by,
                           txn=txn, replace_where=where, read_version=self.version(name))

    def merge_insert(self, df: DataFrame, name: str, *, schema: StructType, keys: Sequence[str],
                     partition_by: Sequence[str] = (), txn: tuple[str, int] | None = None) -> int:
        """Insert the rows of `df` whose `keys` are not in the table yet (insert-only merge)."""
        return self._merge(df, name, schema=schema, keys=keys, partition_by=partition_by, txn=txn, update=False)

    def insert_files(self, adds: list[dict], name: str, *, schema: StructType, keys: Sequence[str],
                     unique: bool = False) -> int:
        """`merge_insert` of the rows in Parquet files that tasks wrote into table `name`'s folder
        (`datasource.FileSink`, add actions in `adds`), as one commit.

        When their keys are unique and none is in the table yet (a first ingest, new input files),
        the files themselves are committed against the version checked, with no rewrite. Otherwise,
        or with the jar, they are read back, merged, and deleted. `unique`: the caller has checked
        that the files' keys are unique among themselves, so only the table's keys are looked up.
        """
        from curate.delta.datasource import commit_files, delete_files

        version = self.version(name)
        paths = [_join_uri(self.path(name), a["path"]) for a in adds]

        def staged() -> DataFrame:
            return (self.spark.read.schema(schema).parquet(*paths) if paths
                    else self.spark.createDataFrame([], schema))

        if not self.native:
            if not adds or (unique and version is None):
                all_new = True
            else:
                new = staged().select(*keys)
                new = new if unique else new.distinct()
                if version is not None:
                    new = new.join(self.read(name, version=version).select(*keys), list(keys), "left_anti")
                all_new = new.count() == sum(json.loads(a["stats"])["numRecords"] for a in adds)
            if all_new:
                try:
                    commit_files(self.path(name), adds, schema, read_version=version)
                except Exception as err:
                    raise self._write_error(name, err) from err
                return self.version(name)
        try:
            return self.merge_insert(staged(), name, schema=schema, keys=keys)
        finally:
            delete_files(self.path(name), [a["path"] for a in adds])

    def upsert(self, df: DataFrame, name: str, *, schema: StructType, keys: Sequence[str],
               partition_by: Sequence[str] = (), txn: tuple[str, int] | None = None) -> int:
        """Merge by key: rows of `df` replace table rows with the same `keys`, others are inserted."""
        return self._merge(df, name, schema=schema, keys=keys, partition_by=partition_by, txn=txn, update=True)

    def _merge(self, df: DataFrame, name: str, *, schema: StructType, keys: Sequence[str],
               partition_by: Sequence[str], txn: tuple[str, int] | None, update: bool) -> int:
        df = df.dropDuplicates(list(keys))
        if not self.exists(name):
            return self.append(df, name, schema=schema, partition_by=partition_by, txn=txn)
        if self.native:
            return self._native_merge(df, name, schema=schema, keys=keys, update=update)
        version = self.version(name)
        existing = self.read(name, version=version)
        if not update:  # append the new keys only
            new = df.join(existing.select(*keys), list(keys), "left_anti")
            return self._write(new, name, mode="append", schema=schema, partition_by=partition_by,
                               txn=txn, read_version=version)
        # rewrite: the rows whose keys are not in `df`, then `df`
        kept = existing.join(df.select(*keys), list(keys), "left_anti")
        merged = kept.unionByName(conform(df, schema, table=name))
        return self._write(merged, name, mode="overwrite", schema=schema, partition_by=partition_by,
                           txn=txn, read_version=version)

    def _native_merge(self, df: DataFrame, name: str, *, schema: StructType, keys: Sequence[str],
                      update: bool) -> int:
        from delta.tables import DeltaTable

        cond = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
        merge = DeltaTable.forPath(self.spark, self.path(name)).alias("t").merge(
            conform(df, schema, table=name).alias("s"), cond)
        if update:
            merge = merge.whenMatchedUpdateAll()
        merge.whenNotMatchedInsertAll().execute()
        return self.version(name)
