"""Incremental runs on the bundled sample: two batches of input files give the tables and shards of
one from-scratch run on all of them, and a run with nothing new skips every stage."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from curate.cli import main
from curate.delta.store import DeltaStore, open_store
from curate.pipelines.dag import STAGES
from curate.schemas.config import EMBEDDED_DEFAULT, REPO_ROOT
from curate.schemas import tables as t
from curate.tokenize.publish import VERSIONS

SAMPLE = REPO_ROOT / "examples" / "sample"
# Columns that name the run that wrote a row, and each table's key.
RUN_COLUMNS = {"ingest_run_id", "annotate_run_id", "dedup_run_id", "run_id"}
KEYS = {t.DOCS_RAW: "doc_id", t.QUARANTINE: "record_id", t.DOCS_ANNOTATED: "doc_id", t.DEDUP_SIGNATURES: "doc_id",
        t.DUP_CLUSTERS: "doc_id", t.DOCS_CURATED: "doc_id", t.DOCS_TOKENIZED: "doc_id"}


def split_sample() -> tuple[list[Path], list[Path]]:
    """Every other file of each input folder, the first one always in batch 1 (a glob must match)."""
    first, second = [], []
    for folder in sorted(p for p in SAMPLE.iterdir() if p.is_dir()):
        for i, f in enumerate(sorted(p for p in folder.rglob("*") if p.is_file() or p.is_symlink())):
            (first if i % 2 == 0 else second).append(f.relative_to(SAMPLE))
    return first, second


def copy(files: list[Path], dest: Path) -> None:
    for rel in files:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(SAMPLE / rel, dest / rel, follow_symlinks=False)


def runs_of(store: DeltaStore, run_id: str) -> dict:
    return {r.stage: r for r in store.read(t.RUNS).where(f"run_id = '{run_id}'").collect()}


def last_run_id(store: DeltaStore) -> str:
    return store.read(t.RUNS).orderBy("started_at", ascending=False).first().run_id


@pytest.fixture(scope="module", params=["native", "delta-rs"])
def runs(spark, tmp_path_factory, request):
    engine = request.param
    base = tmp_path_factory.mktemp(f"incremental-{engine}")
    config = base / "local.yaml"
    shutil.copy(EMBEDDED_DEFAULT, config)  # inputs relative to it: <base>/sample/...
    first, second = split_sample()
    assert len(first) > 10 and len(second) > 10
    copy(first, base / "sample")
    inc = open_store(spark, str(base / "inc"), engine=engine)
    scratch = open_store(spark, str(base / "scratch"), engine=engine)
    run = ["run", "--config", str(config), "--delta-engine", engine, "--root"]

    assert main([*run, inc.root]) == 0
    first_run, raw_before = last_run_id(inc), inc.read(t.DOCS_RAW).count()
    copy(second, base / "sample")
    assert main([*run, inc.root]) == 0
    second_run = last_run_id(inc)
    assert main([*run, scratch.root]) == 0
    assert main([*run, inc.root]) == 0
    return {"inc": inc, "scratch": scratch, "raw_before": raw_before, "first": first_run,
            "second": runs_of(inc, second_run), "third": runs_of(inc, last_run_id(inc))}


def rows(store: DeltaStore, name: str) -> list[dict]:
    df = store.read(name)
    df = df.drop(*(c for c in df.columns if c in RUN_COLUMNS))
    return sorted((r.asDict(recursive=True) for r in df.collect()), key=lambda r: r[KEYS[name]])


@pytest.mark.parametrize("name", list(KEYS))
def test_every_table_equals_a_from_scratch_run(runs, name):
    incremental, scratch = rows(runs["inc"], name), rows(runs["scratch"], name)
    assert len(incremental) > 0
    assert [r[KEYS[name]] for r in incremental] == [r[KEYS[name]] for r in scratch]
    assert incremental == scratch


def test_the_second_batch_is_processed_as_new_documents_only(runs):
    second, inc = runs["second"], runs["inc"]
    new_docs = inc.read(t.DOCS_RAW).count() - runs["raw_before"]
    assert new_docs > 50
    assert {s: second[s].status for s in second} == {s.name: "succeeded" for s in STAGES}
    assert second["ingest"].rows_out == new_docs
    assert second["annotate"].rows_in == second["annotate"].rows_out == new_docs
    assert second["annotate"].message == "new documents appended"
    new_kept = inc.read(t.DOCS_ANNOTATED).where(f"annotate_run_id = '{second['annotate'].run_id}' and keep").count()
    assert second["dedup"].counts["signed"] == new_kept < second["dedup"].counts["candidates"]
    assert 0 < second["tokenize"].counts["encoded"] < second["tokenize"].rows_in


def test_a_run_with_nothing_new_skips_every_stage(runs):
    third = runs["third"]
    assert {s: third[s].status for s in third} == {s.name: "skipped" for s in STAGES}
    second_id = runs["second"]["ingest"].run_id
    assert all(r.message == f"skipped: inputs unchanged since run {second_id}" for r in third.values())


def read_samples(stage_dir: Path, cache: Path) -> list[list[int]]:
    from streaming import StreamingDataset

    ds = StreamingDataset(remote=str(stage_dir), local=str(cache), shuffle=False, batch_size=1)
    return [list(map(int, s["tokens"])) for s in ds]


def test_shards_hold_the_sample_sequences_of_a_from_scratch_run(runs, tmp_path):
    def published(store: DeltaStore) -> Path:  # the last version published
        (listing,) = (Path(store.root) / "shards").glob(f"*/{VERSIONS}")
        return listing.parent / json.loads(listing.read_text())[-1]["version"]

    inc, scratch = published(runs["inc"]), published(runs["scratch"])
    stages = sorted(p.name for p in inc.iterdir())
    assert stages and stages == sorted(p.name for p in scratch.iterdir())
    for stage in stages:
        a = read_samples(inc / stage, tmp_path / "a" / stage)
        b = read_samples(scratch / stage, tmp_path / "b" / stage)
        assert len(a) > 0 and a == b
