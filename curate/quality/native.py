"""The native signal kernels (`curate_kernels`, built from `native/` by scripts/setup.sh), when usable.

They give the Python functions' values (tests/test_quality/test_native.py compares both), at many
times their speed. curate uses its Python functions instead when the extension is not installed or
was built from older sources (`API`), when `CURATE_NATIVE_SIGNALS=0`, or when the running Python's
Unicode database or `regex` module is not the one the kernels' character tables were generated from
(native/gen_tables.py). A text the kernels cannot take (a str holding a lone surrogate is not UTF-8)
is computed by the Python functions. spaCy's tokenizer rules (words.py) are matched in Rust too; a
chunk they cannot match exactly as Python's `re` does (native/src/spacy.rs) is split by the Python
rules. `FastText` replays fastText's predict of lid.176 (langid.Predictor;
tests/test_quality/test_fasttext_replay.py).
"""

from __future__ import annotations

import logging
import os
import unicodedata
from functools import cache

import regex

from curate.quality import words

log = logging.getLogger(__name__)
ENV = "CURATE_NATIVE_SIGNALS"
API = 4  # curate_kernels.API of the sources this curate calls (native/src/lib.rs)


@cache
def kernels():
    """The process's `curate_kernels.Kernels` (it caches split chunks), or None: use Python."""
    if os.environ.get(ENV, "1") == "0":
        return None
    try:
        import curate_kernels
    except ImportError:
        log.warning("curate_kernels is not installed: quality signals are computed in Python (slower)")
        return None
    if getattr(curate_kernels, "API", 1) != API:
        log.warning("curate_kernels was built from other sources than this curate's (API %s, not %s): quality"
                    " signals are computed in Python; run scripts/setup.sh", getattr(curate_kernels, "API", 1), API)
        return None
    if (curate_kernels.UNIDATA_VERSION, curate_kernels.REGEX_VERSION) != (unicodedata.unidata_version,
                                                                          regex.__version__):
        log.warning("curate_kernels' character tables are for Unicode %s and regex %s, this Python has %s and %s:"
                    " quality signals are computed in Python", curate_kernels.UNIDATA_VERSION,
                    curate_kernels.REGEX_VERSION, unicodedata.unidata_version, regex.__version__)
        return None
    k = new_kernels(words._chunk_tokens)
    if k.rules_error:
        log.warning("curate_kernels cannot match spaCy's rules as Python's re does (%s): chunks they may split"
                    " are split in Python (slower)", k.rules_error)
    return k


def new_kernels(chunk_tokens, patterns: tuple[str, str, str, str] | None = None):
    """A `curate_kernels.Kernels` with words.py's rules; `chunk_tokens` splits a chunk the kernels
    cannot (words._chunk_tokens); `patterns`: other prefix, suffix, infix and URL patterns."""
    import curate_kernels

    rules = words._RULES
    return curate_kernels.Kernels(
        list(patterns or (rules["prefix"], rules["suffix"], rules["infix"], rules["url"])), words._SUFFIX_WINDOW,
        words._SPECIALS, words._MERGES, "".join(words._PREFIX_FIRST), "".join(words._SUFFIX_LAST),
        "".join(words._INFIX_FIRST), chunk_tokens,
    )


def module():
    """`curate_kernels` when `kernels()` is usable, else None."""
    if kernels() is None:
        return None
    import curate_kernels

    return curate_kernels


def on_utf8(fn, *args):
    """`fn(*args)` of the kernels; None where `fn` is None (they are not usable) or a text among
    `args` holds a lone surrogate (not UTF-8: the Python function takes it)."""
    if fn is None:
        return None
    try:
        return fn(*args)
    except UnicodeEncodeError:
        return None
