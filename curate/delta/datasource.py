"""A Spark 4 Python data source that writes Delta tables through delta-rs.

Used where the Delta JVM jar is absent. Executors write Parquet files in parallel and return
add-actions with statistics; the driver-side `commit` makes them ONE Delta transaction. A task that
fails leaves only uncommitted files (invisible to readers, removed by `vacuum(full=True)`); a failed
commit deletes the files it was given.

Options (all strings, as Spark passes them):
  path            table URI (set by `.save(path)`)
  partition_by    comma-separated partition columns (DataFrameWriter.partitionBy is rejected
                  for Python data sources)
  read_version    the table version the written frame was computed from; the commit is made
                  against it so a concurrent writer makes it fail instead of being overwritten
  partition_filter  JSON list of [column, "=", value] triples: overwrite only those partitions
  txn_app_id, txn_version  Delta transaction id; a write whose (app id, version) is already
                  committed is skipped, which makes re-running a job's write idempotent
  storage         JSON of curate.storage.Storage: the object store's endpoint and region (no
                  credential: each process reads those from its environment)
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import posixpath
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterator, Sequence
from urllib.parse import quote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.datasource import DataSource, DataSourceArrowWriter, WriterCommitMessage
from pyspark.sql.types import StructType

from curate.faults import fault_point
from curate.progress import records_counter
from curate.spark_tasks import map_groups
from curate.storage import Storage, join

log = logging.getLogger(__name__)

ENGINE = "curate/delta-rs-datasource"  # commitInfo's engine, for whoever reads the log
# Delta collects min/max statistics for the first 32 columns by default.
_STATS_COLUMNS = 32
_MAX_STAT_STRING = 32
# Roll over to a new Parquet file after this many rows' worth of bytes (~128 MB).
_TARGET_FILE_BYTES = 128 << 20


@dataclass
class DeltaFiles(WriterCommitMessage):
    adds: list[dict] = field(default_factory=list)


def _stat_value(value):
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"
    if isinstance(value, str) and len(value) > _MAX_STAT_STRING:
        return None  # a truncated max would need a tie-breaker; skipping is always correct
    if isinstance(value, (bytes, bytearray)):
        return None
    return value


class FileStats:
    """Delta add-action statistics (numRecords, per column min/max/nullCount), accumulated per batch.

    Nothing is kept but the running values, so a 128 MB file costs no extra memory. String columns
    whose values average more than the stat length (document text) are not scanned for min/max.
    """

    def __init__(self, schema: pa.Schema):
        self.rows = 0
        self.nulls = {name: 0 for name in schema.names[:_STATS_COLUMNS]}
        self.mins: dict = {}
        self.maxs: dict = {}
        self.skip = {f.name for f in schema if pa.types.is_nested(f.type) or pa.types.is_binary(f.type)
                     or pa.types.is_large_binary(f.type)}

    def add(self, table: pa.Table) -> None:
        self.rows += table.num_rows
        for name in self.nulls:
            col = table.column(name)
            self.nulls[name] += col.null_count
            if name in self.skip or col.null_count == len(col):
                continue
            if pa.types.is_string(col.type) and col.nbytes > _MAX_STAT_STRING * len(col) * 2:
                self.skip.add(name)  # long text: no useful min/max, and scanning it costs
                self.mins.pop(name, None), self.maxs.pop(name, None)
                continue
            mm = pc.min_max(col)
            lo, hi = mm["min"].as_py(), mm["max"].as_py()
            self.mins[name] = lo if name not in self.mins else min(self.mins[name], lo)
            self.maxs[name] = hi if name not in self.maxs else max(self.maxs[name], hi)

    def to_json(self) -> str:
        mins, maxs = {}, {}
        for name in self.mins:
            lo, hi = _stat_value(self.mins[name]), _stat_value(self.maxs[name])
            if lo is not None and hi is not None:
                mins[name], maxs[name] = lo, hi
        return json.dumps({"numRecords": self.rows, "minValues": mins, "maxValues": maxs,
                           "nullCount": self.nulls}, default=str)


def delta_arrow_schema(schema: StructType) -> pa.Schema:
    """Arrow schema of the table: Spark's, with timestamps as UTC microseconds (Delta's `timestamp`)."""
    from pyspark.sql.pandas.types import to_arrow_schema

    fields = []
    for f in to_arrow_schema(schema, timezone="UTC"):
        t = pa.timestamp("us", tz="UTC") if pa.types.is_timestamp(f.type) else f.type
        fields.append(pa.field(f.name, t, f.nullable))
    return pa.schema(fields)


class _PartFile:
    """One open Parquet file of a task for one partition value tuple."""

    def __init__(self, fs, table_path: str, rel_dir: str, schema: pa.Schema):
        name = f"part-{uuid.uuid4().hex}.zstd.parquet"
        self.rel_path = f"{rel_dir}/{name}" if rel_dir else name
        self.fs, self.full = fs, f"{table_path}/{self.rel_path}"
        fs.create_dir(f"{table_path}/{rel_dir}" if rel_dir else table_path, recursive=True)
        self.writer = pq.ParquetWriter(self.full, schema, filesystem=fs, compression="zstd")
        self.stats = FileStats(schema)
        self.bytes = 0

    def write(self, t: pa.Table) -> None:
        self.writer.write_table(t)
        self.stats.add(t)
        self.bytes += t.nbytes

    def close(self, partition_values: dict) -> dict:
        self.writer.close()
        size = self.fs.get_file_info(self.full).size
        return {
            "path": self.rel_path,
            "size": size,
            "partition_values": partition_values,
            "modification_time": int(time.time() * 1000),
            "data_change": True,
            "stats": self.stats.to_json(),
        }


class FileSink:
    """The Parquet files one task writes into a Delta table's folder, uncommitted: one open file per
    partition value tuple, rolled over at ~128 MB. `close` returns their add actions for a commit.

    `split_by` columns (not partitions: they stay in the data, the files in the table's folder) also
    get a file per value tuple, so each file's statistics show that it holds one value: readers
    that want one value skip the other files (`data_files(where_true=...)`)."""

    def __init__(self, uri: str, schema: pa.Schema, partition_by: Sequence[str] = (), split_by: Sequence[str] = (), *,
                 storage: Storage):
        self.fs, self.table_path = storage.filesystem(uri)
        self.schema, self.partition_by, self.split_by = schema, list(partition_by), list(split_by)
        self.data_schema = pa.schema([f for f in schema if f.name not in self.partition_by])
        self.open_files: dict[tuple, _PartFile] = {}
        self.adds: list[dict] = []

    def write(self, table: pa.Table) -> None:
        """Add the rows of `table`, which has (at least) the table's columns."""
        for key, part in self._split(table.select(self.schema.names).cast(self.schema)):
            pf = self.open_files.get(key)
            if pf is None:
                rel_dir = "/".join(
                    f"{c}={quote('__HIVE_DEFAULT_PARTITION__' if v is None else str(v), safe='')}"
                    for c, v in zip(self.partition_by, key)
                )
                pf = self.open_files[key] = _PartFile(self.fs, self.table_path, rel_dir, self.data_schema)
            pf.write(part.select(self.data_schema.names))
            if pf.bytes >= _TARGET_FILE_BYTES:
                self.adds.append(pf.close(self._values(key)))
                del self.open_files[key]

    def close(self) -> list[dict]:
        self.adds.extend(pf.close(self._values(key)) for key, pf in self.open_files.items())
        self.open_files = {}
        return self.adds

    def _values(self, key: tuple) -> dict:
        return {c: None if v is None else str(v) for c, v in zip(self.partition_by, key)}

    def _split(self, table: pa.Table):
        """(partition values + split_by values, rows) per value tuple in `table`."""
        by = self.partition_by + self.split_by
        if not by:
            yield (), table
            return
        keys = table.select(by).group_by(by).aggregate([])
        for row in keys.to_pylist():
            mask = None
            for c in by:
                cond = pc.is_null(table[c]) if row[c] is None else pc.equal(table[c], row[c])
                mask = cond if mask is None else pc.and_(mask, cond)
            yield tuple(row[c] for c in by), table.filter(mask)


class DeltaRsWriter(DataSourceArrowWriter):
    def __init__(self, options: dict, schema: StructType, overwrite: bool):
        self.uri = options["path"]
        self.table = os.path.basename(self.uri.rstrip("/"))  # names the fault points
        self.mode = "overwrite" if overwrite else "append"
        self.partition_by = [c for c in options.get("partition_by", "").split(",") if c]
        self.split_by = [c for c in options.get("split_by", "").split(",") if c]
        self.read_version = int(options["read_version"]) if options.get("read_version") else None
        self.partition_filter = json.loads(options["partition_filter"]) if options.get("partition_filter") else None
        self.txn = (options["txn_app_id"], int(options["txn_version"])) if options.get("txn_app_id") else None
        self.storage = Storage(**json.loads(options["storage"])) if options.get("storage") else Storage()
        self.storage_options = self.storage.delta_rs_options(self.uri)
        self.arrow_schema = delta_arrow_schema(schema)
        unknown = [c for c in self.partition_by if c not in self.arrow_schema.names]
        if unknown:
            raise ValueError(f"partition columns {unknown} are not in the frame's columns {self.arrow_schema.names}")

    # ---- executors -------------------------------------------------------------------------
    def write(self, iterator: Iterator[pa.RecordBatch]) -> DeltaFiles:
        sink = FileSink(self.uri, self.arrow_schema, self.partition_by, self.split_by, storage=self.storage)
        return DeltaFiles(adds=_sunk(iterator, sink, self.table))

    # ---- driver side -------------------------------------------------------------------------
    def commit(self, messages: list[DeltaFiles | None]) -> None:
        from deltalake import DeltaTable, Schema
        from deltalake.exceptions import TableNotFoundError
        from deltalake.transaction import (
            AddAction,
            CommitProperties,
            Transaction,
            create_table_with_add_actions,
        )

        fault_point(f"commit:{self.table}")  # every task's files written, nothing committed
        adds = [AddAction(**a) for m in messages if m is not None for a in m.adds]
        props = CommitProperties(
            app_transactions=[Transaction(app_id=self.txn[0], version=self.txn[1])] if self.txn else None,
            custom_metadata={"engine": ENGINE},
        )
        try:
            dt = DeltaTable(self.uri, version=self.read_version, storage_options=self.storage_options)
        except TableNotFoundError:
            dt = None
        if dt is None:
            create_table_with_add_actions(
                self.uri, Schema.from_arrow(self.arrow_schema), adds, mode="append", partition_by=self.partition_by or None,
                storage_options=self.storage_options, commit_properties=props,
            )
            fault_point(f"committed:{self.table}")
            return
        if self.txn is not None:
            latest = DeltaTable(self.uri, storage_options=self.storage_options)
            done = latest.transaction_version(self.txn[0])
            if done is not None and done >= self.txn[1]:
                log.info("delta write to %s skipped: transaction %s v%s is already committed",
                         self.uri, *self.txn)
                delete_files(self.uri, [a.path for a in adds], storage=self.storage)
                return
        dt.create_write_transaction(
            adds, self.mode, self.arrow_schema, partition_by=self.partition_by or None,
            partition_filters=[tuple(f) for f in self.partition_filter] if self.partition_filter else None,
            commit_properties=props,
        )
        fault_point(f"committed:{self.table}")  # committed, Spark and the job not told yet

    def abort(self, messages: list[DeltaFiles | None]) -> None:
        delete_files(self.uri, [a["path"] for m in messages if m is not None for a in m.adds], storage=self.storage)

    def commit_or_abort(self, messages: list[DeltaFiles]) -> None:
        """Commit, or delete the files when the commit fails (what Spark does for a data source write),
        for callers that run the tasks themselves."""
        try:
            self.commit(messages)
        except Exception:
            self.abort(messages)
            raise


def _sunk(batches: Iterator[pa.RecordBatch], sink: FileSink, table: str) -> list[dict]:
    """The batches written into `sink`'s files (uncommitted): their add actions."""
    for batch in batches:
        if batch.num_rows:
            sink.write(pa.Table.from_batches([batch]))
    adds = sink.close()
    fault_point(f"write:{table}")  # files written, task not reported
    return adds


def delete_files(uri: str, paths: list[str], *, storage: Storage) -> None:
    """Delete uncommitted files, by their paths relative to the table at `uri`."""
    fs, table_path = storage.filesystem(uri)
    for p in paths:
        try:
            fs.delete_file(f"{table_path}/{p}")
        except (FileNotFoundError, OSError):  # already gone: nothing to clean
            pass


BatchFn = Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]
TallyFn = Callable[[pa.RecordBatch], Counter]
# Rows per batch a map_files task hands to its function, as Spark hands mapInArrow (session.py).
_MAP_BATCH_ROWS = 2000


def _counted(batches: Iterator[pa.RecordBatch], counter) -> Iterator[pa.RecordBatch]:
    for b in batches:
        counter.add(b.num_rows)
        yield b


def _table_name(uri: str) -> str:
    return posixpath.basename(uri.rstrip("/"))


def _tallied_batches(batches: Iterator[pa.RecordBatch], tally: TallyFn | None,
                     counts: Counter) -> Iterator[pa.RecordBatch]:
    for b in batches:
        if tally is not None:
            counts.update(tally(b))
        yield b


def _map_file(file_uri: str, *, dst_uri: str, columns: list[str] | None, schema: pa.Schema,
              split_by: list[str], fn: BatchFn, tally: TallyFn | None, records,
              storage: Storage) -> Iterator[pa.RecordBatch]:
    sink, counts = FileSink(dst_uri, schema, split_by=split_by, storage=storage), Counter()
    batches = _read_file(file_uri, columns=columns, fn=fn, records=records, storage=storage)
    adds = _sunk(_tallied_batches(batches, tally, counts), sink, _table_name(dst_uri))
    yield pa.RecordBatch.from_pydict({"adds": [json.dumps(adds)], "counts": [json.dumps(counts)]})


# What a row costs a task besides its bytes, in bytes of its file: a model call and Python's loop per
# document, so that a file of many short documents goes before one of fewer long ones.
_ROW_BYTES = 4096


def most_work_first(files: Sequence[tuple[str, int, int | None]]) -> list[str]:
    """The URIs of (URI, bytes, rows or None) data files, the most work first (bytes and rows):
    tasks start in list order, so the small files fill in at the end."""
    return [f[0] for f in sorted(files, key=lambda f: f[1] + _ROW_BYTES * (f[2] or 0), reverse=True)]


def data_files(uri: str, version: int, where_true: str | None = None, *, storage: Storage) -> list[str]:
    """The data files (URIs) of the unpartitioned Delta table at `uri` as of `version`, the most work
    first (`most_work_first`). `where_true`: a boolean column;
    files whose statistics show no row where it is true are left out (those without statistics stay)."""
    from deltalake import DeltaTable

    dt = DeltaTable(uri, version=version, storage_options=storage.delta_rs_options(uri))
    if dt.metadata().partition_columns:
        raise ValueError(f"map_files and file_frame take an unpartitioned table; {uri} is partitioned by "
                         f"{dt.metadata().partition_columns}")
    actions = pa.table(dt.get_add_actions(flatten=True))
    if where_true is not None and f"max.{where_true}" in actions.column_names:
        actions = actions.filter(pc.fill_null(actions[f"max.{where_true}"], True))
    files = actions.select(["path", "size_bytes", "num_records"]).to_pylist()
    return most_work_first([(join(uri, a["path"]), a["size_bytes"], a["num_records"]) for a in files])


def _plain_type(t: pa.DataType) -> pa.DataType:
    if pa.types.is_timestamp(t) and t.tz is None:
        return pa.timestamp("us", tz="UTC")
    if pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_binary_view(t):
        return pa.binary()
    if pa.types.is_map(t):
        return pa.map_(_plain_type(t.key_type), _plain_type(t.item_type))
    if pa.types.is_list(t):
        return pa.list_(t.value_field.with_type(_plain_type(t.value_type)))
    if pa.types.is_large_list(t):
        return pa.large_list(t.value_field.with_type(_plain_type(t.value_type)))
    if pa.types.is_struct(t):
        return pa.struct([f.with_type(_plain_type(f.type)) for f in t])
    return t


def _plain(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Spark's Parquet writer stores timestamps as INT96 (`spark.sql.parquet.outputTimestampType`'s
    default), which pyarrow reads without a time zone: they are UTC instants, as Delta's are.
    delta-rs stores strings as string views, which pyarrow reads as such and many of its kernels
    (filter, take, is_in) and Spark do not take: read as plain strings."""
    for batch in batches:
        schema = pa.schema([f.with_type(_plain_type(f.type)) for f in batch.schema], metadata=batch.schema.metadata)
        yield batch if schema == batch.schema else batch.cast(schema)


def rows_table(rows: list[tuple], schema: StructType) -> pa.Table:
    """Rows made on the driver (tuples in `schema`'s column order) as an Arrow table of the table's types."""
    return pa.Table.from_pylist([dict(zip(schema.names, r)) for r in rows], schema=delta_arrow_schema(schema))


def read_files(files: list[str], schema: StructType, *, columns: Sequence[str] | None,
               storage: Storage) -> pa.Table:
    """The rows of a table's data files (`columns`, default all) read in the driver, as the table's
    `schema` has them: a column a file lacks (written before it was added) reads as nulls."""
    target = delta_arrow_schema(schema)
    if columns:
        target = pa.schema([target.field(c) for c in columns])
    parts = []
    for uri in files:
        batches = list(_file_batches(uri, columns=target.names, storage=storage, missing_ok=True))
        if batches:
            t = pa.Table.from_batches(batches)
            parts.append(pa.table([t[f.name].cast(f.type) if f.name in t.column_names else pa.nulls(len(t), f.type)
                                   for f in target], schema=target))
    return pa.concat_tables(parts) if parts else target.empty_table()


# (column, values): only the rows whose `column` holds one of `values` (a few).
WhereIn = tuple[str, pa.Array]


def _row_groups_holding(parquet: pq.ParquetFile, where_in: WhereIn) -> list[int]:
    column, values = where_in
    held = []
    for i in range(parquet.num_row_groups):
        keys = parquet.read_row_group(i, columns=[column]).column(0)
        if pc.any(pc.is_in(keys.cast(_plain_type(keys.type)), values)).as_py():
            held.append(i)
    return held


def _file_batches(file_uri: str, *, columns: Sequence[str] | None, storage: Storage,
                  missing_ok: bool = False, where_in: WhereIn | None = None) -> Iterator[pa.RecordBatch]:
    """The batches of one Parquet data file (`columns`, default all; `missing_ok`: those it holds),
    timestamps as UTC, strings plain (`_plain`). `where_in`: only those rows, the other columns read
    only from the row groups whose `column` holds one."""
    fs, path = storage.filesystem(file_uri)
    with fs.open_input_file(path) as source:
        parquet = pq.ParquetFile(source, coerce_int96_timestamp_unit="us")
        if columns is not None and missing_ok:
            columns = [c for c in columns if c in parquet.schema_arrow.names]
        if where_in is None:
            yield from _plain(parquet.iter_batches(batch_size=_MAP_BATCH_ROWS, columns=columns))
            return
        groups = _row_groups_holding(parquet, where_in)
        if groups:
            column, values = where_in
            for batch in _plain(parquet.iter_batches(batch_size=_MAP_BATCH_ROWS, columns=columns, row_groups=groups)):
                yield batch.filter(pc.is_in(batch.column(column), values))


def _read_file(file_uri: str, *, columns: list[str] | None, fn: BatchFn,
               records, storage: Storage, where_in: WhereIn | None = None) -> Iterator[pa.RecordBatch]:
    batches = _file_batches(file_uri, columns=columns, storage=storage, where_in=where_in)
    if records is not None:  # the stage's progress line
        batches = _counted(batches, records)
    yield from fn(batches)


def files_frame(spark: SparkSession, files: list[str], fn: BatchFn, schema: StructType | str, *,
                columns: list[str] | None = None, where_in: WhereIn | None = None, storage: Storage) -> DataFrame:
    """`fn` of the rows (`columns`, default all; `where_in`: those rows) of the Parquet files `files`
    (URIs), one Spark task per file, in list order, reading it with pyarrow."""
    task = functools.partial(_read_file, columns=columns, fn=fn, records=records_counter(spark), storage=storage,
                             where_in=where_in)
    return map_groups(spark, files, task, schema)


def map_files(spark: SparkSession, files: list[str], fn: BatchFn, dst_uri: str, schema: StructType, *,
              columns: list[str] | None = None, tally: TallyFn | None = None, split_by: Sequence[str] = (),
              storage: Storage) -> tuple[list[dict], Counter]:
    """`fn` of the rows (`columns`, default all) of the Parquet files `files` (URIs), written as files
    of the unpartitioned Delta table at `dst_uri` (`split_by`: its `FileSink.split_by`), one Spark task
    per file reading and writing Parquet itself; nothing is committed. Returns the files' add actions
    and the sum of `tally` over the batches written.

    For work on every row this skips the DataFrame path's JVM decoding and JVM-to-Python hand-over of
    every column both ways, which cost more than a cheap `fn` itself.
    """
    adds: list[dict] = []
    counts: Counter = Counter()
    if files:
        task = functools.partial(_map_file, dst_uri=dst_uri, columns=columns,
                                 schema=delta_arrow_schema(schema), split_by=list(split_by), fn=fn, tally=tally,
                                 records=records_counter(spark), storage=storage)
        for row in map_groups(spark, files, task, "adds string, counts string").collect():
            adds.extend(json.loads(row["adds"]))
            counts.update(json.loads(row["counts"]))
    return adds, counts


def _without_keys(file_uri: str, *, key: str, keys: pa.Array, uri: str, schema: pa.Schema,
                  split_by: list[str], storage: Storage) -> Iterator[pa.RecordBatch]:
    """When data file `file_uri` holds a row whose `key` is in `keys`: the file written again without
    those rows (`file` and the new files' add actions); nothing for a file that holds none."""
    holding = _file_batches(file_uri, columns=[key], storage=storage, where_in=(key, keys))
    held = next(holding, None) is not None  # a row group holds one: its key column alone was read
    holding.close()
    if not held:
        return
    rows = (_with_fields(b, schema) for b in _file_batches(file_uri, columns=None, storage=storage))
    kept = (b.filter(pc.invert(pc.fill_null(pc.is_in(b.column(key), keys), False))) for b in rows)
    adds = _sunk(kept, FileSink(uri, schema, split_by=split_by, storage=storage), _table_name(uri))
    yield pa.RecordBatch.from_pydict({"file": [file_uri], "adds": [json.dumps(adds)]})


def _with_fields(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """`batch` with `schema`'s fields, nulls for those it lacks (a file written before they were
    added); types as the file has them (`FileSink.write` casts)."""
    have = set(batch.schema.names)
    return pa.RecordBatch.from_arrays(
        [batch.column(f.name) if f.name in have else pa.nulls(batch.num_rows, f.type) for f in schema],
        names=schema.names)


def without_keys(spark: SparkSession, files: list[str], *, key: str, keys: Sequence[str], uri: str,
                 schema: StructType, split_by: Sequence[str] = (), storage: Storage) -> tuple[set[str], list[dict]]:
    """The data files `files` of the table at `uri` that hold a row whose `key` is in `keys`, each
    written again without those rows by a task of its own (the others are only read by their key
    column); nothing is committed. Returns (the files rewritten, the new files' add actions)."""
    task = functools.partial(_without_keys, key=key, keys=pa.array(sorted(keys), pa.string()), uri=uri,
                             schema=delta_arrow_schema(schema), split_by=list(split_by), storage=storage)
    rewritten, adds = set(), []
    for row in map_groups(spark, files, task, "file string, adds string").collect():
        rewritten.add(row["file"])
        adds.extend(json.loads(row["adds"]))
    return rewritten, adds


def write_files(df: DataFrame, uri: str, schema: StructType, *, split_by: Sequence[str] = (),
                storage: Storage) -> list[dict]:
    """The rows of `df` (the table's columns) written as Parquet files of the table at `uri` by its
    tasks, uncommitted: their add actions."""
    arrow_schema = delta_arrow_schema(schema)

    def task(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        sink = FileSink(uri, arrow_schema, split_by=split_by, storage=storage)
        yield pa.RecordBatch.from_pydict({"adds": [json.dumps(_sunk(batches, sink, _table_name(uri)))]})

    return [a for row in df.mapInArrow(task, "adds string").collect() for a in json.loads(row["adds"])]


def commit_files(uri: str, adds: list[dict], schema: StructType, *, read_version: int | None,
                 overwrite: bool = False, storage: Storage) -> None:
    """Commit files written by `FileSink`s to the table at `uri` (appended, or replacing its rows) as
    one commit made against `read_version` (None: the latest, creating the table if there is none);
    on failure the files are deleted."""
    options = {"path": uri, "storage": storage_option(storage)}
    if read_version is not None:
        options["read_version"] = str(read_version)
    writer = DeltaRsWriter(options, schema, overwrite=overwrite)
    writer.commit_or_abort([DeltaFiles(adds=adds)])


def storage_option(storage: Storage) -> str:
    """The `storage` option of this data source."""
    return json.dumps(dataclasses.asdict(storage))


def _write_task(batches: Iterator[pa.RecordBatch], *, writer: DeltaRsWriter) -> Iterator[pa.RecordBatch]:
    yield pa.RecordBatch.from_pydict({"adds": [json.dumps(writer.write(batches).adds)]})


def write_frame(df: DataFrame, options: dict[str, str], *, overwrite: bool) -> None:
    """What `df.write.format("delta").options(**options).save()` does through this data source, with
    the same writer: each task writes its files, the driver commits them as one transaction (or
    deletes them when the commit fails). Called directly, Spark plans no Python data source write,
    which costs a planner Python worker to create the writer and another to commit, per write."""
    writer = DeltaRsWriter(options, df.schema, overwrite)
    rows = df.mapInArrow(functools.partial(_write_task, writer=writer), "adds string").collect()
    writer.commit_or_abort([DeltaFiles(adds=json.loads(r["adds"])) for r in rows])


class DeltaRsDataSource(DataSource):
    """`df.write.format("delta").option(...).mode("append"|"overwrite").save(path)` without the jar."""

    @classmethod
    def name(cls) -> str:
        return "delta"

    def writer(self, schema: StructType, overwrite: bool) -> DeltaRsWriter:
        return DeltaRsWriter(dict(self.options), schema, overwrite)
