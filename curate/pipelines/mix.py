"""The mix stage's transforms: mixture validation against docs_tokenized, supplies, shard pieces.

No writes here: `curate.jobs.mix` reads the table, plans with `curate.tokenize.realize` (per
bucket of documents on the executors; only per-component aggregates reach the driver), writes the shards
and publishes them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.errors import AnalysisException, ParseException
from pyspark.sql import functions as F

from curate.errors import ConfigError

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

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


def component_condition(tokenized: DataFrame, mixture: Mixture, name: str) -> Column:
    """Whether a document belongs to component `name`; an invalid predicate is refused with the reason."""
    spec = mixture.components[name]
    cond = F.col("source").isin(spec.sources)
    if spec.where is None:
        return cond
    columns = [c for c in tokenized.columns if c != "tokens"]
    try:
        where = F.expr(spec.where)
        tokenized.filter(where)  # analysis only: unknown columns and non-boolean types fail here
    except (ParseException, AnalysisException) as err:
        reason = err.getCondition() or type(err).__name__
        detail = str(err).splitlines()[0][:300]
        raise ConfigError(
            f"mixture {mixture.name!r}: components.{name}.where {spec.where!r} is not a valid predicate over "
            f"docs_tokenized ({reason}: {detail}); it must be a boolean Spark SQL expression over the "
            f"columns {columns}"
        ) from None
    return cond & F.coalesce(where, F.lit(False))


def components(tokenized: DataFrame, mixture: Mixture) -> DataFrame:
    """(component, doc_id, n_tokens) of every component's documents, in one scan; a document may be in several."""
    return _tagged(tokenized, mixture).filter(F.col("component").isNotNull()).drop("source")


def _tagged(tokenized: DataFrame, mixture: Mixture) -> DataFrame:
    """(source, component, doc_id, n_tokens) of each document per component, the component null
    for each one the document is not in."""
    tags = [F.when(component_condition(tokenized, mixture, name), F.lit(name)) for name in mixture.components]
    return tokenized.select("source", F.explode(F.array(*tags)).alias("component"), "doc_id",
                            F.col("n_tokens").cast("long").alias("n_tokens"))


def _supply() -> tuple[Column, Column]:
    return F.sum("n_tokens").alias("tokens"), F.count("*").alias("documents")


def supply_totals(members: DataFrame) -> dict[str, tuple[int, int]]:
    """(tokens, documents) of each component of `components(...)`: one row per component to the driver."""
    rows = members.groupBy("component").agg(*_supply())
    return {r["component"]: (int(r["tokens"]), int(r["documents"])) for r in rows.collect()}


def sources_and_supply(tokenized: DataFrame, mixture: Mixture) -> tuple[set[str], dict[str, tuple[int, int]]]:
    """The sources docs_tokenized holds and `supply_totals` of its `components`, in one job: a row
    per (source, component) to the driver."""
    totals: dict[str, tuple[int, int]] = {}
    sources = set()
    for r in _tagged(tokenized, mixture).groupBy("source", "component").agg(*_supply()).collect():
        sources.add(r["source"])
        if r["component"] is not None:
            tokens, documents = totals.get(r["component"], (0, 0))
            totals[r["component"]] = (tokens + int(r["tokens"]), documents + int(r["documents"]))
    return sources, totals


def drawn_counts(pieces: DataFrame) -> tuple[dict[tuple[str, str], tuple[int, int]], dict[tuple[str, str], int]]:
    """(distinct documents, draws) per (stage, component) of the pieces (every draw starts at token
    0), and the tokens short per (stage, component) that has a shortfall row (null doc_id)."""
    piece = F.col("doc_id").isNotNull()
    rows = pieces.groupBy("stage", "component").agg(
        F.count_distinct("doc_id").alias("documents"), F.count_if(piece & (F.col("tok_start") == 0)).alias("draws"),
        F.sum(F.when(~piece, F.col("tok_len"))).alias("short"),
    ).collect()
    drawn = {(r["stage"], r["component"]): (int(r["documents"]), int(r["draws"])) for r in rows}
    return drawn, {(r["stage"], r["component"]): int(r["short"]) for r in rows if r["short"]}


def shard_pieces(pieces: DataFrame, tokenized: DataFrame, *, tasks: int) -> DataFrame:
    """Pieces (with their writer `task`) and their token ids, one Spark partition per task, in sample order."""
    return (
        pieces.join(tokenized.select("doc_id", "tokens"), "doc_id")
        .select(
            "task",
            "sample",
            "offset",
            F.slice("tokens", F.col("tok_start") + 1, F.col("tok_len")).alias("tokens"),
            "component",
        )
        .repartition(tasks, "task")
        .sortWithinPartitions("task", "sample", "offset")
    )
