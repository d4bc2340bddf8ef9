"""Tokenize throughput: `curate tokenize` under Spark beside bare tiktoken on the same texts.

    python benchmarks/tokenize_bench.py [--corpus /tmp/corpus] [--min-mb 200] [--master local[2]]

The corpus is scripts/build_corpus.py's output (real text and code, JSONL.gz). Both sides run in
this one process on the same texts: bare tiktoken `encode_ordinary_batch` on one thread (one
core), then the tokenize stage (`curate.pipelines.tokenize.tokenize`) over the same documents
staged as Parquet, its output consumed by Spark's `noop` sink, on `--master`'s cores. The goal is
a Spark per-core throughput of at least 0.8x bare tiktoken's. Token counts of both must agree.
Writes benchmarks/results/tokenize.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from curate.tokenize.encoder import get_encoding  # noqa: E402
from bench_results import write_result

MB = 1_000_000


def load_texts(corpus: Path, min_mb: int) -> list[dict]:
    files = sorted(corpus.glob("*/*.jsonl.gz"))
    if not files:
        sys.exit(f"no *.jsonl.gz under {corpus}; build it: python scripts/build_corpus.py --out {corpus} --size-mb {min_mb}")
    docs = []
    for f in files:
        kind = f.parent.name  # text | code
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                docs.append({"doc_id": rec["id"], "source": rec.get("source", kind), "kind": kind, "text": rec["text"]})
    size = sum(len(d["text"].encode()) for d in docs)
    if size < min_mb * MB:
        sys.exit(f"corpus {corpus} holds {size / MB:.0f} MB, fewer than --min-mb {min_mb}")
    return docs


def cores(master: str) -> int:
    m = re.fullmatch(r"local\[(\d+)(?:,\d+)?\]", master)
    return int(m.group(1)) if m else os.cpu_count() or 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corpus", default="/tmp/corpus")
    ap.add_argument("--min-mb", type=int, default=200)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "tokenize.json"))
    args = ap.parse_args(argv)

    docs = load_texts(Path(args.corpus), args.min_mb)
    texts = [d["text"] for d in docs]
    n_bytes = sum(len(t.encode()) for t in texts)
    enc = get_encoding()

    t0 = time.perf_counter()
    bare_tokens = 0
    for i in range(0, len(texts), 2000):
        bare_tokens += sum(map(len, enc.encode_ordinary_batch(texts[i : i + 2000], num_threads=1)))
    bare_s = time.perf_counter() - t0

    from pyspark.sql import functions as F

    from curate.pipelines.tokenize import tokenize
    from curate.schemas.config import SparkConfig
    from curate.session import get_spark
    from curate.tokenize.config import TokenizeConfig

    n_cores = cores(args.master)
    spark = get_spark(SparkConfig(master=args.master, shuffle_partitions=n_cores, driver_memory="6g"), app_name="tokenize-bench")
    with tempfile.TemporaryDirectory() as tmp:
        import pyarrow as pa
        import pyarrow.parquet as pq

        # Several files, so that every core gets tasks without a shuffle in the timed run.
        n_files = n_cores * 4
        for k in range(n_files):
            pq.write_table(pa.Table.from_pylist(docs[k::n_files]), f"{tmp}/part-{k:03d}.parquet", row_group_size=2000)
        del docs, texts
        frame = spark.read.parquet(tmp)
        frame.limit(1000).write.format("noop").mode("overwrite").save()  # start the session's workers
        t0 = time.perf_counter()
        tokenize(frame, TokenizeConfig()).write.format("noop").mode("overwrite").save()
        spark_s = time.perf_counter() - t0
        spark_tokens, n_docs = tokenize(frame, TokenizeConfig()).agg(F.sum("n_tokens"), F.count("*")).first()
    if spark_tokens != bare_tokens + n_docs:
        sys.exit(f"token counts differ: spark {spark_tokens} vs bare {bare_tokens} + {n_docs} EOS")

    bare_mbps = n_bytes / MB / bare_s
    spark_mbps = n_bytes / MB / spark_s
    result = {
        "corpus": args.corpus,
        "documents": n_docs,
        "text_mb": round(n_bytes / MB, 1),
        "tokens": bare_tokens,
        "bare_tiktoken": {"threads": 1, "seconds": round(bare_s, 2), "mb_per_s": round(bare_mbps, 2)},
        "curate_spark": {
            "master": args.master,
            "cores": n_cores,
            "seconds": round(spark_s, 2),
            "mb_per_s": round(spark_mbps, 2),
            "mb_per_s_per_core": round(spark_mbps / n_cores, 2),
        },
        "per_core_ratio": round(spark_mbps / n_cores / bare_mbps, 3),
        "goal_per_core_ratio": 0.8,
        "load_average": os.getloadavg(),
    }
    write_result(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
