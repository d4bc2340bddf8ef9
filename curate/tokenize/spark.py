"""The one place the tokenize subpackage meets Spark: its plain-Python batch functions as mapInArrow."""

from __future__ import annotations

import functools
from collections import Counter
from typing import TYPE_CHECKING

from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema
from pyspark.sql.types import IntegerType, LongType, StructField, StructType

from curate.tokenize.encoder import tokenize_batch
from curate.tokenize.mds import TaskSpec, write_task_shards
from curate.tokenize.realize import PIECES_SCHEMA, Supply, bucket_targets, overlap_groups, plan_group
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


def _plan_bucket(members: pa.Table, *, mixture: Mixture, targets: dict[str, list[list[tuple[int, int]]]]) -> pa.Table:
    import pyarrow.compute as pc

    bucket = members.column("bucket")[0].as_py()
    supplies = {}
    for name in pc.unique(members.column("component")).to_pylist():
        rows = members.filter(pc.equal(members.column("component"), name))
        supplies[name] = Supply.of(rows.column("doc_id").to_numpy(zero_copy_only=False), rows.column("n_tokens").to_numpy())
    return plan_group(mixture, supplies, {c: targets[c][bucket] for c in supplies} if targets else None)


def planning_buckets(members: DataFrame, mixture: Mixture, *, totals: dict[str, tuple[int, int]],
                     bucket_docs: int) -> tuple[DataFrame, dict[str, list[list[tuple[int, int]]]]]:
    """`members` (component, doc_id, n_tokens) with its planning task: `group` (the first component
    of its `overlap_groups` group) and `bucket` (a hash of doc_id modulo the group's ceil(member rows
    / bucket_docs) buckets); and the components' targets per bucket (`bucket_targets`, {} when every
    group is one bucket). `totals`: supply_totals of `members`."""
    from pyspark.sql import functions as F

    groups = overlap_groups(mixture)
    n_buckets = {c: max(1, -(-sum(totals.get(m, (0, 0))[1] for m in group) // bucket_docs))
                 for group in groups for c in group}
    group_of = F.create_map(*[F.lit(v) for group in groups for c in group for v in (c, group[0])])
    buckets_of = F.create_map(*[F.lit(v) for kv in n_buckets.items() for v in kv])
    tagged = members.select(group_of[F.col("component")].alias("group"),
                            F.pmod(F.xxhash64("doc_id"), buckets_of[F.col("component")]).cast("int").alias("bucket"),
                            "component", "doc_id", "n_tokens")
    if max(n_buckets.values(), default=1) == 1:
        return tagged, {}
    tokens = {(r["component"], r["bucket"]): int(r["tokens"])
              for r in tagged.groupBy("component", "bucket").agg(F.sum("n_tokens").alias("tokens")).collect()}
    return tagged, bucket_targets(mixture, {c: [tokens.get((c, b), 0) for b in range(n)] for c, n in n_buckets.items()})


def plan_pieces_frame(members: DataFrame, mixture: Mixture, *, totals: dict[str, tuple[int, int]],
                      bucket_docs: int) -> DataFrame:
    """Pieces of every stage from (component, doc_id, n_tokens): one task per bucket of a group of
    components that may share documents (`planning_buckets`), so no task holds more than about
    `bucket_docs` member rows and the document lists stay on the executors."""
    tagged, targets = planning_buckets(members, mixture, totals=totals, bucket_docs=bucket_docs)

    def plan(group):  # not a partial and no hints: applyInArrow's eval type inference fails on those
        return _plan_bucket(group.drop_columns(["group"]), mixture=mixture, targets=targets)

    return tagged.groupBy("group", "bucket").applyInArrow(plan, from_arrow_schema(PIECES_SCHEMA))


def write_shards_frame(
    pieces: DataFrame, *, tasks: list[TaskSpec], compression: str | None, size_limit: int, storage: Storage
) -> DataFrame:
    """Write MDS shards from pieces sorted by (task, sample, offset), each task straight where its
    spec says (a local folder or the object store); one row of stats per task."""
    fn = functools.partial(write_task_shards, tasks=tasks, compression=compression, size_limit=size_limit,
                           storage=storage)
    return pieces.mapInArrow(fn, TASK_STATS_SCHEMA)
