"""A docs_annotated written before the language-ID ensemble's columns existed is replaced, with them,
by the next annotate (its settings changed, so every document is annotated again)."""

from __future__ import annotations

from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from curate.delta.store import open_store
from curate.jobs.annotate import run_annotate
from curate.jobs.common import StageContext
from curate.quality.schema import DOCS_ANNOTATED_SCHEMA
from curate.schemas.config import PipelineConfig
from curate.schemas.tables import DOCS_ANNOTATED, DOCS_RAW, DOCS_RAW_SCHEMA

from .test_annotate import _raw_rows

NEW = {"lang_fasttext", "lang_fasttext_score", "lang_lingua", "lang_lingua_score"}


def test_an_older_table_gains_the_ensemble_columns(spark, tmp_path, delta_engine):
    root = str(tmp_path / "root")
    store = open_store(spark, root, engine=delta_engine)
    raw = spark.createDataFrame(_raw_rows(), DOCS_RAW_SCHEMA)
    store.append(raw, DOCS_RAW, schema=DOCS_RAW_SCHEMA)
    old_schema = StructType([f for f in DOCS_ANNOTATED_SCHEMA.fields if f.name not in NEW])
    old = raw.select(*[F.col(f.name) if f.name in DOCS_RAW_SCHEMA.names else F.lit(None).cast(f.dataType).alias(f.name)
                       for f in old_schema.fields])
    store.append(old.withColumn("keep", F.lit(True)), DOCS_ANNOTATED, schema=old_schema)
    result = run_annotate(StageContext(spark=spark, cfg=PipelineConfig(root=root), store=store, run_id="r1"))
    assert result.message == "all documents annotated"
    table = store.read(DOCS_ANNOTATED)
    assert table.columns == DOCS_ANNOTATED_SCHEMA.names
    german = table.where(F.col("doc_id") == "id-german").first()
    assert german["lang"] == german["lang_fasttext"] == "de"
