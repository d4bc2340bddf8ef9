"""MLflow tracking of `curate run`: when `tracking.mlflow_uri` is configured and mlflow is installed.

Each run becomes one MLflow run (named by the curate run id) with the effective config as
parameters (secret-looking `spark.conf` values masked, `curate.settings`), every stage's counts
and timings as metrics, and the run report as an artifact.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from curate.report.aggregate import run_rows
from curate.report.build import write_report
from curate.settings import shown_settings

if TYPE_CHECKING:
    from curate.jobs.common import StageContext

log = logging.getLogger(__name__)

PARAMS_PER_BATCH, METRICS_PER_BATCH = 100, 1000  # MLflow's log_batch limits


def metric_name(name: str) -> str:
    """MLflow metric names allow letters, digits, _ - . / and space: `quarantined:too_large` -> `quarantined.too_large`."""
    return re.sub(r"[^\w\-./ ]", ".", name)


def run_metrics(runs: list[dict]) -> dict[str, float]:
    out: dict[str, float] = {"duration_s": sum(r["duration_s"] for r in runs)}
    for r in runs:
        stage = r["stage"]
        out[f"{stage}.duration_s"] = r["duration_s"]
        for key in ("rows_in", "rows_out"):
            if r[key] is not None:
                out[f"{stage}.{key}"] = r[key]
        for key, value in (r["counts"] or {}).items():
            out[metric_name(f"{stage}.{key}")] = value
    return out


def log_run(ctx: StageContext) -> str | None:
    """Log the run `ctx.run_id` to the configured tracking URI; the MLflow run id, or None when off."""
    tracking = ctx.cfg.tracking
    if tracking.mlflow_uri is None:
        return None
    try:
        import mlflow  # noqa: F401
    except ImportError:
        log.warning("tracking.mlflow_uri is set but mlflow is not installed; `pip install mlflow-skinny` to log runs")
        return None
    if tracking.mlflow_uri.startswith("file:"):
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")  # the config asks for a file store
    runs = run_rows(ctx.store, ctx.run_id)
    with tempfile.TemporaryDirectory() as tmp:
        # Under a URL root (s3://...) the page is only logged, not kept beside the tables.
        out = f"{tmp}/{ctx.run_id}.html" if "://" in ctx.cfg.root else None
        mlflow_id = _log(ctx, runs, write_report(ctx, run_id=ctx.run_id, out=out))
    log.info("[%s] tracking: logged to %s (experiment %s, MLflow run %s)",
             ctx.run_id, tracking.mlflow_uri, tracking.experiment, mlflow_id)
    return mlflow_id


def _log(ctx: StageContext, runs: list[dict], report: Path) -> str:
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    tracking = ctx.cfg.tracking
    client = MlflowClient(tracking_uri=tracking.mlflow_uri)
    experiment = client.get_experiment_by_name(tracking.experiment)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(tracking.experiment)
    run = client.create_run(experiment_id, run_name=ctx.run_id,
                            tags={"curate.run_id": ctx.run_id, "curate.root": ctx.cfg.root,
                                  "curate.delta_engine": ctx.store.engine})
    mlflow_id = run.info.run_id
    # The whole config's hash, and each stage's own (what `runs` records and incremental runs compare).
    params = {"config_hash": ctx.cfg.config_hash(),
              **{f"{r['stage']}.config_hash": r["config_hash"] for r in runs},
              **shown_settings(ctx.cfg)}
    items = [Param(k, v) for k, v in sorted(params.items())]
    for i in range(0, len(items), PARAMS_PER_BATCH):
        client.log_batch(mlflow_id, params=items[i:i + PARAMS_PER_BATCH])
    at = int(runs[-1]["started_at"].timestamp() * 1000)
    metrics = [Metric(k, float(v), at, 0) for k, v in sorted(run_metrics(runs).items())]
    for i in range(0, len(metrics), METRICS_PER_BATCH):
        client.log_batch(mlflow_id, metrics=metrics[i:i + METRICS_PER_BATCH])
    client.log_artifact(mlflow_id, str(report))
    client.set_terminated(mlflow_id, status="FINISHED")
    return mlflow_id
