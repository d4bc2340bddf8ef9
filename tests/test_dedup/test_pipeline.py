"""The dedup stage in Spark: exact groups, LSH + verification, components, keep rule, removal."""

from __future__ import annotations

import functools
import hashlib
import itertools
import logging
import random
import re

import pyarrow as pa
import pytest
from pyspark.sql import functions as F

from curate.dedup.config import DedupConfig, ExactConfig, MinHashConfig
from curate.dedup.lsh import candidate_edges, verified_edges
from curate.dedup.minhash import shingle_hash32, shingles
from curate.dedup.one_task import signature_bytes
from curate.dedup.normalize import normalize
from curate.dedup.spark import shingle_set_frame
from curate.delta.store import open_store
from curate.pipelines.dedup import find_duplicates, remove_duplicates, signatures

from .texts import cjk_text, paragraphs, stdlib_docstrings, stdlib_source

SCHEMA = "doc_id string, source string, kind string, text string, n_bytes long, lang string, keep boolean, quality_score double"


def make_docs(spark, rows):
    """docs_annotated-shaped rows: (doc_id, text) or (doc_id, text, overrides...)."""
    out = []
    for r in rows:
        doc_id, text, extra = r[0], r[1], (r[2] if len(r) > 2 else {})
        out.append((
            doc_id, extra.get("source", "web"), extra.get("kind", "text"), text, len(text.encode()),
            extra.get("lang", "en"), extra.get("keep", True), extra.get("quality_score"),
        ))
    return spark.createDataFrame(out, SCHEMA)


def _one_word_changed(text: str, index: int, word: str) -> str:
    words = text.split(" ")
    words[index] = word
    return " ".join(words)


def _corpus():
    gpl = paragraphs("GPL-3")
    docs_ = stdlib_docstrings()
    boiler = gpl[6]  # a 112-word paragraph appended to unrelated pages, like a site footer
    ja = cjk_text("euc_jp-utf8.txt")
    code = stdlib_source("textwrap")
    long_para = " ".join(gpl[13:16])  # ~350 words
    return [
        # identical up to case and whitespace
        ("a-ident-1", gpl[0]),
        ("a-ident-2", gpl[0].upper().replace(" ", "  ")),
        # one word different, the second has a higher quality score
        ("b-word-1", long_para, {"quality_score": 0.2}),
        ("b-word-2", _one_word_changed(long_para, 40, "Elephant"), {"quality_score": 0.9}),
        # unrelated documents sharing boilerplate
        ("c-boiler-1", docs_[0] + "\n\n" + boiler),
        ("c-boiler-2", docs_[2] + "\n\n" + boiler),
        ("c-boiler-3", docs_[4] + "\n\n" + boiler),
        # empty and tiny documents
        ("d-empty-1", ""),
        ("d-empty-2", "  \n "),
        ("d-tiny-1", "hello world"),
        ("d-tiny-2", "Hello, world!"),
        ("d-tiny-3", "hello there"),
        # CJK (char shingles): a copy with one sentence dropped, and an unrelated Chinese text
        ("e-ja-1", ja, {"lang": "ja"}),
        ("e-ja-2", ja.replace("このような背景から生まれた", ""), {"lang": "ja"}),
        ("e-zh-1", cjk_text("gb2312-utf8.txt"), {"lang": "zh"}),
        # code: a copy with one identifier renamed, and a different module
        ("f-code-1", code, {"kind": "code", "lang": None}),
        ("f-code-2", code.replace("def dedent(", "def undent("), {"kind": "code", "lang": None}),
        ("f-code-3", stdlib_source("shlex"), {"kind": "code", "lang": None}),
        # filtered out by annotate: never a duplicate candidate, never curated
        ("g-dropped", gpl[0], {"keep": False}),
    ]


# 0: every table goes through the distributed steps; the default: these small ones take the
# one-task path (curate.dedup.one_task).
PATH_SIZES, PATH_IDS = [0, 500_000], ["distributed", "one_task"]
PATHS = pytest.mark.parametrize("one_task_max_docs", PATH_SIZES, ids=PATH_IDS)


@pytest.fixture(scope="module", params=PATH_SIZES, ids=PATH_IDS)
def result(spark, request):
    docs = make_docs(spark, _corpus())
    cfg = DedupConfig(one_task_max_docs=request.param)
    sigs = signatures(docs, cfg).localCheckpoint()
    clusters = find_duplicates(sigs, cfg, texts=docs).localCheckpoint()
    by_doc = {r["doc_id"]: r.asDict() for r in clusters.collect()}
    curated = {r["doc_id"] for r in remove_duplicates(docs, clusters).select("doc_id").collect()}
    return by_doc, curated


def test_identical_documents_are_an_exact_cluster(result):
    by_doc, curated = result
    a1, a2 = by_doc["a-ident-1"], by_doc["a-ident-2"]
    assert a1["cluster_id"] == a2["cluster_id"] == "a-ident-1"
    assert a1["cluster_size"] == 2 and a1["kind"] == a2["kind"] == "exact"
    # Same quality (null) and the upper-cased copy is longer: length decides.
    assert a2["is_kept"] and not a1["is_kept"] and a1["duplicate_of"] == "a-ident-2"
    assert a1["similarity"] == 1.0
    assert "a-ident-2" in curated and "a-ident-1" not in curated


def test_one_word_difference_is_near_duplicate_and_quality_decides(result):
    by_doc, curated = result
    b1, b2 = by_doc["b-word-1"], by_doc["b-word-2"]
    assert b1["cluster_id"] == b2["cluster_id"]
    assert b2["is_kept"] and b1["duplicate_of"] == "b-word-2"
    assert b1["kind"] == "near" and 0.8 < b1["similarity"] < 1.0
    assert curated >= {"b-word-2"} and "b-word-1" not in curated


def test_shared_boilerplate_does_not_make_duplicates(result):
    by_doc, curated = result
    assert not {"c-boiler-1", "c-boiler-2", "c-boiler-3"} & by_doc.keys()
    assert {"c-boiler-1", "c-boiler-2", "c-boiler-3"} <= curated


def test_empty_and_tiny_documents(result):
    by_doc, curated = result
    assert by_doc["d-empty-1"]["cluster_id"] == by_doc["d-empty-2"]["cluster_id"]  # same normalized text ""
    assert by_doc["d-tiny-1"]["cluster_id"] == by_doc["d-tiny-2"]["cluster_id"]
    assert by_doc["d-tiny-1"]["kind"] == "exact"
    assert "d-tiny-3" not in by_doc and "d-tiny-3" in curated


def test_cjk_near_duplicate_with_character_shingles(result):
    by_doc, curated = result
    assert by_doc["e-ja-1"]["cluster_id"] == by_doc["e-ja-2"]["cluster_id"]
    assert by_doc["e-ja-2"]["kind"] == "near" or by_doc["e-ja-1"]["kind"] == "near"
    assert "e-zh-1" not in by_doc


def test_code_near_duplicate(result):
    by_doc, curated = result
    assert by_doc["f-code-1"]["cluster_id"] == by_doc["f-code-2"]["cluster_id"]
    assert "f-code-3" not in by_doc


def test_fates_reconcile(result):
    by_doc, curated = result
    kept_input = {r[0] for r in _corpus() if (r[2] if len(r) > 2 else {}).get("keep", True)}
    removed = {d for d, r in by_doc.items() if not r["is_kept"]}
    assert "g-dropped" not in by_doc and "g-dropped" not in curated
    assert curated == kept_input - removed
    for d in removed:  # every removed document names a kept document of its cluster
        kept = by_doc[by_doc[d]["duplicate_of"]]
        assert kept["is_kept"] and kept["cluster_id"] == by_doc[d]["cluster_id"]
    sizes = {}
    for r in by_doc.values():
        sizes[r["cluster_id"]] = sizes.get(r["cluster_id"], 0) + 1
    assert all(r["cluster_size"] == sizes[r["cluster_id"]] for r in by_doc.values())
    assert sum(r["is_kept"] for r in by_doc.values()) == len(sizes)


@pytest.mark.slow
@PATHS
@pytest.mark.parametrize("exact", [True, False])
def test_bucket_of_ten_thousand_identical_documents(spark, exact, one_task_max_docs):
    text = paragraphs("GPL-2")[3]
    docs = make_docs(spark, [(f"copy-{i:05d}", text) for i in range(10_000)] + [("other", paragraphs("GPL-2")[8])])
    cfg = DedupConfig(exact=ExactConfig(enabled=exact), one_task_max_docs=one_task_max_docs)
    sigs = signatures(docs, cfg).localCheckpoint()
    if not exact:  # the giant-bucket guard: (window + 1) x 9 999 edges at most, not 10 000 x 9 999 / 2 pairs
        edges = candidate_edges(sigs.withColumn("scope", F.lit("")), window=8)
        assert edges.count() == 8 * (10_000 - 8) + 8 * 7 // 2 + (10_000 - 1 - 8) == 89_955
        assert edges.where("src = 'copy-00000'").count() == 9_999 and not edges.where("src >= dst").count()
    clusters = find_duplicates(sigs, cfg, texts=docs)
    summary = clusters.groupBy("cluster_id", "cluster_size").agg(
        F.sum(F.col("is_kept").cast("int")).alias("kept"), F.count("*").alias("n"),
        F.min("kind").alias("kind_min"), F.max("kind").alias("kind_max"),
    ).collect()
    assert len(summary) == 1
    row = summary[0]
    assert (row["cluster_id"], row["cluster_size"], row["n"], row["kept"]) == ("copy-00000", 10_000, 10_000, 1)
    assert row["kind_min"] == row["kind_max"] == "exact"  # identical text, found via the near path too


@PATHS
@pytest.mark.parametrize("scope,expect_cluster", [("global", True), ("source", False)])
def test_scope(spark, scope, expect_cluster, one_task_max_docs):
    text = paragraphs("GPL-3")[1]
    docs = make_docs(spark, [("s1", text, {"source": "crawl-a"}), ("s2", text, {"source": "crawl-b"})])
    cfg = DedupConfig(scope=scope, one_task_max_docs=one_task_max_docs)
    clusters = find_duplicates(signatures(docs, cfg), cfg, texts=docs)
    assert (clusters.count() == 2) is expect_cluster


@PATHS
def test_keep_rule_order_is_configurable(spark, one_task_max_docs):
    base = " ".join(paragraphs("GPL-3")[13:16])
    docs = make_docs(spark, [
        ("k1", base + " and more words at the end of it", {"quality_score": 0.1}),
        ("k2", base, {"quality_score": 0.8}),
        ("k3", base, {"quality_score": None}),
    ])
    for keep_by, expected in [(["quality_score", "length"], "k2"), (["length"], "k1"), ([], "k1")]:
        cfg = DedupConfig(keep_by=keep_by, minhash=MinHashConfig(verify="none"), one_task_max_docs=one_task_max_docs)
        kept = find_duplicates(signatures(docs, cfg), cfg, texts=docs).where("is_kept").collect()
        assert [r["doc_id"] for r in kept] == [expected], keep_by


def _deleted_spans(words: list[str], seed: int, fraction: float) -> str:
    rng = random.Random(seed)
    out = list(words)
    for _ in range(int(fraction * len(words)) // 8):
        i = rng.randrange(len(out))
        out[i : i + 8] = []
    return " ".join(out)


def _edited_copies() -> list[str]:
    """A real text and 30 copies with 15%..35% of it deleted in 8-word spans: Jaccard 0.48..0.76,
    where LSH candidates fall on both sides of the 0.7 threshold."""
    words = " ".join(paragraphs("GPL-3")[20:32]).split()
    return [" ".join(words)] + [_deleted_spans(words, i, 0.15 + 0.2 * i / 30) for i in range(30)]


def _hashed_family() -> list[tuple[str, str]]:
    """A real text and 20 copies with 5%..30% of it deleted, with content-hash ids as doc_ids are
    (LSH buckets of up to 8 of them)."""
    words = " ".join(paragraphs("GPL-3")[20:32]).split()
    texts = [" ".join(words)] + [_deleted_spans(words, i, 0.05 + 0.25 * i / 20) for i in range(20)]
    return [(hashlib.sha256(t.encode()).hexdigest()[:16], t) for t in texts]


@pytest.mark.parametrize("settings", [
    {},
    {"minhash": {"verify": "signature"}},
    {"minhash": {"verify": "none"}, "keep_by": ["length"]},
    {"exact": {"enabled": False}, "keep_by": []},
    {"scope": "source", "minhash": {"min_similarity": 0.5}},
    {"minhash": {"enabled": False}},
    {"minhash": {"bucket_window": 1}},
], ids=["default", "signature", "none-length", "no-exact", "source-scope", "exact-only", "window-1"])
def test_one_task_path_equals_the_distributed_steps(spark, settings, tmp_path):
    copies = [(f"v{i:02d}", t, {"source": f"s{i % 2}", "quality_score": [None, 0.5, 0.5, 0.9][i % 4]})
              for i, t in enumerate(_edited_copies())]
    docs = make_docs(spark, _corpus() + copies + [("v00-copy", copies[0][1].lower(), {"source": "s1"})]
                     + _hashed_family())  # buckets of up to 8: beyond a window of 1
    # The job's one-task path reads the candidates' texts from the table's files (three here).
    store = open_store(spark, str(tmp_path))
    for part in range(3):
        version = store.append(docs.where(F.pmod(F.hash("doc_id"), F.lit(3)) == part), "docs", schema=docs.schema)
    read_texts = functools.partial(store.file_frame, "docs", version=version, columns=["doc_id", "text"])
    n_docs = docs.where("keep").count()
    tables = []
    # distributed, one task, one task reading the table's files, and the one-task candidates going
    # on through the distributed steps (the signatures fit the byte bound, the rest does not)
    sig_bytes = signature_bytes(DedupConfig.model_validate(settings), n_docs)
    variants = [*zip(PATH_SIZES, [None, None], [1 << 30] * 2), (PATH_SIZES[1], read_texts, 1 << 30),
                (PATH_SIZES[1], None, sig_bytes)]
    for one_task_max_docs, reader, max_bytes in variants:
        cfg = DedupConfig.model_validate({**settings, "one_task_max_docs": one_task_max_docs,
                                          "one_task_max_bytes": max_bytes})
        sigs = signatures(docs, cfg).localCheckpoint()
        tables.append(sorted(tuple(r) for r in find_duplicates(sigs, cfg, texts=docs, read_texts=reader).collect()))
    assert tables[0] == tables[1] == tables[2] == tables[3]
    assert len({r[1] for r in tables[0]}) >= 4  # several clusters (4 exact ones with MinHash off)


def test_the_one_task_path_switches_to_the_distributed_steps_on_bytes(spark, caplog):
    """The same documents go through one clustering task or, past dedup.one_task_max_bytes of
    signatures, candidate edges and the candidates' shingle sets, through the distributed steps;
    the clusters are the same either way."""
    copies = [(f"v{i:02d}", t) for i, t in enumerate(_edited_copies())]
    docs = make_docs(spark, _corpus() + copies)
    sigs = signatures(docs, DedupConfig()).localCheckpoint()
    sig_bytes = signature_bytes(DedupConfig(), sigs.count())

    def run(max_bytes: int) -> tuple[list, int | None]:
        caplog.clear()
        cfg = DedupConfig(one_task_max_bytes=max_bytes)
        with caplog.at_level(logging.INFO, logger="curate.pipelines.dedup"):
            rows = sorted(tuple(r) for r in find_duplicates(sigs, cfg, texts=docs).collect())
        said = re.search(r"would hold (\d+) bytes", caplog.text)
        return rows, int(said[1]) if said else None

    switched, measured = run(sig_bytes)  # the signatures fit, the candidates' sets do not
    assert measured is not None and measured - sig_bytes > 50_000  # tens of thousands of 4-byte shingles
    one_task, not_switched = run(measured)
    assert not_switched is None
    assert run(measured - 1)[1] == measured
    assert switched == one_task and len({r[1] for r in one_task}) >= 4


def test_exact_verification_keeps_exactly_the_candidates_at_or_above_the_threshold(spark):
    texts = _edited_copies()
    docs = make_docs(spark, [(f"v{i:02d}", t) for i, t in enumerate(texts)])
    cfg = DedupConfig()
    sigs = signatures(docs, cfg).localCheckpoint()
    candidates = candidate_edges(sigs.withColumn("scope", F.lit("")), window=8).localCheckpoint()
    sets = shingle_set_frame(docs.select("doc_id", "text", "lang"), cfg)
    kept = {tuple(r) for r in verified_edges(candidates, sigs, cfg.minhash, shingles=sets).collect()}

    norm = dict(zip([f"v{i:02d}" for i in range(len(texts))], normalize(pa.array(texts), cfg.normalize).to_pylist()))
    ref = {d: {shingle_hash32(s) for s in shingles(t, mode="word", n=5)} for d, t in norm.items()}
    jaccard = {(a, b): len(ref[a] & ref[b]) / len(ref[a] | ref[b]) for a, b in (tuple(r) for r in candidates.collect())}
    assert kept == {e for e, j in jaccard.items() if j >= 0.7}
    assert sum(j < 0.7 for j in jaccard.values()) >= 5 and len(kept) >= 3  # both sides are exercised

    # The clusters are built on the same verified edges, and report the exact Jaccard.
    clusters = find_duplicates(sigs, cfg, texts=docs).collect()
    for r in clusters:
        if not r["is_kept"]:
            a, b = norm[r["doc_id"]], norm[r["duplicate_of"]]
            sa, sb = (ref[r["doc_id"]], ref[r["duplicate_of"]])
            assert r["similarity"] == pytest.approx(len(sa & sb) / len(sa | sb)) and a != b
    clustered = {r["doc_id"] for r in clusters}
    assert clustered == {d for e in kept for d in e}


def _partition(edges, nodes) -> set[frozenset[str]]:
    """The clusters (two or more documents) of the graph `edges` over `nodes`."""
    parent = {d: d for d in nodes}

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    for a, b in edges:
        parent[find(a)] = find(b)
    groups: dict[str, set[str]] = {}
    for d in nodes:
        groups.setdefault(find(d), set()).add(d)
    return {frozenset(g) for g in groups.values() if len(g) > 1}


@PATHS
@pytest.mark.parametrize("verify", ["exact", "signature"])
def test_verified_clusters_are_those_of_all_pairs_sharing_a_bucket(spark, verify, one_task_max_docs):
    """In _hashed_family, a bucket's smallest id is any copy, and two copies similar to each other
    may not be to it."""
    family = _hashed_family()
    ids, texts = [d for d, _ in family], [t for _, t in family]
    docs = make_docs(spark, family)
    cfg = DedupConfig(minhash=MinHashConfig(verify=verify), one_task_max_docs=one_task_max_docs)
    sigs = signatures(docs, cfg).localCheckpoint()
    rows = {r["doc_id"]: r for r in sigs.collect()}

    norm = dict(zip(ids, normalize(pa.array(texts), cfg.normalize).to_pylist()))
    sets = {d: {shingle_hash32(s) for s in shingles(t, mode="word", n=5)} for d, t in norm.items()}

    def similar(a: str, b: str) -> bool:
        if verify == "exact":
            return len(sets[a] & sets[b]) / len(sets[a] | sets[b]) >= 0.7
        sa, sb = rows[a]["signature"], rows[b]["signature"]
        return sum(x == y for x, y in zip(sa, sb)) / len(sa) >= 0.7

    buckets: dict[tuple[int, int], list[str]] = {}
    for d, r in rows.items():
        for band, h in enumerate(r["bands"]):
            buckets.setdefault((band, h), []).append(d)
    shared = [sorted(m) for m in buckets.values() if len(m) > 1]
    assert max(map(len, shared)) <= 10  # every pair of a bucket this small is compared (bucket_window 8)
    all_pairs = {p for m in shared for p in itertools.combinations(m, 2)}
    expected = _partition([p for p in all_pairs if similar(*p)], ids)
    star = _partition([(m[0], x) for m in shared for x in m[1:] if similar(m[0], x)], ids)
    assert star != expected  # the family has pairs a star from each bucket's smallest id never compares

    clusters: dict[str, set[str]] = {}
    for r in find_duplicates(sigs, cfg, texts=docs).collect():
        clusters.setdefault(r["cluster_id"], set()).add(r["doc_id"])
    assert {frozenset(c) for c in clusters.values()} == expected
