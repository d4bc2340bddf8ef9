"""The whole DAG on the bundled sample under each Delta engine, and with the engine switched between
runs: the same rows in every table (sorted contents, without run ids) and byte-identical shards."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from curate.cli import main
from curate.pipelines.dag import STAGES
from test_faults.harness import _RUN_SPECIFIC, sample_config, tables_digest

# (engine of ingest, engine of the stages after it)
PLANS = {"native": ("native", "native"), "delta-rs": ("delta-rs", "delta-rs"),
         "native-then-delta-rs": ("native", "delta-rs"), "delta-rs-then-native": ("delta-rs", "native")}


def shard_bytes(root: Path) -> dict[str, str]:
    """sha256 of every file of the latest published version, manifests without run-specific keys (the
    loader snippet names the root: left out)."""
    out = {}
    for mixture in (root / "shards").iterdir():
        version = json.loads((mixture / "versions.json").read_text())[-1]["version"]
        for f in sorted((mixture / version).rglob("*")):
            if not f.is_file() or f.name == "train_loader.yaml":
                continue
            data = f.read_bytes()
            if f.name == "manifest.json":
                data = json.dumps({k: v for k, v in json.loads(data).items() if k not in _RUN_SPECIFIC},
                                  sort_keys=True).encode()
            out[str(f.relative_to(mixture / version))] = hashlib.sha256(data).hexdigest()
    return out


@pytest.fixture(scope="module")
def runs(spark, tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("engines")
    cfg = str(sample_config(base / "pipeline.yaml"))
    roots = {}
    for name, (first, rest) in PLANS.items():
        root = roots[name] = base / name
        for st in STAGES:
            engine = first if st.name == "ingest" else rest
            assert main([st.name, "--config", cfg, "--root", str(root), "--delta-engine", engine]) == 0, (name, st.name)
    return roots


@pytest.mark.parametrize("plan", [p for p in PLANS if p != "native"])
def test_tables_and_shards_equal_those_of_the_native_engine(runs, plan):
    want, got = tables_digest(runs["native"]), tables_digest(runs[plan])
    assert set(got) == set(want) and want["docs_tokenized"]["rows"] > 0
    for name in want:
        assert got[name] == want[name], (plan, name)
    assert shard_bytes(runs[plan]) == shard_bytes(runs["native"])


def test_runs_record_the_engine_of_each_stage(runs):
    from deltalake import DeltaTable

    rows = DeltaTable(str(runs["native-then-delta-rs"] / "tables" / "runs")).to_pyarrow_table().to_pylist()
    assert {(r["stage"], r["engine"]) for r in rows} == {
        ("ingest", "native"), ("annotate", "delta-rs"), ("dedup", "delta-rs"), ("tokenize", "delta-rs"),
        ("mix", "delta-rs")}
