"""Connected components of a duplicate graph in Spark: in one task when the graph is small, else
alternating large-star / small-star rounds.

A graph of up to `one_task_max_edges` edges (after LSH and verification, only the duplicate pairs:
a few per thousand documents on web text) is labelled by scipy.sparse.csgraph in a single Spark
task: one job instead of a dozen shuffles per round. The edges reach that task, never the driver.

Larger graphs: Kiveris et al., "Connected Components in MapReduce and Beyond" (SoCC 2014). Each
round is a few shuffles over the edge list; it converges in O(log^2 n) rounds whatever the graph's
diameter, where min-label propagation needs O(diameter) rounds (long chains of near-duplicates,
each a small edit of the previous, are common in web crawls). Every component ends as a star
around its smallest node, which becomes the component id: deterministic, and stable when unrelated
documents are added. Only row counts reach the driver; each round's edges are checkpointed to cut
the lineage, with the flags that tell whether they are a star forest yet.
"""

from __future__ import annotations

import logging
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from curate.errors import CurateError

log = logging.getLogger(__name__)

COMPONENTS_SCHEMA = "doc_id string, component_id string"


def _oriented(edges: DataFrame) -> DataFrame:
    """Each undirected edge once, as (hi, lo) with hi > lo; self loops dropped."""
    return (
        edges.select(F.greatest("src", "dst").alias("hi"), F.least("src", "dst").alias("lo"))
        .where(F.col("hi") != F.col("lo"))
        .distinct()
    )


def _large_star(e: DataFrame) -> DataFrame:
    """Link every neighbor larger than u to the minimum of u's closed neighborhood."""
    both = e.select(F.col("hi").alias("u"), F.col("lo").alias("v")).unionByName(
        e.select(F.col("lo").alias("u"), F.col("hi").alias("v"))
    )
    m = both.groupBy("u").agg(F.min("v").alias("m")).select("u", F.least("u", "m").alias("m"))
    return _oriented(both.where(F.col("v") > F.col("u")).join(m, "u").select(
        F.col("v").alias("src"), F.col("m").alias("dst")))


def _small_star(e: DataFrame) -> DataFrame:
    """Link u and every neighbor smaller than u to the minimum of those."""
    m = e.groupBy("hi").agg(F.min("lo").alias("m"))
    joined = e.join(m, "hi")
    return _oriented(
        joined.select(F.col("lo").alias("src"), F.col("m").alias("dst")).unionByName(
            m.select(F.col("hi").alias("src"), F.col("m").alias("dst")))
    )


def _with_star_flags(e: DataFrame) -> DataFrame:
    """The edges, each flagged `off_star` when it breaks the star-forest shape the rounds end in
    (every node one smaller neighbor, which has none): computed in the round's own query, so the
    convergence test reads the checkpoint instead of running a query of its own."""
    parents = e.groupBy("hi").agg(F.count("*").alias("n_parents"))
    has_parent = parents.select(F.col("hi").alias("lo"), F.lit(True).alias("lo_has_parent"))
    return e.join(parents, "hi").join(has_parent, "lo", "left").select(
        "hi", "lo", ((F.col("n_parents") > 1) | F.col("lo_has_parent").isNotNull()).alias("off_star"))


def checkpoint(df: DataFrame) -> DataFrame:
    """Materialize `df` and cut its lineage (each step of dedup is computed once)."""
    spark = df.sparkSession
    if spark.sparkContext.getCheckpointDir():
        return df.checkpoint(eager=True)  # reliable: survives executor loss on a cluster
    return df.localCheckpoint(eager=True)


def component_ids(src: pa.Array, dst: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(node, component id = its component's smallest node) of every node on an edge (src, dst)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components as scipy_components

    ends = pa.concat_arrays([src, dst]).dictionary_encode()
    nodes, index = ends.dictionary, ends.indices.to_numpy()
    m, n = len(src), len(nodes)
    graph = coo_matrix((np.ones(m, np.int8), (index[:m], index[m:])), shape=(n, n))
    _, label = scipy_components(graph, directed=False)
    smallest = pa.table({"label": label, "node": nodes}).group_by("label").aggregate([("node", "min")])
    row_of_label = np.empty(smallest.num_rows, np.int64)
    row_of_label[smallest["label"].to_numpy()] = np.arange(smallest.num_rows)
    return nodes, smallest["node_min"].take(row_of_label[label]).combine_chunks()


def _label_components(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """All the (src, dst) edges, in this one task -> (doc_id, component_id = smallest doc_id)."""
    schema = pa.schema([("src", pa.string()), ("dst", pa.string())])
    # cast: the union's branches may hand batches whose fields differ in nullability
    edges = pa.Table.from_batches([b.cast(schema) for b in batches], schema=schema)
    edges = edges.filter(pc.not_equal(edges["src"], edges["dst"]))
    if not edges.num_rows:
        return
    nodes, ids = component_ids(edges["src"].combine_chunks(), edges["dst"].combine_chunks())
    yield pa.RecordBatch.from_arrays([nodes, ids], names=["doc_id", "component_id"])


def connected_components(edges: DataFrame, *, one_task_max_edges: int = 2_000_000, max_rounds: int = 64) -> DataFrame:
    """(src, dst) edges -> (doc_id, component_id) for every node on an edge; id = smallest node."""
    edges = checkpoint(edges.select("src", "dst"))
    if edges.count() <= one_task_max_edges:
        return checkpoint(edges.coalesce(1).mapInArrow(_label_components, COMPONENTS_SCHEMA))
    e = checkpoint(_with_star_flags(_oriented(edges)))
    rounds = 0
    while e.where("off_star").limit(1).count():  # already pairs or stars (common): no round at all
        if rounds == max_rounds:
            raise CurateError(f"connected components did not converge in {max_rounds} rounds; "
                              "raise max_rounds (the algorithm needs O(log^2 n) rounds)")
        e = checkpoint(_with_star_flags(_small_star(_large_star(e.select("hi", "lo")))))
        rounds += 1
    log.info("connected components converged after %d rounds", rounds)
    roots = e.select(F.col("lo").alias("doc_id"), F.col("lo").alias("component_id")).distinct()
    leaves = e.select(F.col("hi").alias("doc_id"), F.col("lo").alias("component_id"))
    return leaves.unionByName(roots)

