"""Decontamination: flag documents sharing a word n-gram (13 by default) with evaluation sets.

N-grams are hashed to 64 bits: each normalized word (lowercased, punctuation dropped) is hashed
once with xxh3, and a window's hash is a fixed odd-multiplier combination of its words' hashes,
computed for all windows at once with numpy. Evaluation n-gram hashes form one sorted array,
built on the driver and shipped to every executor with the task (8 bytes per n-gram: a few MB
for common benchmarks); a document is checked with one `searchsorted` over its own windows, so
the cost is O(document length x log(eval n-grams)), never a scan of the evaluation set.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import xxhash

from curate.errors import InputError
from curate.quality.line_files import read_line_examples
from curate.quality.gopher import is_symbol
from curate.quality.words import split_words

# Odd 64-bit multipliers, one per position in the window (fixed: hashes must be stable).
_MULTIPLIERS = np.array(
    [xxhash.xxh3_64_intdigest(f"curate-ngram-{i}") | 1 for i in range(64)], dtype=np.uint64
)


def normalized_words(text: str) -> list[str]:
    return [w.lower() for w in split_words(text) if not is_symbol(w)]


def ngram_hashes(text: str, n: int) -> np.ndarray:
    """uint64 hash of every n-word window of `text` (empty when it has fewer than n words)."""
    words = normalized_words(text)
    if len(words) < n:
        return np.empty(0, dtype=np.uint64)
    ids = np.fromiter((xxhash.xxh3_64_intdigest(w) for w in words), dtype=np.uint64, count=len(words))
    width = len(ids) - n + 1
    out = np.zeros(width, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(n):
            out += ids[j : j + width] * _MULTIPLIERS[j]
    return out


def eval_ngram_set(texts: Iterable[str], n: int) -> np.ndarray:
    """Sorted unique n-gram hashes of the evaluation examples."""
    parts = [ngram_hashes(t, n) for t in texts]
    return np.unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.uint64)


def read_eval_texts(paths: Iterable[str], *, text_field: str) -> list[str]:
    """Examples from .jsonl files (their `text_field`) or text files (one example per line)."""
    texts: list[str] = []
    for p in paths:
        path = Path(p)
        if not path.is_file():
            raise InputError(f"evaluation set {p} does not exist; fix annotate.decontam.eval_paths")
        texts.extend(read_line_examples(path, text_field=text_field,
                                         fix="; fix the file or annotate.decontam.text_field"))
    return texts


def count_matches(doc_hashes: np.ndarray, eval_hashes: np.ndarray) -> int:
    """How many of the document's n-gram windows occur in the evaluation set."""
    if not len(doc_hashes) or not len(eval_hashes):
        return 0
    idx = np.searchsorted(eval_hashes, doc_hashes).clip(max=len(eval_hashes) - 1)
    return int(np.count_nonzero(eval_hashes[idx] == doc_hashes))
