"""Crashes and concurrent runs with the storage root in a bucket (slow: a `curate run` per case).

A run killed at a fault point (SIGKILL of the driver, the JVM and the workers, as on a lost machine)
and run again ends with the tables and published shards of an undisturbed run; two runs started at
once on one root (no run lock on an object store) end with one of them refused clearly or both
serialized by Delta's conflict detection, and nothing corrupted."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from curate.cli import main
from test_faults.harness import REPO, TABLE_KEYS, run_curate, sample_config
from test_faults.test_crash_rerun import assert_killed_at
from test_objectstore.test_dag import _published, samples, table_digest

pytestmark = pytest.mark.slow

POINTS = [("delta-rs", "committed:docs_raw"), ("native", "write:docs_annotated"), ("delta-rs", "commit:dup_clusters"),
          ("native", "committed:docs_tokenized"), ("delta-rs", "mix:shard_task"), ("native", "mix:renamed")]


@pytest.fixture(scope="module")
def cfg(tmp_path_factory):
    return str(sample_config(tmp_path_factory.mktemp("crash-s3") / "pipeline.yaml"))


@pytest.fixture(scope="module")
def undisturbed(spark, objectstore, cfg):
    roots = {}
    for engine in ("native", "delta-rs"):
        roots[engine] = f"s3://{objectstore['bucket']}/undisturbed-{engine}"
        assert main(["run", "--config", cfg, "--root", roots[engine], "--delta-engine", engine]) == 0
    return roots


def assert_same_run(root: str, want: str, cache) -> None:
    for name in TABLE_KEYS:
        assert table_digest(root, name) == table_digest(want, name), name
    for stage in ("pretrain", "anneal"):
        got = samples(f"{_published(root)}/{stage}", cache / "got" / stage)
        assert got and got == samples(f"{_published(want)}/{stage}", cache / "want" / stage), stage


@pytest.mark.parametrize("engine,point", POINTS, ids=[f"{e}-{p}" for e, p in POINTS])
def test_a_run_killed_at_a_point_reruns_to_the_undisturbed_tables_and_shards(engine, point, undisturbed, cfg,
                                                                           objectstore, tmp_path):
    root = f"s3://{objectstore['bucket']}/crashed-{engine}-{point.replace(':', '-')}"
    args = ["run", "--config", cfg, "--root", root, "--delta-engine", engine]
    assert_killed_at(run_curate(args, fault=point), point)
    assert main(args) == 0
    assert_same_run(root, undisturbed[engine], tmp_path)


def test_two_runs_at_once_on_one_root_corrupt_nothing(spark, objectstore, cfg, undisturbed, tmp_path):
    """No lock on an object store: both runs go; a commit that conflicts is refused by Delta ("changed
    by another writer", exit 2) and the refused run committed nothing; the tables hold no key twice.
    Run once more, the root equals an undisturbed run's."""
    root = f"s3://{objectstore['bucket']}/concurrent"
    args = [sys.executable, "-m", "curate.cli", "run", "--config", cfg, "--root", root, "--delta-engine", "delta-rs"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen(args, cwd=REPO, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(2)]
    outs = [p.communicate(timeout=1800) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes in ([0, 0], [0, 2]), [o[1][-3000:] for o in outs]
    if codes == [0, 2]:
        refused = next(o[1] for p, o in zip(procs, outs) if p.returncode == 2)
        assert "changed by another writer" in refused or "published meanwhile" in refused, refused[-3000:]
    for name in TABLE_KEYS:
        digest = table_digest(root, name)
        assert digest["rows"] > 0 and digest["duplicate_keys"] == 0, (name, digest)
    assert main(args[3:]) == 0
    assert_same_run(root, undisturbed["delta-rs"], tmp_path)
