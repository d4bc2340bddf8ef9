"""The one place the tokenize subpackage meets Spark: its plain-Python batch functions as mapInArrow."""

from __future__ import annotations

import functools
from collections import Counter
from typing import TYPE_CHECKING

from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema
from pyspark.sql.types import IntegerType, LongType, StructField, StructType

from curate.tokenize.encoder import tokenize_batch
from curate.tokenize.mds import TaskSpec, write_task_shards
from curate.tokenize.realize import PIECES_SCHEMA, Supply, overlap_groups, plan_group
from curate.tokenize.schema import CARRIED, DOCS_TOKENIZED_SCHEMA

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pyarrow as pa
    from pyspark.sql import DataFrame

    from curate.schemas.mixture import Mixture
    from curate.storage import Storage

TASK_STATS_SCHEMA = StructType(
    [
        StructField("task", IntegerType(), False),
        StructField("samples", LongType(), False),
        StructField("shards", IntegerType(), False),
        StructField("bytes", LongType(), False),
    ]
)


def tokenize_columns(names: list[str]) -> list[str]:
    """The columns a documents table with columns `names` gives tokenize: its carried ones, `text`."""
    return [f.name for f in CARRIED if f.name in names] + ["text"]


def _tokenize_table_batches(batches: Iterator[pa.RecordBatch], *, threads: int) -> Iterator[pa.RecordBatch]:
    import pyarrow as pa

    carried = to_arrow_schema(StructType(CARRIED))
    for batch in batches:
        names = batch.schema.names
        columns = [batch.column(f.name).cast(f.type) if f.name in names else pa.nulls(len(batch), f.type)
                   for f in carried]
        docs = pa.RecordBatch.from_arrays([*columns, batch.column("text")], names=[*carried.names, "text"])
        yield tokenize_batch(docs, threads=threads)


def tokenize_fn(*, threads: int = 1):
    """Batches of a documents table (`tokenize_columns`) -> docs_tokenized rows, with null for the
    carried columns it lacks (docs_raw has no lang): for mapInArrow or map_into."""
    return functools.partial(_tokenize_table_batches, threads=threads)


def tokenize_frame(docs: DataFrame, *, threads: int = 1) -> DataFrame:
    """`docs` (docs_curated, or an earlier stage's table) -> docs_tokenized rows."""
    return docs.select(*tokenize_columns(docs.columns)).mapInArrow(tokenize_fn(threads=threads), DOCS_TOKENIZED_SCHEMA)


def token_tally(batch: pa.RecordBatch) -> Counter:
    """Documents and tokens of docs_tokenized rows."""
    import pyarrow.compute as pc

    return Counter(docs=batch.num_rows, tokens=pc.sum(batch.column("n_tokens")).as_py() or 0)


def _plan_group(members: pa.Table, *, mixture: Mixture) -> pa.Table:
    import pyarrow.compute as pc

    supplies = {}
    for name in pc.unique(members.column("component")).to_pylist():
        rows = members.filter(pc.equal(members.column("component"), name))
        supplies[name] = Supply.of(rows.column("doc_id").to_numpy(zero_copy_only=False), rows.column("n_tokens").to_numpy())
    return plan_group(mixture, supplies)


def plan_pieces_frame(members: DataFrame, mixture: Mixture) -> DataFrame:
    """Pieces of every stage from (component, doc_id, n_tokens): one task per group of components
    that may share documents (`overlap_groups`), so the document lists stay on the executors."""
    from pyspark.sql import functions as F

    group_of = F.create_map(*[F.lit(v) for group in overlap_groups(mixture) for c in group for v in (c, group[0])])

    def plan(group):  # not a partial and no hints: applyInArrow's eval type inference fails on those
        return _plan_group(group.drop_columns(["group"]), mixture=mixture)

    grouped = members.withColumn("group", group_of[F.col("component")]).groupBy("group")
    return grouped.applyInArrow(plan, from_arrow_schema(PIECES_SCHEMA))


def write_shards_frame(
    pieces: DataFrame, *, tasks: list[TaskSpec], compression: str | None, size_limit: int, storage: Storage
) -> DataFrame:
    """Write MDS shards from pieces sorted by (task, sample, offset), each task straight where its
    spec says (a local folder or the object store); one row of stats per task."""
    fn = functools.partial(write_task_shards, tasks=tasks, compression=compression, size_limit=size_limit,
                           storage=storage)
    return pieces.mapInArrow(fn, TASK_STATS_SCHEMA)
