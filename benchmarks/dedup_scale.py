"""Dedup at 1x, 4x, 16x a real corpus: time per document and driver memory as the input grows.

The corpus: real text and code files of this machine (dedup_corpus.py), in a seeded order so every
prefix is a uniform sample; scale k reads the first k x --base-mb megabytes. Each scale runs in a
fresh process with its own local Spark session, through the stage's transforms (signatures ->
find_duplicates -> remove_duplicates), each step materialized to Parquet. Reported: seconds per
step, microseconds per document, peak RSS of the driver's JVM and Python process.

    .venv/bin/python benchmarks/dedup_scale.py --base-mb 32 --scales 1 4 16
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dedup_corpus import iter_documents  # noqa: E402
from bench_results import write_result

WORK = Path(os.environ.get("DEDUP_SCALE_DIR", "/tmp/dedup_scale"))


def prepare(total_mb: float) -> Path:
    """Write the corpus (a seeded shuffle of real files) once; rows carry their cumulative bytes."""
    out = WORK / "corpus.parquet"
    meta = WORK / "corpus.json"
    if out.exists() and meta.exists() and json.loads(meta.read_text())["mb"] >= total_mb:
        return out
    WORK.mkdir(parents=True, exist_ok=True)
    docs = sorted(iter_documents(kind="all"), key=lambda d: xxhash.xxh64_intdigest(d[0], seed=11))
    rows, total = [], 0
    for path, text in docs:
        n = len(text.encode())
        total += n
        rows.append((xxhash.xxh3_128_hexdigest(path), "stdlib" if "site-packages" not in path else "site-packages",
                     "code" if path.endswith(".py") else "text", text, n, total))
        if total >= total_mb * 1e6:
            break
    cols = list(zip(*rows))
    table = pa.table({"doc_id": cols[0], "source": cols[1], "kind": cols[2], "text": cols[3],
                      "n_bytes": pa.array(cols[4], pa.int64()), "cum_bytes": pa.array(cols[5], pa.int64())})
    pq.write_table(table, out, row_group_size=2000)
    meta.write_text(json.dumps({"mb": total / 1e6, "docs": len(rows)}))
    if total < total_mb * 1e6:
        print(f"corpus has only {total / 1e6:.0f} MB of real documents", file=sys.stderr)
    return out


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
    docs = (
        spark.read.parquet(str(WORK / "corpus.parquet"))
        .where(F.col("cum_bytes") <= mb * 1e6)
        .drop("cum_bytes")
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
    stats = clusters.agg(F.countDistinct("cluster_id").alias("clusters"),
                         F.sum((~F.col("is_kept")).cast("long")).alias("removed")).first()
    jvm_pid = int(spark.sparkContext._jvm.ProcessHandle.current().pid())  # noqa: SLF001
    result = {
        "mb": mb, "docs": n_docs, "clusters": stats["clusters"], "removed": stats["removed"],
        **{k: round(v, 1) for k, v in steps.items()}, "total_s": round(total, 1),
        "us_per_doc": round(total / n_docs * 1e6, 1), "s_per_mb": round(total / mb, 3),
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
    p.add_argument("--one", type=float, help=argparse.SUPPRESS)  # internal: run one scale, print JSON
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "dedup_scale.json"))
    args = p.parse_args(argv)
    if args.one is not None:
        print("RESULT " + json.dumps(run_one(args.one, driver_memory=args.driver_memory)))
        return None
    prepare(args.base_mb * max(args.scales))
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
