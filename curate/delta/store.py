"""Delta tables under the storage root: read, append, overwrite, merge, rewrite, vacuum.

One interface, two engines, chosen once per store (`open_store`):
- `native` (`native_store.py`): Spark's own Delta Lake (the io.delta:delta-spark jar), as on Databricks
  and on clusters started with the jar;
- `delta-rs` (`rs_store.py`): the `deltalake` package; Spark tasks write Parquet files and the driver
  commits them (`datasource.py`), reads go through the snapshot's file list and Spark's Parquet reader.
Both write tables any Delta reader opens, and either reads the other's. Every write is one Delta
commit and nothing proportional to a table is collected to the driver.
"""

from __future__ import annotations

import json
import logging
import re
from abc import ABC, abstractmethod
from collections import Counter
from typing import TYPE_CHECKING, Literal, Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from curate.errors import ConfigError, StorageError
from curate.schemas.tables import SPLIT_FILES_BY
from curate.storage import Storage, is_remote, join

if TYPE_CHECKING:
    import pyarrow as pa

    from curate.delta.datasource import BatchFn, TallyFn, WhereIn

log = logging.getLogger(__name__)

Engine = Literal["native", "delta-rs"]
EngineChoice = Literal["auto", "native", "delta-rs"]

# Delta's own default retention of files a table no longer references (delta.deletedFileRetentionDuration,
# 7 days): shorter, a vacuum may delete files a write in progress or a reader of an older version needs.
DEFAULT_RETENTION_HOURS = 168

# A commit rejected by Delta's optimistic concurrency: delta-rs, then Delta on the JVM.
_CONFLICT = re.compile(r"CommitFailedError|Concurrent\w*Exception|MetadataChangedException|ProtocolChangedException")


def check_retention(hours: int, *, enforce: bool) -> None:
    """Refuse a vacuum retention below Delta's default unless `enforce` is off, as Delta does."""
    if hours < 0:
        raise ConfigError(f"--retain-hours: got {hours}; a retention is a number of hours, 0 or more")
    if enforce and hours < DEFAULT_RETENTION_HOURS:
        raise ConfigError(
            f"--retain-hours {hours} is below Delta's default retention of {DEFAULT_RETENTION_HOURS} hours: files "
            "younger than that may belong to a write in progress (a run on another machine, on an object store "
            "where curate holds no lock) or to a reader of an older table version. If nothing else uses this "
            "root, pass --force-short-retention as well")


def has_delta_classes(spark: SparkSession) -> bool:
    """Whether Spark's Delta Lake is on the session's class path (jars added with `spark.jars` or
    `--packages` load in Spark's own class loader, which `Class.forName` from py4j does not see)."""
    try:
        spark._jvm.org.apache.spark.util.Utils.classForName(  # noqa: SLF001
            "io.delta.tables.DeltaTable", True, False)
        return True
    except Exception:  # Py4JJavaError (class absent) or no JVM gateway (Spark Connect)
        return False


def resolve_engine(spark: SparkSession, choice: EngineChoice) -> Engine:
    """`auto`: native where the session has Delta's classes (Databricks, `--packages`, the jars
    set-up installs: `session.get_spark` adds them), delta-rs otherwise."""
    if choice == "delta-rs":
        return "delta-rs"
    if has_delta_classes(spark):
        return "native"
    if choice == "native":
        from curate.jars import coordinates

        raise ConfigError(
            "delta.engine: native needs Delta Lake's jar in the Spark session, and this one has none: run "
            "scripts/setup.sh (installs it under .venv/share/curate/jars), or pass "
            f"--packages {','.join(coordinates('delta'))} (or --jars) to spark-submit; "
            "or choose delta.engine: delta-rs")
    return "delta-rs"


def open_store(spark: SparkSession, root: str, *, engine: EngineChoice = "auto", storage: Storage | None = None,
               register_format: bool = True) -> DeltaStore:
    """The store of `root` on the engine `engine` resolves to; `storage`: how an object-store root is
    reached (default: the AWS environment's settings). `register_format`: on delta-rs, register its
    data source so that users' own `df.write.format("delta")` works (curate's jobs pass False: they
    write through the store, and the registration costs a Python planner worker, about 2 s)."""
    storage = storage or Storage.from_config(None)
    if resolve_engine(spark, engine) == "native":
        from curate.delta.native_store import NativeStore

        return NativeStore(spark, root, storage=storage)
    from curate.delta.rs_store import DeltaRsStore

    return DeltaRsStore(spark, root, storage=storage, register_format=register_format)


# Reader features that leave a data file's rows and columns as the Parquet file has them: a table
# without others can be read file by file (by Spark's Parquet reader or pyarrow in a task).
FILE_READABLE = {"timestampNtz", "v2Checkpoint", "vacuumProtocolCheck"}


def in_list(key: str, values: Sequence[str]) -> str:
    """The SQL predicate `key IN (values)`, each value quoted."""
    quoted = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    return f"`{key}` IN ({quoted})"


def files_hold_rows(min_reader_version: int, reader_features) -> bool:
    return min_reader_version == 1 or (min_reader_version == 3 and set(reader_features or ()) <= FILE_READABLE)


class DeltaStore(ABC):
    """The tables of one storage root: `<root>/tables/<name>`."""

    engine: Engine

    def __init__(self, spark: SparkSession, root: str, *, storage: Storage):
        self.spark = spark
        self.root = root
        self.storage = storage  # how an object-store root is reached (files curate's own tasks touch)

    def path(self, name: str) -> str:
        return join(self.root, "tables", name)

    # ---- metadata ------------------------------------------------------------------------------
    @abstractmethod
    def version(self, name: str) -> int | None:
        """The table's current version; None when there is no table."""

    @abstractmethod
    def history(self, name: str) -> list[dict]:
        """The table's commits, newest first: dicts with `version` and `timestamp` (ms since the epoch)."""

    @abstractmethod
    def rows(self, name: str, *, version: int | None = None) -> int:
        """The table's row count, from the log's statistics where they have it."""

    @abstractmethod
    def column_names(self, name: str, *, version: int | None = None) -> list[str]: ...

    @abstractmethod
    def table_id(self, name: str) -> str | None:
        """The table's identity (the metaData action's `id`): a table deleted and written again gets
        a new one, while its versions start at 0 again. None when there is no table."""

    def exists(self, name: str) -> bool:
        return self.version(name) is not None

    def versions(self, names: Sequence[str]) -> dict[str, int]:
        """Current versions of the tables that exist (recorded as a stage's inputs/outputs)."""
        return {n: v for n in names if (v := self.version(n)) is not None}

    def _missing(self, name: str) -> StorageError:
        return StorageError(f"table {name!r} does not exist at {self.path(name)}; run the stage that writes it first")

    # ---- reading -------------------------------------------------------------------------------
    @abstractmethod
    def read(self, name: str, *, version: int | None = None, schema: StructType | None = None) -> DataFrame:
        """The table as a DataFrame; an absent table reads as empty when `schema` is given."""

    @abstractmethod
    def read_arrow(self, name: str, *, version: int | None = None,
                   columns: Sequence[str] | None = None) -> pa.Table | None:
        """A small table (the `runs` log; a table the caller has bounded by its row count) read into
        the driver; None when there is no table."""

    @abstractmethod
    def _source_files(self, name: str, version: int, where_true: str | None) -> list[str] | None:
        """The data files (URIs, the most work first: `datasource.most_work_first`) of table `name` as
        of `version` that may hold a row where boolean column
        `where_true` is true (all: None); None where their rows are not what the files hold as they
        are (deletion vectors, column mapping) or the engine cannot list them."""

    def _files_of(self, name: str, version: int, where_true: str | None, only: set[str] | None) -> list[str] | None:
        """`_source_files`, those of `only` where it is given."""
        files = self._source_files(name, version, where_true)
        return files if files is None or only is None else [f for f in files if f in only]

    def file_frame(self, name: str, fn: BatchFn, schema: StructType | str, *, version: int,
                   columns: Sequence[str] | None = None, where_true: str | None = None,
                   only: set[str] | None = None, where_in: WhereIn | None = None) -> DataFrame:
        """`fn` (as `mapInArrow` takes it) of the rows (`columns`, default all) of table `name` as of
        `version`; `where_true`: a boolean column, `fn` needs only the rows where it is true (it may
        see others: files are skipped by their statistics, not filtered row by row). A task per data
        file reads it with pyarrow: for a filter that keeps few rows the others never pass through
        the JVM, and an expensive `fn` stays balanced across cores. `only`: `fn` needs only the rows of
        these data files (URIs, as `data_files` lists them; where the files cannot be read as they
        are, all rows are read). `where_in` (column, values; `columns` must hold the column): `fn`
        gets only the rows whose column holds one of the values (a few); a task reads that column
        first, and the others only from the row groups that hold one."""
        from curate.delta.datasource import files_frame

        files = self._files_of(name, version, where_true, only)
        if files is None:
            return self._spark_frame(name, fn, schema, version=version, columns=columns, where_true=where_true,
                                     where_in=where_in)
        return files_frame(self.spark, files, fn, schema, columns=list(columns) if columns else None,
                           where_in=where_in, storage=self.storage)

    def _spark_frame(self, name: str, fn: BatchFn, schema: StructType | str, *, version: int,
                     columns: Sequence[str] | None, where_true: str | None,
                     where_in: WhereIn | None = None) -> DataFrame:
        """`file_frame` where the files cannot be read as they are: through the engine's own reader."""
        raise self._unreadable(name)

    def _unreadable(self, name: str) -> StorageError:
        return StorageError(f"table {name!r} at {self.path(name)}: its data files cannot be read as they are")

    # ---- writing -------------------------------------------------------------------------------
    @abstractmethod
    def _write(self, df: DataFrame, name: str, *, schema: StructType, overwrite: bool,
               read_version: int | None = None) -> int:
        """Append `df` to (or replace the rows of) table `name` as one commit; `read_version`: the
        version `df` was computed from, which the table must still be at. Returns the version written."""

    def append(self, df: DataFrame, name: str, *, schema: StructType) -> int:
        """Append `df` as one commit; returns the version written."""
        return self._write(df, name, schema=schema, overwrite=False)

    def overwrite(self, df: DataFrame, name: str, *, schema: StructType) -> int:
        """Replace the table's rows by `df` in one commit (creating the table)."""
        return self._write(df, name, schema=schema, overwrite=True, read_version=self.version(name))

    @abstractmethod
    def delete(self, name: str, *, where: str) -> int:
        """Delete the rows matching the SQL predicate `where` as one commit; returns the version."""

    def delete_and_append(self, df: DataFrame, name: str, *, schema: StructType, key: str, remove: Sequence[str],
                          read_version: int) -> int:
        """Delete the rows whose `key` is in `remove` (a few keys, passed through the driver) and append
        `df` (rows whose keys the table lacks), against `read_version`: an incremental update of a
        table keyed by `key`, which rewrites only the data files holding a removed row. Returns the
        version written."""
        if self.version(name) != read_version:
            raise self._conflict(name)
        return self._delete_and_append(df, name, schema=schema, key=key, remove=remove)

    @abstractmethod
    def _delete_and_append(self, df: DataFrame, name: str, *, schema: StructType, key: str,
                           remove: Sequence[str]) -> int: ...

    def data_files(self, name: str, *, version: int) -> set[str] | None:
        """The data files of table `name` as of `version`; None where the engine cannot list them as
        files that hold the rows as they are (then nothing can be concluded from them)."""
        files = self._source_files(name, version, None)
        return None if files is None else set(files)

    def replace_rows(self, rows: list[tuple], name: str, *, schema: StructType) -> int:
        """Replace the table's rows by a few rows made on the driver (tuples in `schema`'s column
        order), written here as one file and committed as one overwrite: no Spark job."""
        from curate.delta.datasource import FileSink, delta_arrow_schema, rows_table

        sink = FileSink(self.path(name), delta_arrow_schema(schema), storage=self.storage)
        sink.write(rows_table(rows, schema))
        return self._commit_files(name, sink.close(), schema, read_version=self.version(name), overwrite=True)

    @abstractmethod
    def append_rows(self, rows: list[tuple], name: str, *, schema: StructType) -> int:
        """Append a few rows made on the driver (a run record) as one commit. Columns of `schema` the
        table lacks are added to it (a newer curate's `runs` over an older table)."""

    @abstractmethod
    def _merge_new(self, df: DataFrame, name: str, *, schema: StructType, keys: Sequence[str]) -> int:
        """Insert the rows of `df` (unique `keys`) whose keys the existing table `name` lacks."""

    @abstractmethod
    def _commit_files(self, name: str, adds: list[dict], schema: StructType, *, read_version: int | None,
                      overwrite: bool = False) -> int:
        """Commit files tasks wrote into table `name`'s folder (`datasource.FileSink`, add actions in
        `adds`), appended or replacing the table's rows, as one commit made against `read_version`
        (None: the table is created, or replaced whatever its version); on failure the files are
        deleted. A replacement with columns the table lacks (a newer curate's) adds them to its
        schema. Returns the version written."""

    def insert_files(self, adds: list[dict], name: str, *, schema: StructType, keys: Sequence[str],
                     unique: bool = False) -> int:
        """`merge_insert` of the rows in Parquet files that tasks wrote into table `name`'s folder
        (`datasource.FileSink`, add actions in `adds`), as one commit; the files are committed or
        deleted. `unique`: the caller has checked that the files' keys are unique among themselves.
        When the keys are unique and none is in the table yet (a first ingest, new input files), the
        files themselves are committed against the version checked, with no rewrite; otherwise they
        are read back, merged, and deleted."""
        from curate.delta.datasource import delete_files

        version = self.version(name)
        if not adds and version is not None:  # nothing to insert: no empty commit
            return version
        paths = [join(self.path(name), a["path"]) for a in adds]
        if not adds or (unique and version is None):
            all_new = True
        else:
            new = self.spark.read.schema(schema).parquet(*paths).select(*keys)
            new = new if unique else new.distinct()
            if version is not None:
                new = new.join(self.read(name, version=version).select(*keys), list(keys), "left_anti")
            all_new = new.count() == sum(json.loads(a["stats"])["numRecords"] for a in adds)
        if all_new:
            return self._commit_files(name, adds, schema, read_version=version)
        try:
            return self.merge_insert(self.spark.read.schema(schema).parquet(*paths), name, schema=schema, keys=keys)
        finally:
            delete_files(self.path(name), [a["path"] for a in adds], storage=self.storage)

    def _map_into(self, src: str, fn: BatchFn, dst: str, *, schema: StructType, version: int,
                  columns: Sequence[str] | None, tally: TallyFn | None, where_true: str | None,
                  only: set[str] | None = None, overwrite: bool = True) -> tuple[int, Counter]:
        """Each task reads a data file of `src` (of `only`, when given) and writes `dst` files itself
        (`datasource.map_files`), committed as one overwrite or append: no column passes through the
        JVM. An append of nothing to an existing table commits nothing."""
        from curate.delta.datasource import map_files

        files = self._files_of(src, version, where_true, only)
        if files is None:
            return self._spark_map_into(src, fn, dst, schema=schema, version=version, columns=columns, tally=tally,
                                        where_true=where_true, overwrite=overwrite)
        dst_version = version if dst == src else self.version(dst)
        try:
            adds, counts = map_files(self.spark, files, fn, self.path(dst), schema,
                                     columns=list(columns) if columns else None, tally=tally,
                                     split_by=SPLIT_FILES_BY.get(dst, ()), storage=self.storage)
        except Exception as err:
            raise self._write_error(dst, err) from err
        if not adds and not overwrite and dst_version is not None:
            return dst_version, counts
        return self._commit_files(dst, adds, schema, read_version=dst_version, overwrite=overwrite), counts

    def _spark_map_into(self, src: str, fn: BatchFn, dst: str, *, schema: StructType, version: int,
                        columns: Sequence[str] | None, tally: TallyFn | None,
                        where_true: str | None, overwrite: bool) -> tuple[int, Counter]:
        """`_map_into` where `src`'s files cannot be read as they are: through the engine's own reader."""
        raise self._unreadable(src)

    def merge_insert(self, df: DataFrame, name: str, *, schema: StructType, keys: Sequence[str]) -> int:
        """Insert the rows of `df` whose `keys` are not in the table yet (insert-only merge)."""
        df = df.dropDuplicates(list(keys))
        if not self.exists(name):
            return self.append(df, name, schema=schema)
        return self._merge_new(df, name, schema=schema, keys=keys)

    def map_into(self, src: str, fn: BatchFn, dst: str, *, schema: StructType, version: int,
                 columns: Sequence[str] | None = None, tally: TallyFn | None = None,
                 where_true: str | None = None) -> tuple[int, Counter]:
        """Replace table `dst` by `fn` of the rows (`columns`, default all) of table `src` as of
        `version`, in one commit (against `version` when `dst` is `src`). `fn` maps Arrow batches to
        batches as `mapInArrow` takes it. `where_true` (a boolean column of `src`, not `dst`): `fn`
        needs only the rows where it is true. Returns the version written and the sum of `tally` over
        the batches written (empty without `tally`)."""
        if where_true is not None and dst == src:
            raise StorageError(f"map_into {src!r} into itself with where_true={where_true!r} would drop the rows "
                               "of the files it skips")
        return self._map_into(src, fn, dst, schema=schema, version=version, columns=columns, tally=tally,
                              where_true=where_true)

    def map_append(self, src: str, fn: BatchFn, dst: str, *, schema: StructType, version: int,
                   columns: Sequence[str] | None = None, tally: TallyFn | None = None,
                   where_true: str | None = None, only: set[str] | None = None) -> tuple[int, Counter]:
        """`map_into`, appending to table `dst` instead of replacing it: `fn` of the rows of `src`'s
        data files `only` (URIs as `data_files` lists them; all when None, and where the files cannot
        be read as they are). Returns `dst`'s version after the append (unchanged when nothing was
        written) and the sum of `tally`."""
        if dst == src:
            raise StorageError(f"map_append {src!r} into itself would append its rows again")
        return self._map_into(src, fn, dst, schema=schema, version=version, columns=columns, tally=tally,
                              where_true=where_true, only=only, overwrite=False)

    def rewrite(self, name: str, fn: BatchFn, *, schema: StructType, version: int,
                tally: TallyFn | None = None) -> tuple[int, Counter]:
        """Replace every row of table `name` (as of `version`) by `fn` of it, in one commit made
        against `version`. `fn` keeps each row where it is (new values for some columns)."""
        return self.map_into(name, fn, name, schema=schema, version=version, tally=tally)

    # ---- vacuum --------------------------------------------------------------------------------
    @abstractmethod
    def _unreferenced(self, name: str, retention_hours: int) -> list[str]:
        """The files (paths relative to the table's folder) in table `name`'s folder that its current
        version does not reference and that are older than `retention_hours`: files a later commit
        removed (superseded), and files no commit took (a crashed write's orphans). Listed by the
        engine's own vacuum as a dry run, its retention check off (`vacuum` checks)."""

    def vacuum(self, name: str, *, retention_hours: int = DEFAULT_RETENTION_HOURS, dry_run: bool = True,
               enforce_retention: bool = True) -> list[tuple[str, int]]:
        """The files (URI, bytes) of table `name` that no longer serve its current version and are
        older than `retention_hours`; deleted unless `dry_run`. curate deletes them itself rather than
        through the engine's vacuum, which commits VACUUM START/END: a new table version with the same
        rows would make every later stage rerun and mix publish the same shards as a new version."""
        check_retention(retention_hours, enforce=enforce_retention)
        fs, base = self.storage.filesystem(self.path(name))
        infos = fs.get_file_info([join(base, rel) for rel in self._unreferenced(name, retention_hours)])
        found = [i for i in infos if i.is_file]
        if not dry_run:
            for info in found:
                fs.delete_file(info.path)
                if not is_remote(self.root):  # Hadoop's checksum of a file Spark wrote on a local disk
                    checksum = join(info.path.rsplit("/", 1)[0], f".{info.base_name}.crc")
                    if fs.get_file_info(checksum).is_file:
                        fs.delete_file(checksum)
            log.info("vacuum %s: deleted %d files, %d bytes", name, len(found), sum(i.size for i in found))
        return [(join(self.path(name), i.path[len(base) + 1:]), i.size) for i in found]

    def _write_error(self, name: str, err: Exception) -> StorageError:
        if _CONFLICT.search(f"{type(err).__name__}: {err}"):  # raised here, or through Spark
            return self._conflict(name)
        return StorageError(f"writing table {name!r} at {self.path(name)} failed: {err}")

    def _conflict(self, name: str) -> StorageError:
        return StorageError(
            f"table {name!r} at {self.path(name)} was changed by another writer while this run wrote it "
            f"(Delta commit conflict); this write committed nothing. Rerun when the other run has finished")
