"""The dedup stage as pure transforms, one materializable step each (the job writes between them):

    signatures(docs)        kept documents -> one signature row each (norm hash, MinHash, bands)
    find_duplicates(sigs)   signature rows -> dup_clusters (exact groups + LSH candidate edges,
                            verified on the exact Jaccard of the re-shingled candidates ->
                            connected components -> one kept document per cluster)
    remove_duplicates(docs, clusters) -> docs_curated

Finding is separate from removing: dup_clusters names, for each removed document, the kept
document it duplicates. Exact duplicates are grouped first; only one representative per exact
group enters LSH (a bucket of 10 000 copies costs one signature comparison, not 10 000).

find_duplicates runs these steps as distributed Spark queries, or, for a table of at most
dedup.one_task_max_docs documents, the same steps in two tasks (curate.dedup.one_task) when the
second one's input (signatures, candidate edges, the candidates' shingle sets), measured once the
candidates are known, is at most dedup.one_task_max_bytes; above that, the candidates found in
the first task go on through the distributed steps.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from typing import TYPE_CHECKING, Iterator

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from curate.dedup.components import checkpoint, connected_components
from curate.dedup.config import DedupConfig
from curate.dedup.lsh import candidate_edges, estimated_jaccard, exact_jaccard, verified_edges
from curate.dedup.one_task import OneTask, signature_bytes
from curate.dedup.schema import DEDUP_SIGNATURES_SCHEMA
from curate.dedup.spark import PACKED_SHINGLES_FIELD, candidate_shingle_batches, shingle_set_frame, signature_rows

if TYPE_CHECKING:
    from curate.delta.datasource import BatchFn

log = logging.getLogger(__name__)

def signature_params(cfg: DedupConfig) -> str:
    """Hash of the settings a stored signature depends on (not the ones applied after it)."""
    m = cfg.minhash
    parts = {
        "normalize": cfg.normalize.model_dump(),
        "minhash": m.model_dump(include={"bands", "rows", "seed", "scheme", "shingles", "word_ngram",
                                         "char_ngram", "char_langs"}),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


# The docs_annotated columns `signature_rows` reads.
SIGNED_COLUMNS = ["doc_id", "source", "text", "keep", "lang", "quality_score", "n_bytes"]


def signature_fn(cfg: DedupConfig, run_id: str | None = None) -> BatchFn:
    """Arrow batches of documents -> their signature rows (`signature_rows`), for mapInArrow or map_into."""
    return functools.partial(signature_rows, cfg_json=cfg.model_dump_json(), params=signature_params(cfg),
                             run_id=run_id)


def signatures(docs: DataFrame, cfg: DedupConfig) -> DataFrame:
    """Signature rows (DEDUP_SIGNATURES_SCHEMA less dedup_run_id) of the documents with keep = true."""
    schema = StructType([f for f in DEDUP_SIGNATURES_SCHEMA.fields if f.name != "dedup_run_id"])
    return docs.select(*[c for c in SIGNED_COLUMNS if c in docs.columns]).mapInArrow(signature_fn(cfg), schema)


def _scope(cfg: DedupConfig) -> Column:
    return {"global": F.lit(""), "source": F.col("source"), "lang": F.coalesce("lang", F.lit(""))}[cfg.scope]


def _edge_nodes(edges: DataFrame) -> DataFrame:
    """(doc_id) of every document on a (src, dst) edge, once."""
    return edges.select(F.col("src").alias("doc_id")).union(edges.select(F.col("dst").alias("doc_id"))).distinct()


def _candidate_shingles(edges: DataFrame, sigs: DataFrame, texts: DataFrame, cfg: DedupConfig) -> DataFrame:
    """(doc_id, norm_hash, shingles) of the documents on an edge, re-shingled from `texts` with the
    lang stored beside their signature (so the shingling is the one that was signed)."""
    docs = texts.select("doc_id", "text").join(_edge_nodes(edges), "doc_id")
    docs = docs.join(sigs.select("doc_id", "lang", "norm_hash"), "doc_id")
    return shingle_set_frame(docs, cfg).drop("lang")


def _edges(sigs: DataFrame, cfg: DedupConfig, texts: DataFrame | None) -> tuple[DataFrame, DataFrame | None]:
    """Exact edges (group minimum -> member) and verified near edges between exact representatives;
    and the shingle sets of the candidate documents when verification is exact."""
    empty = sigs.sparkSession.createDataFrame([], "src string, dst string")
    exact, reps = empty, sigs
    if cfg.exact.enabled:
        groups = sigs.groupBy("scope", "norm_hash").agg(F.min("doc_id").alias("src"))
        members = sigs.join(groups, ["scope", "norm_hash"])
        exact = members.where(F.col("doc_id") != F.col("src")).select("src", F.col("doc_id").alias("dst"))
        reps = members.where(F.col("doc_id") == F.col("src")).drop("src")
    near, shingles = empty, None
    if cfg.minhash.enabled:
        candidates = candidate_edges(reps, window=cfg.minhash.bucket_window)
        if cfg.minhash.verify == "exact":
            candidates = checkpoint(candidates)
            shingles = checkpoint(_candidate_shingles(candidates, sigs, texts, cfg))
        # Every document on a candidate edge is a representative: the lookups take `sigs` as it
        # is, without the exact grouping that `reps` is computed by.
        near = verified_edges(candidates, sigs, cfg.minhash, shingles=shingles)
    return exact.unionByName(near), shingles


def _keep_key(cfg: DedupConfig) -> Column:
    """Smallest key = the kept document: criteria in cfg.keep_by order, then the smallest doc_id."""
    parts = []
    for criterion in cfg.keep_by:
        if criterion == "quality_score":  # highest first, nulls last
            parts += [F.col("quality_score").isNull(), -F.coalesce("quality_score", F.lit(0.0))]
        else:
            parts.append(-F.col("length"))
    return F.struct(*parts, F.col("doc_id"))


def _similarity(cfg: DedupConfig, shingles: DataFrame | None) -> tuple[Column, DataFrame | None]:
    """Jaccard of a member (columns signature, _set) to its kept document (_kept_sig, _kept_set),
    and the shingle set of each normalized text to join on norm_hash: exact when the candidates were
    re-shingled, estimated from the signatures otherwise (and for a text without a set)."""
    estimated = estimated_jaccard(F.col("signature"), F.col("_kept_sig"))
    if shingles is None:
        return estimated, None
    # Exact copies share one set: a copy that never was a candidate uses its representative's.
    by_text = shingles.groupBy("norm_hash").agg(F.min_by("shingles", "doc_id").alias("_set"))
    exact = exact_jaccard(F.col("_set"), F.col("_kept_set"))
    return F.when(F.col("_set").isNull() | F.col("_kept_set").isNull(), estimated).otherwise(exact), by_text


def _read_candidate_shingles(nodes: DataFrame, cfg: DedupConfig, read_texts) -> DataFrame:
    """(doc_id, shingles packed) of the documents `nodes` (doc_id, lang): their ids go to the tasks
    that read the texts' files, which keep only those rows."""
    fn = functools.partial(candidate_shingle_batches, wanted=nodes.toArrow(), cfg_json=cfg.model_dump_json())
    return read_texts(fn, StructType([StructField("doc_id", StringType()), PACKED_SHINGLES_FIELD]))


def find_duplicates(sigs: DataFrame, cfg: DedupConfig, *, texts: DataFrame | None = None,
                    n_docs: int | None = None, read_texts=None) -> DataFrame:
    """dup_clusters rows (less dedup_run_id) for every document in a cluster of two or more.

    `texts` (doc_id, text) of the signed documents is needed when minhash.verify = 'exact': only
    the documents on a candidate edge are read and re-shingled. A table of at most
    cfg.one_task_max_docs rows (`n_docs`, counted when not given) is done in one task while its
    input is at most cfg.one_task_max_bytes; there,
    `read_texts(fn, schema)`, when given, is `fn` of the (doc_id, text) batches of the table
    `texts` was read from, read by tasks of their own (DeltaStore.file_frame)."""
    sigs = sigs.withColumn("scope", _scope(cfg))
    if cfg.minhash.enabled and cfg.minhash.verify == "exact" and texts is None:
        raise ValueError("minhash.verify = 'exact' needs the documents' texts: pass texts=")
    n_docs = sigs.count() if n_docs is None else n_docs
    if n_docs <= cfg.one_task_max_docs and signature_bytes(cfg, n_docs) <= cfg.one_task_max_bytes:
        def shingle_sets(nodes: DataFrame) -> DataFrame:
            if read_texts is not None:
                return _read_candidate_shingles(nodes, cfg, read_texts)
            # Few: their (doc_id, lang) go to every task that reads texts, the sets packed to the one task.
            docs = texts.select("doc_id", "text").join(F.broadcast(nodes), "doc_id")
            return shingle_set_frame(docs, cfg, packed=True).drop("lang")

        one = OneTask(sigs, cfg, shingle_sets, n_docs=n_docs)
        if one.input_bytes <= cfg.one_task_max_bytes:
            return one.clusters()
        log.info("dedup: the one clustering task would hold %d bytes (signatures, candidate edges, shingle sets), "
                 "more than dedup.one_task_max_bytes %d: distributed steps", one.input_bytes, cfg.one_task_max_bytes)
        exact, candidates, shingles = one.edges()
        if cfg.minhash.enabled:
            edges = exact.unionByName(verified_edges(candidates, sigs, cfg.minhash, shingles=shingles))
        else:
            edges = exact
    else:
        edges, shingles = _edges(sigs, cfg, texts)
    clusters = connected_components(edges, one_task_max_edges=cfg.one_task_max_edges).withColumnRenamed(
        "component_id", "cluster_id")
    members = clusters.join(sigs.select("doc_id", "norm_hash", "signature", "quality_score", "length"), "doc_id")
    similarity, by_text = _similarity(cfg, shingles)
    if by_text is not None:
        members = members.join(by_text, "norm_hash", "left")
    else:
        members = members.withColumn("_set", F.lit(None))
    heads = members.groupBy("cluster_id").agg(
        F.min(_keep_key(cfg)).alias("_key"),
        F.count("*").alias("cluster_size"),
        F.countDistinct("norm_hash").alias("_texts"),
    )
    kept = members.select(
        F.col("doc_id").alias("_kept_id"), F.col("norm_hash").alias("_kept_hash"),
        F.col("signature").alias("_kept_sig"), F.col("_set").alias("_kept_set"),
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
        F.when(same_text, F.lit(1.0)).otherwise(similarity).cast("double").alias("similarity"),
        is_kept.alias("is_kept"),
        F.when(~is_kept, F.col("_kept_id")).alias("duplicate_of"),
    )


def remove_duplicates(docs: DataFrame, clusters: DataFrame) -> DataFrame:
    """docs_curated: the documents with keep = true that are not removed duplicates."""
    removed = clusters.where(~F.col("is_kept")).select("doc_id")
    return docs.where(F.col("keep")).join(removed, "doc_id", "left_anti")


def curated_batches(batches: Iterator[pa.RecordBatch], removed: pa.Array) -> Iterator[pa.RecordBatch]:
    """What remove_duplicates keeps of docs_annotated's batches, given the removed doc_ids (a few)."""
    for batch in batches:
        keep = pc.and_(pc.fill_null(batch.column("keep"), False), pc.invert(pc.is_in(batch.column("doc_id"), removed)))
        yield batch.filter(keep)
