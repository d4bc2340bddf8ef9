"""One local[2] SparkSession for the whole test run (starting Spark costs ~20 s), with Spark's own
Delta loaded, so that each test picks its engine: `delta_engine` runs a test under both."""

from __future__ import annotations

import pytest
import yaml

ENGINES = ("native", "delta-rs")


@pytest.fixture(scope="session")
def spark():
    from curate.delta.store import has_delta_classes
    from curate.schemas.config import SparkConfig
    from curate.session import get_spark

    session = get_spark(SparkConfig(master="local[2]", shuffle_partitions=2, driver_memory="4g"),
                        app_name="curate-tests", delta_engine="native")
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
def sample_run(spark, tmp_path_factory):
    """One `curate run` of the bundled sample, logged to a local MLflow file store, shared by the tests
    that only read what it wrote (the report, `curate verify`)."""
    from curate.cli import main
    from curate.delta.store import open_store
    from curate.schemas.config import load_pipeline_config

    base = tmp_path_factory.mktemp("report")
    cfg = load_pipeline_config(root=str(base / "root")).model_dump(mode="json")
    cfg["spark"].update(master="local[2]", driver_memory="4g", shuffle_partitions=2)
    cfg["tracking"] = {"mlflow_uri": (base / "mlruns").as_uri(), "experiment": "sample"}
    config = base / "pipeline.yaml"
    config.write_text(yaml.safe_dump(cfg))
    assert main(["run", "--config", str(config)]) == 0
    store = open_store(spark, cfg["root"])
    run_id = store.read("runs").select("run_id").first()["run_id"]
    return {"config": config, "root": base / "root", "run_id": run_id, "mlflow_uri": cfg["tracking"]["mlflow_uri"],
            "store": store}
