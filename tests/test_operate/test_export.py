"""`curate export`: the DAG of curate/pipelines/dag.py as an Airflow DAG file and a Databricks bundle."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest
import yaml

from curate.cli import main
from curate.errors import ConfigError
from curate.pipelines.dag import STAGES
from curate.pipelines.export import cron_to_quartz

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "examples" / "local.yaml"


def assignment(source: str, name: str):
    """The literal assigned to `name` at module level of a generated file."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and node.targets[0].id == name:
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} not assigned")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("bundle")
    assert main(["export", "databricks", "--out", str(out), "--schedule", "15 4 * * 1-5", "--retries", "3",
                 "--config", "/Volumes/main/curate/conf/pipeline.yaml", "--root", "s3://bucket/curate",
                 "--num-workers", "4", "--node-type-id", "m5d.2xlarge"]) == 0
    return yaml.safe_load((out / "databricks.yml").read_text())


def test_databricks_tasks_are_the_stages_in_a_chain(bundle):
    job = bundle["resources"]["jobs"]["curate"]
    tasks = job["tasks"]
    assert [t["task_key"] for t in tasks] == [s.name for s in STAGES]
    assert "depends_on" not in tasks[0]
    for before, task in itertools.pairwise(tasks):
        assert task["depends_on"] == [{"task_key": before["task_key"]}]
    for st, task in zip(STAGES, tasks):
        assert task["python_wheel_task"] == {
            "package_name": "curate", "entry_point": "curate",
            "parameters": [st.name, "--config", "/Volumes/main/curate/conf/pipeline.yaml", "--root", "s3://bucket/curate"]}
        assert task["job_cluster_key"] == "curate" and task["max_retries"] == 3
        # the wheel only: no Delta jar, the runtime's own Delta is the native engine (delta.engine auto)
        assert task["libraries"] == [{"whl": f"{bundle['artifacts']['curate']['path']}/dist/*.whl"}]


def test_databricks_schedule_and_cluster(bundle, tmp_path):
    job = bundle["resources"]["jobs"]["curate"]
    assert job["schedule"] == {"quartz_cron_expression": "0 15 4 ? * 2-6", "timezone_id": "UTC",
                               "pause_status": "UNPAUSED"}
    (cluster,) = job["job_clusters"]
    spec = cluster["new_cluster"]
    assert cluster["job_cluster_key"] == "curate"
    assert spec["num_workers"] == 4 and spec["node_type_id"] == "m5d.2xlarge"
    assert spec["spark_version"].split(".")[0].isdigit() and int(spec["spark_version"].split(".")[0]) >= 17
    assert spec["spark_env_vars"] == {"CURATE_BPE_FILE": "/Volumes/main/curate/models/cl100k_base.tiktoken",
                                      "CURATE_LID_MODEL": "/Volumes/main/curate/models/lid.176.ftz"}
    # The artifact path, relative to databricks.yml, is this checkout (it holds pyproject.toml).
    out = tmp_path  # any folder: the path is recomputed relative to where the bundle is written
    assert main(["export", "databricks", "--out", str(out), "--schedule", "none"]) == 0
    written = yaml.safe_load((out / "databricks.yml").read_text())
    assert (out / written["artifacts"]["curate"]["path"] / "pyproject.toml").is_file()
    assert "schedule" not in written["resources"]["jobs"]["curate"]


@pytest.mark.parametrize("cron, quartz", [
    ("@daily", "0 0 0 * * ?"),
    ("@weekly", "0 0 0 ? * 1"),
    ("*/30 * * * *", "0 */30 * * * ?"),
    ("0 6 1 * *", "0 0 6 1 * ?"),
    ("0 6 * * 0,6", "0 0 6 ? * 1,7"),
])
def test_cron_to_quartz(cron, quartz):
    assert cron_to_quartz(cron) == quartz


@pytest.mark.parametrize("cron, message", [("0 6 * *", "5 cron fields"), ("0 6 1 * 1", "both day of month")])
def test_cron_to_quartz_refuses(cron, message):
    with pytest.raises(ConfigError, match=message):
        cron_to_quartz(cron)


def test_airflow_dag_file(tmp_path):
    assert main(["export", "airflow", "--out", str(tmp_path), "--name", "curate_nightly", "--schedule",
                 "30 2 * * *", "--retries", "4", "--config", str(CONFIG), "--root", str(tmp_path / "root"),
                 "--curate", "/opt/venv/bin/curate", "--env", "CURATE_BPE_FILE=/models/cl100k_base.tiktoken"]) == 0
    source = (tmp_path / "curate_nightly_dag.py").read_text()
    compile(source, "curate_nightly_dag.py", "exec")
    tasks = assignment(source, "TASKS")
    assert [t["task_id"] for t in tasks] == [s.name for s in STAGES]
    assert [t["upstream"] for t in tasks] == [[]] + [[s.name] for s in STAGES[:-1]]
    for st, t in zip(STAGES, tasks):
        assert t["bash_command"] == (f"/opt/venv/bin/curate {st.name} --config {CONFIG} --root {tmp_path / 'root'}")
    assert assignment(source, "ENV") == {"CURATE_BPE_FILE": "/models/cl100k_base.tiktoken"}
    assert "schedule='30 2 * * *'" in source and "catchup=False" in source and '"retries": 4' in source


def test_airflow_spark_submit_tasks_run_the_job_modules(tmp_path):
    prefix = "spark-submit --master yarn --py-files dist/curate.zip"
    assert main(["export", "airflow", "--out", str(tmp_path), "--spark-submit", prefix, "--schedule", "none"]) == 0
    source = (tmp_path / "curate_dag.py").read_text()
    for st, t in zip(STAGES, assignment(source, "TASKS")):
        job = REPO / "curate" / "jobs" / (st.module.rsplit(".", 1)[1] + ".py")
        assert job.is_file()
        assert t["bash_command"] == f"{prefix} {job}"
    assert "schedule=None" in source


def test_export_refuses_bad_input(tmp_path):
    assert main(["export", "airflow", "--out", str(tmp_path), "--env", "NOEQUALS"]) == 2
    assert main(["export", "airflow", "--out", str(tmp_path), "--retries", "-1"]) == 2
    assert main(["export", "databricks", "--out", str(tmp_path), "--schedule", "0 6 1 * 1"]) == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("ingest: {max_doc_bytes: 0}\n")
    assert main(["export", "airflow", "--out", str(tmp_path), "--config", str(bad)]) == 2
