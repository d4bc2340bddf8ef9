"""Incremental tokenize: encodes only the documents docs_tokenized lacks and deletes those that left
the input, so docs_tokenized always equals tokenizing the current docs_curated."""

from __future__ import annotations

from pyspark.sql.types import BooleanType, StringType, StructField, StructType

from curate.delta.store import DeltaStore, open_store
from curate.jobs.common import StageContext, run_stage
from curate.jobs.tokenize_docs import run_tokenize
from curate.schemas.config import PipelineConfig
from curate.schemas.tables import DOCS_CURATED, DOCS_TOKENIZED
from curate.tokenize.schema import CARRIED
from test_tokenize.corpus import curated_rows, manpages, python_docs, stdlib_code

CURATED = StructType([*CARRIED, StructField("text", StringType()), StructField("keep", BooleanType())])


def tokenize_in(spark, root, rows: list[dict], run_id: str, engine: str = "auto"):
    store = open_store(spark, str(root), engine=engine)
    store.overwrite(spark.createDataFrame(rows, CURATED), DOCS_CURATED, schema=CURATED)
    ctx = StageContext(spark=spark, cfg=PipelineConfig(root=str(root)), store=store, run_id=run_id)
    return store, run_stage(ctx, "tokenize", run_tokenize)


def table(store: DeltaStore) -> list[dict]:
    return sorted((r.asDict() for r in store.read(DOCS_TOKENIZED).collect()), key=lambda r: r["doc_id"])


def test_new_documents_are_encoded_and_removed_ones_deleted(spark, tmp_path, delta_engine):
    rows = curated_rows(manpages("de", 3) + python_docs(6) + stdlib_code(4))
    first, later = rows[:9], rows[3:]  # 3 documents leave docs_curated, 4 arrive
    store, result = tokenize_in(spark, tmp_path / "inc", first, "run1", delta_engine)
    assert result.counts["encoded"] == 9
    store, result = tokenize_in(spark, tmp_path / "inc", later, "run2", delta_engine)
    assert (result.counts["encoded"], result.counts["removed"]) == (4, 3)
    scratch, _ = tokenize_in(spark, tmp_path / "scratch", later, "scratch", delta_engine)
    assert [r["doc_id"] for r in table(store)] == sorted(r["doc_id"] for r in later)
    assert table(store) == table(scratch)


def test_annotate_settings_that_change_texts_encode_everything_again(spark, tmp_path):
    store = open_store(spark, str(tmp_path))
    store.overwrite(spark.createDataFrame(curated_rows(python_docs(4)), CURATED), DOCS_CURATED, schema=CURATED)
    pii_off = {"annotate": {"pii": {"enabled": False}}}
    rules = {"annotate": {"pii": {"enabled": False}, "rules": {"text": {"min_gopher_word_count": 10}}}}
    for run_id, settings, encoded in (("a", {}, 4), ("b", {}, 0), ("c", pii_off, 4), ("d", rules, 0)):
        cfg = PipelineConfig.model_validate({"root": str(tmp_path), **settings})
        ctx = StageContext(spark=spark, cfg=cfg, store=store, run_id=run_id)
        assert run_stage(ctx, "tokenize", run_tokenize).counts["encoded"] == encoded, run_id
