"""Candidate pairs of LSH buckets (curate.dedup.buckets), without Spark: every pair in a small
bucket, a bounded number in a large one."""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from curate.dedup.buckets import bucket_pairs
from curate.dedup.config import DedupConfig
from curate.dedup.spark import signature_batch

from .texts import paragraphs


def _pairs(keys: list[np.ndarray], rank: np.ndarray, window: int) -> set[tuple[int, int]]:
    smaller, larger = bucket_pairs(keys, rank, window=window)
    assert (smaller < larger).all()
    return set(zip(smaller.tolist(), larger.tolist()))


def _reference(keys: list[np.ndarray], rank: np.ndarray, window: int) -> set[tuple[int, int]]:
    """Each bucket in rank order: a member with the next `window` ones, the first with all."""
    buckets: dict[tuple, list[int]] = {}
    for i in range(len(rank)):
        buckets.setdefault(tuple(int(k[i]) for k in keys), []).append(int(rank[i]))
    out = set()
    for members in buckets.values():
        m = sorted(members)
        out |= {(m[i], m[j]) for i, j in itertools.combinations(range(len(m)), 2) if j - i <= window or i == 0}
    return out


@pytest.mark.parametrize("window", [0, 1, 3, 8])
def test_pairs_are_the_window_and_the_star_of_each_bucket(window):
    rng = np.random.default_rng(window)
    sizes = rng.integers(1, 40, size=60)  # buckets of 1 to 39 members
    bucket = np.repeat(np.arange(len(sizes)), sizes)
    keys = [bucket % 3, rng.permutation(bucket)]  # two key columns, rows in no order
    rank = rng.permutation(len(bucket))
    assert _pairs(keys, rank, window) == _reference(keys, rank, window)


def test_a_bucket_of_up_to_window_plus_two_members_gives_every_pair():
    rank = np.random.default_rng(1).permutation(10)
    assert _pairs([np.zeros(10, np.int64)], rank, 8) == set(itertools.combinations(range(10), 2))
    assert _pairs([np.zeros(11, np.int64)], np.arange(11), 8) == set(itertools.combinations(range(11), 2)) - {(1, 10)}


def test_window_zero_is_a_star_from_the_smallest():
    keys = [np.array([5, 5, 5, 7, 7, 9])]
    assert _pairs(keys, np.array([4, 2, 3, 1, 0, 5]), 0) == {(2, 3), (2, 4), (0, 1)}


def test_a_bucket_of_100000_identical_boilerplate_documents_gives_a_bounded_number_of_pairs():
    # One real footer paragraph signed like every document; 100,000 copies share all 14 bands.
    cfg = DedupConfig()
    k, window = 100_000, cfg.minhash.bucket_window
    boiler = pa.RecordBatch.from_arrays([pa.array(["footer"]), pa.array([paragraphs("GPL-3")[6]])],
                                        names=["doc_id", "text"])
    bands = np.array(signature_batch(boiler, cfg.model_dump_json()).column("bands")[0].as_py())
    n_bands = len(bands)
    rank = np.random.default_rng(3).permutation(k)
    # As the one-task candidates task calls it: keys (band, scope, band hash), one row per band.
    smaller, larger = bucket_pairs([np.repeat(np.arange(n_bands), k), np.zeros(n_bands * k, np.int64),
                                    np.repeat(bands, k)], np.tile(rank, n_bands), window=window)
    pairs = np.unique(smaller * k + larger)
    # window pairs per member but the last `window`, the pairs among those, the star beyond the window
    assert len(pairs) == window * (k - window) + window * (window - 1) // 2 + (k - 1 - window) == 899_955
    assert len(pairs) <= (window + 1) * (k - 1)  # the bound the docstring states
    graph = coo_matrix((np.ones(len(pairs)), (pairs // k, pairs % k)), shape=(k, k))
    assert connected_components(graph, directed=False)[0] == 1
    degree = np.bincount(np.concatenate([pairs // k, pairs % k]), minlength=k)
    assert degree[0] == k - 1 and degree[1:].max() == 2 * window + 1
