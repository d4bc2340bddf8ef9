"""Benchmark annotate: Spark stage vs the same Annotator bare in one process, and our heuristic
families vs datatrove's filters on the same documents (`--rules-only` against a full annotate is
timed by benchmarks/run.py, on the pipeline's own table).

The corpus is real text: HTML documentation installed on this machine (Rust and Python docs),
converted to plain text with resiliparse, cached under --work. Pages over 1 MB of text are left
out: one 14 MB page (a Rust API index) was two thirds of a 21 MB corpus, so one core worked
alone while the other idled, and the Spark-vs-bare figure measured that skew, not Spark.
Bare figures are measured three ways to show where time goes: the signal functions alone, the
whole `Annotator.annotate` per document (PII, language ID, signals, verdict), and
`Annotator.annotate_batch` over the same Arrow batches Spark hands to `mapInArrow`.

    python benchmarks/annotate_bench.py --mb 200 --datatrove-mb 5
Writes benchmarks/results/annotate.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from bench_results import write_result  # benchmarks/ is on sys.path when run as a script
from curate.quality.annotator import Annotator
from curate.quality.config import AnnotateConfig
from curate.quality.rules import C4_RULES, FINEWEB_RULES, GOPHER_QUALITY_RULES, GOPHER_REPETITION_RULES, decide
from curate.quality.signals import compute_signals, text_signals

HTML_ROOTS = ["/root/.rustup/toolchains", "/usr/share/doc", "/root/.pyenv/versions"]
RESULTS = Path(__file__).parent / "results" / "annotate.json"
MAX_DOC_BYTES = 1_000_000


def build_corpus(work: Path, mb: int) -> Path:
    out = work / f"corpus_{mb}mb_docs_under_{MAX_DOC_BYTES}.parquet"
    if out.exists():
        return out
    from resiliparse.extract.html2text import extract_plain_text

    texts, uris, total = [], [], 0
    for root in HTML_ROOTS:
        for dirpath, _, files in sorted(os.walk(root)):
            for name in sorted(files):
                if not name.endswith(".html") or total >= mb * 1_000_000:
                    continue
                path = os.path.join(dirpath, name)
                try:
                    html = Path(path).read_text(encoding="utf-8")
                except (UnicodeDecodeError, OSError):
                    continue
                text = extract_plain_text(html, main_content=True)
                if 200 <= len(text) and len(text.encode()) <= MAX_DOC_BYTES:
                    texts.append(text)
                    uris.append(path)
                    total += len(text.encode())
    n = len(texts)
    table = pa.table({
        "doc_id": [f"d{i}" for i in range(n)], "source_id": uris, "source": ["html-docs"] * n, "kind": ["text"] * n,
        "text": texts, "uri": uris, "offset": [0] * n, "input_file": uris,
        "n_bytes": [len(t.encode()) for t in texts],
        "metadata": pa.array([[] for _ in range(n)], pa.map_(pa.string(), pa.string())),
        "ingest_run_id": ["bench"] * n,
    })
    pq.write_table(table, out)
    return out


def bare(corpus: Path, texts: list[tuple[str, str]], cfg: AnnotateConfig) -> dict[str, float]:
    """Seconds of the same work in this one process, without Spark."""
    annotator = Annotator(cfg)
    start = time.perf_counter()
    for text, _ in texts:
        compute_signals(text, kind="text")
    signals_s = time.perf_counter() - start
    start = time.perf_counter()
    for text, uri in texts:
        annotator.annotate(text=text, kind="text", source="html-docs", uri=uri)
    annotate_s = time.perf_counter() - start
    batches = pq.ParquetFile(corpus).iter_batches(batch_size=2000)  # Spark's maxRecordsPerBatch here
    start = time.perf_counter()
    for batch in batches:
        annotator.annotate_batch(batch)
    batches_s = time.perf_counter() - start
    return {"signals_s": signals_s, "annotate_s": annotate_s, "annotate_batch_s": batches_s}


def spark_runs(corpus: Path, cfg: AnnotateConfig, cores: int) -> dict:
    from curate.pipelines.annotate import annotate
    from curate.schemas.config import SparkConfig
    from curate.schemas.tables import DOCS_RAW_SCHEMA
    from curate.session import get_spark

    spark = get_spark(SparkConfig(master=f"local[{cores}]", shuffle_partitions=cores, driver_memory="4g"),
                      app_name="annotate-bench")
    docs = spark.read.schema(DOCS_RAW_SCHEMA).parquet(str(corpus)).repartition(cores * 4)
    docs.write.format("noop").mode("overwrite").save()  # warm up: JVM, workers, file listing
    start = time.perf_counter()
    annotate(docs, cfg).write.format("noop").mode("overwrite").save()
    full_s = time.perf_counter() - start
    spark.stop()
    return {"full_s": full_s}


def datatrove_compare(texts: list[str]) -> dict | None:
    try:
        import importlib.metadata  # noqa: F401  (datatrove 0.9 needs it imported)

        from datatrove.data import Document
        from datatrove.pipeline import filters
    except ImportError:
        return None
    theirs = [filters.GopherQualityFilter(), filters.GopherRepetitionFilter(), filters.FineWebQualityFilter(),
              filters.C4QualityFilter()]
    rules = {**GOPHER_QUALITY_RULES, **GOPHER_REPETITION_RULES, **FINEWEB_RULES, **C4_RULES}
    start = time.perf_counter()
    for i, t in enumerate(texts):
        for f in theirs:  # all four, as we compute all signals (no early exit across families)
            f.filter(Document(text=t, id=str(i)))
    dt_s = time.perf_counter() - start
    start = time.perf_counter()
    for t in texts:
        decide(text_signals(t), rules)
    ours_s = time.perf_counter() - start
    return {"docs": len(texts), "datatrove_s": dt_s, "ours_s": ours_s, "speedup": dt_s / ours_s}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--datatrove-mb", type=float, default=5)
    ap.add_argument("--work", default="/tmp/curate-annotate-bench")
    args = ap.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    corpus = build_corpus(work, args.mb)
    table = pq.read_table(corpus, columns=["text", "uri"])
    texts = list(zip(table.column("text").to_pylist(), table.column("uri").to_pylist()))
    mb = sum(len(t.encode()) for t, _ in texts) / 1e6
    cfg = AnnotateConfig()
    bare_s = bare(corpus, texts, cfg)
    spark = spark_runs(corpus, cfg, args.cores)
    subset, size = [], 0
    for t, _ in texts:
        if size >= args.datatrove_mb * 1e6:
            break
        subset.append(t)
        size += len(t.encode())
    result = {
        "corpus": {"docs": len(texts), "mb": round(mb, 1), "source": "HTML docs on this machine via resiliparse"},
        "bare_one_process": {
            **bare_s,
            "signals_mb_per_s": mb / bare_s["signals_s"],
            "docs_per_s": len(texts) / bare_s["annotate_s"], "mb_per_s": mb / bare_s["annotate_s"],
            "annotate_batch_mb_per_s": mb / bare_s["annotate_batch_s"],
        },
        "spark": {
            "cores": args.cores, **spark,
            "docs_per_s": len(texts) / spark["full_s"], "mb_per_s": mb / spark["full_s"],
            "mb_per_s_per_core": mb / spark["full_s"] / args.cores,
            # > 0: Spark costs that much more per core than the bare loop (same work, same documents)
            "overhead_per_core": (spark["full_s"] * args.cores) / bare_s["annotate_s"] - 1,
        },
        "vs_datatrove_heuristics": datatrove_compare(subset),
        "cpu_count": os.cpu_count(),
        "note": "machine shared with other jobs; per-core figures assume the cores were free",
    }
    write_result(result, RESULTS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
