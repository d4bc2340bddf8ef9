"""Ingest as pure transforms: file tasks -> records -> (documents, refusals)."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from curate.ingest.spark import read_records
from curate.schemas.config import IngestConfig
from curate.schemas.tables import DOCS_RAW_SCHEMA, QUARANTINE_SCHEMA


def ingest(tasks: DataFrame, cfg: IngestConfig) -> DataFrame:
    """One row per input record: a document (`fate = 'doc'`) or a refusal with its reason."""
    return read_records(tasks, cfg)


def documents(records: DataFrame, *, run_id: str) -> DataFrame:
    docs = records.filter(F.col("fate") == "doc").withColumn("ingest_run_id", F.lit(run_id))
    return docs.select(*DOCS_RAW_SCHEMA.fieldNames())


def refusals(records: DataFrame, *, run_id: str, stage: str = "ingest") -> DataFrame:
    """Quarantine rows; `record_id` is stable so re-ingesting the same bad record adds nothing."""
    q = records.filter(F.col("fate") != "doc")
    return q.select(
        F.substring(F.sha2(F.concat_ws("\u0000", F.lit(stage), "input_file", F.col("offset").cast("string"),
                                       "reason_code"), 256), 1, 32).alias("record_id"),
        F.lit(stage).alias("stage"),
        F.col("fate").alias("action"),
        "reason_code", "reason", "source", "kind", "input_file", "uri", "offset", "excerpt",
        F.lit(None).cast("string").alias("doc_id"),
        F.lit(run_id).alias("run_id"),
    ).select(*QUARANTINE_SCHEMA.fieldNames())
