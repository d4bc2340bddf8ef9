"""The mix stage's transforms: mixture validation against docs_tokenized, supplies, shard pieces.

No writes here: `curate.jobs.mix` reads the table, plans with `curate.tokenize.realize`, writes
the shards and publishes them.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np
from pyspark.errors import AnalysisException, ParseException
from pyspark.sql import functions as F

from curate.errors import ConfigError
from curate.tokenize.realize import Supply

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame

    from curate.schemas.mixture import Mixture


def check_sources(mixture: Mixture, available: set[str]) -> None:
    problems = [
        f"component {name!r} names unknown sources {sorted(set(c.sources) - available)}"
        for name, c in mixture.components.items()
        if set(c.sources) - available
    ]
    if problems:
        raise ConfigError(
            f"mixture {mixture.name!r}: " + "; ".join(problems)
            + f"; docs_tokenized has sources {sorted(available)}"
        )


def component_filter(tokenized: DataFrame, mixture: Mixture, name: str) -> DataFrame:
    """The documents of component `name`; an invalid predicate is refused with the reason."""
    spec = mixture.components[name]
    docs = tokenized.filter(F.col("source").isin(spec.sources))
    if spec.where is None:
        return docs
    columns = [c for c in tokenized.columns if c != "tokens"]
    try:
        return docs.filter(F.expr(spec.where))
    except (ParseException, AnalysisException) as err:
        reason = err.getCondition() or type(err).__name__
        detail = str(err).splitlines()[0][:300]
        raise ConfigError(
            f"mixture {mixture.name!r}: components.{name}.where {spec.where!r} is not a valid predicate over "
            f"docs_tokenized ({reason}: {detail}); it must be a boolean Spark SQL expression over the "
            f"columns {columns}"
        ) from None


def components(tokenized: DataFrame, mixture: Mixture) -> DataFrame:
    """(component, doc_id, n_tokens) of every component's documents; a document may be in several."""
    parts = [
        component_filter(tokenized, mixture, name).select(
            F.lit(name).alias("component"), "doc_id", F.col("n_tokens").cast("long").alias("n_tokens")
        )
        for name in mixture.components
    ]
    return functools.reduce(lambda a, b: a.unionByName(b), parts)


def supplies(rows: pa.Table, mixture: Mixture) -> dict[str, Supply]:
    """Group collected (component, doc_id, n_tokens) rows into one Supply per component."""
    comp = np.asarray(rows.column("component").to_pylist(), dtype=object)
    ids = np.asarray(rows.column("doc_id").to_pylist(), dtype=object)
    n = rows.column("n_tokens").to_numpy()
    return {c: Supply.of(ids[comp == c], n[comp == c]) for c in mixture.components}


def shard_pieces(pieces: DataFrame, tokenized: DataFrame, *, samples_per_task: int, tasks: int) -> DataFrame:
    """Pieces with their token ids, one Spark partition per writer task, in sample order."""
    tokens = tokenized.select("doc_id", "tokens")
    return (
        pieces.join(tokens, "doc_id")
        .select(
            (F.col("sample") / F.lit(samples_per_task)).cast("int").alias("task"),
            "sample",
            "offset",
            F.slice("tokens", F.col("tok_start") + 1, F.col("tok_len")).alias("tokens"),
            "component",
        )
        .repartition(tasks, "task")
        .sortWithinPartitions("task", "sample", "offset")
    )
