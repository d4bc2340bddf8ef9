"""C4 signals (Raffel et al. 2020, section 2.2; tensorflow_datasets c4_utils).

C4 removes lines and then judges what is left. Filters here mark and never edit the text, so
the line filters become fractions and the document-level outcomes become signals measured on
the lines C4 would keep: `c4_sentences` (sentences in kept lines), `c4_lorem_ipsum` and
`c4_curly_bracket` (1.0 when a candidate line has one), in C4's order of checks.
"""

from __future__ import annotations

import re

END_PUNCTUATION = (".", "?", "!", '"', "'")
POLICY_PHRASES = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")
MAX_WORD_CHARS = 1000
MIN_LINE_WORDS = 3

_CITATION = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
# A sentence ends at terminal punctuation (with closing quotes/brackets) followed by space or the
# end of the line; CJK full stops end a sentence without a space after them.
_SENTENCE_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s|$)|[。！？]+[」』”’）)]*")


def count_sentences(line: str) -> int:
    ends = [m.end() for m in _SENTENCE_END.finditer(line)]
    tail = line[ends[-1] :].strip() if ends else line.strip()
    return len(ends) + (1 if tail else 0)


def c4_signals(lines: list[str]) -> dict[str, float]:
    """Signals of a document split by `str.splitlines`."""
    no_terminal = too_few = javascript = policy = 0
    sentences = 0
    lorem = curly = 0.0
    for raw in lines:
        line = raw.strip()
        words = None
        if len(line) > MAX_WORD_CHARS:  # shorter lines cannot hold a too-long word
            words = line.split()
            if any(len(w) > MAX_WORD_CHARS for w in words):
                continue
        if "[" in line:
            line = _CITATION.sub("", line)
        if not line.endswith(END_PUNCTUATION) or line.endswith("..."):
            no_terminal += 1
            continue
        if len(raw.split() if words is None else words) < MIN_LINE_WORDS:  # counted before citations go
            too_few += 1
            continue
        lowered = line.lower()
        if "lorem ipsum" in lowered:
            lorem = 1.0
        if "javascript" in lowered:
            javascript += 1
            continue
        if "{" in line:
            curly = 1.0
        if any(p in lowered for p in POLICY_PHRASES):
            policy += 1
            continue
        sentences += count_sentences(line)
    n = len(lines) or 1  # no lines: every fraction is 0.0
    return {
        "c4_no_terminal_punct_line_frac": no_terminal / n,
        "c4_too_few_words_line_frac": too_few / n,
        "c4_javascript_line_frac": javascript / n,
        "c4_policy_line_frac": policy / n,
        "c4_lorem_ipsum": lorem,
        "c4_curly_bracket": curly,
        "c4_sentences": float(sentences),
    }
