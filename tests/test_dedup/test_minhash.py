"""The pure kernels: normalization, shingles, signatures bit-identical to datasketch, band hashes."""

from __future__ import annotations

import unicodedata

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from datasketch import MinHash

from curate.dedup import minhash
from curate.dedup.config import NormalizeConfig
from curate.dedup.minhash import MAX_HASH, MinHasher, band_hashes, shingle_hash32, shingle_sets, shingles
from curate.dedup.normalize import exact_hashes, normalize

from .texts import cjk_text, license_text, paragraphs, stdlib_docstrings, stdlib_source


def _corpus() -> list[str]:
    return [
        *paragraphs("GPL-3")[:20],
        *stdlib_docstrings(),
        stdlib_source("textwrap"),
        cjk_text("euc_jp-utf8.txt"),
        cjk_text("gb2312-utf8.txt"),
        "",
        "   ",
        "tiny doc",
        None,
    ]


def _datasketch(text: str, *, mode: str, n: int, num_perm: int, seed: int, scheme: str) -> np.ndarray:
    m = MinHash(num_perm=num_perm, seed=seed, scheme=scheme, hashfunc=shingle_hash32)
    m.update_batch(shingles(text, mode=mode, n=n))
    return m.hashvalues.astype(np.uint64)


@pytest.mark.parametrize("scheme", ["affine32", "legacy"])
@pytest.mark.parametrize("mode", ["word", "char"])
def test_signatures_equal_datasketch_hashvalues(scheme, mode):
    norm = normalize(pa.array(_corpus()), NormalizeConfig())
    hasher = MinHasher(num_perm=112, seed=42, scheme=scheme, word_ngram=5, char_ngram=4)
    sig = hasher.signatures(norm, char_mask=np.full(len(norm), mode == "char"))
    n = 5 if mode == "word" else 4
    for i, text in enumerate(norm.to_pylist()):
        expected = _datasketch(text, mode=mode, n=n, num_perm=112, seed=42, scheme=scheme)
        np.testing.assert_array_equal(sig[i].astype(np.uint64), expected, err_msg=f"doc {i}: {text[:60]!r}")


@pytest.mark.parametrize("chunk_bytes", [1 << 20, 300])
def test_mixed_modes_sliced_arrays_and_long_documents_match_datasketch(monkeypatch, chunk_bytes):
    # A document longer than one numpy block, a sliced Arrow array (offset != 0), plain string type;
    # with 300-byte chunks, documents are hashed alone or a few at a time.
    monkeypatch.setattr(minhash, "_CHUNK_BYTES", chunk_bytes)
    monkeypatch.setattr(minhash._Powers, "_KEEP", 4096)  # the long document's powers are built for it alone
    monkeypatch.setattr(minhash, "_POWERS", minhash._Powers())
    long_doc = license_text("GPL-3") * 3
    texts = pa.array(["x", long_doc, cjk_text("euc_kr-utf8.txt"), *stdlib_docstrings()[:3]], pa.string())[1:]
    norm = normalize(texts, NormalizeConfig())
    char_mask = np.array([False, True, False, True, False])
    sig = MinHasher(num_perm=64, seed=3).signatures(norm, char_mask=char_mask)
    for i, text in enumerate(norm.to_pylist()):
        mode = "char" if char_mask[i] else "word"
        expected = _datasketch(text, mode=mode, n=5, num_perm=64, seed=3, scheme="affine32")
        np.testing.assert_array_equal(sig[i].astype(np.uint64), expected)
    assert len(shingles(norm[0].as_py(), mode="word", n=5)) > 16_384


def test_empty_and_tiny_documents():
    norm = normalize(pa.array(["", None, " \n ", "hello", "hello world", "hello, world!"]), NormalizeConfig())
    sig = MinHasher(num_perm=16).signatures(norm)
    assert (sig[:3] == MAX_HASH).all()  # no shingle: datasketch's empty signature
    assert not (sig[3] == MAX_HASH).all()
    assert not np.array_equal(sig[3], sig[4])  # one shingle of all tokens, different tokens
    np.testing.assert_array_equal(sig[4], sig[5])  # equal after punctuation removal


def test_estimated_jaccard_tracks_true_jaccard():
    base = " ".join(paragraphs("GPL-3")[:6])
    words = base.split()
    edited = " ".join(words[:200] + words[260:])  # delete 60 of ~600 words
    norm = normalize(pa.array([base, edited]), NormalizeConfig())
    a, b = (set(shingles(t, mode="word", n=5)) for t in norm.to_pylist())
    true_j = len(a & b) / len(a | b)
    sig = MinHasher(num_perm=1024, seed=1).signatures(norm)
    est = float(np.mean(sig[0] == sig[1]))
    assert 0.5 < true_j < 0.95
    assert abs(est - true_j) < 4 * np.sqrt(true_j * (1 - true_j) / 1024)


def test_normalization_options():
    raw = pa.array(["Caf\u0065\u0301  NOIR,\u3000le\tchat."])
    assert normalize(raw, NormalizeConfig()).to_pylist() == ["caf\u00e9 noir le chat"]
    kept = normalize(raw, NormalizeConfig(nfc=False, lowercase=False, strip_punctuation=False))
    assert kept.to_pylist() == ["Caf\u0065\u0301 NOIR, le chat."]
    untouched = NormalizeConfig(nfc=False, lowercase=False, strip_punctuation=False, collapse_whitespace=False)
    assert normalize(raw, untouched).to_pylist() == raw.to_pylist()


def _defined_normalization(texts: pa.Array, cfg: NormalizeConfig) -> pa.Array:
    """Normalization as defined: Arrow's kernels and RE2's classes, over every text."""
    texts = pc.fill_null(texts, "")
    if cfg.nfc:
        texts = pc.utf8_normalize(texts, form="NFC")
    if cfg.lowercase:
        texts = pc.utf8_lower(texts)
    pattern = {(True, True): r"[\p{P}\s\p{Z}]+", (True, False): r"\p{P}+", (False, True): r"[\s\p{Z}]+"}.get(
        (cfg.strip_punctuation, cfg.collapse_whitespace))
    if pattern is not None:
        texts = pc.replace_substring_regex(texts, pattern, " ")
    return pc.utf8_trim(texts, " ") if cfg.collapse_whitespace else texts


# Separators and not: NBSP, ideographic space, line/paragraph separators, curly quotes, CJK and
# fullwidth punctuation, a supplementary-plane word separator (U+10100), an emoji; NFC's work: a
# combining accent, the Angstrom sign, Hangul jamo that compose, the Greek question mark (NFC: ';');
# a capital whose lowercase is two code points (U+0130).
_UNICODE = ["\u00a0", "\u3000", "\u2028", "\u2029", "\u201c", "\u201d", "\u3001", "\uff0c", "\U00010100",
            "\U0001f600", "e\u0301", "\u212b", "\u1100\u1161", "\u037e", "\u0130", "\u00e9", "\u4e2d", "\u00bf"]


@pytest.mark.parametrize("chunk_bytes", [1 << 20, 50])
@pytest.mark.parametrize("strip_punctuation", [True, False])
@pytest.mark.parametrize("collapse_whitespace", [True, False])
@pytest.mark.parametrize("nfc_lower", [True, False])
def test_byte_path_equals_the_defined_normalization(monkeypatch, chunk_bytes, strip_punctuation,
                                                    collapse_whitespace, nfc_lower):
    # Every ASCII byte, the characters above and random BMP characters Python knows, runs of
    # separators at either end and across text boundaries, empty texts and texts of separators only.
    monkeypatch.setattr(minhash, "_CHUNK_BYTES", chunk_bytes)
    rng = np.random.default_rng(7)
    bmp = [c for c in map(chr, rng.integers(0x80, 0x10000, 3000))
           if unicodedata.category(c) not in ("Cn", "Cs")]
    alphabet = [chr(c) for c in range(128)] + [" ", ".", "\n", "-", "a", "B"] * 20
    texts = ["".join(rng.choice(alphabet, size=rng.integers(0, 60))) for _ in range(300)]
    texts += ["".join(rng.choice(alphabet + _UNICODE * 4 + bmp, size=rng.integers(0, 60))) for _ in range(300)]
    texts += ["", " ", " .\t", "  word  ", "\x0bv\x1ct", "caf\u00e9 ,, \u3000 NOIR", "\u3000\u00bf", None,
              *stdlib_docstrings()[:5], cjk_text("gb2312-utf8.txt")]
    rng.shuffle(texts)
    cfg = NormalizeConfig(nfc=nfc_lower, lowercase=nfc_lower, strip_punctuation=strip_punctuation,
                          collapse_whitespace=collapse_whitespace)
    raw = pa.array(texts, pa.large_string())
    expected = _defined_normalization(raw, cfg)
    assert normalize(raw, cfg).to_pylist() == expected.to_pylist()
    assert normalize(raw[3:], cfg).to_pylist() == expected[3:].to_pylist()


def test_exact_hashes_group_normalized_equals():
    norm = normalize(pa.array(["The  GPL.", "the gpl", "the gpl v3"]), NormalizeConfig())
    h = exact_hashes(norm).to_pylist()
    assert h[0] == h[1] != h[2]
    assert len(h[0]) == 32


def test_band_hashes_equal_iff_band_values_equal():
    norm = normalize(pa.array(paragraphs("GPL-2")[:8]), NormalizeConfig())
    sig = MinHasher(num_perm=112).signatures(norm)
    other = sig.copy()
    other[:, 9] ^= 1  # changes band 1 (rows 8..15) only
    bh, bo = band_hashes(sig, bands=14, rows=8), band_hashes(other, bands=14, rows=8)
    assert bh.dtype == np.int64 and bh.shape == (8, 14)
    assert (bh[:, 1] != bo[:, 1]).all()
    np.testing.assert_array_equal(np.delete(bh, 1, axis=1), np.delete(bo, 1, axis=1))
    assert len(np.unique(bh[:, 0])) == 8


@pytest.mark.parametrize("chunk_bytes", [1 << 20, 300])
def test_shingle_sets_are_the_distinct_shingle_hashes(monkeypatch, chunk_bytes):
    monkeypatch.setattr(minhash, "_CHUNK_BYTES", chunk_bytes)
    norm = normalize(pa.array(_corpus()), NormalizeConfig())
    char_mask = np.zeros(len(norm), bool)
    char_mask[-6:-4] = True  # the two CJK texts of _corpus()
    sets = shingle_sets(norm, char_mask=char_mask, word_ngram=5, char_ngram=3).to_pylist()
    for text, got, is_char in zip(norm.to_pylist(), sets, char_mask):
        mode, n = ("char", 3) if is_char else ("word", 5)
        expected = sorted({shingle_hash32(s) for s in shingles(text, mode=mode, n=n)})
        assert sorted(h & MAX_HASH for h in got) == expected
        assert got == sorted(got) and len(set(got)) == len(got)
    assert sets[-4] == sets[-3] == sets[-1] == [] and len(sets[-2]) == 1  # "tiny doc": one shingle
