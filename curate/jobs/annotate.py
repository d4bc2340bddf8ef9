"""`curate annotate [--rules-only]`: docs_raw -> docs_annotated. Also `spark-submit curate/jobs/annotate.py`.

A run annotates the documents of one pinned version of docs_raw that docs_annotated lacks and
appends them. When the annotate settings changed since the table was written, or a run wrote it
without finishing (a crash), every document is annotated again and the table replaced: nothing
lost, nothing doubled. `--rules-only` re-decides keep /
drop_reasons of the current docs_annotated from its stored signals with the configured rules.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections import Counter

from pyspark.sql import functions as F

from curate.errors import StorageError
from curate.jobs.common import StageContext, StageResult, stage_main
from curate.jobs.incremental import added_files, rows_are_current
from curate.pipelines.annotate import annotate, redecide
from curate.quality.annotator import verdict_tally
from curate.quality.decontam import eval_ngram_set, read_eval_texts
from curate.quality.schema import DOCS_ANNOTATED_SCHEMA
from curate.quality.spark import annotate_fn
from curate.schemas.tables import DOCS_ANNOTATED, DOCS_RAW, DOCS_RAW_SCHEMA
from curate.spark_tasks import tally_batches

log = logging.getLogger(__name__)


def _verdicts(tally: Counter) -> tuple[int, dict[str, int]]:
    """(rows, counts) from a `verdict_tally` sum: kept, dropped and `dropped_<rule>` per failed rule."""
    counts = {"kept": 0, "dropped": 0, **tally}
    return counts.pop("rows", 0), counts


def _rules_only(ctx: StageContext) -> StageResult:
    version = ctx.store.version(DOCS_ANNOTATED)
    if version is None:
        raise StorageError("docs_annotated does not exist yet: run `curate annotate` before --rules-only")
    rows_in = ctx.store.rows(DOCS_ANNOTATED, version=version)
    out_version, tally = ctx.store.rewrite(DOCS_ANNOTATED, redecide(ctx.cfg.annotate), schema=DOCS_ANNOTATED_SCHEMA,
                                           version=version, tally=verdict_tally)
    rows_out, counts = _verdicts(tally)
    return StageResult(input_versions={DOCS_ANNOTATED: version}, output_versions={DOCS_ANNOTATED: out_version},
                       rows_in=rows_in, rows_out=rows_out, counts=counts, message="rules only")


def run_annotate(ctx: StageContext) -> StageResult:
    """Annotate the docs_raw documents not in docs_annotated yet and append them; annotate all of
    them and replace the table when its rows were made with other settings (`rows_are_current`)."""
    if ctx.options.get("rules_only"):
        return _rules_only(ctx)
    cfg = ctx.cfg.annotate
    version = ctx.store.version(DOCS_RAW)
    if version is None:
        raise StorageError("docs_raw does not exist yet: run `curate ingest` first")
    incremental = ctx.store.exists(DOCS_ANNOTATED) and rows_are_current(ctx, "annotate")
    # docs_raw only gained files since the last annotate (ingest appends): the new documents are theirs
    added = added_files(ctx, "annotate", DOCS_RAW, version) if incremental else None
    docs = None  # the new documents, found by a join, where docs_raw's new files cannot tell them
    if added is not None:
        rows_in = ctx.store.rows(DOCS_RAW, version=version) - ctx.store.rows(DOCS_RAW, version=added[0])
    elif incremental:
        docs = ctx.store.read(DOCS_RAW, version=version).join(ctx.store.read(DOCS_ANNOTATED).select("doc_id"),
                                                              "doc_id", "left_anti")
        rows_in = docs.count()
    else:
        rows_in = ctx.store.rows(DOCS_RAW, version=version)
    if incremental and rows_in == 0:
        return StageResult(input_versions={DOCS_RAW: version},
                           output_versions=ctx.store.versions([DOCS_ANNOTATED]),
                           rows_in=0, rows_out=0, message="no new documents")
    eval_ngrams = None
    if cfg.decontam.eval_paths:
        texts = read_eval_texts(cfg.decontam.eval_paths, text_field=cfg.decontam.text_field)
        eval_ngrams = eval_ngram_set(texts, cfg.decontam.ngram)
        log.info("[%s] decontamination: %d examples, %d distinct %d-grams",
                 ctx.run_id, len(texts), len(eval_ngrams), cfg.decontam.ngram)
    if not incremental:  # file by file: docs_raw's files are read and docs_annotated's written by the same tasks
        out_version, tally = ctx.store.map_into(
            DOCS_RAW, annotate_fn(cfg, eval_ngrams=eval_ngrams, run_id=ctx.run_id), DOCS_ANNOTATED,
            schema=DOCS_ANNOTATED_SCHEMA, version=version, columns=DOCS_RAW_SCHEMA.names, tally=verdict_tally)
    elif added is not None:  # a task per new file, appending what it writes: the other files' texts are not read
        out_version, tally = ctx.store.map_append(
            DOCS_RAW, annotate_fn(cfg, eval_ngrams=eval_ngrams, run_id=ctx.run_id), DOCS_ANNOTATED,
            schema=DOCS_ANNOTATED_SCHEMA, version=version, columns=DOCS_RAW_SCHEMA.names, tally=verdict_tally,
            only=added[1])
    else:
        out = annotate(docs, cfg, eval_ngrams=eval_ngrams, run_id=ctx.run_id)
        out_version = ctx.store.append(out, DOCS_ANNOTATED, schema=DOCS_ANNOTATED_SCHEMA)
        written = ctx.store.read(DOCS_ANNOTATED, version=out_version).where(F.col("annotate_run_id") == ctx.run_id)
        tally = tally_batches(written.select("keep", "drop_reasons"), verdict_tally)
    rows_out, counts = _verdicts(tally)
    if rows_in != rows_out:
        log.warning("[%s] annotate read %d documents but wrote %d", ctx.run_id, rows_in, rows_out)
    return StageResult(
        input_versions={DOCS_RAW: version},
        output_versions={DOCS_ANNOTATED: out_version},
        rows_in=rows_in,
        rows_out=rows_out,
        counts=counts,
        message="new documents appended" if incremental else "all documents annotated",
    )


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rules-only", action="store_true",
                        help="re-decide keep/drop_reasons from stored signals with the configured rules")


def options_from_args(args: argparse.Namespace) -> dict:
    return {"rules_only": args.rules_only}


if __name__ == "__main__":
    sys.exit(stage_main("annotate"))
