"""`curate tokenize`: docs_curated -> docs_tokenized. Also `spark-submit curate/jobs/tokenize_docs.py`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections import Counter

import pyarrow as pa
from pyspark.sql import functions as F

from curate.errors import ConfigError, StorageError
from curate.jobs.common import StageContext, StageResult, stage_main
from curate.jobs.incremental import MAX_CHANGED_DOCS, added_files, rows_are_current
from curate.pipelines.tokenize import tokenize
from curate.schemas.tables import DOCS_TOKENIZED
from curate.spark_tasks import same_batches
from curate.tokenize.schema import DOCS_TOKENIZED_SCHEMA
from curate.tokenize.spark import token_tally, tokenize_columns, tokenize_fn

log = logging.getLogger(__name__)


def _encode_all(ctx: StageContext, name: str, version: int) -> tuple[int, Counter]:
    """Replace docs_tokenized by the tokens of every document of table `name`: file by file, the
    input's files are read and docs_tokenized's written by the same tasks (no text or token passes
    through the JVM). Returns the version written and the tasks' tally of documents and tokens."""
    columns = tokenize_columns(ctx.store.column_names(name, version=version))
    return ctx.store.map_into(name, tokenize_fn(threads=ctx.cfg.tokenize.threads), DOCS_TOKENIZED,
                              schema=DOCS_TOKENIZED_SCHEMA, version=version, columns=columns, tally=token_tally)


def _few_ids(df) -> tuple[list[str], int]:
    """The doc_ids of `df` (the first MAX_CHANGED_DOCS + 1 when it holds more) and how many it holds:
    one query when they are few."""
    ids = [r.doc_id for r in df.select("doc_id").limit(MAX_CHANGED_DOCS + 1).collect()]
    return ids, len(ids) if len(ids) <= MAX_CHANGED_DOCS else df.count()


def _encode_new(ctx: StageContext, name: str, version: int, held_version: int, counts: dict) -> tuple[int, Counter]:
    """Encode the documents of table `name` that docs_tokenized lacks and delete those no longer in
    it; `counts` gets how many of each. Only the files holding a deleted row are rewritten
    (`delete_and_append`), unless more than MAX_CHANGED_DOCS are deleted: then the table is replaced."""
    cfg = ctx.cfg.tokenize
    docs = ctx.store.read(name, version=version)
    held = ctx.store.read(DOCS_TOKENIZED, version=held_version)
    new = docs.join(held.select("doc_id"), "doc_id", "left_anti")
    new_ids, counts["encoded"] = _few_ids(new)
    added = added_files(ctx, "tokenize", name, version, appended_only=False)
    if added is not None and counts["encoded"] <= MAX_CHANGED_DOCS:
        # The new documents are in the files the input gained since the last tokenize: only those are
        # read, and of them only the new documents' rows pass to the encoding.
        new = ctx.store.file_frame(name, same_batches, docs.schema, version=version, columns=docs.columns,
                                   only=added[1], where_in=("doc_id", pa.array(sorted(new_ids), pa.string())))
    removed, counts["removed"] = _few_ids(held.select("doc_id").join(docs.select("doc_id"), "doc_id", "left_anti"))
    out_version = held_version
    if len(removed) > MAX_CHANGED_DOCS:  # one commit: the rows still in the input, then the new ones
        kept = held.join(docs.select("doc_id"), "doc_id", "left_semi").withColumn(
            # Parquet reads give `tokens` nullable elements, which the table schema forbids.
            "tokens", F.transform("tokens", lambda t: F.coalesce(t, F.lit(0))))
        out_version = ctx.store.overwrite(kept.unionByName(tokenize(new, cfg)), DOCS_TOKENIZED,
                                          schema=DOCS_TOKENIZED_SCHEMA)
    elif counts["encoded"] or removed:
        out_version = ctx.store.delete_and_append(tokenize(new, cfg), DOCS_TOKENIZED, schema=DOCS_TOKENIZED_SCHEMA,
                                                  key="doc_id", remove=sorted(removed), read_version=held_version)
    row = (ctx.store.read(DOCS_TOKENIZED, version=out_version)
           .agg(F.count("*").alias("docs"), F.sum("n_tokens").alias("tokens")).first())
    return out_version, Counter(docs=row["docs"], tokens=int(row["tokens"] or 0))


def run_tokenize(ctx: StageContext) -> StageResult:
    """Make docs_tokenized hold the tokens of exactly the documents of one pinned input version.

    When its rows were made with the current settings (`rows_are_current`), only the documents it
    lacks are encoded and appended, and those no longer in the input (removed by a later dedup) are
    deleted;
    otherwise every document is encoded and the table replaced (idempotent: a rerun replaces it).
    """
    name = ctx.options.get("input") or ctx.cfg.tokenize.input
    try:  # `--input docs_raw` on the command line is held to the config's opt-in too
        ctx.cfg.tokenize.check_input(name)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    version = ctx.store.version(name)
    if version is None:
        raise StorageError(f"table {name!r} does not exist under {ctx.cfg.root}; run the stage that writes it first")
    rows_in = ctx.store.rows(name, version=version)
    held_version = ctx.store.version(DOCS_TOKENIZED)
    counts = {"encoded": 0, "removed": 0}
    if held_version is None or not rows_are_current(ctx, "tokenize"):
        out_version, held = _encode_all(ctx, name, version)
        counts["encoded"] = rows_in
    else:
        out_version, held = _encode_new(ctx, name, version, held_version, counts)
    if held["docs"] != rows_in:
        log.warning("[%s] tokenize read %d documents but docs_tokenized holds %d", ctx.run_id, rows_in, held["docs"])
    return StageResult(
        input_versions={name: version},
        output_versions={DOCS_TOKENIZED: out_version},
        rows_in=rows_in,
        rows_out=held["docs"],
        counts={"tokens": held["tokens"], **counts},
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
