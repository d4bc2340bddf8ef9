"""Gopher quality and repetition signals (Rae et al. 2021, arXiv:2112.11446, section A.1.1).

Every signal is computed; none stops early. Ratios over an empty denominator are 0.0. Words are
`words.tokenize` tokens (symbols included, as in datatrove); the word count and the mean word
length use only tokens that are not pure punctuation. Per-word tests run once per distinct word
and n-grams are compared as 64-bit keys of word ids, so the cost per token is numpy's, not Python's.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import numpy as np

from curate.quality.words import Tokens

STOP_WORDS = frozenset({"the", "be", "to", "of", "and", "that", "have", "with"})

# datatrove's PUNCTUATION (utils/text.py, 0.9.0): symbols and most control characters.
_SYMBOLS = frozenset(
    "!/—”:％１〈&(、━\\【#%「」，】；+^]~“《„';’{|∶´[=-`*．（–？！：$～«〉,><》)?）。…@_.\"}►»"
) | frozenset(chr(c) for r in ((0, 9), (11, 13), (13, 32), (127, 160)) for c in range(*r))
# datatrove's PUNCTUATION_SET: the above and its TERMINAL_PUNCTUATION (sentence ends in many
# scripts). A token made only of these is not a word for the Gopher word count and mean length;
# others are, even "•" or "§", as in datatrove.
_GOPHER_SYMBOLS = _SYMBOLS | frozenset(
    "\u0589\u061d\u061e\u061f\u06d4\u0700\u0701\u0702\u07f9\u0837\u0839\u083d\u083e\u0964\u0965\u104a"
    "\u104b\u1362\u1367\u1368\u166e\u1735\u1736\u17d4\u17d5\u17d6\u17d9\u17da\u1803\u1809\u1944\u1945"
    "\u1aa8\u1aa9\u1aaa\u1aab\u1b5a\u1b5b\u1b5e\u1b5f\u1b7d\u1b7e\u1c3b\u1c3c\u1c7e\u1c7f\u203c\u203d"
    "\u2047\u2048\u2049\u2e2e\u2e3c\u2e53\u2e54\ua4ff\ua60e\ua60f\ua6f3\ua6f7\ua876\ua877\ua8ce\ua8cf"
    "\ua92f\ua9c8\ua9c9\uaa5d\uaa5e\uaa5f\uaaf0\uaaf1\uabeb\ufe52\ufe56\ufe57\uff61\U00010a56\U00010a57"
    "\U00010f55\U00010f56\U00010f57\U00010f58\U00010f59\U00010f86\U00010f87\U00010f88\U00010f89\U00011047"
    "\U00011048\U000110be\U000110bf\U000110c0\U000110c1\U00011141\U00011142\U00011143\U000111c5\U000111c6"
    "\U000111cd\U000111de\U000111df\U00011238\U00011239\U0001123b\U0001123c\U000112a9\U0001144b\U0001144c"
    "\U000115c2\U000115c3\U000115c9\U000115ca\U000115cb\U000115cc\U000115cd\U000115ce\U000115cf\U000115d0"
    "\U000115d1\U000115d2\U000115d3\U000115d4\U000115d5\U000115d6\U000115d7\U00011641\U00011642\U0001173c"
    "\U0001173d\U0001173e\U00011944\U00011946\U00011a42\U00011a43\U00011a9b\U00011a9c\U00011c41\U00011c42"
    "\U00011ef7\U00011ef8\U00011f43\U00011f44\U00016a6e\U00016a6f\U00016af5\U00016b37\U00016b38\U00016b44"
    "\U00016e98\U0001bc9f\U0001da88"
)

_PARAGRAPH_BREAK = re.compile(r"\n{2,}")
_LINE_BREAKS = re.compile(r"\n+")

TOP_NGRAM_SIZES = (2, 3, 4)
DUP_NGRAM_SIZES = (5, 6, 7, 8, 9, 10)
_SCAN_BLOCK = 1 << 16


@lru_cache(maxsize=1 << 16)  # tokens repeat: the cache turns most calls into one lookup
def is_symbol(token: str) -> bool:
    """Only datatrove's symbols or Unicode punctuation (decontamination skips these)."""
    return all(c in _SYMBOLS or unicodedata.category(c)[0] == "P" for c in token)


def _is_gopher_symbol(token: str) -> bool:
    return _GOPHER_SYMBOLS.issuperset(token)


def _ratio(num: float, den: float) -> float:
    return num / den if den else 0.0


def gopher_quality_signals(text: str, tokens: Tokens, lines: list[str]) -> dict[str, float]:
    """`lines`: text.splitlines()."""
    n_tokens = len(tokens)
    vocab = tokens.vocab
    counts = np.bincount(tokens.ids, minlength=len(vocab))
    content = ~np.fromiter(map(_is_gopher_symbol, vocab), dtype=bool, count=len(vocab))
    alpha = np.fromiter((any(map(str.isalpha, w)) for w in vocab), dtype=bool, count=len(vocab))
    n_content = int(counts[content].sum())
    return {
        "gopher_word_count": float(n_content),
        "gopher_mean_word_length": _ratio(int((counts * tokens.vocab_lengths)[content].sum()), n_content),
        "gopher_hash_word_ratio": _ratio(text.count("#"), n_tokens),
        "gopher_ellipsis_word_ratio": _ratio(text.count("...") + text.count("…"), n_tokens),
        "gopher_bullet_line_frac": _ratio(sum(1 for s in lines if s.lstrip().startswith(("•", "-"))), len(lines)),
        "gopher_ellipsis_line_frac": _ratio(sum(1 for s in lines if s.rstrip().endswith(("...", "…"))), len(lines)),
        "gopher_alpha_word_frac": _ratio(int(counts[alpha].sum()), n_tokens),
        "gopher_stop_words": float(len(STOP_WORDS.intersection(vocab))),
    }


def duplicates(items: list[str]) -> tuple[int, int]:
    """(number, characters) of items equal to an earlier item."""
    distinct = set(items)
    return len(items) - len(distinct), sum(map(len, items)) - sum(map(len, distinct))


def _ngram_keys(tokens: Tokens, n: int) -> np.ndarray:
    """A 64-bit key per n-gram window: word ids mixed by a fixed odd multiplier (collisions ~2^-64)."""
    ids = tokens.ids.astype(np.uint64) + np.uint64(1)
    width = len(ids) - n + 1
    keys = np.zeros(width, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(n):
            keys = keys * np.uint64(0x9E3779B97F4A7C15) + ids[j : j + width]
    return keys


def top_ngram_chars(tokens: Tokens, n: int) -> int:
    """Characters covered by the most frequent n-gram: len(' '.join(ngram)) x occurrences."""
    if len(tokens) < n:
        return 0
    _, first, counts = np.unique(_ngram_keys(tokens, n), return_index=True, return_counts=True)
    most = counts.max()
    start = int(first[counts == most].min())  # ties: the first to occur, as datatrove's Counter
    offsets = tokens.char_offsets
    return int(offsets[start + n] - offsets[start] + n - 1) * int(most)


def duplicated_ngram_chars(tokens: Tokens, n: int) -> int:
    """Characters of n-gram occurrences repeating an earlier one, scanned left to right.

    After a repeat the scan jumps past it, so overlapping repeats are not counted twice
    (the same greedy definition as datatrove's `find_all_duplicate`). Only windows whose n-gram
    occurs more than once can be a repeat or make a later one, so only those are walked.
    """
    if len(tokens) < n:
        return 0
    _, group, counts = np.unique(_ngram_keys(tokens, n), return_inverse=True, return_counts=True)
    candidates = np.flatnonzero(counts[group] > 1)
    seen: set[int] = set()
    repeats: list[int] = []
    next_pos = 0  # the first window the scan has not jumped over
    for i in range(0, len(candidates), _SCAN_BLOCK):  # in blocks: a huge document's windows as
        block = candidates[i : i + _SCAN_BLOCK]      # Python ints would take gigabytes
        for pos, g in zip(block.tolist(), group[block].tolist()):
            if pos < next_pos:
                continue
            if g in seen:
                repeats.append(pos)
                next_pos = pos + n
            else:
                seen.add(g)
    if not repeats:
        return 0
    starts = np.array(repeats)
    offsets = tokens.char_offsets
    return int((offsets[starts + n] - offsets[starts]).sum())


def gopher_repetition_signals(text: str, tokens: Tokens) -> dict[str, float]:
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
    for n in TOP_NGRAM_SIZES:
        out[f"rep_top_{n}gram_char_frac"] = _ratio(top_ngram_chars(tokens, n), n_chars)
    for n in DUP_NGRAM_SIZES:
        out[f"rep_dup_{n}gram_char_frac"] = _ratio(duplicated_ngram_chars(tokens, n), n_chars)
    return out
