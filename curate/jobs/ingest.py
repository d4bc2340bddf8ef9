"""Job: raw files -> docs_raw + quarantine. `spark-submit curate/jobs/ingest.py --config X` works too."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from pyspark.sql import functions as F

from curate.delta.store import in_list
from curate.errors import ConfigError
from curate.ingest.file_state import FileState, file_states
from curate.ingest.listing import list_tasks
from curate.ingest.records import FileTask
from curate.ingest.spark import doc_ids_unique, unavailable_input, write_records
from curate.jobs.common import StageContext, StageResult, stage_main
from curate.jobs.incremental import RETRY_COUNT, last_success, outputs_unchanged, stage_hash
from curate.schemas.config import InputConfig
from curate.schemas.tables import (
    DOCS_RAW,
    DOCS_RAW_SCHEMA,
    INGEST_FILES,
    INGEST_FILES_SCHEMA,
    QUARANTINE,
    QUARANTINE_SCHEMA,
)

log = logging.getLogger(__name__)


def _listed(ctx: StageContext) -> list[tuple[FileTask, FileState]]:
    """Every input task with the current state of its file (listed once per stage: the stage's hash
    covers them too)."""
    if "ingest_listed" not in ctx.memo:
        inputs = ctx.options.get("inputs") or ctx.cfg.inputs
        tasks = list_tasks(inputs, ctx.cfg.ingest, storage=ctx.store.storage)
        states = file_states(tasks, ctx.store.storage)
        ctx.memo["ingest_listed"] = [(t, states[t.input_file]) for t in tasks]
    return ctx.memo["ingest_listed"]


def _task_key(task: FileTask, state: FileState) -> tuple:
    return (task.source, task.input_file, task.start, task.end, task.skip_code, *state)


def input_files(ctx: StageContext) -> list[tuple]:
    """Source, path, byte range, policy skip, size, mtime and etag of every input task: ingest runs
    when one changes (and then reads only the tasks whose file changed, `_unchanged`)."""
    return [_task_key(t, s) for t, s in _listed(ctx)]


def _unchanged(ctx: StageContext, settings: str, retry: set[str]) -> dict[tuple, str]:
    """Task key -> the run that read it, of the tasks the last ingest read with the same `settings`,
    when nothing has written its tables since; files in `retry` (unreadable then) left out."""
    last = last_success(ctx, "ingest")
    written = dict(last.output_versions or {}) if last is not None else {}
    if INGEST_FILES not in written or not outputs_unchanged(ctx, last):
        return {}
    state = ctx.store.read_arrow(INGEST_FILES, version=written[INGEST_FILES])
    key_columns = ["source", "input_file", "start", "end", "skip_code", "size", "mtime_ns", "etag"]
    return {tuple(r[c] for c in key_columns): r["ingest_run_id"] for r in state.to_pylist()
            if r["settings"] == settings and r["input_file"] not in retry}


def _write_state(ctx: StageContext, listed: list[tuple[FileTask, FileState]], settings: str,
                 read_by: dict[tuple, str]) -> int:
    """Replace ingest_files by the state of every listed task (`read_by`: the earlier run that read
    an unchanged one; this run read the others)."""
    rows = []
    for task, state in listed:
        key = _task_key(task, state)
        rows.append((*key, settings, read_by.get(key, ctx.run_id)))
    return ctx.store.replace_rows(rows, INGEST_FILES, schema=INGEST_FILES_SCHEMA)


def run_ingest(ctx: StageContext) -> StageResult:
    """Read the input tasks that are new or whose file changed (size, mtime or etag) since the last
    ingest read it with the same settings, and insert their records whose doc_id is new."""
    inputs = ctx.options.get("inputs") or ctx.cfg.inputs
    if not inputs:
        raise ConfigError("nothing to ingest: the config has no `inputs` and no --input was given")
    listed = _listed(ctx)
    settings = stage_hash(ctx, "ingest", fingerprint=False)
    unreadable = _unreadable(ctx)
    read_before = _unchanged(ctx, settings, {f for _, f in unreadable})
    tasks = [t for t, s in listed if _task_key(t, s) not in read_before]
    log.info("ingest: %d file tasks from %d inputs, %d unchanged since they were read", len(listed), len(inputs),
             len(listed) - len(tasks))
    counts: dict[str, int] = {"files": len({t.input_file for t, _ in listed}),
                              "tasks_unchanged": len(listed) - len(tasks)}
    versions = ctx.store.versions([DOCS_RAW, QUARANTINE])
    added = 0
    if tasks:
        versions, added = _read_tasks(ctx, tasks, counts, unreadable)
    counts["docs_new"] = added
    counts["docs_already_ingested"] = counts.get("doc", 0) - added
    versions[INGEST_FILES] = _write_state(ctx, listed, settings, read_before)
    return StageResult(
        output_versions=versions,
        rows_in=sum(n for k, n in counts.items() if k in ("doc", "quarantined", "skipped")),
        rows_out=added,
        counts=counts,
    )


def _read_tasks(ctx: StageContext, tasks: list[FileTask], counts: dict[str, int],
                unreadable: list[tuple[str, str]]) -> tuple[dict[str, int], int]:
    """Read `tasks` into docs_raw and quarantine (records already there are not inserted again);
    `counts` gets the records per fate. Returns the tables' versions and the documents added."""
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
    for row in written:
        if row["add"] is not None:
            adds[row["table"]].append(json.loads(row["add"]))
        elif row["n"]:
            counts[row["fate"]] = counts.get(row["fate"], 0) + row["n"]
            if row["reason_code"]:
                key = f"{row['fate']}:{row['reason_code']}"
                counts[key] = counts.get(key, 0) + row["n"]
    _forget_unreadable(ctx, unreadable, {t.input_file for t in tasks})
    docs_version = ctx.store.insert_files(adds[ctx.store.path(DOCS_RAW)], DOCS_RAW, schema=DOCS_RAW_SCHEMA,
                                          keys=["doc_id"], unique=doc_ids_unique(written, counts.get("doc", 0)))
    q_version = ctx.store.insert_files(adds[ctx.store.path(QUARANTINE)], QUARANTINE, schema=QUARANTINE_SCHEMA,
                                       keys=["record_id"])
    added = ctx.store.rows(DOCS_RAW, version=docs_version) - before
    return {DOCS_RAW: docs_version, QUARANTINE: q_version}, added


def _unreadable(ctx: StageContext) -> list[tuple[str, str]]:
    """(record_id, input_file) of the `unreadable_file` rows the last ingest left: those files are
    read again whatever their state."""
    last = last_success(ctx, "ingest")
    if last is None or not dict(last.counts or {}).get(RETRY_COUNT):
        return []
    unreadable = (F.col("stage") == "ingest") & (F.col("reason_code") == "unreadable_file")
    return [(r.record_id, r.input_file)
            for r in ctx.store.read(QUARANTINE).where(unreadable).select("record_id", "input_file").collect()]


def _forget_unreadable(ctx: StageContext, unreadable: list[tuple[str, str]], files: set[str]) -> None:
    """Delete the `unreadable_file` rows the last ingest left for files this run has just read again:
    this run's records of them (the same row if still unreadable) replace them, so per input file
    records read = docs_raw + quarantine rows still holds once the file reads."""
    stale = sorted(record_id for record_id, input_file in unreadable if input_file in files)
    if stale:
        ctx.store.delete(QUARANTINE, where=in_list("record_id", stale))
        log.info("[%s] ingest: %d file(s) left unreadable by an earlier run read again", ctx.run_id, len(stale))


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
