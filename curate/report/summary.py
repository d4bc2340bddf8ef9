"""Terminal summaries: what a command did, and what the storage root holds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from curate.schemas import tables as t
from curate.tokenize.publish import MANIFEST, VERSIONS

if TYPE_CHECKING:
    from curate.jobs.common import StageContext, StageResult

ALL_TABLES = (t.DOCS_RAW, t.QUARANTINE, t.DOCS_ANNOTATED, t.DEDUP_SIGNATURES, t.DUP_CLUSTERS, t.DOCS_CURATED,
              t.DOCS_TOKENIZED, t.RUNS)


def _console() -> Console:
    return Console(width=120)


def tables_table(ctx: StageContext) -> Table:
    table = Table(title=f"tables under {ctx.store.root}/tables (Delta engine: {ctx.store.engine})")
    for col in ("table", "version", "rows", "path"):
        table.add_column(col, justify="right" if col in ("version", "rows") else "left")
    for name in ALL_TABLES:
        version = ctx.store.version(name)
        if version is not None:
            rows = ctx.store.rows(name, version=version)
            table.add_row(name, str(version), f"{rows:,}", ctx.store.path(name))
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


def shards_table(root: str) -> Table | None:
    """Published shard versions under `<root>/shards/<mixture>/<version>/<stage>/` with their manifest totals."""
    shards = Path(root) / "shards"
    if "://" in root or not shards.is_dir():
        return None
    table = Table(title=f"shard versions under {shards}")
    for col in ("mixture", "version", "stage", "samples", "tokens", "shards", "run id"):
        table.add_column(col, justify="right" if col in ("samples", "tokens", "shards") else "left")
    for listing in sorted(shards.glob(f"*/{VERSIONS}")):
        for entry in json.loads(listing.read_text()):
            for stage in entry["stages"]:
                m = json.loads((listing.parent / entry["version"] / stage / MANIFEST).read_text())
                table.add_row(listing.parent.name, entry["version"], stage, f"{m['samples']:,}", f"{m['tokens']:,}",
                              f"{m['shards']['count']:,}", entry["run_id"])
    return table


def print_status(ctx: StageContext) -> None:
    console = _console()
    console.print(tables_table(ctx))
    shards = shards_table(ctx.cfg.root)
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
