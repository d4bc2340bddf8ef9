"""The native signal kernels (`curate_kernels`, built from `native/` by scripts/setup.sh), when usable.

They give the Python functions' values (tests/test_quality/test_native.py compares both), at many
times their speed. curate uses its Python functions instead when the extension is not installed,
when `CURATE_NATIVE_SIGNALS=0`, or when the running Python's Unicode database or `regex` module is
not the one the kernels' character tables were generated from (native/gen_tables.py). A text the
kernels cannot take (a str holding a lone surrogate is not UTF-8) is computed by the Python functions.
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
    if (curate_kernels.UNIDATA_VERSION, curate_kernels.REGEX_VERSION) != (unicodedata.unidata_version,
                                                                          regex.__version__):
        log.warning("curate_kernels' character tables are for Unicode %s and regex %s, this Python has %s and %s:"
                    " quality signals are computed in Python", curate_kernels.UNIDATA_VERSION,
                    curate_kernels.REGEX_VERSION, unicodedata.unidata_version, regex.__version__)
        return None
    return curate_kernels.Kernels(
        words._SPECIALS, "".join(words._PREFIX_FIRST), "".join(words._SUFFIX_LAST), "".join(words._INFIX_FIRST),
        sorted(words._MERGE_FIRST), words._chunk_tokens,
    )


def module():
    """`curate_kernels` when `kernels()` is usable, else None."""
    if kernels() is None:
        return None
    import curate_kernels

    return curate_kernels
