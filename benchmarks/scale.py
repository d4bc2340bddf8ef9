"""Scale: the whole DAG at 250 k and 1 M real documents; per stage, what grows with the corpus.

    python benchmarks/scale.py [--corpus /work/bench/corpus] [--docs 250000,1000000]

The corpus: scripts/build_corpus.py's output cut into paragraph-sized documents (consecutive
paragraphs of one document joined until they hold --min-bytes, the last short piece joined to the
one before): short web pages, never filler. The largest size is the whole paragraph corpus (which
must hold at least that many documents); smaller ones are nested samples of it by id hash.

Each size runs `curate run` with the one-task dedup paths forced off (`dedup.one_task_max_docs` and
`one_task_max_edges` 0: the distributed steps any corpus beyond them takes), every quality rule off
(`annotate.rules`: all signals are computed, no document is dropped, so every stage sees every
document: the heaviest load downstream), and 64 shuffle partitions, which Spark's adaptive execution
coalesces to its advisory size. Per stage: seconds per 1,000 documents, peak RSS of the driver
(curate's Python + the JVM, which holds the executors in local mode) and of the executors' Python
workers while the stage ran, the Spark jobs it started and its largest task's input (rows and bytes
read from files and shuffles), from Spark's event log; for dedup, the connected-components rounds.
At the smallest size the dedup stage then runs again on a copy of the root with the one-task paths
on, and its clusters are compared with the distributed path's. Writes benchmarks/results/scale.json.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import re
import shutil
import sys
import time
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_results import write_result  # noqa: E402
from run import MB, REPO, last_run, read_table, run_pipeline, subsample, write_configs  # noqa: E402

from curate.quality.rules import CODE_KIND_RULES, TEXT_RULES  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "scale.json"
_PARAGRAPH = re.compile(r"\n[ \t]*\n")
_SHARD_DOCS = 100_000


def _paragraph_docs(doc: dict, min_bytes: int) -> list[dict]:
    pieces: list[str] = []
    current = ""
    for para in _PARAGRAPH.split(doc["text"]):
        current = f"{current}\n\n{para}" if current else para
        if len(current.encode()) >= min_bytes:
            pieces.append(current)
            current = ""
    if current.strip():
        if pieces:
            pieces[-1] = f"{pieces[-1]}\n\n{current}"
        else:
            pieces.append(current)
    return [{**doc, "id": f"{doc['id']}-p{i}", "text": p} for i, p in enumerate(pieces)]


def paragraph_corpus(src: Path, out: Path, min_bytes: int) -> dict:
    """`src` cut into paragraph-sized documents under `out` (same layout); its manifest."""
    if (out / "manifest.json").exists():
        return json.loads((out / "manifest.json").read_text())
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    totals = {"text": 0, "code": 0}
    docs = 0
    for kind in ("text", "code"):
        (tmp / kind).mkdir(parents=True)
        batch: list[bytes] = []
        shard = 0

        def flush() -> None:
            nonlocal shard
            path = tmp / kind / f"{kind}-{shard:05d}.jsonl.gz"
            with gzip.GzipFile(path, "wb", compresslevel=1, mtime=0) as fh:
                fh.write(b"".join(batch))
            batch.clear()
            shard += 1

        for f in sorted((src / kind).glob("*.jsonl.gz")):
            with gzip.open(f, "rt", encoding="utf-8") as fh:
                for line in fh:
                    for piece in _paragraph_docs(json.loads(line), min_bytes):
                        batch.append(json.dumps(piece, ensure_ascii=False).encode() + b"\n")
                        totals[kind] += len(piece["text"].encode())
                        docs += 1
                        if len(batch) == _SHARD_DOCS:
                            flush()
        if batch:
            flush()
    meta = {"paragraphs_of": str(src), "min_bytes": min_bytes, "docs": docs, "text_bytes": totals["text"],
            "code_bytes": totals["code"], "total_text_bytes": totals["text"] + totals["code"]}
    (tmp / "manifest.json").write_text(json.dumps(meta, indent=1) + "\n")
    tmp.rename(out)
    return meta


def scale_config(cfg: Path, events: Path, *, one_task: bool) -> Path:
    """The benchmark's pipeline config, with the scale settings; one_task: dedup's one-task paths on."""
    pipeline = yaml.safe_load(cfg.read_text())
    pipeline["spark"]["shuffle_partitions"] = 64
    pipeline["spark"]["conf"] = {"spark.eventLog.enabled": "true", "spark.eventLog.dir": events.as_uri()}
    pipeline["annotate"] = {"rules": {"text": {r: None for r in TEXT_RULES}, "code": {r: None for r in CODE_KIND_RULES},
                                      "builtin_overrides": []}}
    if not one_task:
        pipeline["dedup"] = {"one_task_max_docs": 0, "one_task_max_edges": 0}
    out = cfg.with_name("one-task.yaml" if one_task else "scale.yaml")
    out.write_text(yaml.safe_dump(pipeline, sort_keys=False))
    return out


def _event_lines(path: Path):
    if path.suffix == ".zstd":
        import zstandard

        yield from io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(path.open("rb")), encoding="utf-8")
    else:
        yield from path.open(encoding="utf-8")


def spark_events(events: Path) -> tuple[list[float], list[dict]]:
    """Job submission times and every task (launch time, rows and bytes read from files and
    shuffles, its Spark stage's name) of the run's event log."""
    jobs: list[float] = []
    tasks: list[dict] = []
    stage_names: dict[int, str] = {}
    for log in sorted(events.rglob("events_*")):  # Spark 4 writes a folder of rolled files per app
        for line in _event_lines(log):
            e = json.loads(line)
            kind = e["Event"]
            if kind == "SparkListenerJobStart":
                jobs.append(e["Submission Time"] / 1000)
            elif kind == "SparkListenerStageSubmitted":
                stage_names[e["Stage Info"]["Stage ID"]] = e["Stage Info"]["Stage Name"]
            elif kind == "SparkListenerTaskEnd" and e.get("Task Metrics"):
                m = e["Task Metrics"]
                read_in, shuffle = m.get("Input Metrics", {}), m.get("Shuffle Read Metrics", {})
                tasks.append({
                    "t": e["Task Info"]["Launch Time"] / 1000,
                    "rows": read_in.get("Records Read", 0) + shuffle.get("Total Records Read", 0),
                    "bytes": (read_in.get("Bytes Read", 0) + shuffle.get("Remote Bytes Read", 0)
                              + shuffle.get("Local Bytes Read", 0)),
                    "spark_stage": stage_names.get(e["Stage ID"], str(e["Stage ID"])),
                })
    return jobs, tasks


# The table each stage writes: its tasks read and write files themselves (Spark's metrics see the
# shuffles only), and each file a task adds is a bound on what that task held.
STAGE_OUTPUT = {"ingest": "docs_raw", "annotate": "docs_annotated", "dedup": "docs_curated",
                "tokenize": "docs_tokenized"}


def largest_file(root: Path, table: str) -> dict:
    """The rows and bytes of the largest data file of the table's current version."""
    from deltalake import DeltaTable

    adds = DeltaTable(f"{root}/tables/{table}").get_add_actions(flatten=True)
    return {"files": adds.num_rows, "rows": max(adds.column("num_records").to_pylist(), default=0),
            "bytes": max(adds.column("size_bytes").to_pylist(), default=0)}


def cc_rounds(log: Path) -> list[int]:
    return [int(n) for n in re.findall(r"connected components converged after (\d+) rounds", log.read_text())]


def bench_size(n_docs: int, corpus: Path, manifest: dict, work: Path, compare_one_task: bool) -> dict:
    run_dir = work / f"run-{n_docs}"
    shutil.rmtree(run_dir, ignore_errors=True)
    events = run_dir / "events"
    events.mkdir(parents=True)
    root = run_dir / "root"
    base = write_configs(run_dir, corpus, root, manifest["total_text_bytes"], {"text": 0.6, "code": 0.4})
    cfg = scale_config(base, events, one_task=False)
    wall_s, mem = run_pipeline(cfg, run_dir / "curate.log")
    jobs, tasks = spark_events(events)
    stages = {}
    for name, r in last_run(root).items():
        t0 = r["started_at"].timestamp()
        t1 = t0 + r["duration_s"]
        inside = [s for s in mem.samples if t0 <= s[0] <= t1]
        stage_tasks = [t for t in tasks if t0 <= t["t"] <= t1]
        largest_rows = max(stage_tasks, key=lambda t: t["rows"], default=None)
        largest_bytes = max(stage_tasks, key=lambda t: t["bytes"], default=None)
        stages[name] = {
            "wall_s": r["duration_s"], "rows_in": r["rows_in"], "rows_out": r["rows_out"],
            "s_per_1k_docs": r["duration_s"] / manifest["docs"] * 1000,
            "peak_driver_rss_mb": max((s[1] for s in inside), default=0) / MB,
            "peak_executor_workers_rss_mb": max((s[2] for s in inside), default=0) / MB,
            "spark_jobs": sum(t0 <= j <= t1 for j in jobs),
            "spark_tasks": len(stage_tasks),
            "largest_task_rows": largest_rows and {"rows": largest_rows["rows"], "bytes": largest_rows["bytes"],
                                                   "spark_stage": largest_rows["spark_stage"]},
            "largest_task_bytes": largest_bytes and {"rows": largest_bytes["rows"], "bytes": largest_bytes["bytes"],
                                                     "spark_stage": largest_bytes["spark_stage"]},
        }
    for name, table in STAGE_OUTPUT.items():
        stages[name]["largest_output_file"] = largest_file(root, table)
    stages["dedup"]["cc_rounds"] = cc_rounds(run_dir / "curate.log")
    result = {"docs": manifest["docs"], "text_mb": manifest["total_text_bytes"] / MB, "wall_s": wall_s,
              "s_per_1k_docs": wall_s / manifest["docs"] * 1000, "stages": stages,
              "peak_driver_rss_mb": mem.peak_driver / MB, "peak_executor_workers_rss_mb": mem.peak_workers / MB}
    if compare_one_task:
        result["one_task_vs_distributed"] = compare_dedup_paths(run_dir, root, base)
    return result


def _clusters(root: Path) -> dict[str, str]:
    t = read_table(root, "dup_clusters", ["doc_id", "cluster_id"])
    return dict(zip(t["doc_id"].to_pylist(), t["cluster_id"].to_pylist()))


def _curated_ids(root: Path) -> pa.Array:
    return read_table(root, "docs_curated", ["doc_id"])["doc_id"].sort()


def compare_dedup_paths(run_dir: Path, root: Path, base: Path) -> dict:
    """The dedup stage again on a copy of the root with the one-task paths on: equal clusters?"""
    other = run_dir / "root-one-task"
    shutil.copytree(root, other)
    events = run_dir / "events-one-task"
    events.mkdir()
    pipeline = yaml.safe_load(scale_config(base, events, one_task=True).read_text())
    pipeline["root"] = str(other)
    pipeline["dedup"] = {"one_task_max_docs": 10_000_000, "one_task_max_bytes": (1 << 31) - 1}
    cfg = run_dir / "one-task.yaml"
    cfg.write_text(yaml.safe_dump(pipeline, sort_keys=False))
    wall_s, _ = run_pipeline(cfg, run_dir / "one-task.log", ("dedup",))
    distributed, one_task = _clusters(root), _clusters(other)
    return {"one_task_dedup_s": last_run(other)["dedup"]["duration_s"], "command_wall_s": wall_s,
            "clustered_docs": len(distributed), "clusters": len(set(distributed.values())),
            "equal_clusters": distributed == one_task,
            "equal_docs_curated": _curated_ids(root).equals(_curated_ids(other))}


def summary(results: list[dict]) -> dict:
    first, last = results[0], results[-1]
    drift = {s: last["stages"][s]["s_per_1k_docs"] / first["stages"][s]["s_per_1k_docs"] for s in first["stages"]
             if first["stages"][s]["s_per_1k_docs"]}
    growth = defaultdict(dict)
    for s in first["stages"]:
        for key, field in (("largest_task_rows", "rows"), ("largest_task_bytes", "bytes"),
                           ("largest_output_file", "rows")):
            a, b = first["stages"][s].get(key), last["stages"][s].get(key)
            if a and b and a[field]:
                growth[s][key] = b[field] / a[field]
    added = last["docs"] - first["docs"]
    marginal = (last["wall_s"] - first["wall_s"]) / added * 1000 if added else None
    return {
        "sizes": results,
        "drift_s_per_1k_docs_per_stage": drift,
        "drift_s_per_1k_docs_end_to_end": last["s_per_1k_docs"] / first["s_per_1k_docs"],
        "marginal_s_per_1k_added_docs": marginal,
        "marginal_over_smallest_average": marginal and marginal / first["s_per_1k_docs"],
        "docs_ratio": last["docs"] / first["docs"],
        "largest_task_growth": dict(growth),
        "machine": "local[2], 2 cores, 24 GB",
        "commit": _commit(),
    }


def _commit() -> str:
    import subprocess

    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=Path("/work/bench/corpus"),
                    help="a corpus built by scripts/build_corpus.py")
    ap.add_argument("--docs", default="250000,1000000", help="document counts, comma-separated, ascending")
    ap.add_argument("--min-bytes", type=int, default=160, help="bytes a paragraph document holds at least")
    ap.add_argument("--work", type=Path, default=Path("/tmp/curate-scale"))
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--resume", action="store_true", help="keep the sizes already in --out (same corpus)")
    args = ap.parse_args(argv)
    sizes = sorted(int(n) for n in args.docs.split(","))
    args.work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    full = args.work / f"paragraphs-{args.min_bytes}"
    manifest = paragraph_corpus(args.corpus, full, args.min_bytes)
    print(f"paragraph corpus: {manifest['docs']:,} documents, {manifest['total_text_bytes'] / MB:.1f} MB "
          f"({time.perf_counter() - started:.0f} s)", flush=True)
    if manifest["docs"] < sizes[-1]:
        sys.exit(f"the paragraph corpus holds {manifest['docs']:,} documents, fewer than {sizes[-1]:,}: "
                 "build a larger corpus or lower --min-bytes")
    done = ({r["target_docs"]: r for r in json.loads(args.out.read_text())["sizes"]}
            if args.resume and args.out.exists() else {})
    results = []
    for i, n in enumerate(sizes):
        if n in done:
            results.append(done[n])
            continue
        if i == len(sizes) - 1:
            corpus, meta = full, manifest
        else:
            corpus = args.work / f"paragraphs-{args.min_bytes}-{n}"
            meta = subsample(full, corpus, round(n / manifest["docs"] * 100_000), 100_000)
        results.append({"target_docs": n, **bench_size(n, corpus, meta, args.work, compare_one_task=i == 0)})
        write_result(summary(results), args.out)  # after every size: a late failure keeps the sizes done
    write_result(summary(results), args.out)  # with the kept sizes that come after the last one run
    return 0


if __name__ == "__main__":
    sys.exit(main())
