"""doc_fates: one row per ingested record, with the one fate it met.

The records are the rows of docs_raw (documents) and the ingest rows of quarantine (refused
records: they have no doc_id, so their `record_key` is quarantine.record_id, the stable hash of
input file, offset and reason). A document's fate is the furthest stage it reached:

    dropped     annotate's rules dropped it; `reasons` = drop_reasons. Stage `dedup`: the rules
                dropped it after line dedup removed repeated lines (line_dedup_docs.drop_reasons)
    duplicate   dedup removed it; `duplicate_of` = the kept document
    in_shards   drawn into the shard version `shard_version` (of the configured mixture)
    tokenized   in docs_tokenized, not drawn into that shard version
    curated     in docs_curated; tokenize has not run since
    kept        kept by annotate; dedup has not run since
    ingested    in docs_raw; annotate has not run since

A refused record's fate is its quarantine action (`quarantined` or `skipped`), with the reason code
in `reasons` and the message in `detail`.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, LongType, StringType, StructField, StructType

DOC_FATES = "doc_fates"

DOC_FATES_SCHEMA = StructType(
    [
        StructField("record_key", StringType(), False),  # doc_id, or quarantine.record_id
        StructField("doc_id", StringType(), True),  # null for refused records
        StructField("source", StringType(), False),
        StructField("input_file", StringType(), False),
        StructField("uri", StringType(), True),
        StructField("offset", LongType(), True),
        StructField("fate", StringType(), False),
        StructField("stage", StringType(), False),  # the stage that decided the fate
        StructField("reasons", ArrayType(StringType()), True),  # drop rules or the refusal's reason code
        StructField("detail", StringType(), True),  # the refusal's message
        StructField("duplicate_of", StringType(), True),
        StructField("shard_version", StringType(), True),
    ]
)

FATE_STAGE = {
    "dropped": "annotate", "duplicate": "dedup", "in_shards": "mix", "tokenized": "tokenize",
    "curated": "dedup", "kept": "annotate", "ingested": "ingest",
}


def _flag(df: DataFrame, name: str) -> DataFrame:
    return df.select("doc_id").distinct().withColumn(name, F.lit(True))


def doc_fates(*, raw: DataFrame, quarantine: DataFrame, annotated: DataFrame, clusters: DataFrame,
              line_dedup: DataFrame, curated: DataFrame, tokenized: DataFrame, members: DataFrame | None,
              shard_version: str | None) -> DataFrame:
    """DOC_FATES_SCHEMA rows; a table a stage has not written yet is passed as an empty frame."""
    line_dropped = line_dedup.where(~F.col("keep")).select("doc_id", F.col("drop_reasons").alias("_line_reasons"))
    docs = (
        raw.select("doc_id", "source", "input_file", "uri", "offset")
        .join(annotated.select("doc_id", "keep", "drop_reasons"), "doc_id", "left")
        .join(clusters.where(~F.col("is_kept")).select("doc_id", "duplicate_of"), "doc_id", "left")
        .join(line_dropped, "doc_id", "left")
        .join(_flag(curated, "_curated"), "doc_id", "left")
        .join(_flag(tokenized, "_tokenized"), "doc_id", "left")
    )
    in_shards = F.lit(False)
    if members is not None:
        docs = docs.join(_flag(members, "_in_shards"), "doc_id", "left")
        in_shards = F.coalesce("_in_shards", F.lit(False))
    fate = (
        F.when(F.col("keep").isNull(), "ingested")
        .when(~F.col("keep"), "dropped")
        .when(F.col("duplicate_of").isNotNull(), "duplicate")
        .when(F.col("_line_reasons").isNotNull(), "dropped")
        .when(in_shards, "in_shards")
        .when(F.col("_tokenized").isNotNull(), "tokenized")
        .when(F.col("_curated").isNotNull(), "curated")
        .otherwise("kept")
    )
    by_lines = (F.col("fate") == "dropped") & F.col("keep")  # dropped after line dedup
    stage = F.create_map(*[F.lit(x) for kv in FATE_STAGE.items() for x in kv])
    docs = docs.withColumn("fate", fate).select(
        F.col("doc_id").alias("record_key"), "doc_id", "source", "input_file", "uri", "offset", "fate",
        F.when(by_lines, "dedup").otherwise(stage[F.col("fate")]).alias("stage"),
        F.when(by_lines, F.col("_line_reasons")).when(F.col("fate") == "dropped", F.col("drop_reasons")).alias("reasons"),
        F.lit(None).cast("string").alias("detail"),
        F.when(F.col("fate") == "duplicate", F.col("duplicate_of")).alias("duplicate_of"),
        F.when(F.col("fate") == "in_shards", F.lit(shard_version)).cast("string").alias("shard_version"),
    )
    refused = quarantine.where(F.col("doc_id").isNull()).select(
        F.col("record_id").alias("record_key"), F.lit(None).cast("string").alias("doc_id"), "source",
        "input_file", "uri", "offset", F.col("action").alias("fate"), "stage",
        F.array("reason_code").alias("reasons"), F.col("reason").alias("detail"),
        F.lit(None).cast("string").alias("duplicate_of"), F.lit(None).cast("string").alias("shard_version"),
    )
    return docs.unionByName(refused)
