"""What every job shares: its context, its result, and the `runs` record around it."""

from __future__ import annotations

import argparse
import logging
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable, Iterator

from curate.faults import fault_point
from curate.jobs.incremental import stage_hash, unchanged_since
from curate.progress import stage_progress
from curate.schemas.config import PipelineConfig, load_pipeline_config
from curate.schemas.tables import RUNS, RUNS_SCHEMA
from curate.storage import Storage, delete_tree, is_remote, join

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from curate.delta.store import DeltaStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StageContext:
    spark: SparkSession
    cfg: PipelineConfig
    store: DeltaStore
    run_id: str
    options: dict = field(default_factory=dict)  # stage-specific command-line options
    # What a stage reads or computes more than once (the `runs` table, its hash, ingest's listing of
    # its input files): kept for the stage, emptied when it starts and when `runs` is written.
    memo: dict = field(default_factory=dict, repr=False, compare=False)


@dataclass
class StageResult:
    input_versions: dict[str, int] = field(default_factory=dict)
    output_versions: dict[str, int] = field(default_factory=dict)
    rows_in: int | None = None
    rows_out: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    message: str = ""


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


def record_run(ctx: StageContext, *, stage: str, status: str, started: float, result: StageResult,
               config_hash: str) -> None:
    row = (
        ctx.run_id,
        stage,
        status,
        datetime.fromtimestamp(started, timezone.utc),
        round(time.time() - started, 3),
        config_hash,
        result.input_versions,
        result.output_versions,
        result.rows_in,
        result.rows_out,
        result.counts,
        result.message[:2000],
        ctx.store.engine,
    )
    ctx.store.append_rows([row], RUNS, schema=RUNS_SCHEMA)
    ctx.memo.clear()


def run_stage(ctx: StageContext, stage: str, job: Callable[[StageContext], StageResult], *,
              skip_unchanged: bool = False) -> StageResult:
    """Run one job and record it in `runs` whether it succeeds, fails or is skipped.

    With `skip_unchanged`, a stage whose inputs and settings are those of its last successful run
    (`incremental.unchanged_since`) is not run; `runs` gets a `skipped` row naming that run.
    """
    started = time.time()
    config_hash = "-"
    ctx.memo.clear()
    try:
        config_hash = stage_hash(ctx, stage)
        last = unchanged_since(ctx, stage, config_hash) if skip_unchanged else None
        if last is not None:
            result = StageResult(input_versions=dict(last.input_versions or {}),
                                 output_versions=dict(last.output_versions or {}),
                                 message=f"skipped: inputs unchanged since run {last.run_id}")
            log.info("[%s] %s: %s", ctx.run_id, stage, result.message)
            record_run(ctx, stage=stage, status="skipped", started=started, result=result, config_hash=config_hash)
            return result
        log.info("[%s] %s: started", ctx.run_id, stage)
        with stage_progress(ctx.spark, stage):
            result = job(ctx)
    except Exception as err:
        record_run(ctx, stage=stage, status="failed", started=started, config_hash=config_hash,
                   result=StageResult(message=f"{type(err).__name__}: {err}"))
        raise
    fault_point(f"done:{stage}")  # the stage's commits made, its `runs` record not
    record_run(ctx, stage=stage, status="succeeded", started=started, result=result, config_hash=config_hash)
    if ctx.cfg.catalog is not None:
        from curate.delta.catalog import register_tables

        register_tables(ctx.spark, ctx.cfg.catalog, ctx.store, [*result.output_versions, RUNS])
    log.info(
        "[%s] %s: done in %.1fs, rows in=%s out=%s %s",
        ctx.run_id, stage, time.time() - started, result.rows_in, result.rows_out, result.counts,
    )
    return result


def add_common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="pipeline YAML (default: the embedded examples/local.yaml)")
    parser.add_argument("--root", help="storage root override (a local folder, s3://bucket/prefix or s3a://...)")
    parser.add_argument("--delta-engine", choices=("auto", "native", "delta-rs"),
                        help="Delta engine override (config delta.engine): Spark's own Delta (native) or delta-rs")
    parser.add_argument("-v", "--verbose", action="store_true", help="verbose logs, Spark included")


def make_context(args: argparse.Namespace, *, app_name: str, options: dict | None = None,
                 run_id: str | None = None) -> StageContext:
    from curate.delta.store import open_store
    from curate.session import get_spark

    cfg = load_pipeline_config(args.config, root=args.root, delta_engine=args.delta_engine)
    storage = Storage.from_config(cfg.storage)
    inputs = (options or {}).get("inputs") or cfg.inputs
    remote = [p for p in (cfg.root, *(i.path for i in inputs)) if is_remote(p)]
    spark = get_spark(cfg.spark, app_name=app_name, verbose=args.verbose, delta_engine=cfg.delta.engine,
                      storage=storage if remote else None)
    store = open_store(spark, cfg.root, engine=cfg.delta.engine, storage=storage, register_format=False)
    log.info("delta engine: %s", store.engine)
    return StageContext(spark=spark, cfg=cfg, store=store, run_id=run_id or new_run_id(), options=options or {})


def add_lock_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wait", type=float, default=0, metavar="SECONDS",
                        help="wait up to SECONDS for another run on the same root to finish (default: fail at once)")


@contextmanager
def locked_context(args: argparse.Namespace, *, command: str, options: dict | None = None) -> Iterator[StageContext]:
    """The job context with the storage root's run lock held for the block, taken before Spark starts."""
    from curate.lock import run_lock

    root = load_pipeline_config(args.config, root=args.root, delta_engine=args.delta_engine).root
    run_id = new_run_id()
    with run_lock(root, run_id=run_id, command=command, wait_s=args.wait):
        ctx = make_context(args, app_name=f"curate-{command}", options=options, run_id=run_id)
        with reliable_checkpoints(ctx):
            yield ctx


@contextmanager
def reliable_checkpoints(ctx: StageContext) -> Iterator[None]:
    """On a cluster, the checkpoints that cut dedup's lineage go to `<root>/_curate/checkpoints/<run>/`
    (storage that outlives an executor: losing one does not lose them), removed when the command
    ends. A local master keeps them in its own block manager (one JVM: nothing to lose apart)."""
    if ctx.spark.sparkContext.master.startswith("local"):
        yield
        return
    folder = join(ctx.cfg.root, "_curate", "checkpoints", ctx.run_id)
    ctx.spark.sparkContext.setCheckpointDir(folder)
    try:
        yield
    finally:
        delete_tree(*ctx.store.storage.filesystem(folder))


def stage_main(stage: str) -> int:
    """Entry point of `spark-submit curate/jobs/<stage>.py [args]`: the same as `curate <stage> [args]`."""
    from curate.cli import main

    return main([stage, *sys.argv[1:]])
