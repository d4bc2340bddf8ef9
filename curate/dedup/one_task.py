"""find_duplicates of a small signature table in two Spark tasks instead of ~30 small jobs.

The distributed steps (curate.pipelines.dedup) cost a fixed ~0.2 s per shuffle stage, which is
most of dedup's time below a few hundred thousand documents. Here the same result is computed with
numpy in one task over the signatures (exact groups and LSH buckets -> candidate edges), then in one
task over signatures, edges and the candidates' shingle sets (verification, components, keep rule,
similarity). The candidates are re-shingled in parallel tasks before that second one, and that
one's input is measured first (`OneTask.input_bytes`): beyond dedup.one_task_max_bytes the
candidates go on through the distributed steps instead (`OneTask.edges`). Every step mirrors a
Spark one, and the tests run both paths on the same documents and compare the tables.
"""

from __future__ import annotations

import functools
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from curate.dedup.buckets import bucket_pairs
from curate.dedup.components import checkpoint, component_ids
from curate.dedup.config import DedupConfig
from curate.dedup.spark import SHINGLES_FIELD, unpack, unpack_lists

CANDIDATES_SCHEMA = "part string, src string, dst string, near boolean, lang string"
CANDIDATE_COLUMNS = ["part", "src", "dst", "near", "lang"]
CLUSTERS_SCHEMA = ("doc_id string, cluster_id string, cluster_size long, kind string, similarity double, "
                   "is_kept boolean, duplicate_of string")


def _codes(values: pa.Array) -> np.ndarray:
    return pc.dictionary_encode(values).indices.to_numpy(zero_copy_only=False)


def _ranks(doc_id: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(rows in doc_id byte order, i.e. Spark's string order; each row's position in it)."""
    order = pc.sort_indices(doc_id).to_numpy()
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    return order, rank


def _matrix(lists: pa.Array, width: int, dtype) -> np.ndarray:
    """A list column of fixed width as a (rows, width) array; null rows are zeros."""
    out = np.zeros((len(lists), width), dtype)
    valid = lists.is_valid().to_numpy(zero_copy_only=False)
    out[valid] = pc.list_flatten(lists).to_numpy().reshape(-1, width)
    return out


def candidates_task(batches: Iterator[pa.RecordBatch], cfg_json: str) -> Iterator[pa.RecordBatch]:
    """(doc_id, scope, norm_hash, bands, lang) rows -> CANDIDATES_SCHEMA rows: exact edges (group
    minimum -> member, near=false) and LSH candidate edges between exact representatives (the
    pairs of curate.dedup.buckets, smaller -> larger doc_id, near=true) with part='edge'; with
    minhash.verify = 'exact', also every document on a near edge (src = its doc_id, with its
    lang), part='node': the ones re-shingled."""
    cfg = DedupConfig.model_validate_json(cfg_json)
    t = pa.Table.from_batches(list(batches)).combine_chunks()
    if not t.num_rows:
        return
    doc_id, scope = t["doc_id"].chunk(0), _codes(t["scope"].chunk(0))
    row_of_rank, rank = _ranks(doc_id)
    by_rank = doc_id.take(pa.array(row_of_rank))
    parts, rep = [], np.ones(t.num_rows, bool)
    if cfg.exact.enabled:
        head, member = bucket_pairs([scope, _codes(t["norm_hash"].chunk(0))], rank, window=0)
        parts.append((head, member, False))
        rep[row_of_rank[member]] = False
    if cfg.minhash.enabled:
        rows = np.flatnonzero(rep & t["bands"].chunk(0).is_valid().to_numpy(zero_copy_only=False))
        bands = _matrix(t["bands"].chunk(0).take(pa.array(rows)), cfg.minhash.bands, np.int64)
        n_bands = bands.shape[1]
        head, member = bucket_pairs(
            [np.repeat(np.arange(n_bands), len(rows)), np.tile(scope[rows], n_bands), bands.T.reshape(-1)],
            np.tile(rank[rows], n_bands), window=cfg.minhash.bucket_window,
        )
        pair = np.unique(head * len(rank) + member)
        near_ends = (pair // len(rank), pair % len(rank))
        parts.append((*near_ends, True))
    for head, member, near in parts:
        n = len(head)
        yield pa.RecordBatch.from_arrays(
            [pa.array(["edge"] * n, pa.string()), by_rank.take(pa.array(head)), by_rank.take(pa.array(member)),
             pa.array(np.full(n, near)), pa.nulls(n, pa.string())],
            names=CANDIDATE_COLUMNS,
        )
    if cfg.minhash.enabled and cfg.minhash.verify == "exact":
        nodes = pa.array(row_of_rank[np.unique(np.concatenate(near_ends))])
        n = len(nodes)
        yield pa.RecordBatch.from_arrays(
            [pa.array(["node"] * n, pa.string()), doc_id.take(nodes), pa.nulls(n, pa.string()), pa.nulls(n, pa.bool_()),
             t["lang"].chunk(0).take(nodes).cast(pa.string())],
            names=CANDIDATE_COLUMNS,
        )


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """|a & b| / |a | b| of two sorted sets of distinct values: a stable sort (timsort) of the two
    concatenated runs is one merge, 12x faster than a quicksort of them."""
    both = np.concatenate((a, b))
    both.sort(kind="stable")
    inter = int(np.count_nonzero(both[1:] == both[:-1]))
    return inter / max(len(a) + len(b) - inter, 1)


class _Sets:
    """The shingle sets of the re-shingled candidates (packed), by doc_id and by normalized text (the
    set of the text's smallest doc_id: an exact copy that never was a candidate uses its
    representative's)."""

    def __init__(self, t: pa.Table, norm_hash: dict[str, str]):
        ids = t["doc_id"].to_pylist()
        # chunk by chunk: the sets may hold more than a binary array's 2 GiB
        self.by_doc = dict(zip(ids, (s for chunk in t["shingles"].chunks for s in unpack(chunk))))
        self.by_text: dict[str, np.ndarray] = {}
        for d in sorted(ids):
            self.by_text.setdefault(norm_hash[d], self.by_doc[d])
        self._known: dict[tuple[int, int], float] = {}

    def jaccard(self, a: np.ndarray, b: np.ndarray) -> float:
        """_jaccard of two of these sets, computed once per pair (edges and similarities share pairs)."""
        key = (id(a), id(b)) if id(a) < id(b) else (id(b), id(a))
        if key not in self._known:
            self._known[key] = _jaccard(a, b)
        return self._known[key]


def clusters_task(batches: Iterator[pa.RecordBatch], cfg_json: str) -> Iterator[pa.RecordBatch]:
    """Signature rows (part=sig), candidate edges (part=edge) and shingle sets (part=set) -> the
    dup_clusters rows, as curate.pipelines.dedup.find_duplicates computes them."""
    cfg = DedupConfig.model_validate_json(cfg_json)
    t = pa.Table.from_batches(list(batches))
    part = t["part"]
    sigs = t.filter(pc.equal(part, "sig")).combine_chunks()
    edges = t.filter(pc.equal(part, "edge")).combine_chunks()
    row_of = {d: i for i, d in enumerate(sigs["doc_id"].to_pylist())}
    norm_hash = sigs["norm_hash"].to_pylist()
    signature = _matrix(sigs["signature"].chunk(0), cfg.minhash.num_perm, np.int32) if sigs.num_rows else None
    sets = None
    if cfg.minhash.enabled and cfg.minhash.verify == "exact":
        sets = _Sets(t.filter(pc.equal(part, "set")), {d: norm_hash[i] for d, i in row_of.items()})

    def estimated(a: str, b: str) -> float:
        return float(np.mean(signature[row_of[a]] == signature[row_of[b]]))

    def similar(a: str, b: str) -> bool:
        if cfg.minhash.verify == "exact":
            return sets.jaccard(sets.by_doc[a], sets.by_doc[b]) >= cfg.minhash.min_similarity
        return cfg.minhash.verify == "none" or estimated(a, b) >= cfg.minhash.min_similarity

    src, dst, near = (edges[c].to_pylist() for c in ("src", "dst", "near"))
    keep = [not n or similar(a, b) for a, b, n in zip(src, dst, near)]
    if not any(keep):
        return
    mask = pa.array(keep)
    nodes, cluster = component_ids(edges["src"].chunk(0).filter(mask), edges["dst"].chunk(0).filter(mask))
    rows = np.array([row_of[d] for d in nodes.to_pylist()], np.int64)

    # The kept document: smallest (criteria in keep_by order..., doc_id) within its cluster.
    keys = [_ranks(nodes)[1]]
    for criterion in reversed(cfg.keep_by):
        if criterion == "quality_score":
            q = sigs["quality_score"].chunk(0).take(pa.array(rows))
            keys += [-pc.fill_null(q, 0.0).to_numpy(zero_copy_only=False), q.is_null().to_numpy(zero_copy_only=False)]
        else:
            keys.append(-sigs["length"].chunk(0).take(pa.array(rows)).to_numpy())
    cluster_code = _codes(cluster)
    order = np.lexsort((*keys, cluster_code))
    first = np.ones(len(order), bool)
    first[1:] = cluster_code[order][1:] != cluster_code[order][:-1]
    kept_row = np.empty(cluster_code.max() + 1, np.int64)
    kept_row[cluster_code[order][first]] = order[first]
    size = np.bincount(cluster_code)
    texts = pa.table({"c": cluster_code, "h": pa.array(norm_hash).take(pa.array(rows))}).group_by("c").aggregate(
        [("h", "count_distinct")])
    n_texts = np.empty(len(size), np.int64)
    n_texts[texts["c"].to_numpy()] = texts["h_count_distinct"].to_numpy()

    ids = nodes.to_pylist()
    kind, similarity, duplicate_of = [], [], []
    for i, c in enumerate(cluster_code):
        k = kept_row[c]
        same_text = norm_hash[rows[i]] == norm_hash[rows[k]]
        if i == k:
            kind.append("exact" if n_texts[c] == 1 else "near")
            duplicate_of.append(None)
        else:
            kind.append("exact" if same_text else "near")
            duplicate_of.append(ids[k])
        if same_text:
            similarity.append(1.0)
        else:
            a, b = (sets.by_text.get(norm_hash[rows[j]]) if sets else None for j in (i, k))
            similarity.append(estimated(ids[i], ids[k]) if a is None or b is None else sets.jaccard(a, b))
    is_kept = kept_row[cluster_code] == np.arange(len(ids))
    yield pa.RecordBatch.from_arrays(
        [nodes, cluster, pa.array(size[cluster_code], pa.int64()), pa.array(kind), pa.array(similarity, pa.float64()),
         pa.array(is_kept), pa.array(duplicate_of, pa.string())],
        names=["doc_id", "cluster_id", "cluster_size", "kind", "similarity", "is_kept", "duplicate_of"],
    )


class OneTask:
    """The one-task path's inputs, materialized: the candidates (one task over the signatures) and,
    with minhash.verify = 'exact', the candidates' shingle sets; `input_bytes` measures what the
    clustering task would hold, `clusters()` runs it, `edges()` hands the candidates to the
    distributed steps instead."""

    def __init__(self, sigs: DataFrame, cfg: DedupConfig, shingle_sets, *, n_docs: int):
        """`sigs` with scope; `shingle_sets(nodes)` gives the (doc_id, shingles packed) of the documents
        `nodes` (doc_id, lang: those on a near candidate edge)."""
        self.sigs, self.cfg, self.cfg_json = sigs, cfg, cfg.model_dump_json()
        self.candidates = checkpoint(
            sigs.select("doc_id", "scope", "norm_hash", "bands", "lang").coalesce(1).mapInArrow(
                functools.partial(candidates_task, cfg_json=self.cfg_json), CANDIDATES_SCHEMA))
        self.sets = None
        if cfg.minhash.enabled and cfg.minhash.verify == "exact":
            nodes = self.candidates.where(F.col("part") == "node").select(F.col("src").alias("doc_id"), "lang")
            self.sets = checkpoint(shingle_sets(nodes).select("doc_id", "shingles"))
        sizes = [self.candidates.where(F.col("part") == "edge").select(
            (F.octet_length("src") + F.octet_length("dst")).alias("n"))]
        if self.sets is not None:
            sizes.append(self.sets.select(F.octet_length("shingles").alias("n")))
        measured = functools.reduce(DataFrame.union, sizes).agg(F.sum("n")).first()[0] or 0
        self.input_bytes = signature_bytes(cfg, n_docs) + measured

    def clusters(self) -> DataFrame:
        """dup_clusters rows (less dedup_run_id), computed in one task."""
        parts = [
            self.sigs.select(F.lit("sig").alias("part"), "doc_id", "norm_hash", "signature", "quality_score", "length"),
            self.candidates.where(F.col("part") == "edge").select("part", "src", "dst", "near"),
        ]
        if self.sets is not None:
            parts.append(self.sets.select(F.lit("set").alias("part"), "doc_id", "shingles"))
        rows = functools.reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), parts)
        return rows.repartition(1).mapInArrow(functools.partial(clusters_task, cfg_json=self.cfg_json), CLUSTERS_SCHEMA)

    def edges(self) -> tuple[DataFrame, DataFrame, DataFrame | None]:
        """(exact edges, near candidate edges, candidates' shingle sets (doc_id, norm_hash, shingles
        array<int>) or None), as the distributed steps compute them."""
        edges = self.candidates.where(F.col("part") == "edge")
        exact, near = (edges.where(F.col("near") == flag).select("src", "dst") for flag in (False, True))
        if self.sets is None:
            return exact, near, None
        schema = StructType([StructField("doc_id", StringType()), SHINGLES_FIELD])
        unpacked = self.sets.mapInArrow(_unpacked_batches, schema)
        return exact, near, unpacked.join(self.sigs.select("doc_id", "norm_hash"), "doc_id")


def signature_bytes(cfg: DedupConfig, n_docs: int) -> int:
    """Bytes of `n_docs` MinHash signatures (num_perm 32-bit values each)."""
    return n_docs * cfg.minhash.num_perm * 4


def _unpacked_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """(doc_id, shingles packed) -> (doc_id, shingles array<int>)."""
    for batch in batches:
        yield pa.RecordBatch.from_arrays([batch.column("doc_id"), unpack_lists(batch.column("shingles"))],
                                         names=["doc_id", "shingles"])
