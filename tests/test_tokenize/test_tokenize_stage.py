from pyspark.sql import functions as F

from curate.delta.store import open_store
from curate.jobs.common import StageContext
from curate.jobs.tokenize_docs import run_tokenize
from curate.pipelines.tokenize import tokenize
from curate.schemas.config import PipelineConfig
from curate.tokenize.config import TokenizeConfig
from curate.tokenize.encoder import EOS_ID
from curate.tokenize.schema import DOCS_TOKENIZED_SCHEMA
from test_tokenize.corpus import corpus, curated_rows


def test_tokenize_under_spark_equals_official(spark, official):
    docs = corpus(per_lang=2, n_docs=4, n_code=3)
    docs_df = spark.createDataFrame(curated_rows(docs)).repartition(2)
    out = tokenize(docs_df, TokenizeConfig()).collect()
    assert len(out) == len(docs)
    by_uri = {d.uri: d for d in docs}
    for row in out:
        text = by_uri[row["source_id"]].text
        assert row["tokens"] == [*official.encode_ordinary(text), EOS_ID]
        assert row["n_tokens"] == len(row["tokens"])
    assert set(tokenize(docs_df, TokenizeConfig()).columns) == {f.name for f in DOCS_TOKENIZED_SCHEMA.fields}


def test_tokenize_docs_raw_shape_fills_missing_columns(spark):
    raw = spark.createDataFrame(
        [("d1", "web", "text", "Grüße <|endoftext|> 🎉")], "doc_id string, source string, kind string, text string"
    )
    (row,) = tokenize(raw, TokenizeConfig()).collect()
    assert row["lang"] is None and row["quality_score"] is None
    assert row["tokens"][-1] == EOS_ID and EOS_ID not in row["tokens"][:-1]


def test_job_writes_docs_tokenized_and_reruns_idempotently(spark, tmp_path, delta_engine):
    store = open_store(spark, str(tmp_path), engine=delta_engine)
    rows = curated_rows(corpus(per_lang=1, n_docs=2, n_code=2))
    df = spark.createDataFrame(rows)
    store.append(df, "docs_curated", schema=df.schema)
    ctx = StageContext(spark=spark, cfg=PipelineConfig(root=str(tmp_path)), store=store, run_id="t1")
    first = run_tokenize(ctx)
    assert first.rows_in == first.rows_out == len(rows)
    second = run_tokenize(ctx)
    assert second.rows_out == len(rows) and second.counts == first.counts
    table = store.read("docs_tokenized")
    assert table.count() == len(rows)
    assert table.filter(F.element_at("tokens", -1) != EOS_ID).count() == 0
    assert first.counts["tokens"] == table.agg(F.sum("n_tokens")).first()[0]


def test_job_tokenizes_an_earlier_table_file_by_file(spark, tmp_path, official):
    """--input docs_raw (allowed by tokenize.allow_unredacted_input): the tasks read its files, fill
    the carried columns it lacks with null, and tally what they wrote."""
    store = open_store(spark, str(tmp_path))
    docs = corpus(per_lang=1, n_docs=3, n_code=2)
    raw = spark.createDataFrame([(f"d{i}", d.uri, "web", "text", d.text) for i, d in enumerate(docs)],
                                "doc_id string, source_id string, source string, kind string, text string")
    store.append(raw.repartition(2), "docs_raw", schema=raw.schema)
    cfg = PipelineConfig(root=str(tmp_path), tokenize={"allow_unredacted_input": True})
    ctx = StageContext(spark=spark, cfg=cfg, store=store, run_id="t1", options={"input": "docs_raw"})
    result = run_tokenize(ctx)
    rows = {r["source_id"]: r for r in store.read("docs_tokenized").collect()}
    assert result.rows_in == result.rows_out == len(rows) == len(docs)
    for d in docs:
        assert rows[d.uri]["tokens"] == [*official.encode_ordinary(d.text), EOS_ID]
        assert rows[d.uri]["lang"] is None and rows[d.uri]["n_bytes"] is None
    assert result.counts["tokens"] == sum(r["n_tokens"] for r in rows.values())
