"""Integration: the exported DAG loaded by a real Airflow (in its own venv, scripts/setup_airflow.sh) and run
end to end with `airflow dags test` on the bundled sample."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from curate.cli import main
from curate.pipelines.dag import STAGES

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
AIRFLOW_PY = REPO / ".venv-airflow" / "bin" / "python"
DAG_ID = "curate_it"

# Loads the DAG the way the scheduler does and prints what Airflow understood of it.
_INSPECT = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(sys.argv[1])
dag = bag.dags.get(sys.argv[2])
print(json.dumps({"import_errors": {k: str(v) for k, v in bag.import_errors.items()},
                  "upstream": {t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks} if dag else None,
                  "retries": sorted({t.retries for t in dag.tasks}) if dag else None,
                  "catchup": dag.catchup if dag else None,
                  "timetable": type(dag.timetable).__name__ if dag else None}))
"""


def airflow(args: list[str], env: dict, timeout: int) -> subprocess.CompletedProcess:
    return subprocess.run([str(AIRFLOW_PY.with_name("airflow")), *args], check=False, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory) -> dict:
    subprocess.run([str(REPO / "scripts" / "setup_airflow.sh")], check=True, timeout=1200)
    home = tmp_path_factory.mktemp("airflow")
    (home / "dags").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(AIRFLOW_HOME=str(home), AIRFLOW__CORE__DAGS_FOLDER=str(home / "dags"),
               AIRFLOW__CORE__LOAD_EXAMPLES="False", AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db",
               # Airflow's own interpreter must not see curate's checkout; the tasks get it through --env.
               PYTHONPATH="")
    migrated = airflow(["db", "migrate"], env, 900)
    assert migrated.returncode == 0, migrated.stdout[-3000:] + migrated.stderr[-3000:]
    return env


def test_airflow_loads_and_runs_the_dag(airflow_env, tmp_path):
    dags, root = Path(airflow_env["AIRFLOW__CORE__DAGS_FOLDER"]), tmp_path / "root"
    # The tasks run this interpreter's `curate` on this checkout (the venv may have another one installed).
    assert main(["export", "airflow", "--out", str(dags), "--name", DAG_ID, "--schedule", "0 3 * * *",
                 "--retries", "0", "--config", str(REPO / "examples" / "local.yaml"), "--root", str(root),
                 "--curate", str(Path(sys.executable).with_name("curate")), "--env", f"PYTHONPATH={REPO}"]) == 0

    inspected = subprocess.run([str(AIRFLOW_PY), "-c", _INSPECT, str(dags), DAG_ID], check=False, env=airflow_env,
                               capture_output=True, text=True, timeout=600)
    assert inspected.returncode == 0, inspected.stderr[-3000:]
    seen = json.loads(inspected.stdout.strip().splitlines()[-1])
    assert seen["import_errors"] == {}
    assert seen["upstream"] == {s.name: ([STAGES[i - 1].name] if i else []) for i, s in enumerate(STAGES)}
    assert seen["retries"] == [0] and seen["catchup"] is False and "Cron" in seen["timetable"]

    ran = airflow(["dags", "test", DAG_ID, "2026-01-01"], airflow_env, 2400)
    assert ran.returncode == 0, ran.stdout[-5000:] + ran.stderr[-5000:]

    from deltalake import DeltaTable

    runs = DeltaTable(str(root / "tables" / "runs")).to_pyarrow_table().to_pylist()
    order = [r["stage"] for r in sorted(runs, key=lambda r: r["started_at"])]
    assert order == [s.name for s in STAGES] and {r["status"] for r in runs} == {"succeeded"}
    tokenized = DeltaTable(str(root / "tables" / "docs_tokenized")).to_pyarrow_table()
    assert tokenized.num_rows > 0
    assert list((root / "shards").rglob("manifest.json"))
