"""Text normalization and exact-duplicate hashes, vectorized over Arrow string arrays.

Normalization runs in Arrow's C++ kernels (RE2 regexes), one call per batch, not per document.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from curate.dedup.config import NormalizeConfig


def normalize(texts: pa.Array, cfg: NormalizeConfig) -> pa.LargeStringArray:
    """Normalized copies of `texts` (nulls become empty strings)."""
    out = pc.fill_null(texts.cast(pa.large_string()), "")
    if cfg.nfc:
        out = pc.utf8_normalize(out, form="NFC")
    if cfg.lowercase:
        out = pc.utf8_lower(out)
    # One regex pass for both (regexes are the costly part of normalization).
    separators = {(True, True): r"[\p{P}\s\p{Z}]+", (True, False): r"\p{P}+", (False, True): r"[\s\p{Z}]+"}
    pattern = separators.get((cfg.strip_punctuation, cfg.collapse_whitespace))
    if pattern is not None:
        out = pc.replace_substring_regex(out, pattern, " ")
    if cfg.collapse_whitespace:
        out = pc.utf8_trim(out, " ")
    return out


def exact_hashes(normalized: pa.Array) -> pa.StringArray:
    """xxh3-128 hex digest of each normalized text: 128 bits keep collisions negligible at 10^10 docs."""
    return pa.array(
        [xxhash.xxh3_128_hexdigest(t.encode("utf-8")) for t in normalized.to_pylist()], pa.string()
    )
