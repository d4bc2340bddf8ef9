"""scripts/build_hostile.py's corpus next to real data through `curate run`, then `curate audit`."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from pathlib import Path

import pytest
import yaml

from curate.cli import main
from curate.delta.store import open_store

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "examples" / "sample"


def build_hostile(out: Path, big_mb: float) -> dict:
    spec = importlib.util.spec_from_file_location("build_hostile", REPO / "scripts" / "build_hostile.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build(out, big_mb=big_mb)


def write_config(tmp: Path, hostile: Path) -> Path:
    mixture = {
        "name": "hostile",
        "components": {"web": {"sources": ["web"]}},
        "stages": [{"name": "pretrain", "budget_tokens": 4096, "seq_len": 512, "seed": 3, "weights": {"web": 1}}],
    }
    (tmp / "mixture.yaml").write_text(yaml.safe_dump(mixture))
    cfg = {
        "root": str(tmp / "root"),
        "spark": {"master": "local[2]", "driver_memory": "4g", "shuffle_partitions": 2},
        "inputs": [
            {"source": "web", "kind": "text", "path": str(SAMPLE / "web" / "manpages-00.jsonl.gz"), "id_field": "id"},
            {"source": "notes", "kind": "text", "path": str(SAMPLE / "notes")},
            {"source": "hostile_text", "kind": "text", "path": str(hostile / "text"), "id_field": "id"},
            {"source": "hostile_code", "kind": "code", "path": str(hostile / "code")},
        ],
        "ingest": {"max_decompressed_bytes": 16 << 20},  # the bombs expand to 256 MB
        "mix": {"mixture": str(tmp / "mixture.yaml")},
    }
    path = tmp / "pipeline.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.parametrize("big_mb", [11, pytest.param(50, marks=pytest.mark.slow)])
def test_every_hostile_record_gets_its_precise_fate_and_the_audit_passes(spark, tmp_path, caplog, big_mb):
    hostile = tmp_path / "hostile"
    cases = build_hostile(hostile, big_mb)
    config = write_config(tmp_path, hostile)
    assert main(["run", "--config", str(config)]) == 0, caplog.text

    store = open_store(spark, str(tmp_path / "root"))
    got: dict[str, Counter] = {}
    for r in store.read("docs_raw").groupBy("input_file").count().collect():
        got.setdefault(r["input_file"], Counter())["doc"] += r["count"]
    for r in store.read("quarantine").groupBy("input_file", "reason_code").count().collect():
        got.setdefault(r["input_file"], Counter())[r["reason_code"]] += r["count"]
    for rel, expected in cases.items():
        outcome = got.get(str(hostile / rel), Counter())
        if expected is None:  # the truncated .gz: the documents before the cut, then the refusal
            assert outcome["truncated_file"] == 1 and outcome["doc"] >= 1 and len(outcome) == 2, (rel, outcome)
        else:
            assert dict(outcome) == expected, rel

    assert main(["audit", "--config", str(config)]) == 0, caplog.text
    fates = store.read("doc_fates")
    hostile_docs = fates.where(fates.input_file.startswith(str(hostile)) & fates.doc_id.isNotNull())
    assert hostile_docs.count() == sum(c.get("doc", 0) for c in cases.values() if c) + got[
        str(hostile / "text/truncated.jsonl.gz")]["doc"]
    assert json.loads((hostile / "cases.json").read_text()) == cases
