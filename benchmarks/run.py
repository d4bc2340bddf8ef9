"""End-to-end benchmark: the whole `curate run` at three corpus sizes, beside the bare-library
limits of each stage and beside datatrove doing the same stages on the same documents.

    python benchmarks/run.py --registry-cache /tmp/registry   # 1x, 4x, 16x of 100 MB (hours on 2 cores)
    python benchmarks/run.py --sizes 100,400 --no-peers
    python benchmarks/run.py --smoke               # seconds of work on a 2 MB corpus (CI)

scripts/build_corpus.py builds one real corpus of the largest size (text and code from this machine
and pinned registry packages, never filler; or --corpus names one); the smaller sizes are nested
samples of its documents by id hash, so all sizes share one composition. Per size: `curate run`
processes it in a subprocess while a sampler records the peak
RSS of the driver (Python + the JVM, which holds the executors in local mode) and of the
executors' Python workers; per-stage wall time and rows come from the run's `runs` rows. Then
`curate annotate --rules-only` re-decides that run's docs_annotated, timed beside the annotate stage.

Limits, measured in this process on one core over the same texts each stage read (about --limit-mb
of them, every k-th document, so that the sample has the whole's mix of code and text): pyarrow's
JSON reader + Parquet write of input files of each kind in its share (ingest), bare fastText
language ID plus the bare signal functions (annotate), the signature kernel: normalization +
MinHash over the texts dedup signs, the kept documents (MinHash alone is reported beside it), bare
tiktoken `encode_ordinary_batch` (tokenize). Each limit but annotate's runs `REPEATS` times and its
fastest run counts (annotate's signal functions cache word splits: a second run would be faster
than any real one). A stage's ratio is its MB/s per core over its limit's,
both in MB of the document text it works on (dedup: the kept documents' text). Dedup also gets
`ratio_to_all_steps`: each step its output needs (read, sign, shingle sets of the candidates it
verifies, write docs_curated), done bare in this process, over the stage's core-seconds.

Peers: datatrove (`pip install -e '.[reference]'`) with 2 workers on the same JSONL files:
language labels with the same lid.176 model file, Gopher quality + repetition, C4 and FineWeb
filters, its 4-step MinHash (14 x 8, 5-grams) and DocumentTokenizer with cl100k_base converted
to a `tokenizers` file offline. Writes --out (JSON) and a PNG chart beside it.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson
import pyarrow.parquet as pq
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_results import write_result  # noqa: E402
from proctree import process_tree  # noqa: E402

MB = 1_000_000
PAGE = os.sysconf("SC_PAGE_SIZE")
CORES = 2
STAGE_INPUT = {"annotate": "docs_raw", "tokenize": "docs_curated"}  # dedup's MB: the texts it signs


# ---- corpus and pipeline run ------------------------------------------------------------------

def build_corpus(out: Path, size_mb: float, registry_cache: Path | None) -> dict:
    manifest = out / "manifest.json"
    if not manifest.exists():
        cmd = [sys.executable, str(REPO / "scripts" / "build_corpus.py"), "--out", str(out), "--size-mb", str(size_mb)]
        if registry_cache:
            cmd += ["--registry-cache", str(registry_cache)]
        subprocess.run(cmd, check=True)
    return json.loads(manifest.read_text())


def subsample(corpus: Path, out: Path, keep: int, of: int) -> dict:
    """The documents of `corpus` whose id hashes into `keep` of `of` slots, in the same shards.

    Every size is a sample of one corpus, so the sizes share a composition (sources, languages,
    document lengths) and the cost per document compares scale, not content; the samples nest.
    """
    manifest = out / "manifest.json"
    if manifest.exists():
        return json.loads(manifest.read_text())
    tmp = out.with_name(out.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    totals = {"text": 0, "code": 0}
    docs = 0
    for src in sorted(corpus.glob("*/*.jsonl.gz")):
        kind = src.parent.name
        (tmp / kind).mkdir(parents=True, exist_ok=True)
        with gzip.open(src, "rt", encoding="utf-8") as fin, gzip.open(tmp / kind / src.name, "wt", encoding="utf-8",
                                                                       compresslevel=1) as fout:
            for line in fin:
                row = json.loads(line)
                if zlib.crc32(row["id"].encode()) % of < keep:
                    fout.write(line)
                    totals[kind] += len(row["text"].encode())
                    docs += 1
    meta = {"sample_of": str(corpus), "keep": f"{keep}/{of}", "docs": docs, "text_bytes": totals["text"],
            "code_bytes": totals["code"], "total_text_bytes": totals["text"] + totals["code"]}
    (tmp / "manifest.json").write_text(json.dumps(meta, indent=1) + "\n")
    tmp.rename(out)
    return meta


def write_configs(work: Path, corpus: Path, root: Path, text_bytes: int, weights: dict[str, float]) -> Path:
    # Budget: about half the corpus's tokens (~4 bytes a token), uncapped epochs, so that mix does
    # real work at every size without the budget ever being unmeetable.
    seq_len = 2048
    budget = max(seq_len, text_bytes // 8 // seq_len * seq_len)
    mixture = {
        "name": "bench",
        "components": {name: {"sources": [name], "max_epochs": None} for name in weights},
        "stages": [{"name": "pretrain", "budget_tokens": budget, "seq_len": seq_len, "seed": 1,
                    "weights": weights}],
    }
    pipeline = {
        "root": str(root),
        "spark": {"master": f"local[{CORES}]", "driver_memory": "6g", "shuffle_partitions": 2 * CORES},
        "inputs": [
            {"source": "text", "kind": "text", "path": str(corpus / "text" / "*.jsonl.gz"),
             "format": "jsonl", "text_field": "text", "id_field": "id"},
            {"source": "code", "kind": "code", "path": str(corpus / "code" / "*.jsonl.gz"),
             "format": "jsonl", "text_field": "text", "id_field": "id"},
        ],
        "mix": {"mixture": str(work / "mixture.yaml")},
    }
    (work / "mixture.yaml").write_text(yaml.safe_dump(mixture, sort_keys=False))
    cfg = work / "pipeline.yaml"
    cfg.write_text(yaml.safe_dump(pipeline, sort_keys=False))
    return cfg


class MemorySampler(threading.Thread):
    """Peak RSS of the driver (curate's Python + the JVM) and of the JVM's Python workers."""

    def __init__(self, pid: int, every_s: float = 0.5):
        super().__init__(daemon=True)
        self.pid, self.every_s = pid, every_s
        self.peak_driver = self.peak_workers = 0
        self.samples: list[tuple[float, int, int]] = []  # (epoch seconds, driver, workers)
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.every_s):
            tree = process_tree(self.pid)
            rss = {p: int(fields[21]) * PAGE for p, (_, fields) in tree.items()}
            java = [p for p, (name, _) in tree.items() if name == "java"]
            workers = {p for j in java for p in process_tree(j) if p != j}
            driver = sum(r for p, r in rss.items() if p not in workers)
            python_workers = sum(r for p, r in rss.items() if p in workers)
            self.samples.append((time.time(), driver, python_workers))
            self.peak_driver = max(self.peak_driver, driver)
            self.peak_workers = max(self.peak_workers, python_workers)


def run_pipeline(cfg: Path, log: Path, command: tuple[str, ...] = ("run",)) -> tuple[float, MemorySampler]:
    start = time.perf_counter()
    with log.open("w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "curate.cli", *command, "--config", str(cfg)],
                                stdout=fh, stderr=subprocess.STDOUT, cwd=REPO,
                                env={**os.environ, "PYTHONPATH": str(REPO)})
        sampler = MemorySampler(proc.pid)
        sampler.start()
        rc = proc.wait()
        sampler.done.set()
    if rc != 0:
        sys.exit(f"curate {' '.join(command)} failed (exit {rc}); log: {log}")
    return time.perf_counter() - start, sampler


def read_table(root: Path | str, name: str, columns: list[str] | None) -> pa.Table:
    """A table of the root (a folder, or a bucket reached with the AWS environment's settings)."""
    from deltalake import DeltaTable

    from curate.storage import Storage

    uri = f"{root}/tables/{name}"
    dt = DeltaTable(uri, storage_options=Storage.from_config(None).delta_rs_options(uri))
    return dt.to_pyarrow_dataset().to_table(columns=columns)


def last_run(root: Path | str) -> dict[str, dict]:
    runs = read_table(root, "runs", ["run_id", "stage", "status", "duration_s", "rows_in", "rows_out", "started_at"])
    rows = sorted(runs.to_pylist(), key=lambda r: r["started_at"])
    run_id = rows[-1]["run_id"]
    return {r["stage"]: r for r in rows if r["run_id"] == run_id}


# ---- limits: the bare libraries on the same texts, one core --------------------------------

def _spread(table: pa.Table, limit_mb: float) -> pa.Table:
    """About limit_mb of the table's texts, every k-th row: the whole's mix of sources, languages
    and lengths (a prefix would hold the first files' sources only)."""
    total = pc.sum(pc.binary_length(table["text"])).as_py() or 0
    step = max(1, round(total / (limit_mb * MB)))
    return table.take(pa.array(range(0, table.num_rows, step), pa.int64()))


def _mb(texts: list[str]) -> float:
    return sum(len(t.encode()) for t in texts) / MB


def _timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


# The kernels without caches run this many times and the fastest run counts: a first run pays the
# page faults of its temporaries, and this VM's speed moves between runs (a single run of the dedup
# kernel measured 44 and 62 MB/s in two benchmark runs of the same code).
REPEATS = 3


def _fastest(fn) -> float:
    return min(_timed(fn) for _ in range(REPEATS))


def limit_parquet(corpus: Path, limit_mb: float) -> dict:
    """Ingest's limit: parse JSONL.gz input files and write them as Parquet (zstd), one thread. The
    files: about limit_mb, from each kind (folder) in its share of the corpus. Its MB are those of
    the documents' texts, the unit of the stage's MB/s."""
    sizes = {}
    for f in sorted(corpus.glob("*/*.jsonl.gz")):
        with gzip.open(f, "rb") as fh:
            sizes[f] = sum(len(b) for b in iter(lambda: fh.read(1 << 24), b""))
    total, used = sum(sizes.values()), []
    for kind in sorted({f.parent for f in sizes}):
        files = [f for f in sizes if f.parent == kind]
        quota, taken = limit_mb * MB * sum(sizes[f] for f in files) / total, 0
        while files and taken < quota:
            taken += sizes[files[0]]
            used.append(files.pop(0))
    text_bytes = []

    def run() -> None:
        text_bytes.clear()
        with tempfile.TemporaryDirectory() as tmp:
            for i, f in enumerate(used):
                with gzip.open(f, "rb") as fh:
                    # Blocks must hold the longest line: a document may be 2 MB, more once escaped.
                    table = pajson.read_json(fh, read_options=pajson.ReadOptions(block_size=64 * MB, use_threads=False))
                pq.write_table(table, f"{tmp}/{i}.parquet", compression="zstd")
                text_bytes.append(pc.sum(pc.binary_length(table["text"])).as_py())  # from the offsets: microseconds

    seconds = _fastest(run)
    return {"what": "pyarrow JSON read + Parquet write of the input files, 1 thread", "mb": sum(text_bytes) / MB,
            "jsonl_mb": sum(sizes[f] for f in used) / MB, "files": [str(f.relative_to(corpus)) for f in used],
            "s": seconds}


def limit_annotate(raw: pa.Table, config: Path) -> dict:
    """The limit: bare fastText + the signal functions. Beside it, curate's whole per-document
    annotation (PII redaction, code language, LID, signals, verdict) over the same Arrow batches
    in this process: the stage over it is Spark's overhead."""
    from curate.quality.annotator import Annotator
    from curate.quality.codelang import detect_code_lang
    from curate.quality.langid import default_model_path, load_fasttext
    from curate.quality.signals import compute_signals
    from curate.schemas.config import load_pipeline_config

    texts, kinds, uris = (raw.column(c).to_pylist() for c in ("text", "kind", "uri"))
    model = load_fasttext(str(default_model_path()))
    lid_s = _timed(lambda: [model.predict(t.replace("\n", " ")[:20_000], k=3) for t in texts])
    sig_s = _timed(lambda: [compute_signals(t, kind=k, uri=u, code_lang=detect_code_lang(u, t) if k == "code" else None)
                            for t, k, u in zip(texts, kinds, uris)])
    annotator = Annotator(load_pipeline_config(config).annotate)
    whole_s = _timed(lambda: [annotator.annotate_batch(b) for b in raw.to_batches(max_chunksize=2000)])
    return {"what": "bare fastText lid.176 predict + bare signal functions", "mb": _mb(texts),
            "s": lid_s + sig_s, "fasttext_s": lid_s, "signals_s": sig_s, "annotator_in_process_s": whole_s}


def limit_minhash(texts: list[str]) -> dict:
    """The bare MinHash kernel: normalization and MinHash, as peers' signature steps count it
    (datatrove's MinhashDedupSignature normalizes too); beside it, MinHash on normalized texts alone."""
    from curate.dedup.config import DedupConfig
    from curate.dedup.minhash import MinHasher
    from curate.dedup.normalize import normalize

    cfg = DedupConfig()
    m = cfg.minhash
    hasher = MinHasher(num_perm=m.num_perm, seed=m.seed, scheme=m.scheme, word_ngram=m.word_ngram,
                       char_ngram=m.char_ngram)
    arrays = [pa.array(texts[i : i + 1000], pa.large_string()) for i in range(0, len(texts), 1000)]
    batches: list[pa.Array] = []

    def norm() -> None:
        batches[:] = [normalize(a, cfg.normalize) for a in arrays]

    normalize_s = _fastest(norm)
    minhash_s = _fastest(lambda: [hasher.signatures(b) for b in batches])
    return {"what": "curate's normalization + MinHash kernel (112 permutations, word 5-grams), 1 core",
            "mb": _mb(texts), "s": normalize_s + minhash_s, "normalize_s": normalize_s, "minhash_s": minhash_s}


def _verified_ids(root: Path) -> pa.Array:
    """The doc_ids dedup re-shingles for exact verification: those on a near candidate edge of the
    run's signature table (its own candidate step, in this process)."""
    from curate.dedup.config import DedupConfig
    from curate.dedup.one_task import candidates_task

    sigs = read_table(root, "dedup_signatures", ["doc_id", "norm_hash", "bands", "lang"])
    sigs = sigs.append_column("scope", pa.array([""] * sigs.num_rows, pa.string()))
    rows = pa.Table.from_batches(list(candidates_task(iter(sigs.to_batches()), DedupConfig().model_dump_json())))
    return rows.filter(pc.equal(rows["part"], "node"))["src"].combine_chunks()


def limit_dedup(root: Path, limit_mb: float) -> dict:
    """Dedup's limit: the bare MinHash kernel over the texts dedup signs (the kept documents; it
    reads the others' files not at all). Beside it, `all_steps_s`: every step its output needs, done
    bare in this process: reading the kept documents' Parquet files, the kernel over them, the
    shingle sets of the documents it verifies (on a near candidate edge) and writing docs_curated's
    rows as Parquet; the clustering itself counts as free."""
    from deltalake import DeltaTable

    from curate.dedup.config import DedupConfig
    from curate.dedup.spark import shingle_set_batch
    from curate.delta.datasource import data_files  # the files dedup's tasks read
    from curate.storage import Storage

    uri = str(root / "tables" / "docs_annotated")
    files = data_files(uri, DeltaTable(uri).version(), where_true="keep", storage=Storage())
    columns = ["doc_id", "source", "text", "keep", "lang", "quality_score", "n_bytes"]
    parts: list[pa.Table] = []

    def read() -> None:
        parts[:] = [pq.read_table(f, columns=columns, use_threads=False) for f in files]

    read_s = _fastest(read)
    docs = pa.concat_tables(parts)
    kept = docs.filter(docs["keep"])
    out = limit_minhash(_spread(kept, limit_mb).column("text").to_pylist())
    kept_mb = pc.sum(pc.binary_length(kept["text"])).as_py() / MB
    verified = kept.filter(pc.is_in(kept["doc_id"], _verified_ids(root)))
    sample = _spread(verified.select(["doc_id", "lang", "text"]), limit_mb)
    cfg_json = DedupConfig().model_dump_json()
    sets_s = _fastest(lambda: [shingle_set_batch(b, cfg_json) for b in sample.to_batches(max_chunksize=2000)])
    sets_mb = _mb(sample.column("text").to_pylist())
    verified_mb = (pc.sum(pc.binary_length(verified["text"])).as_py() or 0) / MB
    curated = read_table(root, "docs_curated", None)
    with tempfile.TemporaryDirectory() as tmp:
        write_s = _fastest(lambda: pq.write_table(curated, f"{tmp}/curated.parquet", compression="zstd"))
    verify_s = verified_mb * sets_s / sets_mb if sets_mb else 0.0
    out.update(signed_mb=kept_mb, verified_mb=verified_mb, verified_docs=verified.num_rows, read_s=read_s,
               verify_sets_s=verify_s, write_s=write_s,
               all_steps_s=read_s + kept_mb * out["s"] / out["mb"] + verify_s + write_s)
    return out


def limit_tiktoken(texts: list[str]) -> dict:
    from curate.tokenize.encoder import get_encoding

    enc = get_encoding()
    return {"what": "bare tiktoken cl100k_base encode_ordinary_batch, 1 thread", "mb": _mb(texts),
            "s": _fastest(lambda: [enc.encode_ordinary_batch(texts[i : i + 2000], num_threads=1)
                                 for i in range(0, len(texts), 2000)])}


def limits(corpus: Path, root: Path, config: Path, limit_mb: float) -> dict:
    def texts(name: str) -> list[str]:
        return _spread(read_table(root, name, ["text"]), limit_mb).column("text").to_pylist()

    out = {"ingest": limit_parquet(corpus, limit_mb),
           "annotate": limit_annotate(_spread(read_table(root, "docs_raw", None), limit_mb), config),
           "dedup": limit_dedup(root, limit_mb),
           "tokenize": limit_tiktoken(texts("docs_curated"))}
    for v in out.values():
        v["mb_per_s_per_core"] = v["mb"] / v["s"]
    out["dedup"]["minhash_alone_mb_per_s_per_core"] = out["dedup"]["mb"] / out["dedup"]["minhash_s"]
    return out


# ---- datatrove on the same files ----------------------------------------------------------

def datatrove_run(corpus: Path, work: Path, lid_s: float) -> dict:
    """datatrove's stages on the corpus files, each timed; `lid_s` (bare fastText on the same texts)
    stands in for its LanguageFilter, whose dependency check demands the `fasttext-numpy2-wheel`
    distribution: installing it would overwrite the `fasttext` module curate runs on."""
    dt = work / "datatrove"
    shutil.rmtree(dt, ignore_errors=True)
    dt.mkdir(parents=True)
    try:
        from datatrove.executor import LocalPipelineExecutor
        from datatrove.pipeline import filters
        from datatrove.pipeline.dedup import minhash as dt_minhash
        from datatrove.pipeline.readers import JsonlReader
        from datatrove.pipeline.tokens import DocumentTokenizer
        from datatrove.pipeline.writers import JsonlWriter
    except ImportError as err:
        return {"skipped": f"datatrove is not installed ({err}); pip install -e '.[reference]'"}
    from transformers.convert_slow_tokenizer import TikTokenConverter

    from curate.tokenize.encoder import bpe_file, get_encoding

    # The tokenizer: cl100k_base from the offline BPE file, converted to a `tokenizers` JSON by
    # transformers (an approximation: its merges split some digit runs differently from tiktoken;
    # the work per byte is of the same kind).
    enc = get_encoding()
    tokenizer_json = dt / "cl100k_base.json"
    TikTokenConverter(vocab_file=str(bpe_file()), pattern=enc._pat_str,
                      additional_special_tokens=enc._special_tokens).converted().save(str(tokenizer_json))

    files = sorted(corpus.glob("*/*.jsonl.gz"))
    tasks = len(files)
    cfg = dt_minhash.MinhashConfig()  # 14 buckets x 8 hashes, 5-grams: the same as curate's default

    def reader(folder: Path, glob: str):
        return JsonlReader(str(folder), glob_pattern=glob, text_key="text", id_key="id")

    steps = {
        "annotate": ([reader(corpus, "*/*.jsonl.gz"), filters.GopherRepetitionFilter(), filters.GopherQualityFilter(),
                      filters.C4QualityFilter(filter_no_terminal_punct=False), filters.FineWebQualityFilter(),
                      JsonlWriter(str(dt / "filtered"))], tasks),
        "dedup:signatures": ([reader(dt / "filtered", "*.jsonl.gz"),
                              dt_minhash.MinhashDedupSignature(str(dt / "sigs"), config=cfg)], tasks),
        "dedup:buckets": ([dt_minhash.MinhashDedupBuckets(str(dt / "sigs"), str(dt / "buckets"), config=cfg)],
                          cfg.num_buckets),
        "dedup:cluster": ([dt_minhash.MinhashDedupCluster(str(dt / "buckets"), str(dt / "remove"), config=cfg)], 1),
        "dedup:filter": ([reader(dt / "filtered", "*.jsonl.gz"), dt_minhash.MinhashDedupFilter(str(dt / "remove")),
                          JsonlWriter(str(dt / "deduped"))], tasks),
        "tokenize": ([reader(dt / "deduped", "*.jsonl.gz"),
                      DocumentTokenizer(str(dt / "tokens"), tokenizer_name_or_path=str(tokenizer_json),
                                        eos_token="<|endoftext|>", shuffle_documents=False)], tasks),
    }
    out = {}
    for name, (pipeline, n_tasks) in steps.items():
        executor = LocalPipelineExecutor(pipeline, tasks=n_tasks, workers=CORES, logging_dir=str(dt / "logs" / name))
        out[name] = {"s": _timed(executor.run)}
    out["dedup"] = {"s": sum(v["s"] for k, v in out.items() if k.startswith("dedup:"))}
    out["annotate"]["lid_s_added"] = lid_s / CORES  # spread over its 2 workers
    out["annotate"]["s"] += lid_s / CORES
    out["end_to_end_s"] = out["annotate"]["s"] + out["dedup"]["s"] + out["tokenize"]["s"]
    out["config"] = ("Gopher quality + repetition, C4 (no terminal-punctuation line removal), FineWeb filters, plus "
                     "bare fastText lid.176 time for its LanguageFilter; MinHash 14x8 5-grams in 4 steps; "
                     "DocumentTokenizer cl100k_base; 2 workers. No ingest (reads the JSONL directly) and no mix.")
    return out


# ---- one size, and the report ---------------------------------------------------------------

def text_mb(root: Path, table: str) -> float:
    return pc.sum(pc.binary_length(read_table(root, table, ["text"]).column("text"))).as_py() / MB


def other_runs(cfg: Path, run_dir: Path, variants: dict[str, tuple[str, str]]) -> dict:
    """`curate run` of the same config per variant name -> (Delta engine, storage root): wall time and
    per-stage seconds, to set beside the measured run's."""
    out = {}
    for name, (engine, root) in variants.items():
        remove_root(root)  # a root left by an earlier benchmark would make every stage skip
        wall_s, _ = run_pipeline(cfg, run_dir / f"curate-{name}.log", ("run", "--delta-engine", engine, "--root", root))
        out[name] = {"wall_s": wall_s, "stages": {stage: r["duration_s"] for stage, r in last_run(root).items()}}
        remove_root(root)
    return out


def remove_root(root: str) -> None:
    from curate.storage import Storage, delete_tree

    delete_tree(*Storage.from_config(None).filesystem(root))  # a local folder or a bucket prefix


def ratios(runs: dict, first: str) -> dict:
    """Per variant: each stage's seconds, and the whole run's, over those of the run named `first`."""
    base = runs[first]
    return {name: {s: t / base["stages"][s] for s, t in r["stages"].items()} | {"end_to_end": r["wall_s"] / base["wall_s"]}
            for name, r in runs.items() if name != first}


def bench_size(size_mb: float, corpus: Path, manifest: dict, work: Path, limit_mb: float, peers: bool,
               weights: dict[str, float], engines: list[str], object_store: str | None) -> dict:
    run_dir = work / f"run-{size_mb:g}mb"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    root = run_dir / "root"
    cfg = write_configs(run_dir, corpus, root, manifest["total_text_bytes"], weights)
    engine = ("--delta-engine", engines[0])
    wall_s, mem = run_pipeline(cfg, run_dir / "curate.log", ("run", *engine))
    runs = last_run(root)
    lim = limits(corpus, root, cfg, limit_mb)
    stage_mb = {"ingest": manifest["total_text_bytes"] / MB, "dedup": lim["dedup"]["signed_mb"],
                **{s: text_mb(root, t) for s, t in STAGE_INPUT.items()}}
    stages = {}
    for name, r in runs.items():
        row = {"status": r["status"], "wall_s": r["duration_s"], "rows_in": r["rows_in"], "rows_out": r["rows_out"]}
        if r["rows_in"]:
            row["docs_per_s"] = r["rows_in"] / r["duration_s"]
        if name in stage_mb:
            row["mb_in"] = stage_mb[name]
            row["mb_per_s_per_core"] = stage_mb[name] / r["duration_s"] / CORES
            row["limit_mb_per_s_per_core"] = lim[name]["mb_per_s_per_core"]
            row["ratio_to_limit"] = row["mb_per_s_per_core"] / row["limit_mb_per_s_per_core"]
        if name == "dedup":  # every step bare (read, sign, verify's shingle sets, write) over the stage
            row["ratio_to_all_steps"] = lim["dedup"]["all_steps_s"] / (r["duration_s"] * CORES)
        if name == "annotate":
            whole = lim["annotate"]
            # core-seconds per MB under Spark over those of the same annotation in one process
            row["spark_overhead"] = (r["duration_s"] * CORES / stage_mb[name]) / (whole["annotator_in_process_s"] / whole["mb"]) - 1
        stages[name] = row
    # `curate annotate --rules-only` on the run's table: a threshold change, beside the full annotate
    rules_wall_s, _ = run_pipeline(cfg, run_dir / "rules-only.log", ("annotate", "--rules-only", *engine))
    rules_s = last_run(root)["annotate"]["duration_s"]
    stages["annotate"]["rules_only"] = {"wall_s": rules_s, "command_wall_s": rules_wall_s,
                                        "speedup": stages["annotate"]["wall_s"] / rules_s}
    result = {
        "size_mb": size_mb, "corpus": {k: manifest[k] for k in ("docs", "total_text_bytes", "text_bytes", "code_bytes")},
        "curate": {"wall_s": wall_s, "stages": stages,
                   "mb_per_s_per_core": stage_mb["ingest"] / wall_s / CORES,
                   "s_per_1k_docs": wall_s / manifest["docs"] * 1000,
                   "peak_driver_rss_mb": mem.peak_driver / MB, "peak_executor_workers_rss_mb": mem.peak_workers / MB},
        "limits": lim,
    }
    measured = {"wall_s": wall_s, "stages": {n: r["duration_s"] for n, r in runs.items()}}
    if len(engines) > 1:  # per stage: each other engine's seconds over the first's
        others = {e: (e, str(run_dir / f"root-{e}")) for e in engines[1:]}
        result["engines"] = {engines[0]: measured, **other_runs(cfg, run_dir, others)}
        result["engine_ratio"] = ratios(result["engines"], engines[0])
    if object_store:  # the same run with its root in the bucket, per engine: seconds over local disk's
        bucket = {f"{e}:object-store": (e, f"{object_store.rstrip('/')}/run-{size_mb:g}mb-{e}") for e in engines}
        local = result.get("engines") or {engines[0]: measured}
        result["object_store"] = {**other_runs(cfg, run_dir, bucket)}
        result["object_store_ratio"] = {
            name: ratios({"local": local[name.split(":")[0]], name: r}, "local")[name]
            for name, r in result["object_store"].items()}
    if peers:
        lid_s = lim["annotate"]["fasttext_s"] * stage_mb["annotate"] / lim["annotate"]["mb"]
        dt = datatrove_run(corpus, run_dir, lid_s)
        result["datatrove"] = dt
        if "end_to_end_s" in dt:
            # curate's wall includes Spark start and ingest/mix, which datatrove has no counterpart for
            result["curate_vs_datatrove_end_to_end"] = dt["end_to_end_s"] / wall_s
            result["curate_vs_datatrove_per_stage"] = {
                s: dt[s]["s"] / stages[s]["wall_s"] for s in ("annotate", "dedup", "tokenize") if s in stages}
    return result


def stage_drift(results: list[dict]) -> dict[str, float]:
    """Per stage: the largest over the smallest seconds per input document across the sizes."""
    drift = {}
    for stage in results[0]["curate"]["stages"]:
        cost = [r["curate"]["stages"][stage]["wall_s"] / r["curate"]["stages"][stage]["rows_in"]
                for r in results if r["curate"]["stages"].get(stage, {}).get("rows_in")]
        if cost:
            drift[stage] = max(cost) / min(cost)
    return drift


def marginal_cost(results: list[dict]) -> dict:
    """End to end: the seconds per 1,000 documents of each size step (the increase in wall time over
    the increase in documents) and the fixed seconds that the first step implies. Unlike the cost
    per document, which at 1x is mostly the JVM's start and warm-up, this shows whether the cost of
    a document grows with the corpus."""
    pts = [(r["corpus"]["docs"], r["curate"]["wall_s"]) for r in results]
    steps = [1000 * (t1 - t0) / (n1 - n0) for (n0, t0), (n1, t1) in zip(pts, pts[1:]) if n1 > n0]
    if not steps:
        return {}
    return {"s_per_1k_docs_by_step": steps, "drift": max(steps) / min(steps),
            "fixed_s": pts[0][1] - steps[0] * pts[0][0] / 1000}


def summary(results: list[dict]) -> dict:
    cost = [r["curate"]["s_per_1k_docs"] for r in results]
    return {"sizes": results, "cores": CORES, "cpu_count": os.cpu_count(),
            "cost_per_doc_drift": max(cost) / min(cost),
            "cost_per_doc_drift_by_stage": stage_drift(results),
            "marginal_cost": marginal_cost(results)}


def chart(results: list[dict], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = ["ingest", "annotate", "dedup", "tokenize"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    width = 0.8 / (len(results) + 1)
    for i, r in enumerate(results):
        vals = [r["curate"]["stages"].get(s, {}).get("mb_per_s_per_core", 0) for s in stages]
        axes[0].bar([x + i * width for x in range(len(stages))], vals, width, label=f"curate {r['size_mb']:g} MB")
    limit_vals = [results[-1]["limits"][s]["mb_per_s_per_core"] for s in stages]
    axes[0].bar([x + len(results) * width for x in range(len(stages))], limit_vals, width, label="bare limit",
                color="grey")
    axes[0].set_xticks([x + width * len(results) / 2 for x in range(len(stages))], stages)
    axes[0].set_ylabel("MB/s per core")
    axes[0].set_yscale("log")
    axes[0].legend(fontsize=8)
    axes[0].set_title("stage throughput vs bare-library limit")
    sizes = [r["size_mb"] for r in results]
    axes[1].plot(sizes, [r["curate"]["s_per_1k_docs"] for r in results], "o-", label="curate")
    dt = [(r["size_mb"], r["datatrove"]["end_to_end_s"] / r["corpus"]["docs"] * 1000)
          for r in results if "end_to_end_s" in r.get("datatrove", {})]
    if dt:
        axes[1].plot(*zip(*dt), "s--", label="datatrove (annotate+dedup+tokenize)")
    axes[1].set_xscale("log")
    axes[1].set_xlabel("corpus MB")
    axes[1].set_ylabel("seconds per 1000 documents")
    axes[1].legend(fontsize=8)
    axes[1].set_title("cost per document across sizes")
    fig.tight_layout()
    fig.savefig(png, dpi=110)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100,400,1600", help="corpus sizes in MB, comma-separated")
    ap.add_argument("--work", default="/tmp/curate-bench")
    ap.add_argument("--corpus", help="a corpus built by scripts/build_corpus.py of at least the largest size "
                                     "(default: built under --work)")
    ap.add_argument("--registry-cache", type=Path,
                    help="passed to build_corpus.py: the registry packages, needed for sizes above ~500 MB")
    ap.add_argument("--limit-mb", type=float, default=100, help="texts each bare limit runs on (a prefix)")
    ap.add_argument("--no-peers", dest="peers", action="store_false")
    ap.add_argument("--peer-max-mb", type=float, help="run datatrove only on sizes up to this many MB")
    ap.add_argument("--resume", action="store_true", help="keep the sizes already in --out")
    ap.add_argument("--smoke", action="store_true", help="one 2 MB corpus: checks the benchmark runs (CI)")
    ap.add_argument("--delta-engine", default="auto",
                    help="Delta engine(s) curate runs on, comma-separated: the first is the one measured against "
                         "the limits and peers; each other one runs the same corpus too (e.g. native,delta-rs)")
    ap.add_argument("--object-store", metavar="URI",
                    help="also run each size with its storage root under this s3:// prefix (its settings and keys "
                         "from the environment: eval \"$(scripts/objectstore.sh start bench)\" for a local server), "
                         "per engine, and report each stage's seconds over local disk's")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "run.json"))
    args = ap.parse_args(argv)
    engines = args.delta_engine.split(",")
    if not set(engines) <= {"auto", "native", "delta-rs"}:
        ap.error(f"--delta-engine {args.delta_engine!r}: each one auto, native or delta-rs")
    sizes = [2.0] if args.smoke else [float(s) for s in args.sizes.split(",")]
    work = Path(args.work)
    # The 2 MB smoke corpus's prose is all Debian Reference, which the Gopher alpha-word rule drops
    # entirely: its mixture takes code only.
    weights = {"code": 1.0} if args.smoke else {"text": 0.6, "code": 0.4}
    full = Path(args.corpus) if args.corpus else work / "corpus"
    full_manifest = build_corpus(full, max(sizes), args.registry_cache)
    out = Path(args.out)
    # --resume: sizes already in --out (same corpus) are kept, so a run of hours can go on after a stop.
    done = ({r["size_mb"]: r for r in json.loads(out.read_text())["sizes"]}
            if args.resume and out.exists() else {})
    results = []
    for size in sizes:
        if size in done:
            results.append(done[size])
            continue
        # Sizes are nested samples of the corpus in steps of the smallest (the largest is usually
        # the whole corpus).
        keep, of = round(size / min(sizes)), max(1, round(full_manifest["total_text_bytes"] / MB / min(sizes)))
        corpus = full if keep >= of else work / f"corpus-{size:g}mb"
        manifest = full_manifest if keep >= of else subsample(full, corpus, keep, of)
        peers = args.peers and (args.peer_max_mb is None or size <= args.peer_max_mb)
        results.append(bench_size(size, corpus, manifest, work, args.limit_mb, peers, weights, engines,
                                  args.object_store))
        write_result(summary(results), out)  # after every size: a late failure keeps the sizes done
    write_result(summary(results), out)  # with the kept sizes that come after the last one run
    chart(results, out.with_suffix(".png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
