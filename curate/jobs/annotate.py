"""`curate annotate [--rules-only]`: docs_raw -> docs_annotated. Also `spark-submit curate/jobs/annotate.py`.

A full run annotates one pinned version of docs_raw and replaces docs_annotated (a rerun after a
crash replaces it again: nothing lost, nothing doubled). `--rules-only` re-decides keep /
drop_reasons of the current docs_annotated from its stored signals with the configured rules.
"""

from __future__ import annotations

import argparse
import logging
import sys

from pyspark.sql import functions as F

from curate.errors import StorageError
from curate.jobs.common import StageContext, StageResult, stage_main
from curate.pipelines.annotate import annotate, redecide
from curate.quality.decontam import eval_ngram_set, read_eval_texts
from curate.quality.schema import DOCS_ANNOTATED_SCHEMA
from curate.schemas.tables import DOCS_ANNOTATED, DOCS_RAW

log = logging.getLogger(__name__)


def verdict_counts(ctx: StageContext, version: int) -> tuple[int, dict[str, int]]:
    """(rows, counts): kept, dropped and `dropped_<rule>` per failed rule, read from the written table."""
    table = ctx.store.read(DOCS_ANNOTATED, version=version).select("keep", "drop_reasons")
    row = table.agg(F.count("*").alias("n"), F.sum(F.col("keep").cast("long")).alias("kept")).first()
    counts = {"kept": int(row["kept"] or 0), "dropped": int(row["n"] - (row["kept"] or 0))}
    for r in table.select(F.explode("drop_reasons").alias("r")).groupBy("r").count().collect():
        counts[f"dropped_{r['r']}"] = int(r["count"])
    return int(row["n"]), counts


def run_annotate(ctx: StageContext) -> StageResult:
    cfg = ctx.cfg.annotate
    if ctx.options.get("rules_only"):
        version = ctx.store.version(DOCS_ANNOTATED)
        if version is None:
            raise StorageError("docs_annotated does not exist yet: run `curate annotate` before --rules-only")
        name, docs = DOCS_ANNOTATED, ctx.store.read(DOCS_ANNOTATED, version=version)
        out = redecide(docs, cfg)
    else:
        version = ctx.store.version(DOCS_RAW)
        if version is None:
            raise StorageError("docs_raw does not exist yet: run `curate ingest` first")
        eval_ngrams = None
        if cfg.decontam.eval_paths:
            texts = read_eval_texts(cfg.decontam.eval_paths, text_field=cfg.decontam.text_field)
            eval_ngrams = eval_ngram_set(texts, cfg.decontam.ngram)
            log.info("[%s] decontamination: %d examples, %d distinct %d-grams",
                     ctx.run_id, len(texts), len(eval_ngrams), cfg.decontam.ngram)
        docs = ctx.store.read(DOCS_RAW, version=version)
        name = DOCS_RAW
        out = annotate(docs, cfg, eval_ngrams=eval_ngrams).withColumn("annotate_run_id", F.lit(ctx.run_id))
    out_version = ctx.store.overwrite(out, DOCS_ANNOTATED, schema=DOCS_ANNOTATED_SCHEMA)
    rows_out, counts = verdict_counts(ctx, out_version)
    rows_in = docs.count()
    if rows_in != rows_out:
        log.warning("[%s] annotate read %d documents but wrote %d", ctx.run_id, rows_in, rows_out)
    return StageResult(
        input_versions={name: version},
        output_versions={DOCS_ANNOTATED: out_version},
        rows_in=rows_in,
        rows_out=rows_out,
        counts=counts,
        message="rules only" if ctx.options.get("rules_only") else "",
    )


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rules-only", action="store_true",
                        help="re-decide keep/drop_reasons from stored signals with the configured rules")


def options_from_args(args: argparse.Namespace) -> dict:
    return {"rules_only": args.rules_only}


if __name__ == "__main__":
    sys.exit(stage_main("annotate"))
