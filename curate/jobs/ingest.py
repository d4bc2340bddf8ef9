"""Job: raw files -> docs_raw + quarantine. `spark-submit curate/jobs/ingest.py --config X` works too."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from pyspark.sql import functions as F

from curate.errors import ConfigError
from curate.ingest.listing import list_tasks
from curate.ingest.records import FileTask
from curate.ingest.spark import doc_ids_unique, unavailable_input, write_records
from curate.jobs.common import StageContext, StageResult, stage_main
from curate.jobs.incremental import RETRY_COUNT, last_success
from curate.schemas.config import InputConfig
from curate.schemas.tables import DOCS_RAW, DOCS_RAW_SCHEMA, QUARANTINE, QUARANTINE_SCHEMA
from curate.storage import is_remote

log = logging.getLogger(__name__)


def _file_state(task: FileTask) -> tuple[int, int]:
    """(size, mtime in ns); the file itself for a symbolic link; (-1, -1) for a path that cannot be
    stat'ed (a name that is not UTF-8 is listed escaped; ingest records it as `invalid_path`)."""
    path = task.input_file
    if is_remote(path):
        filesystem, inner = task.storage.filesystem(path)
        info = filesystem.get_file_info(inner)
        return info.size or 0, info.mtime_ns or 0
    try:
        st = os.lstat(path.removeprefix("file://"))
    except OSError:
        return -1, -1
    return st.st_size, st.st_mtime_ns


def input_files(ctx: StageContext) -> list[tuple]:
    """Path, byte range, policy skip, size and mtime of every input task: ingest reruns when one changes."""
    inputs = ctx.options.get("inputs") or ctx.cfg.inputs
    return [(t.input_file, t.start, t.end, t.skip_code, *_file_state(t))
            for t in list_tasks(inputs, ctx.cfg.ingest, storage=ctx.store.storage)]


def run_ingest(ctx: StageContext) -> StageResult:
    inputs = ctx.options.get("inputs") or ctx.cfg.inputs
    if not inputs:
        raise ConfigError("nothing to ingest: the config has no `inputs` and no --input was given")
    tasks = list_tasks(inputs, ctx.cfg.ingest, storage=ctx.store.storage)
    log.info("ingest: %d file tasks from %d inputs", len(tasks), len(inputs))
    before = ctx.store.rows(DOCS_RAW) if ctx.store.exists(DOCS_RAW) else 0
    # The tasks write the records into files of both tables; what comes back is their add actions.
    try:
        written = write_records(ctx.spark, tasks, ctx.cfg.ingest, docs_uri=ctx.store.path(DOCS_RAW),
                                quarantine_uri=ctx.store.path(QUARANTINE), run_id=ctx.run_id,
                                storage=ctx.store.storage).collect()
    except Exception as err:
        if (unavailable := unavailable_input(err)) is None:
            raise
        raise unavailable from None  # one line naming the file, not Spark's page of traceback
    adds: dict[str, list[dict]] = {ctx.store.path(DOCS_RAW): [], ctx.store.path(QUARANTINE): []}
    counts: dict[str, int] = {}
    for row in written:
        if row["add"] is not None:
            adds[row["table"]].append(json.loads(row["add"]))
        elif row["n"]:
            counts[row["fate"]] = counts.get(row["fate"], 0) + row["n"]
            if row["reason_code"]:
                key = f"{row['fate']}:{row['reason_code']}"
                counts[key] = counts.get(key, 0) + row["n"]
    _forget_unreadable(ctx, {t.input_file for t in tasks})
    docs_version = ctx.store.insert_files(adds[ctx.store.path(DOCS_RAW)], DOCS_RAW, schema=DOCS_RAW_SCHEMA,
                                          keys=["doc_id"], unique=doc_ids_unique(written, counts.get("doc", 0)))
    q_version = ctx.store.insert_files(adds[ctx.store.path(QUARANTINE)], QUARANTINE, schema=QUARANTINE_SCHEMA,
                                       keys=["record_id"])
    added = ctx.store.rows(DOCS_RAW, version=docs_version) - before
    counts["docs_new"] = added
    counts["docs_already_ingested"] = counts.get("doc", 0) - added
    counts["files"] = len({t.input_file for t in tasks})
    return StageResult(
        output_versions={DOCS_RAW: docs_version, QUARANTINE: q_version},
        rows_in=sum(n for k, n in counts.items() if k in ("doc", "quarantined", "skipped")),
        rows_out=added,
        counts=counts,
    )


def _forget_unreadable(ctx: StageContext, files: set[str]) -> None:
    """Delete the `unreadable_file` rows the last ingest left for files this run has just read again:
    this run's records of them (the same row if still unreadable) replace them, so per input file
    records read = docs_raw + quarantine rows still holds once the file reads."""
    last = last_success(ctx, "ingest")
    if last is None or not dict(last.counts or {}).get(RETRY_COUNT):
        return
    unreadable = (F.col("stage") == "ingest") & (F.col("reason_code") == "unreadable_file")
    rows = ctx.store.read(QUARANTINE).where(unreadable).select("record_id", "input_file").collect()
    stale = sorted(r.record_id for r in rows if r.input_file in files)
    if stale:
        ids = ", ".join(f"'{i}'" for i in stale)  # record ids are hex digests
        ctx.store.delete(QUARANTINE, where=f"record_id IN ({ids})")
        log.info("[%s] ingest: %d file(s) left unreadable by run %s read again", ctx.run_id, len(stale), last.run_id)


def adhoc_inputs(args: argparse.Namespace) -> list[InputConfig]:
    if not args.input:
        return []
    if not (args.source and args.kind):
        raise ConfigError("--input needs --source NAME and --kind text|code")
    from curate.schemas.config import parse_model

    return [parse_model(InputConfig, {"source": args.source, "kind": args.kind, "path": p,
                                      "text_field": args.text_field, "id_field": args.id_field},
                        origin="from the command line") for p in args.input]


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", action="append", help="ad-hoc input path, dir or glob (repeatable); "
                        "replaces the config's inputs")
    parser.add_argument("--source", help="source name for --input")
    parser.add_argument("--kind", choices=["text", "code"], help="kind of --input")
    parser.add_argument("--text-field", default="text", help="JSONL/Parquet text field (default: text)")
    parser.add_argument("--id-field", default=None, help="JSONL/Parquet field holding the record's own id")


def options_from_args(args: argparse.Namespace) -> dict:
    return {"inputs": adhoc_inputs(args)}


if __name__ == "__main__":
    sys.exit(stage_main("ingest"))
