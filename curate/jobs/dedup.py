"""`curate dedup [--mode incremental|full]`: docs_annotated -> dup_clusters + docs_curated.

Also `spark-submit curate/jobs/dedup.py`. Steps, each materialized in a Delta table:

1. signatures of the kept documents -> dedup_signatures. Incremental (the default): only documents
   not in the table yet are shingled and hashed; the others' stored signatures and band hashes are
   reused. The table is rebuilt when the settings a signature depends on change, or with --mode full.
2. clusters over all current signatures -> dup_clusters (replaced: a new document can join or merge
   old clusters and win the keep rule, so the result equals a from-scratch run on the union).
3. docs_annotated rows with keep = true, minus removed duplicates -> docs_curated. Incremental, when
   docs_annotated was only appended to since the last dedup (same settings) and docs_curated is
   still what that run wrote: the documents that left (displaced by a new one) are deleted and
   the ones that joined appended, by `DeltaStore.delete_and_append`; replaced otherwise.
   With dedup.line_dedup.enabled, between the two: the distinct unit hashes of each kept document
   -> line_hashes (incremental as signatures are: only new documents are hashed); per source, the
   units held by at least min_docs of the documents that survive step 2 (all runs' documents);
   the documents holding one, without those units, signals recomputed and re-decided by the
   rules -> line_dedup_docs (replaced); docs_curated gets their texts and loses the ones dropped.

A rerun after a crash reuses the signatures already appended and rewrites steps 2 and 3.
"""

from __future__ import annotations

import argparse
import functools
import logging
import sys
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import functions as F

from curate.dedup.config import DedupConfig
from curate.dedup.schema import (
    DEDUP_SIGNATURES,
    DEDUP_SIGNATURES_SCHEMA,
    DUP_CLUSTERS_SCHEMA,
    LINE_DEDUP_DOCS_SCHEMA,
    LINE_HASHES_SCHEMA,
)
from curate.errors import StorageError
from curate.jobs.common import StageContext, StageResult, stage_main
from curate.jobs.incremental import MAX_CHANGED_DOCS, added_files, last_success, rows_are_current, settings_changed
from curate.pipelines.line_dedup import (
    HASHED_COLUMNS,
    doc_frequent,
    frequent_units,
    line_params,
    strip,
    unit_hash_fn,
    unit_hashes,
    with_lines_removed,
)
from curate.pipelines.dedup import (
    SIGNED_COLUMNS,
    curated_batches,
    find_duplicates,
    remove_duplicates,
    signature_fn,
    signature_params,
    signatures,
)
from curate.quality.schema import DOCS_ANNOTATED_SCHEMA
from curate.schemas.tables import DOCS_ANNOTATED, DOCS_CURATED, DUP_CLUSTERS, LINE_DEDUP_DOCS, LINE_HASHES
from curate.spark_tasks import same_batches

log = logging.getLogger(__name__)


def _write_per_doc(ctx: StageContext, table: str, *, schema, params: str, batch_fn, frame_fn, columns: list[str],
                   docs_version: int, candidates, mode: str, new_files: set[str] | None = None) -> tuple[int, int, int]:
    """Table `table` (one row per kept document, made by `batch_fn` from docs_annotated's batches or
    `frame_fn` from a frame, tagged with `params`) brought up to date: incremental, the rows of the
    documents it lacks are appended (those of `new_files` when given: docs_annotated only gained
    these files since the table was last brought up to date); rebuilt when its params differ, or in
    full mode. Returns (table version, its rows, rows made in this run)."""
    store = ctx.store
    stored_version = store.version(table) if mode == "incremental" else None
    if stored_version is not None:
        stored = store.read(table, version=stored_version)
        if stored.where(F.col("params") != params).limit(1).count():
            log.info("[%s] %s settings changed: recomputing every row", ctx.run_id, table)
            stored_version = None
    if stored_version is None:  # file by file: each task reads docs_annotated's file and writes rows
        version, _ = store.map_into(DOCS_ANNOTATED, batch_fn, table, schema=schema, version=docs_version,
                                    columns=columns, where_true="keep")
        rows = store.rows(table, version=version)
        return version, rows, rows
    if new_files is not None:  # only these files are read, not every document's text
        version, _ = store.map_append(DOCS_ANNOTATED, batch_fn, table, schema=schema, version=docs_version,
                                      columns=columns, where_true="keep", only=new_files)
    else:
        new = frame_fn(candidates.join(stored.select("doc_id"), "doc_id", "left_anti"))
        version = store.append(new.withColumn("dedup_run_id", F.lit(ctx.run_id)), table, schema=schema)
    rows = store.rows(table, version=version)
    return version, rows, rows - store.rows(table, version=stored_version)


def _write_signatures(ctx: StageContext, cfg: DedupConfig, docs_version: int, candidates, *,
                      mode: str, new_files: set[str] | None) -> tuple[int, int, int]:
    """(table version, its rows, documents signed in this run)."""
    return _write_per_doc(ctx, DEDUP_SIGNATURES, schema=DEDUP_SIGNATURES_SCHEMA, params=signature_params(cfg),
                          batch_fn=signature_fn(cfg, ctx.run_id), frame_fn=lambda docs: signatures(docs, cfg),
                          columns=SIGNED_COLUMNS, docs_version=docs_version, candidates=candidates, mode=mode,
                          new_files=new_files)


def _write_line_hashes(ctx: StageContext, cfg: DedupConfig, docs_version: int, candidates, *, mode: str) -> int:
    """The line_hashes version holding every kept document's unit hashes (new ones added)."""
    version, _, _ = _write_per_doc(ctx, LINE_HASHES, schema=LINE_HASHES_SCHEMA, params=line_params(cfg),
                                   batch_fn=unit_hash_fn(cfg, ctx.run_id), frame_fn=lambda docs: unit_hashes(docs, cfg),
                                   columns=HASHED_COLUMNS, docs_version=docs_version, candidates=candidates, mode=mode)
    return version


def _line_dedup(ctx: StageContext, survivors, candidates, docs_version: int, *, mode: str) -> tuple[dict, dict]:
    """Writes line_hashes, line_dedup_docs and docs_curated (the `survivors` of document dedup less
    repeated units); returns (output versions, counts)."""
    cfg, store = ctx.cfg.dedup, ctx.store
    hashes_version = _write_line_hashes(ctx, cfg, docs_version, candidates, mode=mode)
    hashes = store.read(LINE_HASHES, version=hashes_version)
    frequent = doc_frequent(hashes, frequent_units(hashes, survivors, min_docs=cfg.line_dedup.min_docs))
    stripped = strip(survivors, frequent, cfg, ctx.cfg.annotate.rules).withColumn("dedup_run_id", F.lit(ctx.run_id))
    ld_version = store.overwrite(stripped, LINE_DEDUP_DOCS, schema=LINE_DEDUP_DOCS_SCHEMA)
    stripped = store.read(LINE_DEDUP_DOCS, version=ld_version)
    tally = stripped.agg(F.count("*").alias("changed"), F.sum((~F.col("keep")).cast("long")).alias("dropped"),
                         F.sum("removed_bytes").alias("bytes")).first()
    curated_version = store.overwrite(with_lines_removed(survivors, stripped), DOCS_CURATED,
                                      schema=DOCS_ANNOTATED_SCHEMA)
    counts = {"line_dedup_changed": tally["changed"], "line_dedup_dropped": tally["dropped"] or 0,
              "line_dedup_removed_bytes": tally["bytes"] or 0}
    return {LINE_HASHES: hashes_version, LINE_DEDUP_DOCS: ld_version, DOCS_CURATED: curated_version}, counts


@dataclass(frozen=True)
class _CuratedBefore:
    """What the last dedup wrote into docs_curated, and from which docs_annotated."""

    curated_version: int
    annotated_version: int
    new_files: set[str]  # docs_annotated's files added since


def _curated_before(ctx: StageContext, docs_version: int) -> _CuratedBefore | None:
    """The docs_curated the last dedup wrote, when this run may update it rather than replace it:
    same dedup settings, nothing has written its outputs since, and docs_annotated has only gained
    files since the version it read (appended documents; no row rewritten or removed)."""
    if not rows_are_current(ctx, "dedup"):
        return None
    wrote = dict(last_success(ctx, "dedup").output_versions or {})
    added = added_files(ctx, "dedup", DOCS_ANNOTATED, docs_version)
    if added is None or DOCS_CURATED not in wrote:
        return None
    return _CuratedBefore(wrote[DOCS_CURATED], *added)


def _update_curated(ctx: StageContext, before: _CuratedBefore, docs_version: int, candidates, clusters_version: int,
                    counts: dict) -> int | None:
    """docs_curated brought to (kept documents less removed duplicates) by deleting the documents that
    left it and appending those that joined; None (nothing written) when more than MAX_CHANGED_DOCS
    changed. The rows of the documents that joined are read from docs_annotated's new files (an old
    document joins only when the duplicate that displaced it is gone: from all files then)."""
    store = ctx.store
    held = store.read(DOCS_CURATED, version=before.curated_version).select("doc_id", F.lit(True).alias("held"))
    removed = store.read(DUP_CLUSTERS, version=clusters_version).where(~F.col("is_kept")).select("doc_id")
    target = candidates.select("doc_id").join(removed, "doc_id", "left_anti").withColumn("target", F.lit(True))
    was = store.read(DOCS_ANNOTATED, version=before.annotated_version).select("doc_id", F.lit(True).alias("old"))
    # One query: the documents in only one of docs_curated and its target, and whether each was annotated before.
    changed = (held.join(target, "doc_id", "full").where(F.col("held").isNull() | F.col("target").isNull())
               .join(was, "doc_id", "left").limit(MAX_CHANGED_DOCS + 1).collect())
    if len(changed) > MAX_CHANGED_DOCS:
        log.info("[%s] more than %d documents join or leave docs_curated: rewriting it", ctx.run_id, MAX_CHANGED_DOCS)
        return None
    left = sorted(r.doc_id for r in changed if r.held)
    joined_ids = sorted(r.doc_id for r in changed if r.target)
    old = [r.doc_id for r in changed if r.target and r.old]

    def rows_of(ids: list[str], files: set[str] | None):
        return store.file_frame(DOCS_ANNOTATED, same_batches, DOCS_ANNOTATED_SCHEMA, version=docs_version,
                                where_true="keep", only=files, where_in=("doc_id", pa.array(ids, pa.string())))

    rows = rows_of(sorted(set(joined_ids) - set(old)), before.new_files)
    if old:
        rows = rows.unionByName(rows_of(old, None))
    counts.update(curated_deleted=len(left), curated_appended=len(joined_ids))
    return store.delete_and_append(rows, DOCS_CURATED, schema=DOCS_ANNOTATED_SCHEMA, key="doc_id", remove=left,
                                   read_version=before.curated_version)


def run_dedup(ctx: StageContext) -> StageResult:
    cfg = ctx.cfg.dedup
    mode = ctx.options.get("mode") or cfg.mode
    if mode == "incremental" and settings_changed(ctx, "dedup"):  # e.g. PII redaction changed the texts
        log.info("[%s] dedup or annotate settings changed: recomputing every signature", ctx.run_id)
        mode = "full"
    version = ctx.store.version(DOCS_ANNOTATED)
    if version is None:
        raise StorageError("docs_annotated does not exist yet: run `curate annotate` first")
    docs = ctx.store.read(DOCS_ANNOTATED, version=version)
    candidates = docs.where(F.col("keep"))
    # decided before this run writes the dedup tables
    curated_before = None if mode == "full" or cfg.line_dedup.enabled else _curated_before(ctx, version)

    sig_version, n_sigs, signed = _write_signatures(ctx, cfg, version, candidates, mode=mode,
                                                    new_files=curated_before and curated_before.new_files)
    # Every row signed in this run: the table holds exactly the kept documents, with their current
    # quality and length (a rebuild, or a first run); no join with docs_annotated.
    fresh = signed == n_sigs
    sigs = ctx.store.read(DEDUP_SIGNATURES, version=sig_version)
    if not fresh:
        # Stored rows of documents that are no longer kept drop out; quality and length come from
        # the current docs_annotated (a re-annotation may have rescored a document).
        current = candidates.select(
            "doc_id", F.col("quality_score").cast("double").alias("quality_score"), F.col("n_bytes").alias("length")
        )
        sigs = sigs.drop("quality_score", "length").join(current, "doc_id")

    texts = candidates.select("doc_id", "text")  # read only for candidate pairs (exact verification)
    # n_sigs is an upper bound of the rows left after the join: enough to choose the one-task path.
    read_texts = functools.partial(ctx.store.file_frame, DOCS_ANNOTATED, version=version, columns=["doc_id", "text"],
                                   where_true="keep")
    clusters = find_duplicates(sigs, cfg, texts=texts, n_docs=n_sigs, read_texts=read_texts).withColumn(
        "dedup_run_id", F.lit(ctx.run_id))
    clusters_version = ctx.store.overwrite(clusters, DUP_CLUSTERS, schema=DUP_CLUSTERS_SCHEMA)

    counts = {"signed": signed, "candidates": signed if fresh else candidates.count()}
    if ctx.store.rows(DUP_CLUSTERS, version=clusters_version) <= cfg.one_task_max_docs:  # few: in the driver
        t = ctx.store.read_arrow(DUP_CLUSTERS, version=clusters_version, columns=["doc_id", "kind", "is_kept"])
        tally = t.group_by(["kind", "is_kept"]).aggregate([([], "count_all")])
        tally = tally.rename_columns(["kind", "is_kept", "count"])
        clusters, ids = None, t["doc_id"].filter(pc.invert(t["is_kept"])).combine_chunks()
    else:
        clusters = ctx.store.read(DUP_CLUSTERS, version=clusters_version)
        tally = clusters.groupBy("kind", "is_kept").count().toArrow()
        ids = None
    for r in tally.to_pylist():
        counts[f"{'kept' if r['is_kept'] else 'removed'}_{r['kind']}"] = int(r["count"])
    removed = counts.get("removed_exact", 0) + counts.get("removed_near", 0)
    outputs = {DEDUP_SIGNATURES: sig_version, DUP_CLUSTERS: clusters_version}
    curated_version = None
    if curated_before is not None:
        curated_version = _update_curated(ctx, curated_before, version, candidates, clusters_version, counts)
    if curated_version is None and cfg.line_dedup.enabled:
        removed_ids = ctx.store.read(DUP_CLUSTERS, version=clusters_version).where(~F.col("is_kept")).select("doc_id")
        versions, line_counts = _line_dedup(ctx, candidates.join(removed_ids, "doc_id", "left_anti"), candidates,
                                            version, mode=mode)
        outputs.update(versions)
        counts.update(line_counts)
        curated_version = versions[DOCS_CURATED]
    elif curated_version is None:
        if ids is None and removed <= cfg.one_task_max_docs:
            ids = clusters.where(~F.col("is_kept")).select("doc_id").toArrow().column(0).combine_chunks()
        if ids is not None:  # few removed: their ids go to the tasks that copy docs_annotated's files
            curated_version, _ = ctx.store.map_into(DOCS_ANNOTATED, functools.partial(curated_batches, removed=ids),
                                                    DOCS_CURATED, schema=DOCS_ANNOTATED_SCHEMA, version=version,
                                                    where_true="keep")
        else:
            curated_version = ctx.store.overwrite(remove_duplicates(docs, clusters), DOCS_CURATED,
                                                  schema=DOCS_ANNOTATED_SCHEMA)
    if not cfg.line_dedup.enabled and ctx.store.version(LINE_DEDUP_DOCS) is not None and ctx.store.rows(LINE_DEDUP_DOCS):
        # line dedup switched off: its earlier changes and drops no longer hold
        outputs[LINE_DEDUP_DOCS] = ctx.store.overwrite(ctx.spark.createDataFrame([], LINE_DEDUP_DOCS_SCHEMA),
                                                       LINE_DEDUP_DOCS, schema=LINE_DEDUP_DOCS_SCHEMA)
    outputs[DOCS_CURATED] = curated_version
    rows_out = ctx.store.rows(DOCS_CURATED, version=curated_version)
    removed += counts.get("line_dedup_dropped", 0)
    if rows_out != counts["candidates"] - removed:
        log.warning("[%s] dedup counts do not reconcile: %d kept documents, %d removed or dropped, %d curated",
                    ctx.run_id, counts["candidates"], removed, rows_out)
    return StageResult(
        input_versions={DOCS_ANNOTATED: version},
        output_versions=outputs,
        rows_in=ctx.store.rows(DOCS_ANNOTATED, version=version),
        rows_out=rows_out,
        counts=counts,
        message=f"mode={mode}",
    )


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mode", choices=["incremental", "full"],
        help="incremental: reuse stored signatures, sign only new documents; full: recompute all "
             "(default: dedup.mode of the config, incremental)",
    )


def options_from_args(args: argparse.Namespace) -> dict:
    return {"mode": args.mode}


if __name__ == "__main__":
    sys.exit(stage_main("dedup"))
