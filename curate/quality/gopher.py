"""Gopher quality and repetition signals (Rae et al. 2021, arXiv:2112.11446, section A.1.1).

Every signal is computed; none stops early. Ratios over an empty denominator are 0.0. Words are
`words.split_words` tokens (symbols included, as in datatrove); the word count and the mean word
length use only tokens that are not pure punctuation.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

STOP_WORDS = frozenset({"the", "be", "to", "of", "and", "that", "have", "with"})

# The punctuation characters datatrove treats as symbols, plus every Unicode punctuation mark.
_SYMBOLS = frozenset(
    "!/—”:％１〈&(、━\\【#%「」，】；+^]~“《„';’{|∶´[=-`*．（–？！：$～«〉,><》)?）。…@_.\"}►»"
) | frozenset(chr(c) for r in ((0, 9), (11, 13), (13, 32), (127, 160)) for c in range(*r))

_PARAGRAPH_BREAK = re.compile(r"\n{2,}")
_LINE_BREAKS = re.compile(r"\n+")

TOP_NGRAM_SIZES = (2, 3, 4)
DUP_NGRAM_SIZES = (5, 6, 7, 8, 9, 10)


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


def top_ngram_chars(words: list[str], n: int) -> int:
    """Characters covered by the most frequent n-gram: len(' '.join(ngram)) x occurrences."""
    if len(words) < n:
        return 0
    counts = Counter(zip(*(words[i:] for i in range(n))))
    gram, occurrences = counts.most_common(1)[0]
    return (sum(map(len, gram)) + n - 1) * occurrences


def duplicated_ngram_chars(words: list[str], n: int) -> int:
    """Characters of n-gram occurrences repeating an earlier one, scanned left to right.

    After a repeat the scan jumps past it, so overlapping repeats are not counted twice
    (the same greedy definition as datatrove's `find_all_duplicate`).
    """
    seen: set[tuple[str, ...]] = set()
    chars = i = 0
    last = len(words) - n
    while i <= last:
        gram = tuple(words[i : i + n])
        if gram in seen:
            chars += sum(map(len, gram))
            i += n
        else:
            seen.add(gram)
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
    for n in TOP_NGRAM_SIZES:
        out[f"rep_top_{n}gram_char_frac"] = _ratio(top_ngram_chars(words, n), n_chars)
    for n in DUP_NGRAM_SIZES:
        out[f"rep_dup_{n}gram_char_frac"] = _ratio(duplicated_ngram_chars(words, n), n_chars)
    return out
