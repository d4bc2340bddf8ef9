"""Near-dedup quality against ground truth: LSH recall per Jaccard bucket vs theory, and precision.

Ground truth: real prose documents from this machine (dedup_corpus.py), each with variants made by
controlled, seeded edits (substitution, deletion, insertion of another real document's words,
paragraph reordering, boilerplate appended), and the exact Jaccard of every (base, variant) pair
under curate's shingling (normalized word 5-grams, the reference one-shingle-at-a-time path).

* Recall per Jaccard bucket (0.5-0.6 ... 0.9-1.0, lower buckets for context) beside the theoretical
  1 - (1 - s^r)^b averaged over the bucket's pairs, its binomial sampling error
  sqrt(sum p(1 - p)) / n, and z = (recall - theory) / error, of: the (base, variant) pairs whose
  band hashes agree in some band (`recall`, LSH itself), and the pairs the stage compares, i.e. that
  are a candidate edge, on the one-task and on the distributed path (`compared`). The error treats
  pairs as independent; two variants of one base with near-identical edits are not (both hit a band
  or neither does), so a bucket where theory expects less than one hit can show a z of several
  units from one event.
* The stage itself in Spark on all documents (signatures -> candidate edges -> verification ->
  components), for each verification mode and both paths: precision of the verified edges (share
  whose exact Jaccard >= min_similarity), share of edges inside one family, and per bucket the share
  of (base, variant) pairs that end in one cluster (`same_cluster`).

Documents get content-hash ids, as curate's doc_id is: a family's base is not its smallest id, so
the smallest id of an LSH bucket is any member of it, often a heavily edited variant.

    .venv/bin/python benchmarks/dedup_quality.py --bases 400
"""

from __future__ import annotations

import argparse
import hashlib
import math
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

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


def doc_ids(docs: list[str]) -> list[str]:
    """Content-hash ids (in no relation to which document is a base or a variant)."""
    return [hashlib.blake2b(f"{i}\0{t}".encode(), digest_size=16).hexdigest() for i, t in enumerate(docs)]


def _bucket(s: float) -> float:
    return min(int(s * 10), 9) / 10


def _recall(hits: list[bool], p: np.ndarray) -> dict:
    n = len(hits)
    recall, theory = sum(hits) / n, float(p.mean())
    err = math.sqrt(float((p * (1 - p)).sum())) / n
    return {"recall": round(recall, 4), "theory": round(theory, 4), "sampling_error": round(err, 4),
            "z": round((recall - theory) / err, 2) if err > 1e-6 else None}


def _recall_table(jaccard: list[float], matched: list[bool], compared: dict[str, list[bool]], *,
                  bands: int, rows: int) -> list[dict]:
    buckets: dict[float, list[int]] = defaultdict(list)
    for i, s in enumerate(jaccard):
        buckets[_bucket(s)].append(i)
    table = []
    for lo in sorted(buckets):
        at = buckets[lo]
        p = np.array([1 - (1 - jaccard[i] ** rows) ** bands for i in at])
        table.append({"jaccard": f"{lo:.1f}-{lo + 0.1:.1f}", "pairs": len(at), **_recall([matched[i] for i in at], p),
                      "compared": {path: _recall([hits[i] for i in at], p) for path, hits in compared.items()}})
    return table


PATHS = {"one_task": 500_000, "distributed": 0}  # dedup.one_task_max_docs
MODES = ("exact", "signature", "none")


def _one_task_candidates(sigs, cfg: DedupConfig) -> set[tuple[str, str]]:
    """The near candidate edges of the one-task path (its candidates task, run here on the rows)."""
    from curate.dedup.one_task import candidates_task

    rows = sigs.select("doc_id", "scope", "norm_hash", "bands", "lang").toArrow()
    out = pa.Table.from_batches(list(candidates_task(iter(rows.to_batches()), cfg.model_dump_json())))
    near = out.filter(pc.and_(pc.equal(out["part"], "edge"), out["near"]))
    return set(zip(near["src"].to_pylist(), near["dst"].to_pylist()))


def _representatives(sigs) -> dict[str, str]:
    """doc_id -> the smallest doc_id of its normalized text: the copy that enters LSH for it."""
    rep: dict[str, str] = {}
    for doc_id, norm_hash in sorted(sigs.select("doc_id", "norm_hash").collect()):
        rep.setdefault(norm_hash, doc_id)
    return {d: rep[h] for d, h in sigs.select("doc_id", "norm_hash").collect()}


def _spark_run(docs: list[str], family: list[int], sets: list[set[int]], pairs, cfg: DedupConfig) -> dict:
    """Candidate edges of both paths, verified edges and clusters of the stage's Spark code, per
    verification mode and path."""
    from pyspark.sql import functions as F

    from curate.dedup.lsh import candidate_edges, verified_edges
    from curate.dedup.spark import shingle_set_frame
    from curate.pipelines.dedup import find_duplicates, signatures
    from curate.schemas.config import SparkConfig
    from curate.session import get_spark

    spark = get_spark(SparkConfig(master="local[2]", shuffle_partitions=4, driver_memory="2g"), app_name="dedup-quality")
    ids = doc_ids(docs)
    index = {d: i for i, d in enumerate(ids)}
    frame = spark.createDataFrame(
        [(d, "bench", t, True, None, None, len(t.encode())) for d, t in zip(ids, docs)],
        "doc_id string, source string, text string, keep boolean, lang string, quality_score double, n_bytes long",
    )
    t = cfg.minhash.min_similarity
    sigs = signatures(frame, cfg).localCheckpoint()
    scoped = sigs.withColumn("scope", F.lit(""))
    # Both paths: exact copies are grouped first and one representative each enters LSH; a pair
    # is compared when its documents share a representative or their representatives are an edge.
    rep = _representatives(sigs)
    reps = scoped.where(F.col("doc_id").isin(sorted(set(rep.values()))))
    edge_sets = {"one_task": _one_task_candidates(scoped, cfg),
                 "distributed": {tuple(r) for r in candidate_edges(reps, window=cfg.minhash.bucket_window).collect()}}
    out = {"candidate_edges": {path: len(e) for path, e in edge_sets.items()},
           "_compared": {path: [rep[ids[b]] == rep[ids[v]] or tuple(sorted((rep[ids[b]], rep[ids[v]]))) in e
                                for b, v in pairs] for path, e in edge_sets.items()}}
    # Every verification mode is measured on the same candidates (all documents, no exact grouping).
    candidates = candidate_edges(scoped, window=cfg.minhash.bucket_window).localCheckpoint()
    sets_df = shingle_set_frame(frame.select("doc_id", "text", "lang"), cfg)
    for mode in MODES:
        m_cfg = cfg.model_copy(update={"minhash": cfg.minhash.model_copy(update={"verify": mode})})
        edges = [(index[a], index[b]) for a, b in verified_edges(candidates, sigs, m_cfg.minhash, shingles=sets_df).collect()]
        exact = [len(sets[a] & sets[b]) / max(1, len(sets[a] | sets[b])) for a, b in edges]
        together = {}
        for path, max_docs in PATHS.items():
            p_cfg = m_cfg.model_copy(update={"one_task_max_docs": max_docs})
            clusters = {r["doc_id"]: r["cluster_id"] for r in find_duplicates(sigs, p_cfg, texts=frame).collect()}
            together[path] = [clusters.get(ids[b], "-") == clusters.get(ids[v], "+") for b, v in pairs]
        out[mode] = {
            "verified_edges": len(edges),
            "precision": round(sum(j >= t for j in exact) / max(1, len(exact)), 4),
            "precision_jaccard_ge_threshold_minus_0.1": round(sum(j >= t - 0.1 for j in exact) / max(1, len(exact)), 4),
            "edges_within_one_family": round(sum(family[a] == family[b] for a, b in edges) / max(1, len(edges)), 4),
            "min_exact_jaccard_of_an_edge": round(min(exact), 4) if exact else None,
            "_pair_in_one_cluster": together,
        }
    spark.stop()
    return out


def _print_table(result: dict) -> None:
    print(f"b={result['bands']} r={result['rows']} ({result['shingles']}), {result['documents']} documents, "
          f"{result['pairs']} (base, variant) pairs; recall: bands agree, compared: a candidate edge "
          f"(one-task / distributed path); 1 cluster: one-task path (the distributed one equal: "
          f"{result['paths_agree']})")
    print(f"{'Jaccard':9} {'pairs':>6} {'theory':>7} {'+-err':>7} {'recall':>7} {'z':>6} {'compared':>8} {'z':>6} "
          f"{'distrib.':>8}  {'1 cluster: exact':>16} {'signature':>9} {'none':>6}")
    for r in result["recall_by_jaccard"]:
        c, one, dist = r["same_cluster"]["one_task"], r["compared"]["one_task"], r["compared"]["distributed"]
        z = ["" if x["z"] is None else f"{x['z']:6.2f}" for x in (r, one)]
        print(f"{r['jaccard']:9} {r['pairs']:6d} {r['theory']:7.4f} {r['sampling_error']:7.4f} {r['recall']:7.4f} "
              f"{z[0]:>6} {one['recall']:8.4f} {z[1]:>6} {dist['recall']:8.4f}  "
              f"{c['exact']:16.4f} {c['signature']:9.4f} {c['none']:6.4f}")
    v = result["verification"]
    print(f"candidate edges: {v['candidate_edges']}")
    for mode in MODES:
        print(f"verify={mode:9} verified edges {v[mode]['verified_edges']:5d}  precision (exact J >= "
              f"{result['verification_threshold']}) {v[mode]['precision']:.4f}  min J {v[mode]['min_exact_jaccard_of_an_edge']}  "
              f"within one family {v[mode]['edges_within_one_family']:.4f}")


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
    jaccard = [len(sets[b] & sets[v]) / max(1, len(sets[b] | sets[v])) for b, v, _ in pairs]
    bands = band_hashes(MinHasher(num_perm=m.num_perm, seed=m.seed, scheme=m.scheme).signatures(norm),
                        bands=m.bands, rows=m.rows)
    matched = [bool((bands[b] == bands[v]).any()) for b, v, _ in pairs]
    pair_ids = [(b, v) for b, v, _ in pairs]
    verification = _spark_run(docs, family, sets, pair_ids, cfg)
    table = _recall_table(jaccard, matched, verification.pop("_compared"), bands=m.bands, rows=m.rows)
    together = {mode: verification[mode].pop("_pair_in_one_cluster") for mode in MODES}
    for row in table:
        in_bucket = [i for i, s in enumerate(jaccard) if f"{_bucket(s):.1f}" == row["jaccard"][:3]]
        row["same_cluster"] = {path: {mode: round(sum(together[mode][path][i] for i in in_bucket) / len(in_bucket), 4)
                                      for mode in MODES} for path in PATHS}
    result = {
        "documents": len(docs),
        "families": len(set(family)),
        "pairs": len(pairs),
        "edits": {k: sum(e == k for _, _, e in pairs) for k in EDITS},
        "bands": m.bands,
        "rows": m.rows,
        "shingles": f"word {m.word_ngram}-grams",
        "recall_by_jaccard": table,
        "verification_threshold": m.min_similarity,
        "verification": verification,
        "paths_agree": all(together[mode]["one_task"] == together[mode]["distributed"] for mode in MODES),
        "seconds": round(time.time() - t0, 1),
    }
    write_result(result, args.out)
    _print_table(result)
    return result


if __name__ == "__main__":
    main()
