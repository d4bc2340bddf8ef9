"""The edit loop: a mixture weight edit -> new shards, beside the full pipeline on the sample.

    python benchmarks/mix_edit_bench.py [--config examples/local.yaml] [--master local[2]]

In one process and one Spark session: every stage of the DAG (ingest ... tokenize, mix) on the
config's inputs into a fresh storage root, then `curate mix` again with one stage's weights
changed, which reuses docs_tokenized. Goal: the edit at least 5x faster than the full pipeline.
Writes benchmarks/results/mix_edit.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from curate.jobs.common import StageContext, new_run_id, run_stage  # noqa: E402
from curate.pipelines.dag import STAGES  # noqa: E402
from curate.schemas.config import load_pipeline_config  # noqa: E402
from curate.schemas.mixture import load_mixture  # noqa: E402
from bench_results import write_result


def edited_mixture(path: str | None, out: Path) -> Path:
    """The mixture with the first stage's largest weight moved by a tenth to the next component."""
    data = load_mixture(path).model_dump(mode="json")
    weights = data["stages"][0]["weights"]
    names = sorted(weights, key=lambda k: -weights[k])
    shift = weights[names[0]] / 10
    weights[names[0]] -= shift
    weights[names[-1]] += shift
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", default=None, help="pipeline YAML (default: the embedded examples/local.yaml)")
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--root", default=None, help="storage root, must not exist yet (default: a temporary folder)")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "mix_edit.json"))
    args = ap.parse_args(argv)
    names = [s.name for s in STAGES]
    if "tokenize" not in names or "mix" not in names:
        sys.exit(f"the DAG has stages {names}; tokenize and mix must be wired into curate/pipelines/dag.py")

    from curate.delta.store import open_store
    from curate.session import get_spark

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.root is not None and Path(args.root).exists():
        sys.exit(f"--root {args.root} exists; the benchmark needs a fresh storage root")
    with tempfile.TemporaryDirectory() as tmp:
        root = args.root or tmp
        cfg = load_pipeline_config(args.config, root=root)
        cfg = cfg.model_copy(update={"spark": cfg.spark.model_copy(update={"master": args.master})})
        spark = get_spark(cfg.spark, app_name="mix-edit-bench")
        ctx = StageContext(spark=spark, cfg=cfg, store=open_store(spark, cfg.root), run_id=new_run_id())
        stage_s: dict[str, float] = {}
        t_full = time.perf_counter()
        for stage in STAGES:
            t0 = time.perf_counter()
            run_stage(ctx, stage.name, stage.load())
            stage_s[stage.name] = round(time.perf_counter() - t0, 2)
        full_s = time.perf_counter() - t_full
        first = run_stage(ctx, "mix", STAGES[names.index("mix")].load())  # already published: reused

        mixture = edited_mixture(cfg.mix.mixture, Path(tmp) / "edited.yaml")
        edit_ctx = dataclasses.replace(ctx, run_id=new_run_id(), options={"mixture": str(mixture)})
        t0 = time.perf_counter()
        edit = run_stage(edit_ctx, "mix", STAGES[names.index("mix")].load())
        edit_s = time.perf_counter() - t0
        if edit.message == first.message or not Path(first.message).is_dir():
            sys.exit(f"the edit did not publish a new version beside {first.message}")
        result = {
            "config": args.config or "examples/local.yaml",
            "master": args.master,
            "full_pipeline_s": round(full_s, 2),
            "stages_s": stage_s,
            "weight_edit_mix_s": round(edit_s, 2),
            "speedup": round(full_s / edit_s, 2),
            "goal_speedup": 5,
            "samples_written": edit.rows_out,
            "load_average": os.getloadavg(),
        }
    write_result(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
