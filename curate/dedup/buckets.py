"""Candidate pairs of the documents that share a bucket (an LSH band hash, or a normalized text).

A bucket's members, in doc_id order m_0 < m_1 < ... < m_(k-1), are paired with the next `window`
members (m_i with m_(i+1) ... m_(i+window)), and its smallest one with every member (a star).

* Small buckets are compared in full: up to window + 2 members, every pair is a candidate. With
  verification (exact or estimated Jaccard), two members similar to each other but not to a third
  are compared even when that third is the smallest; a star alone would lose their pair.
* Large buckets cost a bounded number of pairs: fewer than window + 1 per member, at most
  (window + 1) * (k - 1) in all (k = 100,000 identical boilerplate pages at window 8: 899,955
  pairs, not 5 * 10^9). Each member is compared with up to 2 * window neighbours in doc_id order
  (a hash, so in no relation to content) and with the smallest member.
* The star keeps every pair a star alone gave, so a verified pair of before is still compared
  and clusters only merge further. Without verification the components are those of all pairs
  (a star connects what a clique does); with it, they are when no bucket has over window + 2.

window = 0 is the star alone (k - 1 pairs): what exact groups use, whose members are identical.
The distributed path (curate.dedup.lsh.candidate_edges) makes the same pairs in Spark.
"""

from __future__ import annotations

import numpy as np


def bucket_pairs(keys: list[np.ndarray], rank: np.ndarray, *, window: int) -> tuple[np.ndarray, np.ndarray]:
    """(smaller, larger) ranks of the candidate pairs of every group of rows with equal `keys` (a
    bucket); `rank` orders a bucket's rows (doc_id order). A pair shared by several buckets comes
    once from each."""
    order = np.lexsort((rank, *reversed(keys)))  # lexsort's last key is the primary one
    sorted_keys, r = [k[order] for k in keys], rank[order]
    n = len(r)
    first = np.ones(n, bool)
    first[1:] = np.logical_or.reduce([k[1:] != k[:-1] for k in sorted_keys])
    starts = np.flatnonzero(first)
    ends = np.append(starts[1:], n)
    group = np.cumsum(first) - 1
    start, end = starts[group], ends[group]
    smaller, larger = [], []
    live = np.flatnonzero(end - start > 1)  # rows of buckets with a pair
    for step in range(1, window + 1):
        live = live[live + step < end[live]]
        smaller.append(r[live])
        larger.append(r[live + step])
    beyond = np.flatnonzero(np.arange(n) - start > window)  # the star's pairs the window has not made
    smaller.append(r[start[beyond]])
    larger.append(r[beyond])
    return np.concatenate(smaller), np.concatenate(larger)
