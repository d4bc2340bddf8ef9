"""Terminal summaries: what a command did, and what the storage root holds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from curate.schemas import tables as t

if TYPE_CHECKING:
    from curate.jobs.common import StageContext, StageResult

ALL_TABLES = (t.DOCS_RAW, t.QUARANTINE, t.DOCS_ANNOTATED, t.DEDUP_SIGNATURES, t.DUP_CLUSTERS, t.DOCS_CURATED,
              t.DOCS_TOKENIZED, t.RUNS)


def _console() -> Console:
    return Console(width=120)


def tables_table(ctx: StageContext) -> Table:
    table = Table(title=f"tables under {ctx.store.root}/tables")
    for col in ("table", "version", "rows", "path"):
        table.add_column(col, justify="right" if col in ("version", "rows") else "left")
    for name in ALL_TABLES:
        version = ctx.store.version(name)
        if version is not None:
            table.add_row(name, str(version), f"{ctx.store.read(name).count():,}", ctx.store.path(name))
    return table


def print_run_summary(ctx: StageContext, results: dict[str, StageResult]) -> None:
    console = _console()
    stages = Table(title=f"run {ctx.run_id}")
    for col in ("stage", "rows in", "rows out", "details"):
        stages.add_column(col, justify="right" if col.startswith("rows") else "left")
    for name, r in results.items():
        details = ", ".join(f"{k}={v:,}" for k, v in sorted(r.counts.items()) if ":" not in k)
        stages.add_row(name, f"{r.rows_in:,}" if r.rows_in is not None else "-",
                       f"{r.rows_out:,}" if r.rows_out is not None else "-", details or r.message)
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


def print_status(ctx: StageContext) -> None:
    console = _console()
    console.print(tables_table(ctx))
    if ctx.store.exists(t.RUNS):
        runs = ctx.store.read(t.RUNS).orderBy("started_at", ascending=False).limit(15).collect()
        rt = Table(title="last runs")
        for col in ("run id", "stage", "status", "started", "seconds", "rows in", "rows out"):
            rt.add_column(col)
        for r in runs:
            rt.add_row(r.run_id, r.stage, r.status, r.started_at.strftime("%Y-%m-%d %H:%M:%S"),
                       f"{r.duration_s:.1f}", str(r.rows_in), str(r.rows_out))
        console.print(rt)
