"""The one place the tokenize subpackage meets Spark: its plain-Python batch functions as mapInArrow."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from pyspark.sql.pandas.types import from_arrow_schema
from pyspark.sql.types import IntegerType, LongType, StructField, StructType

from curate.tokenize.encoder import tokenize_batch
from curate.tokenize.mds import TaskSpec, write_task_shards
from curate.tokenize.realize import PIECES_SCHEMA, Supply, plan_component
from curate.tokenize.schema import DOCS_TOKENIZED_SCHEMA

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pyarrow as pa
    from pyspark.sql import DataFrame

    from curate.schemas.mixture import Mixture

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


def _plan_group(members: pa.Table, *, mixture: Mixture) -> pa.Table:
    name = members.column("component")[0].as_py()
    supply = Supply.of(members.column("doc_id").to_numpy(zero_copy_only=False), members.column("n_tokens").to_numpy())
    return plan_component(mixture, name, supply)


def plan_pieces_frame(members: DataFrame, mixture: Mixture) -> DataFrame:
    """Pieces of every stage from (component, doc_id, n_tokens): one task per component, so the
    document lists stay on the executors."""

    def plan(group):  # not a partial and no hints: applyInArrow's eval type inference fails on those
        return _plan_group(group, mixture=mixture)

    return members.groupBy("component").applyInArrow(plan, from_arrow_schema(PIECES_SCHEMA))


def write_shards_frame(
    pieces: DataFrame, *, tasks: list[TaskSpec], compression: str | None, size_limit: int
) -> DataFrame:
    """Write MDS shards from pieces sorted by (task, sample, offset); one row of stats per task."""
    fn = functools.partial(write_task_shards, tasks=tasks, compression=compression, size_limit=size_limit)
    return pieces.mapInArrow(fn, TASK_STATS_SCHEMA)
