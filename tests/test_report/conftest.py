"""One `curate run` of the bundled sample, logged to a local MLflow file store, shared by the report tests.

Its config carries a credential in `spark.conf` (as users sometimes write one): SECRET must reach no output.
"""

from __future__ import annotations

import pytest
import yaml

from curate.cli import main
from curate.schemas.config import load_pipeline_config

SECRET = "Pl4nted+S3cret/Value-9f2c"

@pytest.fixture(scope="session")
def sample_run(spark, tmp_path_factory):
    base = tmp_path_factory.mktemp("report")
    cfg = load_pipeline_config(root=str(base / "root")).model_dump(mode="json")
    cfg["spark"].update(master="local[2]", driver_memory="4g", shuffle_partitions=2,
                        conf={"spark.hadoop.fs.s3a.secret.key": SECRET})
    cfg["tracking"] = {"mlflow_uri": (base / "mlruns").as_uri(), "experiment": "sample"}
    config = base / "pipeline.yaml"
    config.write_text(yaml.safe_dump(cfg))
    assert main(["run", "--config", str(config)]) == 0
    from curate.delta.store import open_store

    store = open_store(spark, cfg["root"])
    run_id = store.read("runs").select("run_id").first()["run_id"]
    return {"config": config, "root": base / "root", "run_id": run_id, "mlflow_uri": cfg["tracking"]["mlflow_uri"],
            "store": store, "secret": SECRET}
