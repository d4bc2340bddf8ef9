"""MinHash throughput: curate's vectorized kernel vs datasketch.MinHash.update_batch, one core.

Same real documents, same normalization and shingles, num_perm = 112, datasketch's default scheme.
datasketch runs as it is normally used: one MinHash per document, update_batch over the shingles
encoded as UTF-8, with its default hash (sha1_hash32) and, for the bit-identity check, with
curate's shingle_hash32. Writes benchmarks/results/minhash_bench.json.

    .venv/bin/python benchmarks/minhash_bench.py --docs 3000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dedup_corpus import load  # noqa: E402

from curate.dedup.config import NormalizeConfig  # noqa: E402
from curate.dedup.minhash import MinHasher, shingle_hash32, shingles  # noqa: E402
from curate.dedup.normalize import normalize  # noqa: E402

BATCH = 2000  # Spark's arrow.maxRecordsPerBatch in curate.session


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser()
    p.add_argument("--docs", type=int, default=3000)
    p.add_argument("--num-perm", type=int, default=112)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "minhash_bench.json"))
    args = p.parse_args(argv)
    from datasketch import MinHash

    texts = load(n_docs=args.docs, kind="all")
    n_bytes = sum(len(t.encode()) for t in texts)
    cfg = NormalizeConfig()
    hasher = MinHasher(num_perm=args.num_perm, seed=1)

    t0 = time.process_time()
    sigs = []
    for lo in range(0, len(texts), BATCH):
        norm = normalize(pa.array(texts[lo : lo + BATCH]), cfg)
        sigs.append(hasher.signatures(norm))
    curate_s = time.process_time() - t0
    sig = np.concatenate(sigs)

    # datasketch: normalization (the same Arrow call) and shingling are timed apart from update_batch.
    t0 = time.process_time()
    norm_texts = normalize(pa.array(texts), cfg).to_pylist()
    shingle_bytes = [[" ".join(s).encode() for s in shingles(t, mode="word", n=5)] for t in norm_texts]
    prep_s = time.process_time() - t0
    t0 = time.process_time()
    for sh in shingle_bytes:
        m = MinHash(num_perm=args.num_perm, seed=1)
        m.update_batch(sh)
    ds_update_s = time.process_time() - t0

    # Same hash function: hashvalues must be identical (checked on every document).
    t0 = time.process_time()
    identical = 0
    for i, t in enumerate(norm_texts):
        m = MinHash(num_perm=args.num_perm, seed=1, hashfunc=shingle_hash32)
        m.update_batch(shingles(t, mode="word", n=5))
        identical += int(np.array_equal(m.hashvalues.astype(np.uint64), sig[i].astype(np.uint64)))
    ds_same_hash_s = time.process_time() - t0

    n_shingles = sum(len(s) for s in shingle_bytes)
    result = {
        "docs": len(texts),
        "mb": round(n_bytes / 1e6, 2),
        "shingles": n_shingles,
        "num_perm": args.num_perm,
        "cpu_count_visible": os.cpu_count(),
        "curate_s": round(curate_s, 3),
        "curate_docs_per_s": round(len(texts) / curate_s, 1),
        "curate_mb_per_s": round(n_bytes / 1e6 / curate_s, 2),
        "datasketch_update_batch_s": round(ds_update_s, 3),
        "datasketch_prep_s": round(prep_s, 3),
        "datasketch_total_s": round(ds_update_s + prep_s, 3),
        "speedup_vs_update_batch_only": round(ds_update_s / curate_s, 2),
        "speedup_vs_datasketch_total": round((ds_update_s + prep_s) / curate_s, 2),
        "datasketch_same_hash_s": round(ds_same_hash_s, 3),
        "identical_hashvalues": f"{identical}/{len(texts)}",
        "timer": "process CPU time, one thread",
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
