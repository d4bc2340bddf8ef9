"""Incremental benchmark: what a second `curate run` costs after ~1% new documents arrive.

    python benchmarks/incremental.py --corpus /work/bench/w/corpus-100mb
    python benchmarks/incremental.py --corpus DIR --delta-engine native,delta-rs --hold-back 100

The corpus (JSONL.gz files under `text/` and `code/`, as scripts/build_corpus.py writes them) is
copied with every document whose id's sha256 is 0 mod --hold-back left out: real documents of the
same corpus, kept aside (not crc32: the corpus may itself be a sample by crc32 of the id). Per
Delta engine: `curate run` over the copy (the full run), then the held-back documents are added as
one new file per folder and `curate run` again (the incremental run), then a from-scratch
`curate run` over all files in another root. Per-stage seconds come from the runs' `runs` rows,
with the machine's load average beside them. The incremental run's docs_raw, docs_annotated,
dup_clusters, docs_curated and docs_tokenized must equal the from-scratch run's (rows less the
columns naming the run that wrote them; floating-point columns to 1e-9: language-ID scores move in
the last bit with the batch a document is scored in). Writes --out.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_results import write_result  # noqa: E402
from run import last_run, read_table, run_pipeline, write_configs  # noqa: E402

KINDS = ("text", "code")
RUN_COLUMNS = {"ingest_run_id", "annotate_run_id", "dedup_run_id", "run_id"}
FLOAT_TOLERANCE = 1e-9
COMPARED = ("docs_raw", "docs_annotated", "dup_clusters", "docs_curated", "docs_tokenized")


def split_corpus(corpus: Path, out: Path, hold_back: int) -> dict:
    """`out/<kind>/*.jsonl.gz` without the held-back documents, and those in `out/held/<kind>-new.jsonl.gz`."""
    counts = {"docs": 0, "held_back": 0}
    for kind in KINDS:
        (out / kind).mkdir(parents=True)
        (out / "held").mkdir(exist_ok=True)
        with gzip.open(out / "held" / f"{kind}-new.jsonl.gz", "wt", encoding="utf-8") as held:
            for src in sorted((corpus / kind).glob("*.jsonl.gz")):
                with gzip.open(src, "rt", encoding="utf-8") as fin, \
                        gzip.open(out / kind / src.name, "wt", encoding="utf-8") as fout:
                    for line in fin:
                        counts["docs"] += 1
                        if int(hashlib.sha256(json.loads(line)["id"].encode()).hexdigest(), 16) % hold_back == 0:
                            held.write(line)
                            counts["held_back"] += 1
                        else:
                            fout.write(line)
    return counts


def add_held(corpus: Path) -> None:
    for kind in KINDS:
        shutil.copy(corpus / "held" / f"{kind}-new.jsonl.gz", corpus / kind / f"{kind}-new.jsonl.gz")


def table_rows(root: Path, name: str) -> pa.Table:
    t = read_table(root, name, None)
    t = t.drop_columns([c for c in t.column_names if c in RUN_COLUMNS])
    return t.sort_by("doc_id")


def same_rows(a: pa.Table, b: pa.Table) -> bool:
    """Equal rows in doc_id order; schemas compared by column names and types (not nullability)."""
    if a.column_names != b.column_names or a.num_rows != b.num_rows:
        return False
    for name in a.column_names:
        x, y = a[name], b[name]
        if pa.types.is_floating(x.type):
            if pc.is_null(x).to_pylist() != pc.is_null(y).to_pylist() or \
                    (pc.max(pc.abs(pc.subtract(x, y))).as_py() or 0) > FLOAT_TOLERANCE:
                return False
        elif x.to_pylist() != y.to_pylist():
            return False
    return True


def run(cfg: Path, log: Path, engine: str, root: Path) -> dict:
    load_before = os.getloadavg()[0]
    wall_s, _ = run_pipeline(cfg, log, ("run", "--delta-engine", engine, "--root", str(root)))
    runs = last_run(root)
    # The machine's 1-minute load average before and after: other work on it moves every timing.
    return {"wall_s": round(wall_s, 2), "load_avg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "stages_s": {s: r["duration_s"] for s, r in runs.items()},
            "status": {s: r["status"] for s, r in runs.items()},
            "rows_in": {s: r["rows_in"] for s, r in runs.items()}}


def bench_engine(engine: str, corpus_src: Path, work: Path, hold_back: int, manifest: dict) -> dict:
    corpus = work / "corpus"
    split = split_corpus(corpus_src, corpus, hold_back)
    inc_root, scratch_root = work / "inc", work / "scratch"
    cfg = write_configs(work, corpus, inc_root, manifest["total_text_bytes"], {"text": 0.5, "code": 0.5})
    full = run(cfg, work / "full.log", engine, inc_root)
    add_held(corpus)
    time.sleep(0.01)
    incremental = run(cfg, work / "incremental.log", engine, inc_root)
    scratch = run(cfg, work / "scratch.log", engine, scratch_root)
    equal = {name: same_rows(table_rows(inc_root, name), table_rows(scratch_root, name)) for name in COMPARED}
    stages = [s for s in full["stages_s"] if s in incremental["stages_s"]]
    full_s = sum(full["stages_s"].values())
    inc_s = sum(incremental["stages_s"].values())
    return {
        "split": split,
        "full": full,
        "incremental": incremental,
        "from_scratch_all_files": scratch,
        "ratio_per_stage": {s: round(incremental["stages_s"][s] / full["stages_s"][s], 3) for s in stages},
        "ratio_stages_sum": round(inc_s / full_s, 3),
        # the same, over the from-scratch run of all files (the same code, another moment's load)
        "ratio_stages_sum_to_from_scratch": round(inc_s / sum(scratch["stages_s"].values()), 3),
        "ratio_wall": round(incremental["wall_s"] / full["wall_s"], 3),
        "equal_to_from_scratch": equal,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=Path("/work/bench/w/corpus-100mb"))
    ap.add_argument("--hold-back", type=int, default=100, help="hold back documents whose id hashes to 0 mod N")
    ap.add_argument("--delta-engine", default="delta-rs", help="comma-separated engines, each benchmarked")
    ap.add_argument("--work", type=Path, help="working folder (default: a temporary one, removed)")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "incremental.json")
    args = ap.parse_args()
    manifest = json.loads((args.corpus / "manifest.json").read_text())
    work = args.work or Path(tempfile.mkdtemp(prefix="curate-incremental-"))
    result = {"corpus": str(args.corpus), "corpus_docs": manifest["docs"],
              "corpus_text_bytes": manifest["total_text_bytes"], "hold_back": f"1/{args.hold_back}",
              "command": " ".join(["python", "benchmarks/incremental.py", *sys.argv[1:]]), "engines": {}}
    try:
        for engine in args.delta_engine.split(","):
            shutil.rmtree(work / engine, ignore_errors=True)
            result["engines"][engine] = bench_engine(engine, args.corpus, work / engine, args.hold_back, manifest)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    write_result(result, args.out)
    if not all(all(r["equal_to_from_scratch"].values()) for r in result["engines"].values()):
        sys.exit("the incremental run's tables differ from the from-scratch run's")


if __name__ == "__main__":
    main()
