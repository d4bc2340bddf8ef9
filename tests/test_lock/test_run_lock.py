"""The run lock on a storage root, and Delta's commit conflicts surfacing as clear errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from curate.cli import main
from curate.errors import RunLockedError, StorageError
from curate.lock import lock_path, run_lock
from test_faults.harness import REPO, run_curate, sample_config, tables_digest

_HOLD = """
import sys, time
from curate.lock import run_lock
with run_lock(sys.argv[1], run_id="run-of-the-holder", command="run"):
    print("held", flush=True)
    time.sleep(600)
"""


@pytest.fixture()
def holder(tmp_path):
    """Another process holding the run lock of tmp_path/root."""
    root = tmp_path / "root"
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(root)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout.readline().strip() == "held"
    yield root, proc
    proc.kill()
    proc.wait()


def test_a_second_run_fails_at_once_naming_the_holder(holder):
    root, proc = holder
    with pytest.raises(RunLockedError) as err:
        with run_lock(str(root), run_id="second", command="run"):
            pass
    msg = str(err.value)
    assert "run-of-the-holder" in msg and f"pid {proc.pid}" in msg and "--wait SECONDS" in msg


def test_a_killed_holder_leaves_no_stale_lock_and_a_waiting_run_gets_it(holder):
    root, proc = holder
    start = time.monotonic()
    proc.send_signal(signal.SIGKILL)
    with run_lock(str(root), run_id="second", command="ingest", wait_s=60):
        assert '"run_id": "second"' in lock_path(str(root)).read_text()
    assert time.monotonic() - start < 30


def test_waiting_gives_up_after_the_timeout(holder):
    root, _ = holder
    start = time.monotonic()
    with pytest.raises(RunLockedError):
        with run_lock(str(root), run_id="second", command="run", wait_s=1.5):
            pass
    assert 1.5 <= time.monotonic() - start < 10


def test_the_lock_is_released_when_the_block_ends(tmp_path):
    for run in ("first", "second"):
        with run_lock(str(tmp_path), run_id=run, command="run"):
            pass


def test_object_store_roots_take_no_lock():
    assert lock_path("s3://bucket/curate") is None and lock_path("abfss://c@a.dfs.core.windows.net/x") is None
    with run_lock("s3://bucket/curate", run_id="r", command="run"):
        pass


def test_stage_command_on_a_locked_root_fails_before_any_work(holder, caplog):
    root, proc = holder
    rc = main(["ingest", "--root", str(root), "--input", str(REPO / "examples/sample/notes"),
               "--source", "notes", "--kind", "text"])
    assert rc == 2
    assert f"storage root {root} is in use by run run-of-the-holder" in caplog.text
    assert not (root / "tables").exists()


def test_a_conflicting_delta_commit_is_a_clear_error(spark, store):
    """Two overwrites computed from the same version: the second one is refused (delta-rs rejects its
    commit; on Spark's Delta the table's version is checked before writing)."""
    from pyspark.sql.types import LongType, StructField, StructType

    schema = StructType([StructField("n", LongType(), False)])
    store.append(spark.createDataFrame([(1,)], schema), "t", schema=schema)
    store._write(spark.createDataFrame([(2,)], schema), "t", overwrite=True, schema=schema, read_version=0)
    with pytest.raises(StorageError, match="was changed by another writer while this run wrote it"):
        store._write(spark.createDataFrame([(3,)], schema), "t", overwrite=True, schema=schema, read_version=0)
    assert [r.n for r in store.read("t").collect()] == [2]


@pytest.mark.slow
def test_two_runs_on_one_root_at_once(tmp_path, delta_engine):
    """One `curate run` proceeds; a second fails at once naming it; a third with --wait runs after it."""
    cfg = str(sample_config(tmp_path / "pipeline.yaml"))
    root = tmp_path / "root"
    args = ["run", "--config", cfg, "--root", str(root), "--delta-engine", delta_engine]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    first = subprocess.Popen([sys.executable, "-m", "curate.cli", *args], cwd=REPO, env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    while '"run_id"' not in (lock_path(str(root)).read_text() if lock_path(str(root)).is_file() else ""):
        assert first.poll() is None, first.communicate()
        time.sleep(0.5)
    second = run_curate(args, timeout=600)
    waiting = subprocess.Popen([sys.executable, "-m", "curate.cli", *args, "--wait", "3600"], cwd=REPO, env=env,
                               text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first_out = first.communicate(timeout=3600)
    assert first.returncode == 0, first_out[1][-3000:]
    assert second.returncode == 2 and "is in use by run" in second.stderr and "curate run" in second.stderr
    waited_out = waiting.communicate(timeout=3600)
    assert waiting.returncode == 0, waited_out[1][-3000:]
    assert "waiting up to 3600s for the run lock" in waited_out[1]
    for name, digest in tables_digest(root).items():
        assert digest["duplicate_keys"] == 0 and digest["missing_files"] == [], (name, digest)
