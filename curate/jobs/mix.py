"""`curate mix`: docs_tokenized + a mixture -> MDS shards per curriculum stage, published atomically.

Also `spark-submit curate/jobs/mix.py [--mixture FILE]`. Only docs_tokenized is read, so editing
weights or budgets and rerunning reuses all earlier stages' work.
"""

from __future__ import annotations

import argparse
import logging
import sys

from pyspark.sql import functions as F

from curate.errors import StorageError
from curate.jobs.common import StageContext, StageResult, stage_main
from curate.pipelines.mix import (
    check_sources,
    components,
    drawn_counts,
    shard_pieces,
    sources_and_supply,
)
from curate.schemas.mixture import load_mixture
from curate.schemas.tables import DOCS_TOKENIZED
from curate.tokenize.mds import merge_task_indexes, plan_tasks
from curate.storage import delete_tree, join
from curate.tokenize.publish import MANIFEST, MEMBERS_FILE, Shelf, version_of, write_manifest
from curate.tokenize.realize import StagePlan, check_shortfalls, check_supply, stage_plans
from curate.tokenize.spark import plan_pieces_frame, write_shards_frame

log = logging.getLogger(__name__)


def _write_shards(ctx: StageContext, plans: list[StagePlan], pieces, tokenized, staging: str, *, mixture) -> list[dict]:
    """Write every stage's shards in one Spark job (one MDS writer per task, writing where `staging`
    is: a local folder or the object store); per stage {count, bytes}."""
    spt = ctx.cfg.mix.samples_per_task
    per_stage = [
        plan_tasks(join(staging, p.stage.name), samples=p.samples, seq_len=p.stage.seq_len, samples_per_task=spt)
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
        storage=ctx.store.storage,
    ).collect()}
    missing = sorted(set(range(len(specs))) - set(stats))
    if missing:
        raise StorageError(f"shard tasks {missing[:10]} wrote nothing; rerun `curate mix`")
    out = []
    for plan, tasks in zip(plans, per_stage):
        at = first_task[plan.stage.name]
        mine = [stats[t] for t in range(at, at + len(tasks))]
        merge_task_indexes(join(staging, plan.stage.name), tasks, storage=ctx.store.storage)
        out.append({"count": sum(r["shards"] for r in mine), "bytes": sum(r["bytes"] for r in mine)})
    return out


def _write_members(pieces, stage: str, stage_dir: str, *, storage) -> None:
    """The documents the stage holds, (doc_id, component, tokens) sorted, as one Parquet file
    (doc_fates of `curate audit`); written by Spark, nothing collected to the driver."""
    from pyarrow.fs import FileSelector

    tmp = join(stage_dir, f".{MEMBERS_FILE}.parts")
    members = (pieces.where(F.col("stage") == stage).groupBy("doc_id", "component")
               .agg(F.sum("tok_len").alias("tokens")).orderBy("doc_id", "component"))
    members.coalesce(1).write.mode("overwrite").parquet(tmp)
    fs, tmp_path = storage.filesystem(tmp)
    (part,) = [f.path for f in fs.get_file_info(FileSelector(tmp_path)) if f.base_name.startswith("part-")]
    fs.move(part, join(storage.filesystem(stage_dir)[1], MEMBERS_FILE))
    delete_tree(fs, tmp_path)


def run_mix(ctx: StageContext) -> StageResult:
    mixture = load_mixture(ctx.options.get("mixture") or ctx.cfg.mix.mixture)
    in_version = ctx.store.version(DOCS_TOKENIZED)
    if in_version is None:
        raise StorageError(f"table {DOCS_TOKENIZED!r} does not exist under {ctx.cfg.root}; run `curate tokenize` first")
    input_versions = {DOCS_TOKENIZED: in_version}
    input_tables = {DOCS_TOKENIZED: ctx.store.table_id(DOCS_TOKENIZED)}
    version = version_of(mixture, input_versions, input_tables)
    shelf = Shelf(ctx.cfg.root, mixture.name, storage=ctx.store.storage)
    final = shelf.version_uri(version)
    known = [v["version"] for v in shelf.versions()]
    entry = {"version": version, "config_hash": mixture.config_hash(), "input_versions": input_versions,
             "input_tables": input_tables, "stages": [s.name for s in mixture.stages], "run_id": ctx.run_id}
    # Whole when every stage has its manifest (written last); a run killed after that but before
    # listing the version left it whole: listed now. The same version has the same bytes.
    if all(shelf.exists(f"{version}/{st}/{MANIFEST}") for st in entry["stages"]):
        if version not in known:
            shelf.list_version(entry)
        log.info("[%s] mix: %s is already published (versions: %s)", ctx.run_id, final, known)
        return StageResult(input_versions=input_versions, counts={"reused": 1}, message=final)

    tokenized = ctx.store.read(DOCS_TOKENIZED, version=in_version)
    sources, totals = sources_and_supply(tokenized, mixture)
    check_sources(mixture, sources)
    members = components(tokenized, mixture)
    check_supply(mixture, {c: tokens for c, (tokens, _) in totals.items()})
    pieces = plan_pieces_frame(members, mixture, totals=totals, bucket_docs=ctx.cfg.mix.plan_bucket_docs).persist()
    drawn, short = drawn_counts(pieces)
    if short:
        pieces.unpersist()
        check_shortfalls(mixture, short)  # raises
    plans = stage_plans(mixture, totals, drawn)
    for plan in plans:
        for warning in plan.warnings:
            log.warning("[%s] mix: %s", ctx.run_id, warning)

    staging = shelf.writing_uri(version, ctx.run_id)
    counts: dict[str, int] = {}
    try:
        for plan, shards in zip(plans, _write_shards(ctx, plans, pieces, tokenized, staging, mixture=mixture)):
            out = join(staging, plan.stage.name)
            _write_members(pieces, plan.stage.name, out, storage=ctx.store.storage)
            write_manifest(  # last: a stage with a manifest has every other file
                out, plan, storage=ctx.store.storage, mixture=mixture, published_dir=join(final, plan.stage.name),
                version=version, input_versions=input_versions, input_tables=input_tables, shards=shards,
                run_id=ctx.run_id,
            )
            counts[f"samples.{plan.stage.name}"] = plan.samples
            counts[f"tokens.{plan.stage.name}"] = plan.tokens
            # A weighted component without a sample shows in the run summary by name.
            counts.update({f"samples.{plan.stage.name}.{c}": 0 for c in plan.unsampled})
            log.info(
                "[%s] mix: stage %s: %d samples x %d tokens, %d shards, %d bytes, shares %s",
                ctx.run_id, plan.stage.name, plan.samples, plan.stage.seq_len, shards["count"], shards["bytes"],
                {c: round(s.realized_share, 4) for c, s in plan.components.items()},
            )
        shelf.publish(staging, entry=entry)
    except BaseException:
        shelf.discard(staging)
        raise
    finally:
        pieces.unpersist()
    log.info("[%s] mix: published %s (earlier versions kept: %s)", ctx.run_id, final, known)
    return StageResult(
        input_versions=input_versions,
        rows_in=sum(docs for _, docs in totals.values()),
        rows_out=sum(p.samples for p in plans),
        counts=counts,
        message=final,
    )


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mixture", help="mixture YAML (default: mix.mixture of the config, else examples/mixture.yaml)")


def options_from_args(args: argparse.Namespace) -> dict:
    return {"mixture": args.mixture}


if __name__ == "__main__":
    sys.exit(stage_main("mix"))
