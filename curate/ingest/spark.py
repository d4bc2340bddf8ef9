"""The one place ingest meets Spark: FileTasks packed into partitions, their records read there and
returned as Arrow batches (`read_records`) or written into the tables' files (`write_records`)."""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from collections import Counter
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import BinaryType, LongType, StringType, StructField, StructType

from curate.delta.datasource import FileSink, delta_arrow_schema
from curate.errors import InputUnavailable
from curate.faults import fault_point
from curate.ingest.opening import file_size
from curate.ingest.readers import read_task
from curate.ingest.records import FileTask, doc_id
from curate.progress import records_counter
from curate.schemas.config import IngestConfig
from curate.schemas.tables import DOCS_RAW_SCHEMA, QUARANTINE_SCHEMA, STRING_MAP
from curate.spark_tasks import map_groups
from curate.storage import Storage

# One row per input record; `fate` says which table it belongs to.
RECORD_SCHEMA = StructType(
    [
        StructField("fate", StringType(), False),
        StructField("doc_id", StringType()),
        StructField("source_id", StringType()),
        StructField("source", StringType(), False),
        StructField("kind", StringType(), False),
        StructField("text", StringType()),
        StructField("uri", StringType(), False),
        StructField("offset", LongType(), False),
        StructField("input_file", StringType(), False),
        StructField("n_bytes", LongType()),
        StructField("metadata", STRING_MAP),
        StructField("reason_code", StringType()),
        StructField("reason", StringType()),
        StructField("excerpt", StringType()),
    ]
)
_ARROW_SCHEMA = pa.schema(
    [pa.field(f.name, pa.map_(pa.string(), pa.string()) if f.name == "metadata" else
              pa.int64() if isinstance(f.dataType, LongType) else pa.string(), f.nullable)
     for f in RECORD_SCHEMA.fields]
)
# What `write_records` returns: the add actions of the files written, and the fates met.
WRITTEN_SCHEMA = StructType([StructField("table", StringType()), StructField("add", StringType()),
                             StructField("fate", StringType()), StructField("reason_code", StringType()),
                             StructField("n", LongType()), StructField("doc_keys", BinaryType())])
_WRITTEN = pa.schema([("table", pa.string()), ("add", pa.string()), ("fate", pa.string()),
                      ("reason_code", pa.string()), ("n", pa.int64()), ("doc_keys", pa.binary())])
# The documents' ids (16 bytes each) the tasks of one ingest may send the driver, 4M documents; with
# more, the ids' uniqueness is checked in Spark instead (`DeltaStore.insert_files`).
_DOC_KEYS_BYTES = 64 << 20
_KEY_BYTES = 16
# Flush an output batch at this many text bytes, so multi-MB documents don't pile up in memory.
_BATCH_BYTES = 16 << 20
_BATCH_ROWS = 2000


def _work(task: FileTask) -> int:
    if task.skip_code:
        return 0
    return task.end - task.start if task.end >= 0 else file_size(task.input_file, storage=task.storage) - task.start


def _packed(spark: SparkSession, tasks: list[FileTask]) -> list[list[FileTask]]:
    """FileTasks packed into groups of about equal bytes (largest first), one per partition.

    Hash partitioning by file name would put several large files into one partition and leave
    others empty; with a handful of big files that doubles the wall time.
    """
    n = max(1, min(len(tasks), spark.sparkContext.defaultParallelism * 4))
    load = [0] * n
    groups: list[list[FileTask]] = [[] for _ in range(n)]
    for work, task in sorted(((_work(t), t) for t in tasks), key=lambda wt: wt[0], reverse=True):
        part = min(range(n), key=load.__getitem__)
        load[part] += work + 1
        groups[part].append(task)
    return groups


def _rows(tasks: list[FileTask], cfg: IngestConfig) -> Iterator[tuple]:
    """One tuple per record of each task, in RECORD_SCHEMA's order; the text as its UTF-8 bytes."""
    for task in tasks:
        for rec in read_task(task, cfg):
            uri = rec.uri or task.uri
            data = rec.data
            yield (rec.fate, None if data is None else doc_id(task.source, uri, rec.offset, data), rec.source_id,
                   task.source, task.kind, data, uri, rec.offset, task.input_file,
                   None if data is None else len(data), list(rec.metadata.items()), rec.reason_code, rec.reason,
                   rec.excerpt)


_N_BYTES, _TEXT = _ARROW_SCHEMA.get_field_index("n_bytes"), _ARROW_SCHEMA.get_field_index("text")
# Texts arrive as bytes already encoded (for their id): copied into Arrow as binary, then viewed as strings.
_ROW_TYPES = [pa.binary() if f.name == "text" else f.type for f in _ARROW_SCHEMA]


def _batches(rows: Iterator[tuple]) -> Iterator[pa.RecordBatch]:
    """Records as Arrow batches of at most _BATCH_ROWS rows or about _BATCH_BYTES of text."""
    chunk: list[tuple] = []
    size = 0
    for row in rows:
        chunk.append(row)
        size += row[_N_BYTES] or 0
        if size >= _BATCH_BYTES or len(chunk) >= _BATCH_ROWS:
            yield _batch(chunk)
            chunk, size = [], 0
    if chunk:
        yield _batch(chunk)


def _batch(rows: list[tuple]) -> pa.RecordBatch:
    columns = [pa.array(values, type) for values, type in zip(zip(*rows), _ROW_TYPES)]
    columns[_TEXT] = columns[_TEXT].view(pa.string())
    return pa.RecordBatch.from_arrays(columns, schema=_ARROW_SCHEMA)


def read_records(spark: SparkSession, tasks: list[FileTask], cfg: IngestConfig) -> DataFrame:
    """Every record of the tasks, documents with their text, as a DataFrame of RECORD_SCHEMA."""
    return map_groups(spark, _packed(spark, tasks), lambda group: _batches(_rows(group, cfg)), RECORD_SCHEMA)


def write_records(spark: SparkSession, tasks: list[FileTask], cfg: IngestConfig, *, docs_uri: str, quarantine_uri: str,
                  run_id: str, storage: Storage) -> DataFrame:
    """Read the tasks and write every record where it belongs, as uncommitted Parquet files
    (`FileSink`): documents into the docs table at `docs_uri`, refusals into the quarantine table
    at `quarantine_uri`. No record passes through the JVM.

    Returns small rows for the driver: per file written, its table's URI and its add action as JSON
    (`table`, `add`); per task, how many records met each fate (`fate`, `reason_code`, `n`) and,
    while they fit its share of _DOC_KEYS_BYTES, its documents' ids (`doc_keys`, for `doc_ids_unique`).
    """
    doc_schema = delta_arrow_schema(DOCS_RAW_SCHEMA)
    quarantine_schema = delta_arrow_schema(QUARANTINE_SCHEMA)
    records = records_counter(spark)  # the stage's progress line
    groups = _packed(spark, tasks)
    max_keys = _DOC_KEYS_BYTES // _KEY_BYTES // len(groups)

    def run(group: list[FileTask]) -> Iterator[pa.RecordBatch]:
        docs = FileSink(docs_uri, doc_schema, storage=storage)
        refused = FileSink(quarantine_uri, quarantine_schema, storage=storage)
        fates: Counter = Counter()
        ids: list[str] | None = []
        for batch in _batches(_rows(group, cfg)):
            if records is not None:
                records.add(len(batch))
            is_doc = pc.equal(batch.column("fate"), "doc")
            doc_rows = pa.Table.from_batches([batch.filter(is_doc)])
            if doc_rows.num_rows:
                docs.write(doc_rows.append_column("ingest_run_id", pa.array([run_id] * doc_rows.num_rows,
                                                                            pa.string())))
                if ids is not None:
                    ids.extend(doc_rows.column("doc_id").to_pylist())
                    ids = ids if len(ids) <= max_keys else None
            rows = batch.filter(pc.invert(is_doc)).to_pylist()
            if rows:
                refused.write(pa.Table.from_pylist([_quarantine_row(r, run_id) for r in rows],
                                                   schema=quarantine_schema))
            fates["doc", None] += doc_rows.num_rows
            fates.update((r["fate"], r["reason_code"]) for r in rows)
        for uri, sink in ((docs_uri, docs), (quarantine_uri, refused)):
            adds = [json.dumps(a) for a in sink.close()]
            fault_point(f"write:{posixpath.basename(uri.rstrip('/'))}")  # files written, task not reported
            yield _written(len(adds), table=[uri] * len(adds), add=adds)
        yield _written(len(fates), fate=[f for f, _ in fates], reason_code=[c for _, c in fates],
                       n=list(fates.values()))
        if ids:
            yield _written(1, doc_keys=[bytes.fromhex("".join(ids))])

    return map_groups(spark, groups, run, WRITTEN_SCHEMA)


_UNAVAILABLE = re.compile(r"curate\.errors\.InputUnavailable: (.+)")


def unavailable_input(err: Exception) -> InputUnavailable | None:
    """The `InputUnavailable` a reading task raised on its last attempt, when that failed Spark's job
    (Spark reports a task's Python error as the text of its traceback)."""
    found = _UNAVAILABLE.search(str(err))
    return InputUnavailable(found[1]) if found else None


def doc_ids_unique(written: list, docs: int) -> bool:
    """Whether the `doc_keys` of `write_records`' rows are the ids of all its `docs` documents, each
    once: then none of its files repeats another's document (two inputs naming the same file)."""
    ids = np.frombuffer(b"".join(r["doc_keys"] for r in written if r["doc_keys"] is not None), f"V{_KEY_BYTES}")
    return len(ids) == docs and len(np.unique(ids)) == docs


def _written(rows: int, **columns: list) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict({f.name: columns.get(f.name, pa.nulls(rows, f.type)) for f in _WRITTEN},
                                      schema=_WRITTEN)


def _quarantine_row(rec: dict, run_id: str) -> dict:
    """A refused record as a quarantine row. Its `record_id` is stable, so re-ingesting the same bad
    record adds nothing."""
    key = "\0".join(("ingest", rec["input_file"], str(rec["offset"]), rec["reason_code"]))
    return {"record_id": hashlib.sha256(key.encode("utf-8")).hexdigest()[:32], "stage": "ingest",
            "action": rec["fate"], "reason_code": rec["reason_code"], "reason": rec["reason"],
            "source": rec["source"], "kind": rec["kind"], "input_file": rec["input_file"], "uri": rec["uri"],
            "offset": rec["offset"], "excerpt": rec["excerpt"], "doc_id": None, "run_id": run_id}
