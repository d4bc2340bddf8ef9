"""MinHash signatures and LSH band hashes, vectorized with numpy over Arrow string arrays.

A document's shingles are n-grams of tokens: space-separated words, or characters (for scripts
without spaces). Every step is a whole-batch numpy operation over the Arrow data buffer:

1. token spans from byte classes (no Python loop over words);
2. token hash: a polynomial over the token's UTF-8 bytes mod 2^64 (one reduction over all tokens), then fmix64;
3. shingle hash: sum of token hashes times per-position constants, fmix64, top 32 bits;
4. signature: datasketch's permutation of each shingle hash, min-reduced per document.

`shingle_hash32` is the same hash written for one shingle: `datasketch.MinHash(num_perm, seed,
hashfunc=shingle_hash32)` fed `shingles(text)` has exactly the hashvalues of `MinHasher.signatures`.
Documents with fewer tokens than n get one shingle of all their tokens; empty ones get no shingle
and datasketch's empty signature (all 2^32 - 1).
"""

from __future__ import annotations

import re
from typing import Iterator, Literal, Sequence

import numpy as np
import pyarrow as pa

ShingleMode = Literal["word", "char"]
Scheme = Literal["affine32", "legacy"]

_MASK64 = (1 << 64) - 1
_MERSENNE = (1 << 61) - 1
MAX_HASH = (1 << 32) - 1  # datasketch's empty value in both schemes
_BYTE_BASE = 0x100000001B3
_MAX_NGRAM = 64
# Shingles per numpy block: 32k x 112 permutations x 4 bytes = 14 MB of temporaries.
_BLOCK_ROWS = 32_768
# Text bytes hashed per step: the per-byte int64 temporaries (8x the text) stay reused by the
# allocator instead of being page-faulted in anew; 2x faster than whole 30 MB batches.
_CHUNK_BYTES = 1 << 20
_SPLIT = re.compile(r"[\x00-\x20]+")  # space and ASCII controls separate words


def _fmix64_int(x: int) -> int:
    x ^= x >> 33
    x = (x * 0xFF51AFD7ED558CCD) & _MASK64
    x ^= x >> 33
    x = (x * 0xC4CEB9FE1A85EC53) & _MASK64
    return x ^ (x >> 33)


def _fmix64(x: np.ndarray) -> np.ndarray:
    x = x ^ (x >> np.uint64(33))
    x = x * np.uint64(0xFF51AFD7ED558CCD)
    x = x ^ (x >> np.uint64(33))
    x = x * np.uint64(0xC4CEB9FE1A85EC53)
    return x ^ (x >> np.uint64(33))


def _fmix32(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer, as datasketch's affine32 scheme applies it."""
    x = x ^ (x >> np.uint32(16))
    x = x * np.uint32(0x85EBCA6B)
    x = x ^ (x >> np.uint32(13))
    x = x * np.uint32(0xC2B2AE35)
    return x ^ (x >> np.uint32(16))


_POSITION_INT = [_fmix64_int(j + 1) | 1 for j in range(_MAX_NGRAM)]
_POSITION = np.array(_POSITION_INT, dtype=np.uint64)


# ---- the reference path: one shingle at a time (datasketch's hashfunc, tests, ground truth) -----
def tokens(text: str, mode: ShingleMode) -> list[str]:
    if mode == "char":
        return list(text)
    return [t for t in _SPLIT.split(text) if t]


def shingles(text: str, *, mode: ShingleMode, n: int) -> list[tuple[str, ...]]:
    """The shingles of one normalized text, in order, repeats included."""
    toks = tokens(text, mode)
    if not toks:
        return []
    if len(toks) < n:
        return [tuple(toks)]
    return [tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)]


def _token_hash_int(token: str) -> int:
    h, power = 0, 1
    for byte in token.encode("utf-8"):
        h = (h + (byte + 1) * power) & _MASK64
        power = (power * _BYTE_BASE) & _MASK64
    return _fmix64_int(h)


def shingle_hash32(shingle: Sequence[str]) -> int:
    """The 32-bit hash of one shingle (a sequence of tokens), as `MinHasher` computes it in bulk."""
    acc = 0
    for j, token in enumerate(shingle):
        acc = (acc + _token_hash_int(token) * _POSITION_INT[j]) & _MASK64
    return _fmix64_int(acc) >> 32


def permutations(num_perm: int, seed: int, scheme: Scheme) -> tuple[np.ndarray, np.ndarray]:
    """datasketch.MinHash's (a, b) for `num_perm`, `seed` and `scheme`, drawn the same way."""
    gen = np.random.RandomState(seed)
    if scheme == "legacy":
        pairs = [
            (gen.randint(1, _MERSENNE, dtype=np.uint64), gen.randint(0, _MERSENNE, dtype=np.uint64))
            for _ in range(num_perm)
        ]
        a, b = np.array(pairs, dtype=np.uint64).T
        return np.ascontiguousarray(a), np.ascontiguousarray(b)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


# ---- the vectorized path -------------------------------------------------------------------------
class _Powers:
    """B^k and B^-k mod 2^64 (B is odd, so invertible) for k < length: grown on demand and kept up to
    _KEEP entries (a few chunks' worth); a longer document's are built for it alone."""

    _KEEP = 1 << 23

    def __init__(self) -> None:
        self.up, self.down = self._build(1)

    @staticmethod
    def _build(size: int) -> tuple[np.ndarray, np.ndarray]:
        up, down = np.ones(size, np.uint64), np.ones(size, np.uint64)
        np.cumprod(np.full(size - 1, _BYTE_BASE, np.uint64), out=up[1:])
        np.cumprod(np.full(size - 1, pow(_BYTE_BASE, -1, 1 << 64), np.uint64), out=down[1:])
        return up, down

    def get(self, length: int) -> tuple[np.ndarray, np.ndarray]:
        if len(self.up) < length:
            size = max(length, 2 * len(self.up))
            if size > self._KEEP:
                return self._build(length)
            self.up, self.down = self._build(size)
        return self.up[:length], self.down[:length]


_POWERS = _Powers()


def string_bytes(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(utf-8 bytes, int64 offsets starting at 0) of a string array, without copying the text."""
    texts = texts.cast(pa.large_string())
    offsets = np.frombuffer(texts.buffers()[1], np.int64)[texts.offset : texts.offset + len(texts) + 1]
    data_buf = texts.buffers()[2]
    data = np.frombuffer(data_buf, np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    data = data[offsets[0] : offsets[-1]]
    return data, offsets - offsets[0]


def _token_spans(data: np.ndarray, offsets: np.ndarray, mode: ShingleMode) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) byte offsets of every token, in order; no token crosses a document boundary."""
    if mode == "char":
        starts = np.flatnonzero((data & 0xC0) != 0x80)  # UTF-8 lead bytes
        ends = np.empty_like(starts)
        ends[:-1] = starts[1:]
        ends[-1:] = len(data)
        return starts, ends
    word = data > 32  # bytes <= 0x20 (space and ASCII controls) separate words
    # Indexes 0..len(data): a token starts where a word byte follows a separator or a document
    # boundary (documents are concatenated), and ends where one precedes them.
    boundary = np.zeros(len(data) + 1, bool)
    boundary[offsets] = True
    before, after = np.zeros(len(data) + 1, bool), np.zeros(len(data) + 1, bool)
    before[1:], after[:-1] = word, word
    return np.flatnonzero(after & (boundary | ~before)), np.flatnonzero(before & (boundary | ~after))


def _token_hashes(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """fmix64 of sum((byte + 1) * B^i) over each token's bytes, i = the byte's place in the token:
    from prefix sums P of (byte + 1) * B^j over the whole buffer, (P[end] - P[start]) * B^-start."""
    up, down = _POWERS.get(len(data) + 1)
    prefix = np.zeros(len(data) + 1, np.uint64)
    weighted = np.multiply(data, up[:-1], dtype=np.uint64)
    weighted += up[:-1]  # (byte + 1): a zero byte still counts
    np.cumsum(weighted, out=prefix[1:])
    return _fmix64((prefix[ends] - prefix[starts]) * down[starts])


def shingle_hashes(
    texts: pa.Array, *, mode: ShingleMode, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """(doc index, 32-bit hash) of every shingle of every normalized text, grouped by doc."""
    if not 1 <= n <= _MAX_NGRAM:
        raise ValueError(f"n-gram size {n} is outside 1..{_MAX_NGRAM}")
    data, offsets = string_bytes(texts)
    starts, ends = _token_spans(data, offsets, mode)
    if len(starts) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.uint32)
    first_token = np.searchsorted(starts, offsets)  # tokens of doc d: first_token[d] .. first_token[d+1]
    per_doc = np.diff(first_token)
    first_token = first_token[:-1]
    token_doc = np.repeat(np.arange(len(per_doc)), per_doc)
    th = _token_hashes(data, starts, ends)

    # Full n-grams: windows that start and end in the same document.
    n_windows = len(th) - n + 1
    if n_windows > 0:
        acc = th[:n_windows] * _POSITION[0]
        for j in range(1, n):
            acc += th[j : j + n_windows] * _POSITION[j]
        full = token_doc[:n_windows] == token_doc[n - 1 :]
        full_doc, full_acc = token_doc[:n_windows][full], acc[full]
    else:
        full_doc, full_acc = np.zeros(0, np.int64), np.zeros(0, np.uint64)

    # Documents with 1..n-1 tokens: one shingle of all of them.
    short_docs = np.flatnonzero((per_doc > 0) & (per_doc < n))
    if len(short_docs):
        is_short = np.zeros(len(per_doc), bool)
        is_short[short_docs] = True
        idx = np.flatnonzero(is_short[token_doc])
        weighted = th[idx] * _POSITION[idx - first_token[token_doc[idx]]]
        short_acc = np.add.reduceat(weighted, np.searchsorted(idx, first_token[short_docs]))
        docs = np.concatenate((full_doc, short_docs))
        accs = np.concatenate((full_acc, short_acc))
        order = np.argsort(docs, kind="stable")
        full_doc, full_acc = docs[order], accs[order]
    return full_doc, (_fmix64(full_acc) >> np.uint64(32)).astype(np.uint32)


def chunks(texts: pa.Array) -> Iterator[tuple[int, pa.Array]]:
    """(first row, slice) of consecutive rows holding about _CHUNK_BYTES of text each."""
    offsets = string_bytes(texts)[1]
    lo = 0
    while lo < len(texts):
        hi = max(int(np.searchsorted(offsets, offsets[lo] + _CHUNK_BYTES, "right")) - 1, lo + 1)
        yield lo, texts.slice(lo, hi - lo)
        lo = hi


def _mixed_shingle_hashes(
    texts: pa.Array, *, char_mask: np.ndarray | None, ngram: dict[str, int]
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """`shingle_hashes` of the word-shingled texts, then of the char-shingled ones (char_mask), a
    chunk of rows at a time."""
    if char_mask is None or not char_mask.any():
        parts = [("word", None)]
    elif char_mask.all():
        parts = [("char", None)]
    else:
        parts = [("word", np.flatnonzero(~char_mask)), ("char", np.flatnonzero(char_mask))]
    for mode, rows in parts:
        sub = texts if rows is None else texts.take(pa.array(rows))
        for lo, chunk in chunks(sub):
            doc, hv = shingle_hashes(chunk, mode=mode, n=ngram[mode])
            doc += lo
            yield (doc if rows is None else rows[doc]), hv


def shingle_sets(
    texts: pa.Array, *, char_mask: np.ndarray | None = None, word_ngram: int = 5, char_ngram: int = 5
) -> pa.ListArray:
    """The distinct shingle hashes of each normalized text, sorted (uint32 bit patterns as int32):
    exact Jaccard of two documents = |A & B| / |A | B| over these sets, as MinHash estimates it."""
    parts = list(_mixed_shingle_hashes(texts, char_mask=char_mask, ngram={"word": word_ngram, "char": char_ngram}))
    doc = np.concatenate([d for d, _ in parts])
    hv = np.concatenate([h for _, h in parts]).view(np.int32)
    # Each document's hashes are contiguous: sorting them document by document is 4x faster than
    # one sort of (doc, hash) packed in 64 bits (short arrays stay in cache).
    new_doc = np.ones(len(doc), bool)
    new_doc[1:] = doc[1:] != doc[:-1]
    bounds = np.append(np.flatnonzero(new_doc), len(doc)).tolist()
    for lo, hi in zip(bounds, bounds[1:]):
        hv[lo:hi].sort()
    first = new_doc.copy()
    first[1:] |= hv[1:] != hv[:-1]
    doc, hv = doc[first], hv[first]
    if (doc[1:] < doc[:-1]).any():  # word documents, then char ones: merge the two runs
        order = np.argsort(doc, kind="stable")
        doc, hv = doc[order], hv[order]
    offsets = np.searchsorted(doc, np.arange(len(texts) + 1)).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(hv, pa.int32()))


class MinHasher:
    """Signatures bit-identical to datasketch.MinHash(num_perm, seed, scheme, hashfunc=shingle_hash32)."""

    def __init__(self, *, num_perm: int, seed: int = 1, scheme: Scheme = "affine32",
                 word_ngram: int = 5, char_ngram: int = 5):
        self.num_perm = num_perm
        self.scheme = scheme
        self.ngram = {"word": word_ngram, "char": char_ngram}
        self.a, self.b = permutations(num_perm, seed, scheme)

    def _permute(self, hv: np.ndarray) -> np.ndarray:
        """(num_perm, len(hv)) permuted values as uint32: permutations on rows, so the per-document
        min below reduces contiguous memory."""
        if self.scheme == "affine32":
            out = np.multiply(self.a[:, None], _fmix32(hv)[None, :])
            return np.add(out, self.b[:, None], out=out)
        y = self.a[:, None] * hv.astype(np.uint64)[None, :] + self.b[:, None]  # wraps mod 2^64, as datasketch's
        p = np.uint64(_MERSENNE)
        r = (y & p) + (y >> np.uint64(61))  # y mod (2^61 - 1) without a division
        r = np.where(r >= p, r - p, r)
        return (r & np.uint64(MAX_HASH)).astype(np.uint32)

    def signatures(self, texts: pa.Array, *, char_mask: np.ndarray | None = None) -> np.ndarray:
        """(len(texts), num_perm) uint32 signatures of normalized texts; char_mask picks char n-grams."""
        sig = np.full((len(texts), self.num_perm), MAX_HASH, np.uint32)
        for doc, hv in _mixed_shingle_hashes(texts, char_mask=char_mask, ngram=self.ngram):
            self._min_into(sig, doc, hv)
        return sig

    def _min_into(self, sig: np.ndarray, doc: np.ndarray, hv: np.ndarray) -> None:
        for lo in range(0, len(hv), _BLOCK_ROWS):
            d = doc[lo : lo + _BLOCK_ROWS]
            seg = np.flatnonzero(np.concatenate(([True], d[1:] != d[:-1])))
            mins = np.minimum.reduceat(self._permute(hv[lo : lo + _BLOCK_ROWS]), seg, axis=1)
            rows = d[seg]
            sig[rows] = np.minimum(sig[rows], mins.T)


def band_hashes(sig: np.ndarray, *, bands: int, rows: int) -> np.ndarray:
    """(n_docs, bands) int64 hash of each band's `rows` signature values."""
    if sig.shape[1] != bands * rows:
        raise ValueError(f"signature width {sig.shape[1]} is not bands x rows = {bands} x {rows}")
    cube = sig.reshape(len(sig), bands, rows).astype(np.uint64)
    acc = np.full((len(sig), bands), 0x9E3779B97F4A7C15, np.uint64)
    for r in range(rows):
        acc = _fmix64(acc * np.uint64(0x100000001B3) + cube[:, :, r] + np.uint64(1))
    return acc.view(np.int64)
