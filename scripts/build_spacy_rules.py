"""Export spaCy's English tokenizer rules to `curate/quality/spacy_en.json` for `words.py`.

datatrove splits words with `spacy.blank("en")`; `words.py` replays the same algorithm with these
rules (prefix, suffix and infix patterns, the URL pattern and the special cases, e.g. "can't" ->
"ca", "n't"), so spaCy is not needed at run time. Rerun when spaCy's English rules change:

    python scripts/build_spacy_rules.py
"""

from __future__ import annotations

import json
import re._constants as C
import re._parser as P
from pathlib import Path

import spacy
from spacy.attrs import ORTH

OUT = Path(__file__).resolve().parent.parent / "curate" / "quality" / "spacy_en.json"


def _edge_chars(items, last: bool = False) -> set[tuple[int, int]]:
    """Code point ranges a match of parsed `items` can start (or end) with; assertions and
    anchors consume nothing and are skipped."""
    for op, av in reversed(items) if last else items:
        if op in (C.ASSERT, C.ASSERT_NOT, C.AT):
            continue
        if op is C.LITERAL:
            return {(av, av)}
        if op is C.IN and all(o in (C.LITERAL, C.RANGE) for o, _ in av):
            return {(a, a) if o is C.LITERAL else a for o, a in av}
        if op is C.SUBPATTERN:
            return _edge_chars(av[3], last)
        if op is C.BRANCH:
            return set().union(*(_edge_chars(b, last) for b in av[1]))
        if op in (C.MAX_REPEAT, C.MIN_REPEAT) and av[0] >= 1:
            return _edge_chars(av[2], last)
        raise ValueError(f"cannot bound the edge characters of {op} {av}")
    raise ValueError("a rule matches the empty string")


def _merged(ranges: set[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(b, out[-1][1]))
        else:
            out.append((a, b))
    return out


def _suffix_window(pattern: str) -> int:
    """Characters from the end that hold every suffix match, but for runs of dots ("...")."""
    ((_, (_, branches)),) = P.parse(pattern).data
    dots = repr(P.parse(r"\.\.+$").data)
    widths = [b.getwidth()[1] for b in branches if repr(b.data) != dots]
    assert max(widths) < C.MAXREPEAT, "an unbounded suffix rule besides dot runs"
    return max(widths) + 1


def _anchored(pattern: str) -> bool:
    """Whether the pattern starts with "^" (the parser moves a "^" all branches share to the
    front), so `match` finds what `search` does."""
    return P.parse(pattern).data[0] == (C.AT, C.AT_BEGINNING)


def main() -> None:
    tok = spacy.blank("en").tokenizer
    assert _anchored(tok.prefix_search.__self__.pattern)
    rules = {
        "spacy_version": spacy.__version__,
        "prefix": tok.prefix_search.__self__.pattern,
        "suffix": tok.suffix_search.__self__.pattern,
        "infix": tok.infix_finditer.__self__.pattern,
        "url": tok.url_match.__self__.pattern,
        # Shortcuts to the same matches: code point ranges a prefix match can start with, a suffix
        # match end with, an infix match start with; a suffix match lies in the last
        # `suffix_window` characters unless it is a run of dots.
        "prefix_first": _merged(_edge_chars(P.parse(tok.prefix_search.__self__.pattern))),
        "suffix_last": _merged(_edge_chars(P.parse(tok.suffix_search.__self__.pattern), last=True)),
        "infix_first": _merged(_edge_chars(P.parse(tok.infix_finditer.__self__.pattern))),
        "suffix_window": _suffix_window(tok.suffix_search.__self__.pattern),
        # Whitespace keys are left out: whitespace never reaches the splitter.
        "specials": {k: [t[ORTH] for t in v] for k, v in sorted(tok.rules.items()) if not k.isspace()},
    }
    # One entry per line, so a spaCy upgrade shows up as a readable diff.
    lines = [f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in rules.items() if k != "specials"]
    specials = ",\n".join(f"{json.dumps(k, ensure_ascii=False)}: {json.dumps(v, ensure_ascii=False)}"
                           for k, v in rules["specials"].items())
    OUT.write_text("{\n" + ",\n".join(lines) + ',\n"specials": {\n' + specials + "\n}}\n", encoding="utf-8")
    print(f"wrote {OUT} ({len(rules['specials'])} special cases, spaCy {spacy.__version__})")


if __name__ == "__main__":
    main()
