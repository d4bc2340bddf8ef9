"""LSH in Spark: band buckets -> candidate edges -> verified edges (exact or estimated Jaccard).

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


def exact_jaccard(a: Column, b: Column) -> Column:
    """|A & B| / |A | B| of two arrays of distinct values (shingle sets), in Spark SQL."""
    inter = F.size(F.array_intersect(a, b))
    return inter / F.greatest(F.size(a) + F.size(b) - inter, F.lit(1))


def verified_edges(edges: DataFrame, sigs: DataFrame, cfg: MinHashConfig, *, shingles: DataFrame | None = None) -> DataFrame:
    """Edges whose Jaccard is >= cfg.min_similarity: exact on `shingles` (doc_id, shingles) when
    cfg.verify = 'exact', estimated from the signatures of `sigs` when 'signature', all when 'none'."""
    if cfg.verify == "none":
        return edges
    if cfg.verify == "exact":
        if shingles is None:
            raise ValueError("verify='exact' needs the shingle sets of the candidate documents")
        values, similarity = shingles.select("doc_id", F.col("shingles").alias("v")), exact_jaccard
    else:
        values, similarity = sigs.select("doc_id", F.col("signature").alias("v")), estimated_jaccard
    pairs = edges.join(values.withColumnRenamed("doc_id", "src").withColumnRenamed("v", "a"), "src").join(
        values.withColumnRenamed("doc_id", "dst").withColumnRenamed("v", "b"), "dst"
    )
    return pairs.where(similarity(F.col("a"), F.col("b")) >= cfg.min_similarity).select("src", "dst")
