"""`curate mix`: docs_tokenized + a mixture -> MDS shards per curriculum stage, published atomically.

Also `spark-submit curate/jobs/mix.py [--mixture FILE]`. Only docs_tokenized is read, so editing
weights or budgets and rerunning reuses all earlier stages' work.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from pathlib import Path

from pyspark.sql import functions as F

from curate.errors import StorageError
from curate.jobs.common import StageContext, StageResult, stage_main
from curate.jobs.incremental import table_id
from curate.pipelines.mix import (
    check_sources,
    components,
    drawn_counts,
    shard_pieces,
    supply_totals,
)
from curate.schemas.mixture import load_mixture
from curate.schemas.tables import DOCS_TOKENIZED
from curate.tokenize.mds import merge_task_indexes, plan_tasks
from curate.tokenize.publish import (
    list_version,
    mixture_dir,
    publish,
    published_versions,
    staging_dir,
    version_of,
    write_manifest,
)
from curate.tokenize.realize import StagePlan, check_supply, stage_plans
from curate.tokenize.spark import plan_pieces_frame, write_shards_frame

log = logging.getLogger(__name__)


def _write_shards(ctx: StageContext, plans: list[StagePlan], pieces, tokenized, staging: Path, *, mixture) -> list[dict]:
    """Write every stage's shards in one Spark job (one MDS writer per task); per stage {count, bytes}."""
    spt = ctx.cfg.mix.samples_per_task
    per_stage = [
        plan_tasks(staging / p.stage.name, samples=p.samples, seq_len=p.stage.seq_len, samples_per_task=spt)
        for p in plans
    ]
    first_task, at = {}, 0  # stage -> index of its first task among all stages' tasks
    for plan, tasks in zip(plans, per_stage):
        first_task[plan.stage.name] = at
        at += len(tasks)
    specs = [t for tasks in per_stage for t in tasks]
    first = F.create_map(*[F.lit(v) for kv in first_task.items() for v in kv])[F.col("stage")]
    task = (F.floor(F.col("sample") / spt) + first).cast("int").alias("task")
    stats = {r["task"]: r for r in write_shards_frame(
        shard_pieces(pieces.select("*", task), tokenized, tasks=len(specs)),
        tasks=specs, compression=mixture.shards.compression, size_limit=mixture.shards.size_limit_bytes,
    ).collect()}
    missing = sorted(set(range(len(specs))) - set(stats))
    if missing:
        raise StorageError(f"shard tasks {missing[:10]} wrote nothing; rerun `curate mix`")
    out = []
    for plan, tasks in zip(plans, per_stage):
        at = first_task[plan.stage.name]
        mine = [stats[t] for t in range(at, at + len(tasks))]
        merge_task_indexes(staging / plan.stage.name, tasks)
        out.append({"count": sum(r["shards"] for r in mine), "bytes": sum(r["bytes"] for r in mine)})
    return out


def _write_members(pieces, stage: str, path: Path) -> None:
    """The documents the stage holds, (doc_id, component, tokens) sorted, as one Parquet file
    (doc_fates of `curate audit`); written by Spark, nothing collected to the driver."""
    tmp = path.with_name(f".{path.name}.parts")
    members = (pieces.where(F.col("stage") == stage).groupBy("doc_id", "component")
               .agg(F.sum("tok_len").alias("tokens")).orderBy("doc_id", "component"))
    members.coalesce(1).write.mode("overwrite").parquet(str(tmp))
    (part,) = tmp.glob("part-*.parquet")
    part.rename(path)
    shutil.rmtree(tmp)


def run_mix(ctx: StageContext) -> StageResult:
    mixture = load_mixture(ctx.options.get("mixture") or ctx.cfg.mix.mixture)
    in_version = ctx.store.version(DOCS_TOKENIZED)
    if in_version is None:
        raise StorageError(f"table {DOCS_TOKENIZED!r} does not exist under {ctx.cfg.root}; run `curate tokenize` first")
    input_versions = {DOCS_TOKENIZED: in_version}
    input_tables = {DOCS_TOKENIZED: table_id(ctx.store, DOCS_TOKENIZED, version=in_version)}
    version = version_of(mixture, input_versions, input_tables)
    final = mixture_dir(ctx.cfg.root, mixture) / version
    known = [v["version"] for v in published_versions(ctx.cfg.root, mixture)]
    entry = {"version": version, "config_hash": mixture.config_hash(), "input_versions": input_versions,
             "input_tables": input_tables, "stages": [s.name for s in mixture.stages], "run_id": ctx.run_id}
    if final.exists():
        if version not in known:  # a run was killed between publishing the version and listing it
            list_version(final, entry=entry)
        log.info("[%s] mix: %s is already published (versions: %s)", ctx.run_id, final, known)
        return StageResult(input_versions=input_versions, counts={"reused": 1}, message=str(final))

    tokenized = ctx.store.read(DOCS_TOKENIZED, version=in_version)
    check_sources(mixture, {r[0] for r in tokenized.select("source").distinct().collect()})
    members = components(tokenized, mixture)
    totals = supply_totals(members)
    check_supply(mixture, {c: tokens for c, (tokens, _) in totals.items()})
    pieces = plan_pieces_frame(members, mixture).persist()
    plans = stage_plans(mixture, totals, drawn_counts(pieces))

    staging = staging_dir(ctx.cfg.root, mixture, version, ctx.run_id)
    staging.mkdir(parents=True)
    counts: dict[str, int] = {}
    try:
        for plan, shards in zip(plans, _write_shards(ctx, plans, pieces, tokenized, staging, mixture=mixture)):
            out = staging / plan.stage.name
            write_manifest(
                out, plan, mixture=mixture, published_dir=final / plan.stage.name, version=version,
                input_versions=input_versions, input_tables=input_tables, shards=shards, run_id=ctx.run_id,
            )
            _write_members(pieces, plan.stage.name, out / "documents.parquet")
            counts[f"samples.{plan.stage.name}"] = plan.samples
            counts[f"tokens.{plan.stage.name}"] = plan.tokens
            log.info(
                "[%s] mix: stage %s: %d samples x %d tokens, %d shards, %d bytes, shares %s",
                ctx.run_id, plan.stage.name, plan.samples, plan.stage.seq_len, shards["count"], shards["bytes"],
                {c: round(s.realized_share, 4) for c, s in plan.components.items()},
            )
        publish(staging, final, entry=entry)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        pieces.unpersist()
    log.info("[%s] mix: published %s (earlier versions kept: %s)", ctx.run_id, final, known)
    return StageResult(
        input_versions=input_versions,
        rows_in=sum(docs for _, docs in totals.values()),
        rows_out=sum(p.samples for p in plans),
        counts=counts,
        message=str(final),
    )


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mixture", help="mixture YAML (default: mix.mixture of the config, else examples/mixture.yaml)")


def options_from_args(args: argparse.Namespace) -> dict:
    return {"mixture": args.mixture}


if __name__ == "__main__":
    sys.exit(stage_main("mix"))
