"""Word splitting for quality signals, in every script.

Tokens are those of spaCy's rule-based English tokenizer (`spacy.blank("en")`), which datatrove's
Gopher filters count, so signals agree with datatrove token for token: the text is cut at
whitespace, then each chunk goes through spaCy's algorithm, replayed here with its own rules
(`spacy_en.json`, exported by `scripts/build_spacy_rules.py`): special cases ("can't" -> "ca",
"n't"; "e.g."), prefixes and suffixes peeled off in turn ("(/usr)," -> "(", "/usr", ")", ","),
URLs kept whole, infixes split ("utf-8" stays, "a-b" -> "a", "-", "b"). spaCy itself is not
needed, and is slower: chunks repeat, so each distinct chunk is split once and cached.

Scripts written without spaces have no dictionary segmenter here (none ships offline; spaCy keeps
a whole run as one token), so their words are characters: one token per Han / Hiragana / Katakana
character, and one per base character with its combining marks for Thai, Lao, Khmer, Myanmar and
Tibetan. Counts and n-gram signals stay meaningful; length-based rules (mean word length) are off
by default for those languages (see `rules.BUILTIN_OVERRIDES`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from itertools import chain

import numpy as np
import regex

NO_SPACE_SCRIPTS = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\p{Tibetan}"
_NO_SPACE_CHAR = regex.compile(rf"[{NO_SPACE_SCRIPTS}ー]")
ONE_CHAR_WORD = r"[\p{Han}\p{Hiragana}\p{Katakana}ー]"  # one CJK character
SYLLABLE_START = r"[\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\p{Tibetan}]"  # with its marks: one syllable-ish unit
_NO_SPACE_TOKEN = regex.compile(
    ONE_CHAR_WORD
    + rf"|{SYLLABLE_START}\p{{M}}*"
    rf"|[^{NO_SPACE_SCRIPTS}ー]+"  # the rest of the token, as one
)

# spaCy compiles its rules with `re`; so do we, for the same matches.
# Read through importlib so it also works from the zip that spark-submit ships with --py-files.
_RULES = json.loads(resources.files(__package__).joinpath("spacy_en.json").read_text("utf-8"))
_PREFIX = re.compile(_RULES["prefix"]).match  # every branch starts with "^"
_SUFFIX = re.compile(_RULES["suffix"]).search
_INFIXES = re.compile(_RULES["infix"]).finditer
_URL = re.compile(_RULES["url"]).match
_SUFFIX_WINDOW: int = _RULES["suffix_window"]


def _chars(ranges: list[list[int]]) -> frozenset[str]:
    return frozenset(chr(c) for a, b in ranges for c in range(a, b + 1))


# Characters a prefix match can start with, a suffix match end with, an infix match start with:
# most chunks skip the (slow: hundreds of alternatives) searches.
_PREFIX_FIRST = _chars(_RULES["prefix_first"])
_SUFFIX_LAST = _chars(_RULES["suffix_last"])
_INFIX_FIRST = _chars(_RULES["infix_first"])
_SPECIALS: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in _RULES["specials"].items()}


def _match_len(m: re.Match | None) -> int:
    return m.end() - m.start() if m else 0


def _prefix_len(s: str) -> int:
    return _match_len(_PREFIX(s)) if s[0] in _PREFIX_FIRST else 0


def _suffix_len(s: str) -> int:
    """spaCy's suffix match, searched in the last characters only (a full search tries every
    position): a match that starts further left is a run of dots, which matches at the window's
    start too, and is then searched in full. Lookbehinds still see the text before the window."""
    if not s or s[-1] not in _SUFFIX_LAST:
        return 0
    start = len(s) - _SUFFIX_WINDOW
    if start > 0:
        m = _SUFFIX(s, start)
        if m is None or m.start() > start:
            return _match_len(m)
    return _match_len(_SUFFIX(s))


def _split_affixes(s: str, specials: dict) -> tuple[list[str], str, list[str]]:
    """(prefixes, core, suffixes in text order): spaCy's `Tokenizer._split_affixes`, quirks kept."""
    prefixes: list[str] = []
    suffixes: list[str] = []
    last_len = 0
    while s and len(s) != last_len and s not in specials:
        last_len = len(s)
        pre = _prefix_len(s)
        if pre and s[pre:] in specials:
            prefixes.append(s[:pre])
            s = s[pre:]
            break
        suf = _suffix_len(s[pre:])
        if suf and s[:-suf] in specials:
            suffixes.append(s[-suf:])
            s = s[:-suf]
            break
        if pre and suf and pre + suf <= len(s):
            prefixes.append(s[:pre])
            suffixes.append(s[-suf:])
            s = s[pre:-suf]
        elif pre:
            prefixes.append(s[:pre])
            s = s[pre:]
        elif suf:
            suffixes.append(s[-suf:])
            s = s[:-suf]
    return prefixes, s, suffixes[::-1]


def _split_infixes(s: str) -> list[str]:
    """spaCy's infix split: a match at position 0 is ignored, as spaCy does."""
    out = []
    start = 0
    for m in _INFIXES(s):
        a, b = m.span()
        if a == 0:
            continue
        if a != start:
            out.append(s[start:a])
        if a != b:
            out.append(s[a:b])
        start = b
    if s[start:]:
        out.append(s[start:])
    return out


def _affix_tokens(chunk: str, specials: dict) -> list[str]:
    """spaCy's tokens of one whitespace-free chunk, before its special-case merge pass."""
    if chunk in specials:
        return list(specials[chunk])
    prefixes, core, suffixes = _split_affixes(chunk, specials)
    if not core:
        middle = []
    elif core in specials:
        middle = list(specials[core])
    elif _INFIX_FIRST.isdisjoint(core) or _URL(core):
        middle = [core]
    else:
        middle = _split_infixes(core)
    return prefixes + middle + suffixes


# Special cases that the affix rules split (":-)", "e.g."): spaCy finds their pieces among the
# tokens afterwards (a PhraseMatcher) and puts the special case's tokens in their place.
_MERGES = {
    tuple(_affix_tokens(k, {})): v
    for k, v in _SPECIALS.items()
    if _prefix_len(k) or _suffix_len(k) or any(True for _ in _INFIXES(k))
}
_MERGE_MAX = max(map(len, _MERGES))
_MERGE_FIRST = frozenset(m[0] for m in _MERGES)


def _merge_specials(tokens: list[str]) -> list[str]:
    """spaCy's `_apply_special_cases` within a chunk: longest (then first) match first; a match
    is dropped when its first or last token is in a match seen before. spaCy also matches
    across a single space, which changes nothing but could hide an overlapping match in a chunk
    (not replayed: never seen in the agreement test's documents)."""
    if _MERGE_FIRST.isdisjoint(tokens):
        return tokens
    found = [(i, j) for i, t in enumerate(tokens) if t in _MERGE_FIRST
             for j in range(i + 1, min(len(tokens), i + _MERGE_MAX) + 1) if tuple(tokens[i:j]) in _MERGES]
    taken, seen = [], set()
    for i, j in sorted(found, key=lambda m: (m[0] - m[1], m[0])):
        if i not in seen and j - 1 not in seen:
            taken.append((i, j))
        seen.update(range(i, j))
    out, pos = [], 0
    for i, j in sorted(taken):
        out += tokens[pos:i]
        out += _MERGES[tuple(tokens[i:j])]
        pos = j
    return out + tokens[pos:]


def _chunk_tokens(chunk: str) -> tuple[str, ...]:
    if chunk.isascii() and chunk.isalpha():
        # Most chunks: every affix or infix rule needs a symbol, digit or apostrophe to match,
        # so only a special case ("cannot") splits ASCII letters.
        return _SPECIALS.get(chunk, (chunk,))
    tokens = _merge_specials(_affix_tokens(chunk, _SPECIALS))
    if _NO_SPACE_CHAR.search(chunk):
        tokens = [p for t in tokens for p in (_NO_SPACE_TOKEN.findall(t) if _NO_SPACE_CHAR.search(t) else (t,))]
    return tuple(tokens)


# Tokens of recently seen chunks; cleared when full. Long chunks (base64, minified code) seldom
# repeat and are not kept, so a worker's cache stays within a few tens of MB.
_CACHE: dict[str, tuple[str, ...]] = {}
CACHE_SIZE = 1 << 17
_LONGEST_CACHED = 64


def split_words(text: str) -> list[str]:
    """Word and symbol tokens of `text` in order; whitespace is dropped.

    spaCy cuts at the same whitespace as `str.split` (its whitespace-only tokens are dropped by
    datatrove), so only distinct chunks not seen before go through the (Python) rules.
    """
    chunks = text.split()
    new = set(chunks).difference(_CACHE)
    if len(_CACHE) + len(new) > CACHE_SIZE:
        _CACHE.clear()
        new = set(chunks)
    for c in new:
        _CACHE[c] = _chunk_tokens(c)
    words = list(chain.from_iterable(map(_CACHE.__getitem__, chunks)))
    for c in new:
        if len(c) > _LONGEST_CACHED:
            del _CACHE[c]
    return words


@dataclass(frozen=True)
class Tokens:
    """A document's tokens, each numbered by its first occurrence, so signals work on integers.

    Per-word properties are computed once per distinct word (`vocab`) and spread to every
    occurrence with `ids`, instead of once per token in a Python loop.
    """

    vocab: list[str]  # distinct words, in order of first occurrence
    ids: np.ndarray  # int64: index into vocab of each word

    def __len__(self) -> int:
        return len(self.ids)

    @cached_property
    def vocab_lengths(self) -> np.ndarray:
        return np.fromiter(map(len, self.vocab), dtype=np.int64, count=len(self.vocab))

    @cached_property
    def char_offsets(self) -> np.ndarray:
        """Characters in words[:i] (separators not counted), for i in 0..len(words)."""
        return np.concatenate(([0], np.cumsum(self.vocab_lengths[self.ids])))


# Text is split into pieces of about this many characters, cut at a space or newline (no token
# spans one), so a huge document never holds one Python string per token: only ids and vocab.
PIECE_CHARS = 1 << 20
_CUT = re.compile(r"[ \n]")


def _pieces(text: str) -> Iterator[str]:
    start = 0
    while len(text) - start > PIECE_CHARS and (cut := _CUT.search(text, start + PIECE_CHARS)):
        yield text[start : cut.start()]
        start = cut.start()
    yield text[start:]


def tokenize(text: str) -> Tokens:
    index: dict[str, int] = {}
    parts = []
    for piece in _pieces(text):
        words = split_words(piece)
        for w in dict.fromkeys(words):
            index.setdefault(w, len(index))
        parts.append(np.fromiter(map(index.__getitem__, words), dtype=np.int64, count=len(words)))
    return Tokens(list(index), parts[0] if len(parts) == 1 else np.concatenate(parts))


# ISO 639-1/3 codes fastText lid.176 emits for languages written without spaces between words.
NO_SPACE_LANGS = frozenset({"zh", "ja", "th", "lo", "km", "my", "bo", "wuu", "yue"})
