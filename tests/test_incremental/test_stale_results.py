"""No stale result: a model file retrained at the same path reruns annotate (the same model at a new
path does not), and a docs_tokenized deleted and written again (its versions restart at 0) gets a
new shard version instead of the one drawn from the old table."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import yaml

from curate.delta.store import DeltaStore, open_store
from curate.jobs.annotate import run_annotate
from curate.jobs.common import StageContext, run_stage
from curate.jobs.ingest import run_ingest
from curate.jobs.mix import run_mix
from curate.jobs.tokenize_docs import run_tokenize
from curate.quality.classifier import train_quality_model
from curate.schemas import tables as t
from curate.schemas.config import PipelineConfig
from curate.tokenize.publish import VERSIONS
from test_quality.test_classifier import _changelog_entries, _license_paragraphs
from test_tokenize.corpus import curated_rows, manpages, python_docs, stdlib_code


def _rerun(ctx: StageContext, stage: str, job, n: int):
    """`stage` as `curate run` runs it (skipped when nothing it depends on changed), as run `n`."""
    ctx = dataclasses.replace(ctx, run_id=f"run{n}")
    run_stage(ctx, stage, job, skip_unchanged=True)
    return {r.stage: r for r in ctx.store.read(t.RUNS).where(f"run_id = 'run{n}'").collect()}[stage]


def _scores(store: DeltaStore) -> dict[str, float]:
    return {r.uri: r.quality_score for r in store.read(t.DOCS_ANNOTATED).select("uri", "quality_score").collect()}


def test_a_model_retrained_at_the_same_path_reruns_annotate(spark, tmp_path):
    licenses, changelogs = _license_paragraphs(), _changelog_entries()
    assert len(licenses) > 300 and len(changelogs) > 300
    docs = tmp_path / "docs"
    docs.mkdir()
    for i, text in enumerate(licenses[-6:] + changelogs[-6:]):  # held out of both trainings
        (docs / f"{i:02d}.txt").write_text(text, encoding="utf-8")
    model = tmp_path / "models" / "quality.bin"
    # dim 8: a 64 MB model. (word_ngrams=1 would be smaller, but its training ends in NaN in most runs here.)
    train_quality_model(licenses[:-6], changelogs[:-6], out=str(model), seed=1, threads=1, dim=8)
    cfg = PipelineConfig(root=str(tmp_path / "root"), inputs=[{"source": "prose", "kind": "text", "path": str(docs)}],
                         annotate={"quality_model": {"model_path": str(model)}})
    ctx = StageContext(spark=spark, cfg=cfg, store=open_store(spark, cfg.root), run_id="ingest")
    run_stage(ctx, "ingest", run_ingest)

    assert _rerun(ctx, "annotate", run_annotate, 1).status == "succeeded"
    before = _scores(ctx.store)
    assert _rerun(ctx, "annotate", run_annotate, 2).status == "skipped"

    # Retrained at the same path with the labels swapped: same path, other content.
    train_quality_model(changelogs[:-6], licenses[:-6], out=str(model), seed=1, threads=1, dim=8)
    third = _rerun(ctx, "annotate", run_annotate, 3)
    assert third.status == "succeeded" and third.message == "all documents annotated"
    after = _scores(ctx.store)
    # The new model's scores are stored: every document's score flipped.
    flipped = [uri for uri in before if abs(after[uri] - before[uri]) > 0.5]
    assert len(flipped) == 12, (before, after)

    # The same model moved to another path: nothing to redo.
    moved = tmp_path / "elsewhere" / "q.bin"
    moved.parent.mkdir()
    shutil.copy(model, moved)
    ctx = dataclasses.replace(ctx, cfg=PipelineConfig(**{**cfg.model_dump(),
                                                          "annotate": {"quality_model": {"model_path": str(moved)}}}))
    assert _rerun(ctx, "annotate", run_annotate, 4).status == "skipped"


MIXTURE = {
    "name": "recreated",
    "components": {"man": {"sources": ["man_de", "man_fr"], "max_epochs": 4},
                   "docs": {"sources": ["pydocs"], "max_epochs": 4}, "code": {"sources": ["stdlib"], "max_epochs": 20}},
    "stages": [{"name": "s1", "budget_tokens": 64 * 200, "seq_len": 64, "seed": 3,
                "weights": {"man": 1, "docs": 1, "code": 0.1}}],
    "shards": {"size_limit_bytes": 1 << 20},
}


def _tokenized_from(spark, store: DeltaStore, ctx: StageContext, docs) -> None:
    """docs_curated and docs_tokenized made from `docs`, each in one commit (version 0)."""
    df = spark.createDataFrame(curated_rows(docs))
    store.append(df, t.DOCS_CURATED, schema=df.schema)
    run_tokenize(ctx)


def test_a_recreated_docs_tokenized_gets_a_new_shard_version(spark, tmp_path):
    root = tmp_path / "root"
    mixture = tmp_path / "mixture.yaml"
    mixture.write_text(yaml.safe_dump(MIXTURE))
    store = open_store(spark, str(root))
    ctx = StageContext(spark=spark, cfg=PipelineConfig(root=str(root)), store=store, run_id="tok",
                       options={"mixture": str(mixture)})
    _tokenized_from(spark, store, ctx, manpages("de", 4) + manpages("fr", 4) + python_docs(8) + stdlib_code(4))
    first = _rerun(ctx, "mix", run_mix, 1)
    assert first.status == "succeeded"

    # Deleted and written again from other documents: the same version numbers, other rows.
    for name in (t.DOCS_CURATED, t.DOCS_TOKENIZED):
        shutil.rmtree(root / "tables" / name)
    _tokenized_from(spark, store, ctx, manpages("de", 8)[4:] + manpages("fr", 8)[4:] + python_docs(16)[8:]
                    + stdlib_code(8)[4:])
    assert store.version(t.DOCS_TOKENIZED) == 0 == dict(first.input_versions)[t.DOCS_TOKENIZED]

    second = _rerun(ctx, "mix", run_mix, 2)
    assert second.status == "succeeded" and "reused" not in dict(second.counts or {})
    listed = json.loads((root / "shards" / "recreated" / VERSIONS).read_text())
    assert [v["version"] for v in listed] == [Path(first.message).name, Path(second.message).name]
    assert len({v["input_tables"]["docs_tokenized"] for v in listed}) == 2
    drawn = {run: set(spark.read.parquet(str(Path(r.message) / "s1" / "documents.parquet"))
                      .toPandas()["doc_id"]) for run, r in (("first", first), ("second", second))}
    now = {r.doc_id for r in store.read(t.DOCS_TOKENIZED).select("doc_id").collect()}
    assert drawn["second"] <= now and not drawn["first"] & now
