"""One local[2] SparkSession for the whole test run (starting Spark costs ~20 s), with Spark's own
Delta loaded, so that each test picks its engine (`delta_engine` runs a test under both), and S3A
pointed at a real S3-compatible server (scripts/objectstore.sh), started for the session."""

from __future__ import annotations

import os
import socket
import sys

import pytest
import yaml

from test_objectstore.server import BUCKET
from test_objectstore.server import objectstore as _objectstore

ENGINES = ("native", "delta-rs")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def objectstore(tmp_path_factory):
    """s3proxy on a free port with the bucket BUCKET, its environment exported into this process (the
    clients and the Spark JVM read their keys from it); stopped after the session."""
    state = tmp_path_factory.mktemp("objectstore")
    script_env = {**os.environ, "OBJECTSTORE_DIR": str(state), "OBJECTSTORE_PORT": str(_free_port()),
                  "PYTHON": sys.executable}
    if _objectstore("check", env=script_env).returncode != 0:
        pytest.exit("s3proxy is not installed: run scripts/setup.sh", returncode=1)
    started = _objectstore("start", BUCKET, env=script_env)
    try:
        if started.returncode != 0:
            pytest.fail(f"scripts/objectstore.sh start failed:\n{started.stderr}")
        exports = dict(line.removeprefix("export ").split("=", 1) for line in started.stdout.splitlines())
        os.environ.update(exports)
        yield {"env": exports, "state": state, "script_env": script_env, "stdout": started.stdout,
               "stderr": started.stderr, "bucket": BUCKET}
    finally:
        _objectstore("stop", env=script_env)


@pytest.fixture(scope="session")
def spark(objectstore):
    from curate.delta.store import has_delta_classes
    from curate.schemas.config import SparkConfig
    from curate.session import get_spark
    from curate.storage import Storage

    session = get_spark(SparkConfig(master="local[2]", shuffle_partitions=2, driver_memory="4g"),
                        app_name="curate-tests", delta_engine="native", storage=Storage.from_config(None))
    if not has_delta_classes(session):
        pytest.exit("Delta Lake's jars are not installed: run scripts/setup.sh", returncode=1)
    yield session
    session.stop()


@pytest.fixture(params=ENGINES)
def delta_engine(request) -> str:
    """Each engine in turn: the test runs once on Spark's Delta, once on delta-rs."""
    return request.param


@pytest.fixture()
def store(spark, tmp_path, delta_engine):
    from curate.delta.store import open_store

    return open_store(spark, str(tmp_path / "root"), engine=delta_engine)


@pytest.fixture(scope="session")
def pii_set():
    """scripts/build_pii_set.py as a module: the planted PII set's builder and scorer."""
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "build_pii_set.py"
    spec = importlib.util.spec_from_file_location("build_pii_set", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


# A credential in `spark.conf` (as users sometimes write one): it must reach no output.
SAMPLE_SECRET = "Pl4nted+S3cret/Value-9f2c"


@pytest.fixture(scope="session")
def sample_run(spark, tmp_path_factory):
    """One `curate run` of the bundled sample, logged to a local MLflow file store, shared by the tests
    that only read what it wrote (the report, `curate verify`)."""
    from curate.cli import main
    from curate.delta.store import open_store
    from curate.schemas.config import load_pipeline_config

    base = tmp_path_factory.mktemp("report")
    cfg = load_pipeline_config(root=str(base / "root")).model_dump(mode="json")
    cfg["spark"].update(master="local[2]", driver_memory="4g", shuffle_partitions=2,
                        conf={"spark.hadoop.fs.s3a.secret.key": SAMPLE_SECRET})
    cfg["tracking"] = {"mlflow_uri": (base / "mlruns").as_uri(), "experiment": "sample"}
    config = base / "pipeline.yaml"
    config.write_text(yaml.safe_dump(cfg))
    assert main(["run", "--config", str(config)]) == 0
    store = open_store(spark, cfg["root"])
    run_id = store.read("runs").select("run_id").first()["run_id"]
    return {"config": config, "root": base / "root", "run_id": run_id, "mlflow_uri": cfg["tracking"]["mlflow_uri"],
            "store": store, "secret": SAMPLE_SECRET}
