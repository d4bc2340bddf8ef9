"""The one place ingest meets Spark: FileTasks as rows in, Records as Arrow batches out."""

from __future__ import annotations

from typing import Iterator

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import LongType, StringType, StructField, StructType

from curate.ingest.opening import file_size
from curate.ingest.readers import read_task
from curate.ingest.records import FileTask, doc_id
from curate.schemas.config import IngestConfig
from curate.schemas.tables import STRING_MAP

TASK_SCHEMA = StructType(
    [StructField(name, LongType() if name in ("start", "end") else StringType())
     for name in FileTask.__dataclass_fields__]
)

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
# Flush an output batch at this many text bytes, so multi-MB documents don't pile up in memory.
_BATCH_BYTES = 16 << 20
_BATCH_ROWS = 2000


def _work(task: FileTask) -> int:
    if task.skip_code:
        return 0
    return task.end - task.start if task.end >= 0 else file_size(task.input_file) - task.start


def tasks_frame(spark: SparkSession, tasks: list[FileTask]) -> DataFrame:
    """FileTasks as rows, packed into partitions of about equal bytes (largest first).

    Hash partitioning by file name would put several large files into one partition and leave
    others empty; with a handful of big files that doubles the wall time.
    """
    n = max(1, min(len(tasks), spark.sparkContext.defaultParallelism * 4))
    load = [0] * n
    placed: list[tuple[int, tuple]] = []
    for work, task in sorted(((_work(t), t) for t in tasks), key=lambda wt: wt[0], reverse=True):
        part = min(range(n), key=load.__getitem__)
        load[part] += work + 1
        placed.append((part, tuple(getattr(task, f) for f in FileTask.__dataclass_fields__)))
    rdd = spark.sparkContext.parallelize(placed, n).partitionBy(n, lambda part: part).values()
    return spark.createDataFrame(rdd, TASK_SCHEMA)


def read_records(tasks: DataFrame, cfg: IngestConfig) -> DataFrame:
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        cols = {name: [] for name in _ARROW_SCHEMA.names}
        size = 0
        for batch in batches:
            for row in batch.to_pylist():
                task = FileTask(**row)
                for rec in read_task(task, cfg):
                    uri = rec.uri or task.uri
                    n_bytes = None if rec.text is None else len(rec.text.encode("utf-8"))
                    values = {
                        "fate": rec.fate,
                        "doc_id": doc_id(task.source, uri, rec.offset, rec.text) if rec.fate == "doc" else None,
                        "source_id": rec.source_id,
                        "source": task.source,
                        "kind": task.kind,
                        "text": rec.text,
                        "uri": uri,
                        "offset": rec.offset,
                        "input_file": task.input_file,
                        "n_bytes": n_bytes,
                        "metadata": list(rec.metadata.items()),
                        "reason_code": rec.reason_code,
                        "reason": rec.reason,
                        "excerpt": rec.excerpt,
                    }
                    for k, v in values.items():
                        cols[k].append(v)
                    size += n_bytes or 0
                    if size >= _BATCH_BYTES or len(cols["fate"]) >= _BATCH_ROWS:
                        yield pa.RecordBatch.from_pydict(cols, schema=_ARROW_SCHEMA)
                        cols = {name: [] for name in _ARROW_SCHEMA.names}
                        size = 0
        if cols["fate"]:
            yield pa.RecordBatch.from_pydict(cols, schema=_ARROW_SCHEMA)

    return tasks.mapInArrow(run, RECORD_SCHEMA)
