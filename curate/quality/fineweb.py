"""FineWeb signals (Penedo et al. 2024, "The FineWeb Datasets", section 3.3 custom filters)."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from curate.quality.gopher import duplicates

SHORT_LINE_CHARS = 30
# A line that starts like a list item: bullet, dash, or an enumerator such as "1." "a)" "iv.".
_LIST_ITEM = re.compile(r"^\s*(?:[-*•·‣◦▪►–—+]|\(?(?:\d{1,3}|[a-zA-Z]|[ivxlcdm]{1,5})[.)])\s")


_TERMINALS = frozenset(".?!。！？｡．﹒﹗۔؟।॥።፧፨။៕។‼⁇⁈⁉")


@lru_cache(maxsize=4096)
def is_terminal_punctuation(ch: str) -> bool:
    """Sentence-final punctuation of any script (close to Unicode Sentence_Terminal, datatrove's list)."""
    return ch in _TERMINALS or unicodedata.name(ch, "").endswith(("FULL STOP", "QUESTION MARK", "EXCLAMATION MARK"))


def fineweb_signals(text: str, n_words: int) -> dict[str, float]:
    lines = [line for line in text.split("\n") if line.strip()]
    n = len(lines)
    if not n:
        return {
            "fineweb_line_punct_ratio": 0.0,
            "fineweb_short_line_ratio": 0.0,
            "fineweb_dup_line_char_ratio": 0.0,
            "fineweb_newline_ratio": 0.0,
            "fineweb_list_line_ratio": 0.0,
        }
    non_newline_chars = len(text) - text.count("\n")
    return {
        "fineweb_line_punct_ratio": sum(map(is_terminal_punctuation, (x[-1] for x in lines))) / n,
        "fineweb_short_line_ratio": sum(1 for x in lines if len(x) <= SHORT_LINE_CHARS) / n,
        "fineweb_dup_line_char_ratio": duplicates(lines)[1] / non_newline_chars if non_newline_chars else 0.0,
        "fineweb_newline_ratio": text.count("\n") / n_words if n_words else 0.0,
        "fineweb_list_line_ratio": sum(1 for _ in filter(_LIST_ITEM.match, lines)) / n,
    }
