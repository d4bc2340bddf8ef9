"""Gopher quality and repetition signals (Rae et al. 2021, arXiv:2112.11446, section A.1.1).

Every signal is computed; none stops early. Ratios over an empty denominator are 0.0. Words are
`words.split_words` tokens (symbols included, as in datatrove); the word count and the mean word
length use only tokens that are not pure punctuation.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import numpy as np

STOP_WORDS = frozenset({"the", "be", "to", "of", "and", "that", "have", "with"})

# The punctuation characters datatrove treats as symbols, plus every Unicode punctuation mark.
_SYMBOLS = frozenset(
    "!/—”:％１〈&(、━\\【#%「」，】；+^]~“《„';’{|∶´[=-`*．（–？！：$～«〉,><》)?）。…@_.\"}►»"
) | frozenset(chr(c) for r in ((0, 9), (11, 13), (13, 32), (127, 160)) for c in range(*r))

_PARAGRAPH_BREAK = re.compile(r"\n{2,}")
_LINE_BREAKS = re.compile(r"\n+")

TOP_NGRAM_SIZES = (2, 3, 4)
DUP_NGRAM_SIZES = (5, 6, 7, 8, 9, 10)


@lru_cache(maxsize=1 << 16)  # tokens repeat: the cache turns most calls into one lookup
def is_symbol(token: str) -> bool:
    return all(c in _SYMBOLS or unicodedata.category(c)[0] == "P" for c in token)


def _ratio(num: float, den: float) -> float:
    return num / den if den else 0.0


def gopher_quality_signals(text: str, words: list[str]) -> dict[str, float]:
    n_tokens = len(words)
    content = [w for w in words if not is_symbol(w)]
    lines = text.splitlines()
    return {
        "gopher_word_count": float(len(content)),
        "gopher_mean_word_length": _ratio(sum(map(len, content)), len(content)),
        "gopher_hash_word_ratio": _ratio(text.count("#"), n_tokens),
        "gopher_ellipsis_word_ratio": _ratio(text.count("...") + text.count("…"), n_tokens),
        "gopher_bullet_line_frac": _ratio(sum(s.lstrip().startswith(("•", "-")) for s in lines), len(lines)),
        "gopher_ellipsis_line_frac": _ratio(sum(s.rstrip().endswith(("...", "…")) for s in lines), len(lines)),
        "gopher_alpha_word_frac": _ratio(sum(any(c.isalpha() for c in w) for w in words), n_tokens),
        "gopher_stop_words": float(len(STOP_WORDS.intersection(words))),
    }


def duplicates(items: list[str]) -> tuple[int, int]:
    """(number, characters) of items equal to an earlier item."""
    seen: set[str] = set()
    count = chars = 0
    for item in items:
        if item in seen:
            count += 1
            chars += len(item)
        else:
            seen.add(item)
    return count, chars


def word_ids(words: list[str]) -> np.ndarray:
    """One id per distinct word (1-based), so n-grams compare as integers."""
    vocab: dict[str, int] = {}
    return np.array([vocab.setdefault(w, len(vocab)) for w in words], dtype=np.uint64) + np.uint64(1)


def _ngram_keys(ids: np.ndarray, n: int) -> np.ndarray:
    """A 64-bit key per n-gram window: word ids mixed by a fixed odd multiplier (collisions ~2^-64)."""
    width = len(ids) - n + 1
    keys = np.zeros(width, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(n):
            keys = keys * np.uint64(0x9E3779B97F4A7C15) + ids[j : j + width]
    return keys


def top_ngram_chars(words: list[str], n: int, *, ids: np.ndarray | None = None) -> int:
    """Characters covered by the most frequent n-gram: len(' '.join(ngram)) x occurrences."""
    if len(words) < n:
        return 0
    keys = _ngram_keys(word_ids(words) if ids is None else ids, n)
    uniq, first, counts = np.unique(keys, return_index=True, return_counts=True)
    top = int(np.argmax(counts))  # ties: the smallest key, as any most frequent n-gram would do
    first, occurrences = int(first[top]), int(counts[top])
    return (sum(map(len, words[first : first + n])) + n - 1) * occurrences


def duplicated_ngram_chars(words: list[str], n: int, *, ids: np.ndarray | None = None) -> int:
    """Characters of n-gram occurrences repeating an earlier one, scanned left to right.

    After a repeat the scan jumps past it, so overlapping repeats are not counted twice
    (the same greedy definition as datatrove's `find_all_duplicate`).
    """
    if len(words) < n:
        return 0
    grams = _ngram_keys(word_ids(words) if ids is None else ids, n).tolist()
    seen: set[int] = set()
    chars = i = 0
    while i < len(grams):
        if grams[i] in seen:
            chars += sum(map(len, words[i : i + n]))
            i += n
        else:
            seen.add(grams[i])
            i += 1
    return chars


def gopher_repetition_signals(text: str, words: list[str]) -> dict[str, float]:
    n_chars = len(text)
    paragraphs = _PARAGRAPH_BREAK.split(text.strip())
    para_dups, para_dup_chars = duplicates(paragraphs)
    lines = _LINE_BREAKS.split(text)
    line_dups, line_dup_chars = duplicates(lines)
    out = {
        "rep_dup_para_frac": _ratio(para_dups, len(paragraphs)),
        "rep_dup_para_char_frac": _ratio(para_dup_chars, n_chars),
        "rep_dup_line_frac": _ratio(line_dups, len(lines)),
        "rep_dup_line_char_frac": _ratio(line_dup_chars, n_chars),
    }
    ids = word_ids(words)
    for n in TOP_NGRAM_SIZES:
        out[f"rep_top_{n}gram_char_frac"] = _ratio(top_ngram_chars(words, n, ids=ids), n_chars)
    for n in DUP_NGRAM_SIZES:
        out[f"rep_dup_{n}gram_char_frac"] = _ratio(duplicated_ngram_chars(words, n, ids=ids), n_chars)
    return out
