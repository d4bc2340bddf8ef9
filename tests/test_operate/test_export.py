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
        dist = f"{bundle['artifacts']['curate']['path']}/dist"
        assert task["libraries"] == [{"whl": f"{dist}/curate-*.whl"}, {"whl": f"{dist}/curate_kernels-*.whl"}]


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
    assert (out / written["artifacts"]["curate_kernels"]["path"] / "Cargo.toml").is_file()
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


SECRET = "Pl4nted+S3cret/Value-9f2c"


def test_airflow_dag_reads_secrets_from_airflow_variables(tmp_path):
    """A credential given with --env or in the --spark-submit prefix is not written into the DAG file:
    the task's environment gets it from an Airflow Variable (Jinja, rendered by BashOperator at run time)
    and spark-submit from that environment. Checked by rendering the env as Airflow does and running
    the task's command with a stand-in spark-submit that prints its arguments."""
    import jinja2
    import subprocess

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "spark-submit"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    fake.chmod(0o755)
    prefix = (f"{fake} --master yarn --conf spark.hadoop.fs.s3a.secret.key={SECRET} --conf 'spark.app.name=a b' "
              f"-c spark.executorEnv.DB_PASSWORD='{SECRET}' --conf=spark.hadoop.fs.s3a.session.token={SECRET}")
    out = tmp_path / "dags"
    assert main(["export", "airflow", "--out", str(out), "--spark-submit", prefix, "--schedule", "none",
                 "--env", f"AWS_SECRET_ACCESS_KEY={SECRET}", "--env", "CURATE_LID_MODEL=/models/lid.176.ftz"]) == 0
    (written,) = out.iterdir()
    source = written.read_text()
    assert SECRET not in source
    env = assignment(source, "ENV")
    assert env == {"AWS_SECRET_ACCESS_KEY": "{{ var.value.AWS_SECRET_ACCESS_KEY }}",
                   "CURATE_LID_MODEL": "/models/lid.176.ftz",
                   "SPARK_HADOOP_FS_S3A_SECRET_KEY": "{{ var.value.SPARK_HADOOP_FS_S3A_SECRET_KEY }}",
                   "SPARK_EXECUTORENV_DB_PASSWORD": "{{ var.value.SPARK_EXECUTORENV_DB_PASSWORD }}",
                   "SPARK_HADOOP_FS_S3A_SESSION_TOKEN": "{{ var.value.SPARK_HADOOP_FS_S3A_SESSION_TOKEN }}"}
    variables = {name: SECRET for name in env if name != "CURATE_LID_MODEL"}
    rendered = {k: jinja2.Template(v).render(var={"value": variables}) for k, v in env.items()}
    command = assignment(source, "TASKS")[0]["bash_command"]
    ran = subprocess.run(["bash", "-c", command], env={"PATH": "/usr/bin:/bin", **rendered}, capture_output=True,
                         text=True, check=True)
    args = ran.stdout.splitlines()
    assert args[:10] == ["--master", "yarn", "--conf", f"spark.hadoop.fs.s3a.secret.key={SECRET}", "--conf",
                         "spark.app.name=a b", "-c", f"spark.executorEnv.DB_PASSWORD={SECRET}",
                         f"--conf=spark.hadoop.fs.s3a.session.token={SECRET}",
                         str(REPO / "curate" / "jobs" / "ingest.py")]


def test_databricks_bundle_reads_secrets_from_a_secret_scope(tmp_path, capsys):
    assert main(["export", "databricks", "--out", str(tmp_path), "--secret-scope", "prod-curate",
                 "--spark-conf", f"spark.hadoop.fs.s3a.secret.key={SECRET}",
                 "--spark-conf", "spark.sql.ansi.enabled=true",
                 "--env", f"AWS_SECRET_ACCESS_KEY={SECRET}", "--env", "HF_HOME=/local_disk0/hf"]) == 0
    text = (tmp_path / "databricks.yml").read_text()
    assert SECRET not in text
    spec = yaml.safe_load(text)["resources"]["jobs"]["curate"]["job_clusters"][0]["new_cluster"]
    assert spec["spark_conf"] == {
        "spark.hadoop.fs.s3a.secret.key": "{{secrets/prod-curate/SPARK_HADOOP_FS_S3A_SECRET_KEY}}",
        "spark.sql.ansi.enabled": "true"}
    assert spec["spark_env_vars"]["AWS_SECRET_ACCESS_KEY"] == "{{secrets/prod-curate/AWS_SECRET_ACCESS_KEY}}"
    assert spec["spark_env_vars"]["HF_HOME"] == "/local_disk0/hf"
    err = capsys.readouterr().err
    assert "AWS_SECRET_ACCESS_KEY, SPARK_HADOOP_FS_S3A_SECRET_KEY" in err and "prod-curate" in err
