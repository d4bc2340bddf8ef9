"""Integration: every stage with spark-submit on a real standalone cluster (scripts/cluster.sh: a master
and two workers on 127.0.0.1), the package and the models shipped with --py-files/--files, compared
with a local-mode run of the whole DAG (`spark-submit --master local[2] curate/jobs/run.py`, which has
no Delta jar: delta-rs). The cluster runs under each engine: with the Delta jars shipped by --jars
(Spark's own Delta), and without them (delta-rs)."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from curate.package import build
from curate.pipelines.dag import STAGES
from curate.schemas.config import load_pipeline_config

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "examples" / "local.yaml"
TIMEOUT_S = 1800


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spark_env(**extra: str) -> dict[str, str]:
    import pyspark

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYSPARK_PYTHON", "SPARK_HOME")}
    return {**env, "SPARK_HOME": os.path.dirname(pyspark.__file__), "SPARK_LOCAL_IP": "127.0.0.1", **extra}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return build(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def delta_bundle(tmp_path_factory):
    return build(tmp_path_factory.mktemp("dist-delta"), delta=True)


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    """examples/local.yaml with its paths resolved and the mixture named: curate running from the zip
    has no embedded defaults (they are files of the checkout, not of the package)."""
    cfg = load_pipeline_config(CONFIG).model_dump(mode="json")
    cfg["mix"]["mixture"] = str(REPO / "examples" / "mixture.yaml")
    path = tmp_path_factory.mktemp("config") / "pipeline.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def submit(master: str, job: Path, config: Path, root: Path, bundle, log: Path, *, executor_memory: str = "1g",
           extra: tuple[str, ...] = (), job_args: tuple[str, ...] = (), timeout: int = TIMEOUT_S) -> int:
    """spark-submit `job` with the bundle shipped; its exit code (its output is in `log`)."""
    import pyspark

    cmd = [
        str(Path(pyspark.__file__).parent / "bin" / "spark-submit"), "--master", master, *extra, *bundle.submit_args(),
        "--conf", f"spark.pyspark.python={sys.executable}", "--conf", f"spark.executor.memory={executor_memory}",
        "--conf", "spark.sql.shuffle.partitions=8", "--conf", "spark.log.level=ERROR",
        str(job), "--config", str(config), "--root", str(root), *job_args,
    ]
    # The driver finds the models by name too: among the files spark-submit shipped, not site-packages.
    env = spark_env(CURATE_BPE_FILE=bundle.bpe_path.name, CURATE_LID_MODEL=bundle.lid_path.name)
    with log.open("w") as out:
        return subprocess.run(cmd, check=False, cwd=log.parent, env=env, stdout=out, stderr=subprocess.STDOUT,
                              timeout=timeout).returncode


def cluster(action: str, state: Path, ports: tuple[int, int]) -> subprocess.CompletedProcess:
    env = {**os.environ, "CLUSTER_DIR": str(state), "MASTER_PORT": str(ports[0]), "MASTER_UI_PORT": str(ports[1]),
           "PYTHON": sys.executable}
    return subprocess.run([str(REPO / "scripts" / "cluster.sh"), action], check=False, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module", params=["native", "delta-rs"])
def cluster_root(request, tmp_path_factory, bundle, delta_bundle, config):
    """Start the cluster, run each stage's job module against it on the engine, stop it by PID."""
    engine = request.param
    shipped = delta_bundle if engine == "native" else bundle
    tmp = tmp_path_factory.mktemp(f"cluster-{engine}")
    state, root, ports = tmp / "state", tmp / engine, (free_port(), free_port())  # the root is named for its engine
    started = cluster("start", state, ports)
    pids = {p.stem: int(p.read_text()) for p in (state / "pids").glob("*.pid")}
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert sorted(pids) == ["master", "worker1", "worker2"] and all(map(alive, pids.values()))
        for st in STAGES:
            job = REPO / "curate" / "jobs" / (st.module.rsplit(".", 1)[1] + ".py")
            log = tmp / f"{st.name}.log"
            rc = submit(f"spark://127.0.0.1:{ports[0]}", job, config, root, shipped, log,
                        job_args=("--delta-engine", engine))
            assert rc == 0, f"{job.name} exited {rc}:\n{log.read_text()[-4000:]}"
    finally:
        stopped = cluster("stop", state, ports)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert not [name for name, pid in pids.items() if alive(pid)]
    # Executors really ran on the workers: each worker has this application's executor folders.
    assert all(list((state / "work" / w).glob("app-*/*")) for w in ("worker1", "worker2"))
    return root


@pytest.fixture(scope="module")
def local_root(tmp_path_factory, bundle, config):
    tmp = tmp_path_factory.mktemp("local")
    log = tmp / "run.log"
    rc = submit("local[2]", REPO / "curate" / "jobs" / "run.py", config, tmp / "root", bundle, log)
    assert rc == 0, f"run.py exited {rc}:\n{log.read_text()[-4000:]}"
    return tmp / "root"


def table_rows(root: Path, name: str) -> list[str]:
    """Rows as sorted canonical JSON, without the columns that name the run that wrote them."""
    from deltalake import DeltaTable

    rows = DeltaTable(str(root / "tables" / name)).to_pyarrow_table().to_pylist()
    return sorted(json.dumps({k: v for k, v in r.items() if not k.endswith("run_id")}, sort_keys=True, default=repr)
                  for r in rows)


def shard_digest(stage_dir: Path, cache: Path) -> dict:
    from streaming import StreamingDataset

    ds = StreamingDataset(remote=str(stage_dir), local=str(cache), shuffle=False, batch_size=1)
    samples = [hashlib.sha256(np.asarray(s["tokens"]).tobytes() + s["source"].encode()).hexdigest() for s in ds]
    manifest = json.loads((stage_dir / "manifest.json").read_text())
    # The run's id and time, and the loader snippet's path under its own root, differ by design.
    return {"manifest": {k: v for k, v in manifest.items() if k not in ("run_id", "created_at", "train_loader")},
            "samples": samples}


def test_cluster_tables_equal_local_run(cluster_root, local_root):
    names = sorted(p.name for p in (local_root / "tables").iterdir() if p.name != "runs")
    assert sorted(p.name for p in (cluster_root / "tables").iterdir() if p.name != "runs") == names
    assert {"docs_raw", "quarantine", "docs_annotated", "dup_clusters", "docs_curated", "docs_tokenized"} <= set(names)
    for name in names:
        local = table_rows(local_root, name)
        assert local, f"{name} is empty"
        assert table_rows(cluster_root, name) == local, name


def test_cluster_runs_record_every_stage(cluster_root):
    from deltalake import DeltaTable

    runs = DeltaTable(str(cluster_root / "tables" / "runs")).to_pyarrow_table().to_pylist()
    assert sorted((r["stage"], r["status"]) for r in runs) == sorted((s.name, "succeeded") for s in STAGES)
    assert {r["engine"] for r in runs} == {cluster_root.name}
    assert len({r["run_id"] for r in runs}) == len(STAGES)  # one spark-submit application per stage


def test_cluster_shards_equal_local_run(cluster_root, local_root, tmp_path):
    local_dirs = sorted(p.parent.relative_to(local_root) for p in (local_root / "shards").rglob("manifest.json"))
    assert local_dirs
    assert sorted(p.parent.relative_to(cluster_root)
                  for p in (cluster_root / "shards").rglob("manifest.json")) == local_dirs
    for rel in local_dirs:
        local = shard_digest(local_root / rel, tmp_path / "l" / rel.name)
        assert local["samples"]
        assert shard_digest(cluster_root / rel, tmp_path / "c" / rel.name) == local, rel
