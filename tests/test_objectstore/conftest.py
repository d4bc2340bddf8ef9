"""A real S3-compatible server for the session (scripts/objectstore.sh: s3proxy on 127.0.0.1), and one Spark
job against it in a process of its own: the shared session's JVM started without the server's
environment, which S3A reads its keys from."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from test_objectstore.server import BUCKET, REPO

DELTA_RS_TABLE = f"s3://{BUCKET}/delta-rs-table"


@pytest.fixture(scope="session")
def s3_env(objectstore) -> dict[str, str]:
    """This process's environment with the server's."""
    return {**os.environ, **objectstore["env"]}


@pytest.fixture()
def aws_environ(objectstore, monkeypatch):
    """The server's environment in this process, for clients that read it themselves."""
    for key, value in objectstore["env"].items():
        monkeypatch.setenv(key, value)
    return objectstore["env"]


@pytest.fixture(scope="session")
def delta_rs_rows() -> pa.Table:
    return pa.table({"id": pa.array(range(40), pa.int64()), "lang": [["en", "de", "fr", "ja"][i % 4] for i in range(40)]})


@pytest.fixture(scope="session")
def spark_job(objectstore, s3_env, delta_rs_rows, tmp_path_factory):
    """tests/test_objectstore/spark_job.py run once against the server after delta-rs wrote its table
    there: its results (JSON) and its whole output."""
    from deltalake import write_deltalake

    from curate.jars import installed
    from curate.objectstore import delta_rs_options

    if not installed("s3") or not installed("delta"):
        pytest.exit("the s3 or delta jars are not installed: run scripts/setup.sh", returncode=1)
    env = objectstore["env"]
    # delta-rs takes the keys from the environment (without them it would ask the instance-metadata address).
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        write_deltalake(DELTA_RS_TABLE, delta_rs_rows,
                        storage_options=delta_rs_options(endpoint=env["AWS_ENDPOINT_URL"], region=env["AWS_REGION"]))
    out = tmp_path_factory.mktemp("spark_job") / "results.json"
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("spark_job.py")), BUCKET, DELTA_RS_TABLE,
                           str(out)], env={**s3_env, "SPARK_LOCAL_IP": "127.0.0.1", "PYTHONPATH": str(REPO)}, cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        pytest.fail(f"spark_job.py exited {done.returncode}:\n{done.stderr[-5000:]}")
    return {"results": json.loads(out.read_text()), "output": done.stdout + done.stderr}
