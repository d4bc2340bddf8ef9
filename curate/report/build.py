"""`curate report`: one self-contained HTML page per run, at `<root>/reports/<run_id>.html` by default."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from curate.errors import ConfigError
from curate.report import aggregate as agg
from curate.report.page import render
from curate.report.shards import mixture_stages, version_dirs
from curate.report.summary import ALL_TABLES
from curate.settings import shown_settings

if TYPE_CHECKING:
    from curate.jobs.common import StageContext

log = logging.getLogger(__name__)


def report_data(ctx: StageContext, *, run_id: str | None = None) -> dict:
    """Everything the page shows for `run_id` (default: the latest run), aggregated in Spark."""
    runs = agg.run_rows(ctx.store, run_id)
    versions = agg.versions_at_end(ctx.store, runs, ALL_TABLES)
    return {
        "run": {"run_id": runs[0]["run_id"], "root": ctx.cfg.root, "config_hash": runs[0]["config_hash"],
                "stages": ", ".join(f"{r['stage']} ({r['status']})" for r in runs), "versions": versions,
                "generated_at": datetime.now(UTC).isoformat(timespec="seconds")},
        "funnel": agg.funnel(ctx.store, versions),
        "drops": agg.drop_reasons(ctx.store, versions),
        "languages": agg.languages(ctx.store, versions),
        "signals": agg.signal_histograms(ctx.store, versions, ctx.cfg.annotate.rules),
        "clusters": agg.cluster_sizes(ctx.store, versions),
        "line_dedup": agg.line_dedup(ctx.store, versions),
        "mixture": mixture_stages(version_dirs(ctx.cfg.root, runs, storage=ctx.store.storage),
                                  storage=ctx.store.storage),
        "timings": agg.timings(runs),
        "settings": shown_settings(ctx.cfg),
    }


def write_report(ctx: StageContext, *, run_id: str | None = None, out: str | None = None) -> Path:
    data = report_data(ctx, run_id=run_id)
    if out is None:
        if "://" in ctx.cfg.root:
            raise ConfigError(f"root {ctx.cfg.root!r} is a URL; pass --out FILE for the report page")
        out = str(Path(ctx.cfg.root) / "reports" / f"{data['run']['run_id']}.html")
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(data), encoding="utf-8")
    log.info("[%s] report: wrote %s", data["run"]["run_id"], path)
    return path
