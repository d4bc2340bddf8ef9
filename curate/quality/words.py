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


def split_words(text: str) -> list[str]:
    """Word and symbol tokens of `text` in order; whitespace is dropped."""
    return _TOKEN.findall(text)


# ISO 639-1/3 codes fastText lid.176 emits for languages written without spaces between words.
NO_SPACE_LANGS = frozenset({"zh", "ja", "th", "lo", "km", "my", "bo", "wuu", "yue"})
