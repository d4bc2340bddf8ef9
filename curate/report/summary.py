"""Terminal summaries: what a command did, and what the storage root holds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from curate.schemas import tables as t
from curate.storage import Storage, join
from curate.tokenize.publish import MANIFEST, Shelf

if TYPE_CHECKING:
    from curate.jobs.common import StageContext, StageResult

ALL_TABLES = (t.DOCS_RAW, t.QUARANTINE, t.INGEST_FILES, t.DOCS_ANNOTATED, t.DEDUP_SIGNATURES, t.DUP_CLUSTERS,
              t.LINE_HASHES, t.LINE_DEDUP_DOCS, t.DOCS_CURATED, t.DOCS_TOKENIZED, t.RUNS)


def _console() -> Console:
    return Console(width=120)


def tables_table(ctx: StageContext, *, reclaimable: dict[str, int] | None = None) -> Table:
    """The tables with their versions and rows; `reclaimable`: bytes `curate vacuum` would delete, per table."""
    table = Table(title=f"tables under {ctx.store.root}/tables (Delta engine: {ctx.store.engine})")
    columns = ("table", "version", "rows", *(("reclaimable bytes",) if reclaimable is not None else ()), "path")
    for col in columns:
        table.add_column(col, justify="left" if col in ("table", "path") else "right")
    for name in ALL_TABLES:
        version = ctx.store.version(name)
        if version is not None:
            rows = ctx.store.rows(name, version=version)
            extra = (f"{reclaimable.get(name, 0):,}",) if reclaimable is not None else ()
            table.add_row(name, str(version), f"{rows:,}", *extra, ctx.store.path(name))
    return table


def print_run_summary(ctx: StageContext, results: dict[str, StageResult]) -> None:
    console = _console()
    stages = Table(title=f"run {ctx.run_id} (Delta engine: {ctx.store.engine})")
    for col in ("stage", "rows in", "rows out", "details"):
        stages.add_column(col, justify="right" if col.startswith("rows") else "left")
    for name, r in results.items():
        details = ", ".join(f"{k}={v:,}" for k, v in sorted(r.counts.items()) if ":" not in k)
        stages.add_row(name, f"{r.rows_in:,}" if r.rows_in is not None else "-",
                       f"{r.rows_out:,}" if r.rows_out is not None else "-",
                       "; ".join(part for part in (details, r.message) if part))
    console.print(stages)
    reasons = {k: v for r in results.values() for k, v in r.counts.items() if ":" in k}
    if reasons:
        rt = Table(title="refused records by reason")
        rt.add_column("fate:reason")
        rt.add_column("records", justify="right")
        for k, v in sorted(reasons.items()):
            rt.add_row(k, f"{v:,}")
        console.print(rt)
    console.print(tables_table(ctx))


def shards_table(root: str, *, storage: Storage) -> Table | None:
    """Published shard versions under `<root>/shards/<mixture>/<version>/<stage>/` with their manifest totals."""
    from pyarrow.fs import FileSelector

    fs, shards = storage.filesystem(join(root, "shards"))
    mixtures = sorted(m.base_name for m in fs.get_file_info(FileSelector(shards, allow_not_found=True)) if not m.is_file)
    if not mixtures:
        return None
    table = Table(title=f"shard versions under {join(root, 'shards')}")
    for col in ("mixture", "version", "stage", "samples", "tokens", "shards", "run id"):
        table.add_column(col, justify="right" if col in ("samples", "tokens", "shards") else "left")
    for name in mixtures:
        shelf = Shelf(root, name, storage=storage)
        for entry in shelf.versions():
            for stage in entry["stages"]:
                m = shelf.read_json(f"{entry['version']}/{stage}/{MANIFEST}")
                table.add_row(name, entry["version"], stage, f"{m['samples']:,}", f"{m['tokens']:,}",
                              f"{m['shards']['count']:,}", entry["run_id"])
    return table


def print_status(ctx: StageContext) -> None:
    from curate.delta.store import DEFAULT_RETENTION_HOURS
    from curate.jobs.vacuum import reclaimable

    console = _console()
    garbage = reclaimable(ctx.store)
    console.print(tables_table(ctx, reclaimable={g.place: g.bytes for g in garbage}))
    others = [g for g in garbage if g.place not in ALL_TABLES]  # shard staging, tables of other tools
    console.print("reclaimable by `curate vacuum --apply` (files older than "
                  f"{DEFAULT_RETENTION_HOURS} h): "
                  + "".join(f"{g.place} {g.bytes:,} bytes; " for g in others if g.items)
                  + f"total {sum(g.bytes for g in garbage):,} bytes", soft_wrap=True)
    shards = shards_table(ctx.cfg.root, storage=ctx.store.storage)
    if shards is not None:
        console.print(shards)
    if ctx.store.exists(t.RUNS):
        runs = ctx.store.read(t.RUNS).orderBy("started_at", ascending=False).limit(15).collect()
        rt = Table(title="last runs")
        for col in ("run id", "stage", "status", "engine", "started", "seconds", "rows in", "rows out", "message"):
            rt.add_column(col)
        for r in runs:
            rt.add_row(r.run_id, r.stage, r.status, r["engine"] if "engine" in r else "-",
                       r.started_at.strftime("%Y-%m-%d %H:%M:%S"), f"{r.duration_s:.1f}", str(r.rows_in),
                       str(r.rows_out), (r.message or "")[:60])
        console.print(rt)
