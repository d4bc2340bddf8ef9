"""Line dedup (dedup.line_dedup) on the benchmark corpus: time per GB, bytes removed per source, the
most frequent removed lines, a check of what was removed, and a CCNet-style line dedup on the same
documents.

    python benchmarks/line_dedup.py                       # the whole corpus (/work/bench/corpus)
    python benchmarks/line_dedup.py --keep 1 --of 16      # a 1/16 sample by id hash, as run.py takes

Timed: curate's own steps (curate.pipelines.line_dedup) in Spark, local[2], each written to Parquet
as the job writes it to Delta: unit hashes of every document, per-source counts of the documents
holding each hash -> the frequent ones, the documents holding one stripped of them with their
signals recomputed and re-decided. Every document counts as kept (no annotate run: the step's
cost does not depend on verdicts, and code is left alone as dedup.line_dedup.code = none says).

Checked, untimed, on the normalized line strings rather than their hashes: each line curate removed
(found by aligning each changed text with its original) is held by at least --min-docs documents
of its source; the bytes removed equal the bytes of the lines the string counts say to remove.

CCNet-style reference (cc_net/text_normalizer.normalize_for_dedup plus accent stripping): strip,
lowercase, accents removed, digits -> 0, punctuation and non-printing characters removed; a line
is removed wherever its normalized form occurs twice or more in the corpus, across documents and
sources. Compared on the prose documents (curate leaves code alone by default): bytes removed each
way, and the overlap of the removed line occurrences (document, line number).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_results import write_result  # noqa: E402

GB = 1e9
_DIGIT = re.compile(r"\d")


def ccnet_normalize(line: str) -> str:
    """CCNet's normalize_for_dedup (strip, lowercase, digits -> 0, no punctuation or non-printing
    characters) with accents stripped as its normalize(accent=True) does."""
    line = line.strip()
    if not line:
        return line
    line = unicodedata.normalize("NFD", line.lower())
    line = "".join(c for c in line if unicodedata.category(c) != "Mn")
    line = _DIGIT.sub("0", line)
    return "".join(c for c in line if not unicodedata.category(c).startswith(("P", "C")))


def _line_rows(batches, cfg_json: str):
    """(doc_id, source, line_no, n_bytes, line, norm, cc_norm) of every line of the documents."""
    from curate.dedup.config import DedupConfig
    from curate.dedup.normalize import normalize

    cfg = DedupConfig.model_validate_json(cfg_json)
    for batch in batches:
        ids, sources, texts = (batch.column(c).to_pylist() for c in ("doc_id", "source", "text"))
        rows = {k: [] for k in ("doc_id", "source", "line_no", "n_bytes", "line", "cc_norm")}
        for doc_id, source, text in zip(ids, sources, texts):
            lines = text.split("\n")
            for i, line in enumerate(lines):
                rows["doc_id"].append(doc_id)
                rows["source"].append(source)
                rows["line_no"].append(i)
                rows["n_bytes"].append(len(line.encode()) + (i < len(lines) - 1))  # with its newline
                rows["line"].append(line)
                rows["cc_norm"].append(ccnet_normalize(line))
        norm = normalize(pa.array(rows["line"], pa.large_string()), cfg.normalize).cast(pa.string())
        yield pa.RecordBatch.from_pydict({**rows, "norm": norm})


def _removed_lines(batches):
    """(doc_id, line_no) of each line a changed document lost: its text's lines aligned with its
    original's (removal only deletes whole lines, so the kept ones are in order)."""
    for batch in batches:
        out = {"doc_id": [], "line_no": []}
        for doc_id, before, after in zip(*(batch.column(c).to_pylist() for c in ("doc_id", "text", "new_text"))):
            kept, j = after.split("\n"), 0
            for i, line in enumerate(before.split("\n")):
                if j < len(kept) and kept[j] == line:
                    j += 1
                else:
                    out["doc_id"].append(doc_id)
                    out["line_no"].append(i)
        yield pa.RecordBatch.from_pydict(out, schema=pa.schema([("doc_id", pa.string()), ("line_no", pa.int64())]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="/work/bench/corpus")
    ap.add_argument("--keep", type=int, default=1, help="take the documents whose id hash %% --of < --keep")
    ap.add_argument("--of", type=int, default=1)
    ap.add_argument("--min-docs", type=int, default=10)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "line_dedup.json"))
    args = ap.parse_args()

    from pyspark.sql import functions as F

    from curate.dedup.config import DedupConfig
    from curate.pipelines.line_dedup import doc_frequent, frequent_units, strip, unit_hashes
    from curate.quality.rules import RulesConfig
    from curate.schemas.config import SparkConfig
    from curate.session import get_spark

    spark = get_spark(SparkConfig(master="local[2]", shuffle_partitions=8, driver_memory="6g"),
                      app_name="line-dedup-bench", delta_engine="delta-rs")
    cfg = DedupConfig(line_dedup={"enabled": True, "min_docs": args.min_docs})
    work = Path(tempfile.mkdtemp(prefix="line-dedup-bench-"))

    raw = spark.read.json([str(p) for p in sorted(Path(args.corpus).glob("*/*.jsonl.gz"))])
    kind = F.when(F.input_file_name().contains("/code/"), "code").otherwise("text")
    docs = raw.select(F.col("id").alias("doc_id"), "source", kind.alias("kind"), "text",
                      F.coalesce("url", "path").alias("uri"))
    docs = docs.where(F.abs(F.xxhash64("doc_id")) % args.of < args.keep).withColumn(
        "n_bytes", F.length(F.encode("text", "utf-8")).cast("long"))
    docs.write.parquet(str(work / "docs"))
    docs = spark.read.parquet(str(work / "docs"))
    for c, t in (("lang", "string"), ("lang_score", "double"), ("code_lang", "string"), ("quality_score", "double"),
                 ("signals", "map<string,double>")):
        docs = docs.withColumn(c, F.lit(None).cast(t))
    sizes = {r["source"]: (r["kind"], r["docs"], r["bytes"]) for r in docs.groupBy("source", "kind").agg(
        F.count("*").alias("docs"), F.sum("n_bytes").alias("bytes")).collect()}
    total_bytes = sum(b for _, _, b in sizes.values())

    def timed(name: str, df):
        t0 = time.perf_counter()
        df.write.parquet(str(work / name))
        steps[name] = round(time.perf_counter() - t0, 1)
        return spark.read.parquet(str(work / name))

    steps: dict[str, float] = {}
    hashes = timed("unit_hashes", unit_hashes(docs, cfg))
    frequent = timed("frequent_units", frequent_units(hashes, docs, min_docs=args.min_docs))
    stripped = timed("strip_and_redecide", strip(docs, doc_frequent(hashes, frequent), cfg, RulesConfig()))
    seconds = sum(steps.values())

    removed = {r["source"]: r for r in stripped.groupBy("source").agg(
        F.count("*").alias("docs_changed"), F.sum("removed_bytes").alias("bytes")).collect()}
    per_source = {s: {"kind": k, "docs": n, "bytes": b, "docs_changed": removed[s]["docs_changed"] if s in removed else 0,
                      "bytes_removed": removed[s]["bytes"] if s in removed else 0,
                      "removed_frac": round((removed[s]["bytes"] if s in removed else 0) / b, 4)}
                  for s, (k, n, b) in sorted(sizes.items())}

    # ---- the check, on line strings --------------------------------------------------------
    text_docs = docs.where(F.col("kind") == "text")
    lines = timed("_lines", text_docs.select("doc_id", "source", "text").mapInArrow(
        lambda b: _line_rows(b, cfg.model_dump_json()),
        "doc_id string, source string, line_no long, n_bytes long, line string, cc_norm string, norm string"))
    steps.pop("_lines")
    held = lines.where(F.col("norm") != "").groupBy("source", "norm").agg(
        F.countDistinct("doc_id").alias("n_docs"), F.first("line").alias("example"))
    cc = lines.where(F.col("cc_norm") != "").groupBy("cc_norm").agg(
        F.count("*").alias("cc_occurrences"), F.countDistinct("doc_id").alias("cc_docs"))
    flags = (lines.join(held.select("source", "norm", "n_docs"), ["source", "norm"], "left")
             .join(cc, "cc_norm", "left")
             .withColumn("curate_by_strings", F.coalesce(F.col("n_docs") >= args.min_docs, F.lit(False)))
             .withColumn("ccnet", F.coalesce(F.col("cc_occurrences") >= 2, F.lit(False)))
             .withColumn("ccnet_min_docs", F.coalesce(F.col("cc_docs") >= args.min_docs, F.lit(False))))
    gone = stripped.select("doc_id", F.col("text").alias("new_text")).join(text_docs.select("doc_id", "text"), "doc_id")
    gone = gone.mapInArrow(_removed_lines, "doc_id string, line_no long").withColumn("curate", F.lit(True))
    flags = timed("_flags", flags.join(gone, ["doc_id", "line_no"], "left").fillna(False, ["curate"]))
    steps.pop("_flags")

    def tally(cond) -> tuple[int, int]:
        r = flags.where(cond).agg(F.count("*").alias("n"), F.sum("n_bytes").alias("b")).first()
        return r["n"], r["b"] or 0

    below = flags.where(F.col("curate") & (F.coalesce("n_docs", F.lit(0)) < args.min_docs))
    n_below = below.count()
    top = [{"source": r["source"], "documents": r["n_docs"], "line": r["example"][:160]}
           for r in held.where(F.col("n_docs") >= args.min_docs).orderBy(F.desc("n_docs"), "source", "norm")
           .limit(20).collect()]
    curate_n, curate_b = tally(F.col("curate"))
    strings_n, strings_b = tally(F.col("curate_by_strings"))
    cc_n, cc_b = tally(F.col("ccnet"))
    both_n, both_b = tally(F.col("curate") & F.col("ccnet"))
    ccn_n, ccn_b = tally(F.col("ccnet_min_docs"))
    both_ccn_n, both_ccn_b = tally(F.col("curate") & F.col("ccnet_min_docs"))
    lines_total, text_bytes = tally(F.lit(True))
    cc_only = [{"source": r["source"], "line": r["line"][:120], "corpus_occurrences": r["cc_occurrences"],
                "docs_in_its_source": r["n_docs"]}
               for r in flags.where(F.col("ccnet") & ~F.col("curate")).groupBy("cc_norm").agg(
                   F.first("line").alias("line"), F.first("source").alias("source"),
                   F.max("cc_occurrences").alias("cc_occurrences"), F.max("n_docs").alias("n_docs"))
               .orderBy(F.desc("cc_occurrences"), "cc_norm").limit(10).collect()]

    result = {
        "corpus": args.corpus, "sample": f"{args.keep}/{args.of} of the documents by id hash",
        "documents": sum(n for _, n, _ in sizes.values()), "bytes": total_bytes,
        "config": cfg.line_dedup.model_dump(), "engine": "local[2] on a shared 2-core machine",
        "seconds": {**steps, "total": round(seconds, 1)}, "seconds_per_gb": round(seconds / (total_bytes / GB), 1),
        "bytes_removed": sum(s["bytes_removed"] for s in per_source.values()),
        "per_source": per_source, "top_removed_lines": top,
        "check": {"removed_lines_held_by_fewer_than_min_docs": n_below,
                  "prose_lines_removed": curate_n, "prose_bytes_removed": curate_b,
                  "prose_lines_to_remove_by_string_counts": strings_n, "prose_bytes_to_remove_by_string_counts": strings_b},
        "ccnet_comparison": {
            "prose_lines": lines_total, "prose_bytes": text_bytes,
            "curate": {"lines": curate_n, "bytes": curate_b},
            "ccnet_corpus_wide_twice": {"lines": cc_n, "bytes": cc_b},
            "both": {"lines": both_n, "bytes": both_b},
            "overlap_of_removed_lines_jaccard": round(both_n / max(curate_n + cc_n - both_n, 1), 4),
            "ccnet_normalization_corpus_wide_min_docs": {"lines": ccn_n, "bytes": ccn_b,
                                                         "both_with_curate": {"lines": both_ccn_n, "bytes": both_ccn_b}},
            "removed_by_ccnet_only_most_frequent": cc_only,
        },
    }
    write_result(result, args.out)


if __name__ == "__main__":
    main()
