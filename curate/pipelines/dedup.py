"""The dedup stage as pure transforms, one materializable step each (the job writes between them):

    signatures(docs)        kept documents -> one signature row each (norm hash, MinHash, bands)
    find_duplicates(sigs)   signature rows -> dup_clusters (exact groups + verified LSH edges ->
                            connected components -> one kept document per cluster)
    remove_duplicates(docs, clusters) -> docs_curated

Finding is separate from removing: dup_clusters names, for each removed document, the kept
document it duplicates. Exact duplicates are grouped first; only one representative per exact
group enters LSH (a bucket of 10 000 copies costs one signature comparison, not 10 000).
"""

from __future__ import annotations

import hashlib
import json

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from curate.dedup.components import connected_components
from curate.dedup.config import DedupConfig
from curate.dedup.lsh import candidate_edges, estimated_jaccard, verified_edges
from curate.dedup.spark import signature_frame


def signature_params(cfg: DedupConfig) -> str:
    """Hash of the settings a stored signature depends on (not the ones applied after it)."""
    m = cfg.minhash
    parts = {
        "normalize": cfg.normalize.model_dump(),
        "minhash": m.model_dump(include={"bands", "rows", "seed", "scheme", "shingles", "word_ngram",
                                         "char_ngram", "char_langs"}),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def signatures(docs: DataFrame, cfg: DedupConfig) -> DataFrame:
    """Signature rows (DEDUP_SIGNATURES_SCHEMA less dedup_run_id) of the documents with keep = true."""
    kept = docs.where(F.col("keep")) if "keep" in docs.columns else docs
    length = F.col("n_bytes") if "n_bytes" in docs.columns else F.octet_length("text")
    quality = F.col("quality_score") if "quality_score" in docs.columns else F.lit(None)
    lang = F.col("lang") if "lang" in docs.columns else F.lit(None)
    rows = kept.select(
        "doc_id", "source", lang.cast("string").alias("lang"), quality.cast("double").alias("quality_score"),
        length.cast("long").alias("length"), "text",
    )
    return signature_frame(rows, cfg).withColumn("params", F.lit(signature_params(cfg)))


def _scope(cfg: DedupConfig) -> Column:
    return {"global": F.lit(""), "source": F.col("source"), "lang": F.coalesce("lang", F.lit(""))}[cfg.scope]


def _edges(sigs: DataFrame, cfg: DedupConfig) -> DataFrame:
    """Exact edges (group minimum -> member) and verified near edges between exact representatives."""
    empty = sigs.sparkSession.createDataFrame([], "src string, dst string")
    exact, reps = empty, sigs
    if cfg.exact.enabled:
        groups = sigs.groupBy("scope", "norm_hash").agg(F.min("doc_id").alias("src"))
        members = sigs.join(groups, ["scope", "norm_hash"])
        exact = members.where(F.col("doc_id") != F.col("src")).select("src", F.col("doc_id").alias("dst"))
        reps = members.where(F.col("doc_id") == F.col("src")).drop("src")
    near = empty
    if cfg.minhash.enabled:
        near = verified_edges(candidate_edges(reps), reps, cfg.minhash)
    return exact.unionByName(near)


def _keep_key(cfg: DedupConfig) -> Column:
    """Smallest key = the kept document: criteria in cfg.keep_by order, then the smallest doc_id."""
    parts = []
    for criterion in cfg.keep_by:
        if criterion == "quality_score":  # highest first, nulls last
            parts += [F.col("quality_score").isNull(), -F.coalesce("quality_score", F.lit(0.0))]
        else:
            parts.append(-F.col("length"))
    return F.struct(*parts, F.col("doc_id"))


def find_duplicates(sigs: DataFrame, cfg: DedupConfig) -> DataFrame:
    """dup_clusters rows (less dedup_run_id) for every document in a cluster of two or more."""
    sigs = sigs.withColumn("scope", _scope(cfg))
    clusters = connected_components(_edges(sigs, cfg)).withColumnRenamed("component_id", "cluster_id")
    members = clusters.join(sigs.select("doc_id", "norm_hash", "signature", "quality_score", "length"), "doc_id")
    heads = members.groupBy("cluster_id").agg(
        F.min(_keep_key(cfg)).alias("_key"),
        F.count("*").alias("cluster_size"),
        F.countDistinct("norm_hash").alias("_texts"),
    )
    kept = members.select(
        F.col("doc_id").alias("_kept_id"), F.col("norm_hash").alias("_kept_hash"), F.col("signature").alias("_kept_sig")
    )
    rows = members.join(heads.withColumn("_kept_id", F.col("_key.doc_id")), "cluster_id").join(kept, "_kept_id")
    is_kept = F.col("doc_id") == F.col("_kept_id")
    same_text = F.col("norm_hash") == F.col("_kept_hash")
    return rows.select(
        "doc_id",
        "cluster_id",
        "cluster_size",
        F.when(is_kept, F.when(F.col("_texts") == 1, "exact").otherwise("near"))
        .when(same_text, "exact")
        .otherwise("near")
        .alias("kind"),
        F.when(same_text, F.lit(1.0)).otherwise(estimated_jaccard(F.col("signature"), F.col("_kept_sig")))
        .cast("double")
        .alias("similarity"),
        is_kept.alias("is_kept"),
        F.when(~is_kept, F.col("_kept_id")).alias("duplicate_of"),
    )


def remove_duplicates(docs: DataFrame, clusters: DataFrame) -> DataFrame:
    """docs_curated: the documents with keep = true that are not removed duplicates."""
    removed = clusters.where(~F.col("is_kept")).select("doc_id")
    return docs.where(F.col("keep")).join(removed, "doc_id", "left_anti")
