"""Integration: every stage with spark-submit on a real standalone cluster (scripts/cluster.sh: a master
and two workers on 127.0.0.1), the package and the models shipped with --py-files/--files, compared
with a local-mode run of the whole DAG (`spark-submit --master local[2] curate/jobs/run.py`, which has
no Delta jar: delta-rs). The cluster runs under each engine: with the Delta jars shipped by --jars
(Spark's own Delta), and without them (delta-rs), and on Spark's Delta with the storage root in a
bucket of the test S3 server (the S3A jars shipped too). Losing a worker in the middle of dedup and
of mix does not fail the run, whose results equal the undisturbed one's."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from curate.package import build
from curate.pipelines.dag import STAGES
from curate.schemas.config import load_pipeline_config
from curate.storage import Storage
from curate.tokenize.publish import Shelf
from test_faults.harness import _RUN_SPECIFIC

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
    return build(tmp_path_factory.mktemp("dist-delta"), delta=True, s3=True)


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


# (engine, root in the test bucket). The native engine on a local root runs in the executor-loss test.
RUNS = {"delta-rs-s3": ("delta-rs", True), "native-s3": ("native", True)}


@pytest.fixture(scope="module", params=list(RUNS))
def cluster_root(request, tmp_path_factory, bundle, delta_bundle, config, objectstore):
    """Start the cluster (the object store's environment exported: the workers' executors read their
    keys from it), run each stage's job module against it on the engine, stop it by PID. Returns
    (engine, root)."""
    engine, in_bucket = RUNS[request.param]
    shipped = delta_bundle if engine == "native" or in_bucket else bundle  # its s3 jars: checkpoints in the bucket
    tmp = tmp_path_factory.mktemp(f"cluster-{request.param}")
    state, ports = tmp / "state", (free_port(), free_port())
    root = f"s3://{objectstore['bucket']}/cluster-{request.param}" if in_bucket else str(tmp / "root")
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
    return engine, root


@pytest.fixture(scope="module")
def local_root(tmp_path_factory, bundle, config):
    tmp = tmp_path_factory.mktemp("local")
    log = tmp / "run.log"
    rc = submit("local[2]", REPO / "curate" / "jobs" / "run.py", config, tmp / "root", bundle, log)
    assert rc == 0, f"run.py exited {rc}:\n{log.read_text()[-4000:]}"
    return tmp / "root"


def table_rows(root: str, name: str) -> list[str]:
    """Rows as sorted canonical JSON, without the columns that name the run that wrote them."""
    from deltalake import DeltaTable

    uri = f"{root}/tables/{name}"
    rows = DeltaTable(uri, storage_options=Storage.from_config(None).delta_rs_options(uri)).to_pyarrow_table().to_pylist()
    return sorted(json.dumps({k: v for k, v in r.items() if not k.endswith("run_id")}, sort_keys=True, default=repr)
                  for r in rows)


def table_names(root: str) -> list[str]:
    from pyarrow.fs import FileSelector

    fs, path = Storage.from_config(None).filesystem(f"{root}/tables")
    return sorted(i.base_name for i in fs.get_file_info(FileSelector(path)) if not i.is_file and i.base_name != "runs")


def published_stages(root: str) -> dict[str, str]:
    """stage -> URI of that stage in the latest published version of the sample mixture."""
    shelf = Shelf(root, "sample", storage=Storage.from_config(None))
    entry = shelf.versions()[-1]
    return {st: f"{shelf.version_uri(entry['version'])}/{st}" for st in entry["stages"]}


def shard_digest(stage_uri: str, cache: Path) -> dict:
    from streaming import StreamingDataset

    ds = StreamingDataset(remote=stage_uri, local=str(cache), shuffle=False, batch_size=1)
    samples = [hashlib.sha256(np.asarray(s["tokens"]).tobytes() + s["source"].encode()).hexdigest() for s in ds]
    fs, path = Storage.from_config(None).filesystem(f"{stage_uri}/manifest.json")
    with fs.open_input_stream(path, compression=None) as f:
        manifest = json.loads(f.read())
    # The run's id and time, the loader snippet's path under its own root, and the version (it names the
    # input table's identity, which differs between roots) differ by design.
    return {"manifest": {k: v for k, v in manifest.items() if k not in _RUN_SPECIFIC}, "samples": samples}


def test_cluster_tables_equal_local_run(cluster_root, local_root):
    _, root = cluster_root
    names = table_names(str(local_root))
    assert table_names(root) == names
    assert {"docs_raw", "quarantine", "docs_annotated", "dup_clusters", "docs_curated", "docs_tokenized"} <= set(names)
    for name in names:
        local = table_rows(str(local_root), name)
        assert local, f"{name} is empty"
        assert table_rows(root, name) == local, name


def test_cluster_runs_record_every_stage(cluster_root):
    from deltalake import DeltaTable

    engine, root = cluster_root
    uri = f"{root}/tables/runs"
    runs = DeltaTable(uri, storage_options=Storage.from_config(None).delta_rs_options(uri)).to_pyarrow_table().to_pylist()
    assert sorted((r["stage"], r["status"]) for r in runs) == sorted((s.name, "succeeded") for s in STAGES)
    assert {r["engine"] for r in runs} == {engine}
    assert len({r["run_id"] for r in runs}) == len(STAGES)  # one spark-submit application per stage


def test_cluster_shards_equal_local_run(cluster_root, local_root, tmp_path):
    _, root = cluster_root
    local, there = published_stages(str(local_root)), published_stages(root)
    assert local and sorted(there) == sorted(local)
    for stage, uri in local.items():
        want = shard_digest(uri, tmp_path / "l" / stage)
        assert want["samples"]
        assert shard_digest(there[stage], tmp_path / "c" / stage) == want, stage


def kill_worker_when(log: Path, line: str, pid: int, *, after_s: float = 3.0, timeout_s: float = 900) -> threading.Thread:
    """A thread that SIGKILLs the worker daemon `pid` and its executors (its process group) `after_s`
    seconds after `line` appears in `log`."""
    def run() -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if log.is_file() and line in log.read_text(errors="replace"):
                time.sleep(after_s)
                os.killpg(pid, signal.SIGKILL)
                return
            time.sleep(0.2)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_losing_a_worker_in_dedup_and_in_mix_does_not_fail_the_run(tmp_path, delta_bundle, config, local_root,
                                                                    objectstore):
    """Dedup's checkpoints live under the root (reliable storage), not in an executor: its worker is
    killed 3 s into dedup, the other worker's executor finishes the stage; the worker is started again,
    and the other one is killed 3 s into mix. Both stages succeed and every table and shard equals the
    undisturbed local run's."""
    state, root, ports = tmp_path / "state", tmp_path / "root", (free_port(), free_port())
    master = f"spark://127.0.0.1:{ports[0]}"
    assert cluster("start", state, ports).returncode == 0
    try:
        for st in STAGES:
            job = REPO / "curate" / "jobs" / (st.module.rsplit(".", 1)[1] + ".py")
            log = tmp_path / f"{st.name}.log"
            victim = {"dedup": "worker1", "mix": "worker2"}.get(st.name)
            killer = None
            if victim:
                pid = int((state / "pids" / f"{victim}.pid").read_text())
                killer = kill_worker_when(log, f"{st.name}: started", pid)
            rc = submit(master, job, config, root, delta_bundle, log, job_args=("--delta-engine", "native"))
            assert rc == 0, f"{job.name} exited {rc}:\n{log.read_text()[-4000:]}"
            if killer:
                killer.join(timeout=5)
                assert not alive(pid), f"{victim} was not killed during {st.name}"
                assert cluster("start", state, ports).returncode == 0  # the lost worker comes back
            if st.name == "dedup":
                assert "ExecutorLostFailure" in log.read_text() or "lost executor" in log.read_text().lower()
    finally:
        cluster("stop", state, ports)
    assert not (root / "_curate" / "checkpoints").exists() or not any((root / "_curate" / "checkpoints").iterdir())
    for name in table_names(str(local_root)):
        assert table_rows(str(root), name) == table_rows(str(local_root), name), name
    local, there = published_stages(str(local_root)), published_stages(str(root))
    for stage, uri in local.items():
        assert shard_digest(there[stage], tmp_path / "c" / stage) == shard_digest(uri, tmp_path / "l" / stage)
