"""Python work placed on Spark tasks: `map_groups` runs a function on each group of a driver-side
list in a task of its own (no rows of input), `tally_batches` sums counts made over a frame's
batches."""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING, Callable, Iterator, Sequence, TypeVar

import pyarrow as pa

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

G = TypeVar("G")


def map_groups(spark: SparkSession, groups: Sequence[G], fn: Callable[[G], Iterator[pa.RecordBatch]],
               schema: StructType | str) -> DataFrame:
    """`fn` of each group in a partition of its own, in list order. The groups travel with the
    function (Spark broadcasts a large one): no Python RDD of them is made (a worker daemon of its
    own) and no row is shuffled to place them."""

    def run(ids: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in ids:
            for i in batch.column("id").to_pylist():
                yield from fn(groups[i])

    return spark.range(0, len(groups), 1, max(1, len(groups))).mapInArrow(run, schema)


def tally_batches(df: DataFrame, fn: Callable[[pa.RecordBatch], Counter]) -> Counter:
    """The sum of `fn` over the Arrow batches of `df`, made in its tasks: one small row per task
    reaches the driver."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        counts: Counter = Counter()
        for batch in batches:
            counts.update(fn(batch))
        yield pa.RecordBatch.from_pydict({"counts": [json.dumps(counts)]})

    total: Counter = Counter()
    for row in df.mapInArrow(run, "counts string").collect():
        total.update(json.loads(row["counts"]))
    return total


def same_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """The batches as they are (a frame of a table's rows as `file_frame` reads them)."""
    yield from batches
