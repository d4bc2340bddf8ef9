"""Connected components (in one task, and in large-star / small-star rounds) against a union-find
on the same graphs."""

from __future__ import annotations

import random

import pytest

from curate.dedup.components import connected_components


def _union_find(edges):
    parent = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        parent[max(ra, rb)] = min(ra, rb)
    return {x: find(x) for x in parent}


# 0: every graph goes through the distributed rounds; the default: these small ones stay in one task.
PATHS = pytest.mark.parametrize("one_task_max_edges", [0, 2_000_000], ids=["rounds", "one_task"])


@PATHS
def test_components_match_union_find(spark, one_task_max_edges):
    rng = random.Random(5)
    nodes = [f"n{i:04d}" for i in range(400)]
    chain = [(nodes[i], nodes[i + 1]) for i in range(0, 120)]  # diameter 120: label propagation's worst case
    shuffled = nodes[200:300]
    rng.shuffle(shuffled)
    path = [(shuffled[i], shuffled[i + 1]) for i in range(len(shuffled) - 1)]  # a path in random id order
    star = [("n0399", n) for n in nodes[350:399]]
    pairs = [(nodes[i], nodes[i]) for i in range(130, 135)] + [("n0140", "n0141"), ("n0141", "n0140")]
    edges = chain + path + star + pairs
    got = {r["doc_id"]: r["component_id"] for r in
           connected_components(spark.createDataFrame(edges, "src string, dst string"),
                                one_task_max_edges=one_task_max_edges).collect()}
    expected = {k: v for k, v in _union_find([e for e in edges if e[0] != e[1]]).items()}
    assert got == expected
    assert got["n0120"] == "n0000" and got["n0398"] == "n0350"


@PATHS
def test_no_edges(spark, one_task_max_edges):
    edges = spark.createDataFrame([], "src string, dst string")
    assert connected_components(edges, one_task_max_edges=one_task_max_edges).count() == 0
    loops = spark.createDataFrame([("a", "a")], "src string, dst string")
    assert connected_components(loops, one_task_max_edges=one_task_max_edges).count() == 0
