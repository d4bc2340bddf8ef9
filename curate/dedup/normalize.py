"""Text normalization and exact-duplicate hashes, vectorized over Arrow string arrays.

Normalization is defined by Arrow's kernels and RE2's character classes: NFC (utf8_normalize),
lowercase (utf8_lower), each run of separators (`_CLASSES`) replaced by one space
(replace_substring_regex), trimmed at either end when whitespace collapses (utf8_trim). The tests
hold that definition; this module computes the same texts several times faster:

- NFC runs only on the texts that are not NFC already, as Python's quick check tells (most are);
- separators are found per byte in numpy, not by the regex: ASCII bytes by a table, other
  characters by their code point, which RE2 itself classifies once per process and code point;
  each run of separator bytes then becomes one space.
"""

from __future__ import annotations

import functools
import unicodedata

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from curate.dedup.config import NormalizeConfig
from curate.dedup.minhash import chunks, string_bytes

# (strip_punctuation, collapse_whitespace) -> the characters whose runs become one space.
# RE2's \s is [\t\n\f\r ]; \p{Z} adds the Unicode spaces and line/paragraph separators.
_CLASSES = {(True, True): r"[\p{P}\s\p{Z}]", (True, False): r"\p{P}", (False, True): r"[\s\p{Z}]"}


def normalize(texts: pa.Array, cfg: NormalizeConfig) -> pa.LargeStringArray:
    """Normalized copies of `texts` (nulls become empty strings)."""
    texts = pc.fill_null(texts.cast(pa.large_string()), "")
    if cfg.nfc:
        texts = _nfc(texts)
    if cfg.lowercase:
        texts = pc.utf8_lower(texts)
    char_class = _CLASSES.get((cfg.strip_punctuation, cfg.collapse_whitespace))
    if char_class is None or not len(texts):
        return texts
    return _collapse(texts, _separators(char_class), trim=cfg.collapse_whitespace)


def _nfc(texts: pa.LargeStringArray) -> pa.LargeStringArray:
    """NFC, computed only for the non-ASCII texts that Python's quick check finds not NFC."""
    rows = np.flatnonzero(~pc.string_is_ascii(texts).to_numpy(zero_copy_only=False))
    if len(rows):
        rows = rows[[not unicodedata.is_normalized("NFC", t) for t in texts.take(rows).to_pylist()]]
    if not len(rows):
        return texts
    place = np.arange(len(texts))
    place[rows] = len(texts) + np.arange(len(rows))
    return pa.concat_arrays([texts, pc.utf8_normalize(texts.take(rows), form="NFC")]).take(place)


class _Separators:
    """The code points in one of _CLASSES, as RE2 decides, asked once per code point met."""

    def __init__(self, char_class: str):
        self.pattern = f"^{char_class}$"
        self.known = np.zeros(0x110000, np.uint8)  # 0: not asked yet, 1: no, 2: a separator
        ascii_sep = np.zeros(256, bool)
        ascii_sep[:128] = self.of(np.arange(128))
        # bytes.translate tables (one C pass, 3x numpy's gather): separators to a space; to 1, others to 0
        self.to_space = np.where(ascii_sep, 32, np.arange(256)).astype(np.uint8).tobytes()
        self.to_flag = ascii_sep.astype(np.uint8).tobytes()
        self.space_is_one = bool(ascii_sep[32])

    def of(self, code_points: np.ndarray) -> np.ndarray:
        new = np.unique(code_points[self.known[code_points] == 0])
        if len(new):
            chars = pa.array([chr(c) for c in new.tolist()], pa.string())
            hit = pc.match_substring_regex(chars, self.pattern).to_numpy(zero_copy_only=False)
            self.known[new] = np.where(hit, 2, 1)
        return self.known[code_points] == 2

    def spaced(self, data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """UTF-8 `data` (whole characters) with every byte of a separator made a space, and which
        bytes those are."""
        raw = data.tobytes()
        spaced = np.frombuffer(raw.translate(self.to_space), np.uint8)
        lead = np.flatnonzero(data >= 0xC0)
        multi = np.zeros(0, np.int64)  # the bytes of multi-byte separators
        if len(lead):
            width = 2 + (data[lead] >= 0xE0) + (data[lead] >= 0xF0)
            hit = self.of(_code_points(data, lead, width))
            if hit.any():
                multi = np.concatenate([lead[hit & (width > k)] + k for k in range(4)])
                spaced = spaced.copy()
                spaced[multi] = 32
        if self.space_is_one:
            return spaced, spaced == 32
        is_sep = np.frombuffer(raw.translate(self.to_flag), bool).copy()
        is_sep[multi] = True
        return spaced, is_sep


@functools.cache
def _separators(char_class: str) -> _Separators:
    return _Separators(char_class)


def _code_points(data: np.ndarray, lead: np.ndarray, width: np.ndarray) -> np.ndarray:
    """The code points of the multi-byte UTF-8 characters starting at `lead`, `width` bytes each."""
    b = data[np.minimum(lead[:, None] + np.arange(4), len(data) - 1)].astype(np.int32)
    cont = b[:, 1:] & 0x3F
    two = ((b[:, 0] & 0x1F) << 6) | cont[:, 0]
    three = ((b[:, 0] & 0x0F) << 12) | (cont[:, 0] << 6) | cont[:, 1]
    four = ((b[:, 0] & 0x07) << 18) | (cont[:, 0] << 12) | (cont[:, 1] << 6) | cont[:, 2]
    return np.select([width == 2, width == 3], [two, three], four)


def _collapse(texts: pa.LargeStringArray, separators: _Separators, *, trim: bool) -> pa.LargeStringArray:
    """Each run of separator bytes becomes one space; `trim`: spaces at either end of a text go."""
    kept, counts = [], []
    for _, chunk in chunks(texts):
        data, offsets = string_bytes(chunk)
        spaced, is_sep = separators.spaced(data)
        # A separator byte right after another of the same text goes: the first of a run stays, a space.
        drop = np.zeros(len(data), bool)
        np.logical_and(is_sep[1:], is_sep[:-1], out=drop[1:])
        drop[offsets[:-1][offsets[:-1] < len(data)]] = False
        kept.append(spaced[~drop])
        dropped = np.zeros(len(offsets) - 1, np.int64)
        nonempty = offsets[1:] > offsets[:-1]
        dropped[nonempty] = np.add.reduceat(drop.view(np.int8), offsets[:-1][nonempty], dtype=np.int32)
        counts.append(np.diff(offsets) - dropped)
    offsets = np.concatenate(([0], np.cumsum(np.concatenate(counts))))
    out = pa.LargeStringArray.from_buffers(len(texts), pa.py_buffer(offsets), pa.py_buffer(np.concatenate(kept)))
    return pc.ascii_trim(out, " ") if trim else out


def exact_hashes(normalized: pa.Array) -> pa.StringArray:
    """xxh3-128 hex digest of each normalized text: 128 bits keep collisions negligible at 10^10 docs."""
    return pa.array(
        [xxhash.xxh3_128_hexdigest(t.encode("utf-8")) for t in normalized.to_pylist()], pa.string()
    )
