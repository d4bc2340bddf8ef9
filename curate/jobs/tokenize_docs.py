"""`curate tokenize`: docs_curated -> docs_tokenized. Also `spark-submit curate/jobs/tokenize_docs.py`."""

from __future__ import annotations

import argparse
import logging
import sys

from pyspark.sql import functions as F

from curate.jobs.common import StageContext, StageResult, stage_main
from curate.pipelines.tokenize import tokenize
from curate.schemas.tables import DOCS_TOKENIZED
from curate.tokenize.schema import DOCS_TOKENIZED_SCHEMA

log = logging.getLogger(__name__)


def run_tokenize(ctx: StageContext) -> StageResult:
    """Rewrite docs_tokenized from one pinned version of the input table (idempotent: a rerun replaces it)."""
    cfg = ctx.cfg.tokenize
    name = ctx.options.get("input") or cfg.input
    version = ctx.store.version(name)
    docs = ctx.store.read(name, version=version)
    out_version = ctx.store.overwrite(tokenize(docs, cfg), DOCS_TOKENIZED, schema=DOCS_TOKENIZED_SCHEMA)
    row = (
        ctx.store.read(DOCS_TOKENIZED, version=out_version)
        .agg(F.count("*").alias("docs"), F.sum("n_tokens").alias("tokens"))
        .first()
    )
    rows_in = docs.count()
    if row["docs"] != rows_in:
        log.warning("[%s] tokenize read %d documents but wrote %d", ctx.run_id, rows_in, row["docs"])
    return StageResult(
        input_versions={name: version},
        output_versions={DOCS_TOKENIZED: out_version},
        rows_in=rows_in,
        rows_out=row["docs"],
        counts={"tokens": int(row["tokens"] or 0)},
    )


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input", choices=["docs_curated", "docs_annotated", "docs_raw"],
        help="table to tokenize (default: tokenize.input of the config, docs_curated)",
    )


def options_from_args(args: argparse.Namespace) -> dict:
    return {"input": args.input}


if __name__ == "__main__":
    sys.exit(stage_main("tokenize"))
