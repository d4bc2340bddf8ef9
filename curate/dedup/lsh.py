"""LSH in Spark: band buckets -> candidate edges -> verified edges (exact or estimated Jaccard).

Documents whose band hashes agree in any band share a bucket. A bucket's members are paired as
curate.dedup.buckets says: every pair in a bucket of up to `window` + 2 members, in a larger one
each member with its next `window` in doc_id order and with the smallest, so a bucket of k
documents costs at most (window + 1)(k - 1) edges: a boilerplate bucket of a million pages cannot
explode the pair count, and verification still compares the members of a small bucket that are
similar to each other but not to its smallest.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from curate.dedup.config import MinHashConfig


def estimated_jaccard(a: Column, b: Column) -> Column:
    """Fraction of equal positions of two MinHash signatures (array<int>), in Spark SQL."""
    same = F.zip_with(a, b, lambda x, y: F.when(x == y, 1).otherwise(0))
    return F.aggregate(same, F.lit(0), lambda acc, x: acc + x) / F.size(a)


def candidate_edges(sigs: DataFrame, *, window: int) -> DataFrame:
    """(src, dst) candidate edges, src < dst, as curate.dedup.buckets.bucket_pairs makes them;
    `sigs` has doc_id, scope, bands."""
    members = sigs.where(F.col("bands").isNotNull()).select(
        "doc_id", "scope", F.posexplode("bands").alias("band", "bucket")
    )
    bucket = Window.partitionBy("scope", "band", "bucket")
    ranked = (members.withColumn("size", F.count("*").over(bucket)).where("size > 1")
              .withColumn("pos", F.row_number().over(bucket.orderBy("doc_id"))).drop("size"))
    # Each member (pos >= 2) pairs with the `window` members before it and, beyond those, the first.
    pos, first = F.col("pos"), F.array(F.lit(1))
    sources = first
    if window:
        before = F.sequence(F.greatest(pos - window, F.lit(1)), pos - 1)
        sources = F.when(pos - window > 1, F.concat(first, before)).otherwise(before)
    pairs = ranked.where(pos > 1).select("scope", "band", "bucket", F.col("doc_id").alias("dst"),
                                         F.explode(sources).alias("pos"))
    return (
        pairs.join(ranked.withColumnRenamed("doc_id", "src"), ["scope", "band", "bucket", "pos"])
        .select("src", "dst")
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
