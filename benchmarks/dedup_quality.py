"""Near-dedup quality against ground truth: LSH recall per Jaccard bucket vs theory, precision.

Ground truth: real prose documents from this machine (dedup_corpus.py), each with variants made by
controlled, seeded edits (substitution, deletion, insertion of another real document's words,
paragraph reordering, boilerplate appended), and the exact Jaccard of every (base, variant) pair
under curate's shingling (normalized word 5-grams). Then, with curate's kernels and the configured
bands x rows:

* candidate recall per Jaccard bucket: share of pairs whose band hashes agree in some band, beside
  the theoretical 1 - (1 - s^r)^b averaged over the bucket's pairs, with its binomial error;
* verified pairs: every pair of documents (across all families) sharing a bucket, kept when the
  estimated Jaccard >= min_similarity; precision = share of those whose exact Jaccard >= the
  threshold (and >= threshold - 0.1, the estimator's spread at 112 permutations), and share that
  are truly related (same base document).

    .venv/bin/python benchmarks/dedup_quality.py --bases 400
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_results import write_result  # noqa: E402
from dedup_corpus import iter_documents  # noqa: E402

from curate.dedup.config import DedupConfig  # noqa: E402
from curate.dedup.minhash import MinHasher, band_hashes, shingle_hash32, shingles  # noqa: E402
from curate.dedup.normalize import normalize  # noqa: E402

EDITS = ("substitute", "delete", "insert", "reorder", "boilerplate")


def _bases(n: int, cfg: DedupConfig, *, min_words: int = 300, max_words: int = 3000) -> list[str]:
    """n real documents, none a near-duplicate of another (the corpus has many copied licenses and
    READMEs): a document sharing any LSH band with an earlier pick is skipped."""
    m = cfg.minhash
    hasher = MinHasher(num_perm=m.num_perm, seed=m.seed, scheme=m.scheme)
    out: list[str] = []
    seen: list[set[int]] = [set() for _ in range(m.bands)]
    for _, text in iter_documents(kind="prose"):
        if not min_words <= len(text.split()) <= max_words:
            continue
        bands = band_hashes(hasher.signatures(normalize(pa.array([text]), cfg.normalize)), bands=m.bands, rows=m.rows)[0]
        if any(int(h) in seen[i] for i, h in enumerate(bands)):
            continue
        for i, h in enumerate(bands):
            seen[i].add(int(h))
        out.append(text)
        if len(out) == n:
            break
    return out


def _edit(text: str, kind: str, rate: float, donor: list[str], boiler: str, rng: np.random.Generator) -> str:
    words = text.split()
    n = len(words)
    k = max(1, int(rate * n))
    if kind == "substitute":
        for i in rng.choice(n, size=min(k, n), replace=False):
            words[i] = donor[rng.integers(len(donor))]
        return " ".join(words)
    if kind == "delete":  # spans of 1-20 words
        keep = np.ones(n, bool)
        while (~keep).sum() < k:
            s = rng.integers(n)
            keep[s : s + rng.integers(1, 21)] = False
        return " ".join(w for w, kk in zip(words, keep) if kk)
    if kind == "insert":  # spans of donor text at random places
        for _ in range(max(1, k // 10)):
            s = rng.integers(len(donor))
            pos = rng.integers(len(words) + 1)
            words[pos:pos] = donor[s : s + 10]
        return " ".join(words)
    if kind == "reorder":  # swap chunks of ~rate*n words
        chunks = [words[i : i + max(5, k)] for i in range(0, n, max(5, k))]
        rng.shuffle(chunks)
        return " ".join(w for c in chunks for w in c)
    boiler_words = boiler.split()
    return " ".join(words + boiler_words[: max(5, int(rate * 4 * len(boiler_words)))])


_RATES = {"substitute": (0.0, 0.25), "delete": (0.0, 0.6), "insert": (0.0, 0.8), "reorder": (0.02, 0.3),
          "boilerplate": (0.1, 1.0)}


def build_truth(n_bases: int, variants: int, seed: int, cfg: DedupConfig) -> tuple[list[str], list[int], list[tuple[int, int, str]]]:
    """(documents, family of each, (base index, variant index, edit) pairs)."""
    rng = np.random.default_rng(seed)
    bases = _bases(n_bases, cfg)
    boiler = Path("/usr/share/common-licenses/GPL-3").read_text()
    docs, family, pairs = list(bases), list(range(len(bases))), []
    for b, text in enumerate(bases):
        donor = bases[(b + 1) % len(bases)].split()
        for _ in range(variants):
            kind = EDITS[rng.integers(len(EDITS))]
            lo, hi = _RATES[kind]
            start = rng.integers(0, max(1, len(boiler) - 4000))
            docs.append(_edit(text, kind, float(rng.uniform(lo, hi)), donor, boiler[start : start + 4000], rng))
            family.append(b)
            pairs.append((b, len(docs) - 1, kind))
    return docs, family, pairs


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser()
    p.add_argument("--bases", type=int, default=400)
    p.add_argument("--variants", type=int, default=8)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "dedup_quality.json"))
    args = p.parse_args(argv)
    cfg = DedupConfig()
    m = cfg.minhash
    t0 = time.time()
    docs, family, pairs = build_truth(args.bases, args.variants, args.seed, cfg)
    norm = normalize(pa.array(docs), cfg.normalize)
    sets = [set(map(shingle_hash32, shingles(t, mode="word", n=m.word_ngram))) for t in norm.to_pylist()]

    def jaccard(i: int, j: int) -> float:
        return len(sets[i] & sets[j]) / max(1, len(sets[i] | sets[j]))

    sig = MinHasher(num_perm=m.num_perm, seed=m.seed, scheme=m.scheme).signatures(norm)
    bands = band_hashes(sig, bands=m.bands, rows=m.rows)

    # Candidate recall of the (base, variant) pairs, per exact-Jaccard bucket.
    buckets: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    for b, v, _ in pairs:
        s = jaccard(b, v)
        lo = min(int(s * 10), 9) / 10
        buckets[f"{lo:.1f}-{lo + 0.1:.1f}"].append((s, bool((bands[b] == bands[v]).any())))
    table = []
    for name in sorted(buckets):
        rows = buckets[name]
        n = len(rows)
        recall = sum(c for _, c in rows) / n
        theory = float(np.mean([1 - (1 - s**m.rows) ** m.bands for s, _ in rows]))
        err = math.sqrt(max(theory * (1 - theory), 1e-12) / n)
        table.append({"jaccard": name, "pairs": n, "candidates": sum(c for _, c in rows), "recall": round(recall, 4), "theory": round(theory, 4),
                      "sampling_error": round(err, 4), "z": round((recall - theory) / err, 2) if err > 1e-6 else 0.0})

    # All candidate pairs of the whole set (every document against every other), then verification.
    cand: set[tuple[int, int]] = set()
    for band in range(m.bands):
        groups: dict[int, list[int]] = defaultdict(list)
        for i, h in enumerate(bands[:, band]):
            groups[int(h)].append(i)
        for members in groups.values():
            cand.update((a, b) for ai, a in enumerate(members) for b in members[ai + 1 :])
    verified = [(a, b) for a, b in cand if float(np.mean(sig[a] == sig[b])) >= m.min_similarity]
    exact = [jaccard(a, b) for a, b in verified]
    t = m.min_similarity
    result = {
        "documents": len(docs),
        "families": len(set(family)),
        "pairs": len(pairs),
        "bands": m.bands,
        "rows": m.rows,
        "shingles": f"word {m.word_ngram}-grams",
        "recall_by_jaccard": table,
        "verification_threshold": t,
        "candidate_pairs": len(cand),
        "verified_pairs": len(verified),
        "precision_exact_jaccard_ge_threshold": round(sum(s >= t for s in exact) / max(1, len(exact)), 4),
        "precision_exact_jaccard_ge_threshold_minus_0.1": round(sum(s >= t - 0.1 for s in exact) / max(1, len(exact)), 4),
        "precision_same_base_document": round(sum(family[a] == family[b] for a, b in verified) / max(1, len(verified)), 4),
        "seconds": round(time.time() - t0, 1),
    }
    write_result(result, args.out)
    return result


if __name__ == "__main__":
    main()
