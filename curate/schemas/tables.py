"""Delta table names and their schemas: the column names users' scripts rely on.

Each table lives at `<root>/tables/<name>`. Schemas are checked on write (`conform`).
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import (
    DoubleType,
    LongType,
    MapType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from curate.errors import StorageError

DOCS_RAW = "docs_raw"
QUARANTINE = "quarantine"
RUNS = "runs"
DOCS_ANNOTATED = "docs_annotated"
DUP_CLUSTERS = "dup_clusters"
DOCS_CURATED = "docs_curated"
DOCS_TOKENIZED = "docs_tokenized"
DEDUP_SIGNATURES = "dedup_signatures"  # persisted band hashes for incremental dedup
LINE_HASHES = "line_hashes"  # persisted unit hashes for incremental line dedup
LINE_DEDUP_DOCS = "line_dedup_docs"  # the documents line dedup changed, with the rules' new verdict
INGEST_FILES = "ingest_files"  # the state of each input file task when ingest last read it

# Columns of which each data file holds a single value, where delta-rs writes the table (with the
# Delta jar, Spark lays out its files itself). docs_annotated's kept and dropped documents are in
# separate files, so readers of the kept ones (dedup, any Delta reader) skip the others by the
# files' statistics.
SPLIT_FILES_BY = {DOCS_ANNOTATED: ("keep",)}


def _f(name: str, dtype, nullable: bool = True) -> StructField:
    return StructField(name, dtype, nullable)


STRING_MAP = MapType(StringType(), StringType())

DOCS_RAW_SCHEMA = StructType(
    [
        _f("doc_id", StringType(), False),  # xxh3-128 of source, uri, offset and text
        _f("source_id", StringType()),  # the input's own id (id_field, WARC-Record-ID, path)
        _f("source", StringType(), False),
        _f("kind", StringType(), False),  # text | code
        _f("text", StringType(), False),
        _f("uri", StringType(), False),  # path relative to the input, or the page URL for WARC
        _f("offset", LongType(), False),  # byte offset of the line / row index / record offset
        _f("input_file", StringType(), False),
        _f("n_bytes", LongType(), False),  # UTF-8 bytes of text
        _f("metadata", STRING_MAP),  # other input fields, JSON-encoded when not strings
        _f("ingest_run_id", StringType(), False),
    ]
)

QUARANTINE_SCHEMA = StructType(
    [
        _f("record_id", StringType(), False),  # hash of stage, input_file, offset, reason_code
        _f("stage", StringType(), False),
        _f("action", StringType(), False),  # quarantined (bad input) | skipped (by policy)
        _f("reason_code", StringType(), False),
        _f("reason", StringType(), False),
        _f("source", StringType(), False),
        _f("kind", StringType(), False),
        _f("input_file", StringType(), False),
        _f("uri", StringType()),
        _f("offset", LongType()),
        _f("excerpt", StringType()),  # at most 256 characters of the offending record
        _f("doc_id", StringType()),  # set when a stage after ingest quarantines a document
        _f("run_id", StringType(), False),
    ]
)

# One row per file task of the last ingest: a task whose file still has this state (and whose
# `settings`, the ingest stage hash less the files, are the current ones) is not read again.
INGEST_FILES_SCHEMA = StructType(
    [
        _f("source", StringType(), False),
        _f("input_file", StringType(), False),
        _f("start", LongType(), False),  # the task's byte range (end -1: to the end of the file)
        _f("end", LongType(), False),
        _f("skip_code", StringType()),  # skipped by policy at listing time
        _f("size", LongType(), False),  # -1: the path could not be stat'ed
        _f("mtime_ns", LongType(), False),
        _f("etag", StringType()),  # an object store's entity tag; null on a local disk
        _f("settings", StringType(), False),
        _f("ingest_run_id", StringType(), False),  # the run that read the task
    ]
)

RUNS_SCHEMA = StructType(
    [
        _f("run_id", StringType(), False),
        _f("stage", StringType(), False),
        _f("status", StringType(), False),  # succeeded | failed | skipped
        _f("started_at", TimestampType(), False),
        _f("duration_s", DoubleType(), False),
        _f("config_hash", StringType(), False),
        _f("input_versions", MapType(StringType(), LongType())),
        _f("output_versions", MapType(StringType(), LongType())),
        _f("rows_in", LongType()),
        _f("rows_out", LongType()),
        _f("counts", MapType(StringType(), LongType())),
        _f("message", StringType()),
        _f("engine", StringType()),  # the Delta engine that ran the stage: native | delta-rs
    ]
)


def conform(df: DataFrame, schema: StructType, *, table: str) -> DataFrame:
    """Select `schema`'s columns in order with its types; refuse a frame that lacks one."""
    missing = [f.name for f in schema.fields if f.name not in df.columns]
    if missing:
        raise StorageError(
            f"cannot write table {table!r}: columns {missing} are missing from the frame "
            f"(it has {df.columns}); the stage must produce every column of the table schema"
        )
    return df.select([F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])
