"""`curate run` with tracking.mlflow_uri set logs params, counts, timings and the report to MLflow."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable

from curate.schemas.config import load_pipeline_config


def test_run_is_logged_to_the_file_store(sample_run, tmp_path):
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=sample_run["mlflow_uri"])
    experiment = client.get_experiment_by_name("sample")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == sample_run["run_id"] and run.info.status == "FINISHED"
    assert run.data.tags["curate.run_id"] == sample_run["run_id"]
    assert run.data.tags["curate.delta_engine"] == "native"  # auto, with the jar in the session

    runs = pa.table(DeltaTable(str(sample_run["root"] / "tables" / "runs")).to_pyarrow_table()).to_pylist()
    by_stage = {r["stage"]: r for r in runs if r["run_id"] == sample_run["run_id"]}
    params = run.data.params
    assert params["config_hash"] == load_pipeline_config(sample_run["config"]).config_hash()
    for stage, r in by_stage.items():
        assert params[f"{stage}.config_hash"] == r["config_hash"]
    assert params["spark.master"] == "local[2]" and params["annotate.rules.text.min_gopher_alpha_word_frac"] == "0.8"
    assert not any(k.startswith("tracking.") for k in params)

    metrics = run.data.metrics
    for stage, r in by_stage.items():
        assert metrics[f"{stage}.duration_s"] == r["duration_s"]
        assert metrics[f"{stage}.rows_out"] == r["rows_out"]
    assert metrics["ingest.quarantined.malformed_json"] == dict(by_stage["ingest"]["counts"])["quarantined:malformed_json"]
    assert metrics["tokenize.tokens"] > 0

    (artifact,) = client.list_artifacts(run.info.run_id)
    assert artifact.path == f"{sample_run['run_id']}.html"
    local = client.download_artifacts(run.info.run_id, artifact.path, str(tmp_path))
    html = Path(local).read_text(encoding="utf-8")
    assert sample_run["run_id"] in html and 'id="report-data"' in html


def test_a_credential_in_spark_conf_reaches_neither_mlflow_nor_the_report(sample_run):
    """Every file of the MLflow store (params, tags, metrics, the report artifact) and every report page
    under the root: the planted value nowhere, the setting shown masked."""
    store = Path(sample_run["mlflow_uri"].removeprefix("file://"))
    files = [p for p in store.rglob("*") if p.is_file()] + list((sample_run["root"] / "reports").glob("*.html"))
    params = [p for p in files if p.parent.name == "params"]
    assert params and any(p.suffix == ".html" for p in files)
    assert [p for p in files if sample_run["secret"].encode() in p.read_bytes()] == []
    (masked,) = [p for p in params if p.name == "spark.conf.spark.hadoop.fs.s3a.secret.key"]
    assert masked.read_text() == "***"
    page = next((sample_run["root"] / "reports").glob("*.html")).read_text(encoding="utf-8")
    assert "<td>spark.conf.spark.hadoop.fs.s3a.secret.key</td><td>***</td>" in page
