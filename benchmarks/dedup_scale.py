"""Dedup at 1x, 4x, 16x a real corpus: time per document and driver memory as the input grows.

The corpus: scripts/build_corpus.py's output (--corpus DIR; build >= 1.7 GB with --registry-cache
for 16 x 100 MB) or the real text and code files of this machine's Python (dedup_corpus.py). Scale
k reads a uniform seeded sample of k x --base-mb megabytes. Each scale runs in a fresh process
with its own local Spark session, through the stage's transforms (signatures -> find_duplicates
-> remove_duplicates), each step materialized to Parquet. Reported per scale: seconds per step,
microseconds per document, the driver's peak JVM heap, and peak RSS of its JVM and Python process.

    .venv/bin/python scripts/build_corpus.py --out /data/corpus --size-mb 1700 --registry-cache /data/registry
    .venv/bin/python benchmarks/dedup_scale.py --corpus /data/corpus --base-mb 100 --scales 1 4 16
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_results import write_result  # noqa: E402
from dedup_corpus import iter_documents  # noqa: E402

WORK = Path(os.environ.get("DEDUP_SCALE_DIR", "/tmp/dedup_scale"))
_ROW_GROUP = 2000


def _documents(corpus: Path | None) -> Iterator[tuple[str, str, str, str]]:
    """(doc_id, source, kind, text): scripts/build_corpus.py's shards, or this machine's files."""
    if corpus is None:
        for path, text in iter_documents(kind="all"):
            yield (xxhash.xxh3_128_hexdigest(path), "site-packages" if "site-packages" in path else "stdlib",
                   "code" if path.endswith(".py") else "text", text)
        return
    for shard in sorted(corpus.glob("*/*.jsonl.gz")):
        kind = shard.parent.name
        with gzip.open(shard, "rt", encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                yield row["id"], row["source"], kind, row["text"]


def prepare(corpus: Path | None) -> dict:
    """Write the corpus once as Parquet, streaming (bounded memory); each row gets a seeded uniform
    `rank` in [0, 1), so `rank < f` is a uniform sample of a share f of the corpus at every scale."""
    out, meta = WORK / "corpus.parquet", WORK / "corpus.json"
    source = str(corpus or "machine")
    if out.exists() and meta.exists() and json.loads(meta.read_text())["source"] == source:
        return json.loads(meta.read_text())
    WORK.mkdir(parents=True, exist_ok=True)
    schema = pa.schema([("doc_id", pa.string()), ("source", pa.string()), ("kind", pa.string()),
                        ("text", pa.large_string()), ("n_bytes", pa.int64()), ("rank", pa.float64())])
    total = docs = 0
    with pq.ParquetWriter(out, schema) as writer:
        rows: list[tuple] = []
        for doc_id, src, kind, text in _documents(corpus):
            n = len(text.encode())
            rows.append((doc_id, src, kind, text, n, xxhash.xxh64_intdigest(doc_id, seed=11) / 2**64))
            total, docs = total + n, docs + 1
            if len(rows) == _ROW_GROUP:
                writer.write_table(pa.Table.from_pylist([dict(zip(schema.names, r)) for r in rows], schema))
                rows = []
        if rows:
            writer.write_table(pa.Table.from_pylist([dict(zip(schema.names, r)) for r in rows], schema))
    info = {"source": source, "mb": total / 1e6, "docs": docs}
    meta.write_text(json.dumps(info))
    return info


def _vm_hwm_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def run_one(mb: float, *, driver_memory: str) -> dict:
    from pyspark.sql import functions as F

    from curate.dedup.config import DedupConfig
    from curate.pipelines.dedup import find_duplicates, remove_duplicates, signatures
    from curate.schemas.config import SparkConfig
    from curate.session import get_spark

    spark = get_spark(SparkConfig(master="local[2]", shuffle_partitions=8, driver_memory=driver_memory),
                      app_name="dedup-scale")
    cfg = DedupConfig()
    share = mb / json.loads((WORK / "corpus.json").read_text())["mb"]
    docs = (
        spark.read.parquet(str(WORK / "corpus.parquet"))
        .where(F.col("rank") < share)
        .drop("rank")
        .withColumn("keep", F.lit(True))
        .withColumn("lang", F.lit(None).cast("string"))
        .withColumn("quality_score", F.lit(None).cast("double"))
    )
    out = WORK / f"out-{mb:g}"
    steps = {}
    t0 = time.time()
    signatures(docs, cfg).write.mode("overwrite").parquet(str(out / "signatures"))
    steps["signatures_s"] = time.time() - t0
    sigs = spark.read.parquet(str(out / "signatures"))
    t1 = time.time()
    find_duplicates(sigs, cfg, texts=docs).write.mode("overwrite").parquet(str(out / "dup_clusters"))
    steps["clusters_s"] = time.time() - t1
    clusters = spark.read.parquet(str(out / "dup_clusters"))
    t2 = time.time()
    remove_duplicates(docs, clusters).write.mode("overwrite").parquet(str(out / "docs_curated"))
    steps["remove_s"] = time.time() - t2
    total = time.time() - t0
    n_docs = sigs.count()
    in_mb = docs.agg(F.sum("n_bytes")).first()[0] / 1e6
    stats = clusters.agg(F.countDistinct("cluster_id").alias("clusters"),
                         F.sum((~F.col("is_kept")).cast("long")).alias("removed")).first()
    jvm = spark.sparkContext._jvm  # noqa: SLF001
    jvm_pid = int(jvm.ProcessHandle.current().pid())
    heap_peak = sum(int(pool.getPeakUsage().getUsed()) for pool in jvm.java.lang.management.ManagementFactory
                    .getMemoryPoolMXBeans() if str(pool.getType()) == "Heap memory")
    result = {
        "mb": round(in_mb, 1), "docs": n_docs, "clusters": stats["clusters"], "removed": stats["removed"],
        **{k: round(v, 1) for k, v in steps.items()}, "total_s": round(total, 1),
        "us_per_doc": round(total / n_docs * 1e6, 1), "s_per_mb": round(total / in_mb, 3),
        "driver_jvm_peak_heap_mb": round(heap_peak / 2**20, 1),  # sum of the heap pools' peaks
        "driver_jvm_peak_rss_mb": round(_vm_hwm_kb(jvm_pid) / 1024, 1),
        # VmHWM, not getrusage: ru_maxrss survives fork+exec and would report the parent's peak.
        "driver_python_peak_rss_mb": round(_vm_hwm_kb(os.getpid()) / 1024, 1),
    }
    spark.stop()
    return result


def summarize(runs: list[dict], *, driver_memory: str) -> dict:
    """Per-document time at each scale, and the marginal time per added document between scales
    (which leaves out the fixed cost of session start, code generation and component rounds)."""
    per_doc = [r["us_per_doc"] for r in runs]
    marginal = [
        round((b["total_s"] - a["total_s"]) / (b["docs"] - a["docs"]) * 1e6, 1) for a, b in zip(runs, runs[1:])
    ]
    return {
        "runs": runs,
        "drift_us_per_doc_max_over_min": round(max(per_doc) / min(per_doc), 2),
        "marginal_us_per_added_doc": marginal,
        "drift_marginal_last_over_first": round(marginal[-1] / marginal[0], 2) if len(marginal) > 1 else None,
        "machine": f"local[2], {os.cpu_count()} cores shared with other work, driver memory {driver_memory}",
    }


def main(argv: list[str] | None = None) -> dict | None:
    p = argparse.ArgumentParser()
    p.add_argument("--base-mb", type=float, default=32)
    p.add_argument("--scales", type=int, nargs="+", default=[1, 4, 16])
    p.add_argument("--driver-memory", default="2g")
    p.add_argument("--corpus", type=Path, help="a scripts/build_corpus.py output folder (default: this "
                   "machine's Python text and code files)")
    p.add_argument("--one", type=float, help=argparse.SUPPRESS)  # internal: run one scale, print JSON
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "dedup_scale.json"))
    args = p.parse_args(argv)
    if args.one is not None:
        print("RESULT " + json.dumps(run_one(args.one, driver_memory=args.driver_memory)))
        return None
    info = prepare(args.corpus)
    if args.base_mb * max(args.scales) > info["mb"]:
        raise SystemExit(f"the corpus has {info['mb']:.0f} MB, {args.base_mb * max(args.scales):.0f} MB asked: "
                         "build a larger one with scripts/build_corpus.py --registry-cache DIR and pass --corpus")
    runs = []
    for k in args.scales:
        proc = subprocess.run(
            [sys.executable, __file__, "--one", str(args.base_mb * k), "--driver-memory", args.driver_memory],
            capture_output=True, text=True, check=False,
        )
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:
            raise SystemExit(f"scale {k} failed:\n{proc.stderr[-3000:]}")
        runs.append({"scale": k, **json.loads(line[len("RESULT "):])})
        print(json.dumps(runs[-1]), flush=True)
    result = summarize(runs, driver_memory=args.driver_memory)
    write_result(result, args.out)
    return result


if __name__ == "__main__":
    main()
