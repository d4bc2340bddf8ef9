"""Text normalization and exact-duplicate hashes, vectorized over Arrow string arrays.

Texts with non-ASCII characters are normalized by Arrow's C++ kernels (NFC, Unicode lowercase,
RE2 regexes), one call per batch. ASCII-only texts (most code, much web text) take a byte-table
path with the same result: NFC is the identity there, and a run of separator bytes becomes one
space in numpy, several times faster than the regex.
"""

from __future__ import annotations

import unicodedata

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from curate.dedup.config import NormalizeConfig
from curate.dedup.minhash import chunks, string_bytes

# (strip_punctuation, collapse_whitespace) -> the class whose runs become one space.
_SEPARATORS = {(True, True): r"[\p{P}\s\p{Z}]+", (True, False): r"\p{P}+", (False, True): r"[\s\p{Z}]+"}
# The same classes over bytes: RE2's \s is [\t\n\f\r ]; the space is the only ASCII \p{Z}.
_PUNCT = np.array([unicodedata.category(chr(c)).startswith("P") if c < 128 else False for c in range(256)])
_SPACE = np.isin(np.arange(256), list(b"\t\n\f\r "))


def normalize(texts: pa.Array, cfg: NormalizeConfig) -> pa.LargeStringArray:
    """Normalized copies of `texts` (nulls become empty strings)."""
    texts = pc.fill_null(texts.cast(pa.large_string()), "")
    is_ascii = pc.string_is_ascii(texts).to_numpy(zero_copy_only=False)
    if is_ascii.all():
        return _normalize_ascii(texts, cfg)
    if not is_ascii.any():
        return _normalize_unicode(texts, cfg)
    rows = [np.flatnonzero(is_ascii), np.flatnonzero(~is_ascii)]
    parts = pa.concat_arrays([_normalize_ascii(texts.take(rows[0]), cfg), _normalize_unicode(texts.take(rows[1]), cfg)])
    place = np.empty(len(texts), np.int64)
    place[np.concatenate(rows)] = np.arange(len(texts))
    return parts.take(place)


def _normalize_unicode(texts: pa.LargeStringArray, cfg: NormalizeConfig) -> pa.LargeStringArray:
    if cfg.nfc:
        texts = pc.utf8_normalize(texts, form="NFC")
    if cfg.lowercase:
        texts = pc.utf8_lower(texts)
    pattern = _SEPARATORS.get((cfg.strip_punctuation, cfg.collapse_whitespace))
    if pattern is not None:  # one regex pass for both (regexes are the costly part)
        texts = pc.replace_substring_regex(texts, pattern, " ")
    if cfg.collapse_whitespace:
        texts = pc.utf8_trim(texts, " ")
    return texts


def _normalize_ascii(texts: pa.LargeStringArray, cfg: NormalizeConfig) -> pa.LargeStringArray:
    if cfg.lowercase:
        texts = pc.ascii_lower(texts)
    if not (cfg.strip_punctuation or cfg.collapse_whitespace):
        return texts
    separator = (_PUNCT & cfg.strip_punctuation) | (_SPACE & cfg.collapse_whitespace)
    return _collapse(texts, separator, trim=cfg.collapse_whitespace)


def _collapse(texts: pa.LargeStringArray, separator: np.ndarray, *, trim: bool) -> pa.LargeStringArray:
    """Each run of bytes in `separator` becomes one space; `trim`: runs at either end of a text go."""
    if len(texts) == 0:
        return texts
    kept, counts = zip(*(_collapse_bytes(*string_bytes(chunk), separator, trim) for _, chunk in chunks(texts)))
    offsets = np.concatenate(([0], np.cumsum(np.concatenate(counts))))
    return pa.LargeStringArray.from_buffers(len(texts), pa.py_buffer(offsets), pa.py_buffer(np.concatenate(kept)))


def _collapse_bytes(data: np.ndarray, offsets: np.ndarray, separator: np.ndarray, trim: bool):
    """(the bytes kept, each text's count of them)."""
    is_sep = separator[data]
    first = np.zeros(len(data) + 1, bool)  # a text's first byte (index len(data): empty texts at the end)
    first[offsets[:-1]] = True
    first = first[:-1]
    run_start = is_sep.copy()
    run_start[1:] &= ~is_sep[:-1] | first[1:]
    keep = ~is_sep | run_start
    if trim:
        keep &= ~(is_sep & first)
        last = offsets[1:][offsets[1:] > offsets[:-1]] - 1
        last = last[is_sep[last]]
        starts = np.flatnonzero(run_start)
        keep[starts[np.searchsorted(starts, last, "right") - 1]] = False
    nonempty = offsets[1:] > offsets[:-1]
    counts = np.zeros(len(offsets) - 1, np.int64)
    counts[nonempty] = np.add.reduceat(keep, offsets[:-1][nonempty], dtype=np.int64)
    return np.where(is_sep, np.uint8(32), data)[keep], counts


def exact_hashes(normalized: pa.Array) -> pa.StringArray:
    """xxh3-128 hex digest of each normalized text: 128 bits keep collisions negligible at 10^10 docs."""
    return pa.array(
        [xxhash.xxh3_128_hexdigest(t.encode("utf-8")) for t in normalized.to_pylist()], pa.string()
    )
