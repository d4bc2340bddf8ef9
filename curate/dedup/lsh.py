"""LSH in Spark: band buckets -> candidate edges -> verified edges.

Documents whose band hashes agree in any band share a bucket. Each bucket contributes a star of
edges from its smallest doc_id to every other member, so a bucket of k documents costs k - 1 edges
instead of k(k-1)/2: a boilerplate bucket of a million pages cannot explode the pair count, and
the connected components are the same as with all pairs (a star connects what a clique does).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from curate.dedup.config import MinHashConfig


def estimated_jaccard(a: Column, b: Column) -> Column:
    """Fraction of equal positions of two MinHash signatures (array<int>), in Spark SQL."""
    same = F.zip_with(a, b, lambda x, y: F.when(x == y, 1).otherwise(0))
    return F.aggregate(same, F.lit(0), lambda acc, x: acc + x) / F.size(a)


def candidate_edges(sigs: DataFrame) -> DataFrame:
    """(src, dst) star edges, src = the bucket minimum; `sigs` has doc_id, scope, bands."""
    members = sigs.where(F.col("bands").isNotNull()).select(
        "doc_id", "scope", F.posexplode("bands").alias("band", "bucket")
    )
    key = ["scope", "band", "bucket"]
    heads = members.groupBy(*key).agg(F.min("doc_id").alias("src"), F.count("*").alias("size")).where("size > 1")
    return (
        members.join(heads.drop("size"), key)
        .where(F.col("doc_id") != F.col("src"))
        .select("src", F.col("doc_id").alias("dst"))
        .distinct()
    )


def verified_edges(edges: DataFrame, sigs: DataFrame, cfg: MinHashConfig) -> DataFrame:
    """Edges whose estimated Jaccard is >= cfg.min_similarity (all of them when verify='none')."""
    if cfg.verify == "none":
        return edges
    s = sigs.select("doc_id", "signature")
    pairs = edges.join(s.withColumnRenamed("doc_id", "src").withColumnRenamed("signature", "a"), "src").join(
        s.withColumnRenamed("doc_id", "dst").withColumnRenamed("signature", "b"), "dst"
    )
    return pairs.where(estimated_jaccard(F.col("a"), F.col("b")) >= cfg.min_similarity).select("src", "dst")
