"""Word splitting for quality signals, in every script.

Tokens follow spaCy's rule-based tokenizer closely enough for Gopher/FineWeb signals to agree with
datatrove (which uses `spacy.blank(lang)`), without its cost: a word is a run of letters, marks,
digits and underscores; every other visible character is its own token (symbols count as tokens
in the Gopher ratios, as in datatrove), except a run of one common symbol ("...", "----": one token,
as in spaCy); URLs, e-mail addresses, dotted names (example.org) and decimal numbers stay whole.

Scripts written without spaces have no dictionary segmenter here (none ships offline), so their
words are characters: one token per Han / Hiragana / Katakana character, and one per base
character with its combining marks for Thai, Lao, Khmer, Myanmar and Tibetan. Counts and n-gram
signals stay meaningful; length-based rules (mean word length) are off by default for those
languages (see `rules.DEFAULT_OVERRIDES`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import regex

NO_SPACE_SCRIPTS = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\p{Tibetan}"

_WORD = rf"[[\p{{L}}\p{{M}}\p{{N}}_]--[{NO_SPACE_SCRIPTS}ー]]+"  # a run of word characters in a spaced script
_TOKEN = regex.compile(
    r"(?:https?|ftp)://[^\s<>\"']+"  # URL
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"  # e-mail address
    r"|[\p{Han}\p{Hiragana}\p{Katakana}ー]"  # one CJK character
    r"|[\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\p{Tibetan}]\p{M}*"  # one syllable-ish unit
    r"|\p{Nd}+(?:[.,:]\p{Nd}+)+"  # 3.14, 1,000, 12:30
    rf"|{_WORD}(?:\.{_WORD})+"  # dotted names: example.org, x.y
    rf"|{_WORD}"
    r"|\.{2,}|-{2,}|={2,}|\*{2,}|_{2,}|#{2,}|~{2,}|/{2,}|\+{2,}|<{2,}|>{2,}"  # symbol runs: "...", "----"
    r"|\S",  # any other single visible character
    flags=regex.VERSION1,
)


# str.split() also splits at \x1c-\x1f, which the pattern's \S keeps; \x00 marks chunk ends below.
_NOT_SPLITTABLE = re.compile(r"[\x00\x1c-\x1f]")


def split_words(text: str) -> list[str]:
    """Word and symbol tokens of `text` in order; whitespace is dropped.

    No token spans whitespace, so the text is split at whitespace first (in C) and only chunks
    that are not a plain ASCII word go through the (slow, Unicode-aware) pattern: all of them in
    one call, joined by a marker token, instead of one call per chunk.
    """
    if _NOT_SPLITTABLE.search(text):
        return _TOKEN.findall(text)
    chunks = text.split()
    hard = [c for c in chunks if not (c.isascii() and c.isalnum())]
    if not hard:
        return chunks
    # Tokens hold no whitespace: joined by spaces, cut at the marker, each chunk's tokens come back.
    pieces = iter(" ".join(_TOKEN.findall(" \x00 ".join(hard))).split(" \x00 "))
    out: list[str] = []
    for c in chunks:
        if c.isascii() and c.isalnum():
            out.append(c)
        else:
            out += next(pieces).split(" ")
    return out


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
