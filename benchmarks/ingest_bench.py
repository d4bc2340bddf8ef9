"""Ingest throughput beside Spark's own JSON reader + native Parquet writer on the same files.

    .venv/bin/python benchmarks/ingest_bench.py --corpus /tmp/corpus          # >= 200 MB of real text
    .venv/bin/python benchmarks/ingest_bench.py --smoke                       # the bundled sample

The corpus is built by `scripts/build_corpus.py --out DIR --size-mb 200` (JSONL.gz shards of real
text and code). Both sides run in one Spark session on the same files: curate's ingest (parse,
validate, hash, quarantine, Delta commit of docs_raw + quarantine) and the baseline
`spark.read.json(files).write.parquet(...)`. Writes benchmarks/results/ingest.json.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from bench_results import write_result

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", help="folder with *.jsonl.gz files (searched recursively)")
    parser.add_argument("--smoke", action="store_true", help="tiny run on the bundled sample")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "ingest.json"))
    parser.add_argument("--master", default="local[*]")
    args = parser.parse_args()
    if args.smoke:
        files = sorted(glob.glob(str(REPO / "examples/sample/web/*.jsonl.gz")))
    elif args.corpus:
        files = sorted(glob.glob(os.path.join(args.corpus, "**/*.jsonl.gz"), recursive=True))
    else:
        parser.error("give --corpus DIR (build one with scripts/build_corpus.py) or --smoke")
    if not files:
        parser.error("no *.jsonl.gz files found")

    from curate.jobs.common import StageContext, new_run_id
    from curate.jobs.ingest import run_ingest
    from curate.schemas.config import PipelineConfig, SparkConfig
    from curate.delta.store import open_store
    from curate.session import get_spark

    spark = get_spark(SparkConfig(master=args.master), app_name="curate-ingest-bench")
    cores = spark.sparkContext.defaultParallelism
    work = Path(tempfile.mkdtemp(prefix="curate-ingest-bench-"))
    compressed = sum(os.path.getsize(f) for f in files)
    try:
        # Baseline first, so both sides see a warm page cache only after it.
        spark.read.json(files[:1]).limit(1).collect()  # JVM and reader warm-up, not timed
        t = time.perf_counter()
        base = spark.read.json(files)
        base.write.mode("overwrite").parquet(str(work / "baseline"))
        base_s = time.perf_counter() - t

        inputs = [{"source": "bench", "kind": "text", "path": f, "id_field": "id"} for f in files]
        cfg = PipelineConfig(root=str(work / "root"), inputs=inputs)
        ctx = StageContext(spark=spark, cfg=cfg, store=open_store(spark, cfg.root), run_id=new_run_id())
        t = time.perf_counter()
        result = run_ingest(ctx)
        curate_s = time.perf_counter() - t
        text_bytes = ctx.store.read("docs_raw").agg({"n_bytes": "sum"}).collect()[0][0]
    finally:
        shutil.rmtree(work, ignore_errors=True)

    mb = text_bytes / 1e6
    report = {
        "benchmark": "ingest",
        "files": len(files),
        "compressed_mb": round(compressed / 1e6, 1),
        "text_mb": round(mb, 1),
        "documents": result.counts.get("doc", 0),
        "quarantined": result.counts.get("quarantined", 0),
        "cores": cores,
        "curate": {"seconds": round(curate_s, 2), "mb_per_s": round(mb / curate_s, 2),
                   "mb_per_s_per_core": round(mb / curate_s / cores, 2)},
        "spark_json_to_parquet": {"seconds": round(base_s, 2), "mb_per_s": round(mb / base_s, 2),
                                  "mb_per_s_per_core": round(mb / base_s / cores, 2)},
        "ratio_curate_to_baseline": round(base_s / curate_s, 3),
    }
    write_result(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
