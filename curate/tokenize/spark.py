"""The one place the tokenize subpackage meets Spark: its plain-Python batch functions as mapInArrow."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from pyspark.sql.types import IntegerType, LongType, StructField, StructType

from curate.tokenize.encoder import tokenize_batch
from curate.tokenize.mds import TaskSpec, write_task_shards
from curate.tokenize.schema import DOCS_TOKENIZED_SCHEMA

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pyarrow as pa
    from pyspark.sql import DataFrame

TASK_STATS_SCHEMA = StructType(
    [
        StructField("task", IntegerType(), False),
        StructField("samples", LongType(), False),
        StructField("shards", IntegerType(), False),
        StructField("bytes", LongType(), False),
    ]
)


def _tokenize_batches(batches: Iterator[pa.RecordBatch], *, threads: int) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        yield tokenize_batch(batch, threads=threads)


def tokenize_frame(docs: DataFrame, *, threads: int = 1) -> DataFrame:
    """`docs` (the carried columns and `text`) -> docs_tokenized rows."""
    return docs.mapInArrow(functools.partial(_tokenize_batches, threads=threads), DOCS_TOKENIZED_SCHEMA)


def write_shards_frame(
    pieces: DataFrame, *, tasks: list[TaskSpec], compression: str | None, size_limit: int
) -> DataFrame:
    """Write MDS shards from pieces sorted by (task, sample, offset); one row of stats per task."""
    fn = functools.partial(write_task_shards, tasks=tasks, compression=compression, size_limit=size_limit)
    return pieces.mapInArrow(fn, TASK_STATS_SCHEMA)
