"""Tables the dedup stage writes: dup_clusters and its persisted signature (band-hash) table.

docs_curated has the schema of docs_annotated (curate.quality.schema.DOCS_ANNOTATED_SCHEMA).
"""

from __future__ import annotations

from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DoubleType,
    IntegerType,
    LongType,
    MapType,
    StringType,
    StructField,
    StructType,
)

from curate.schemas.tables import DEDUP_SIGNATURES  # noqa: F401  (dedup modules import it from here)

STRING_DOUBLE_MAP = MapType(StringType(), DoubleType())

DUP_CLUSTERS_SCHEMA = StructType(
    [
        StructField("doc_id", StringType(), False),
        StructField("cluster_id", StringType(), False),  # the smallest doc_id of the cluster
        StructField("cluster_size", LongType(), False),
        # exact: same normalized text as the kept document; near: MinHash-similar. On the kept row:
        # exact when every member has the kept text, near otherwise.
        StructField("kind", StringType(), False),
        # Jaccard of the shingle sets to the kept document's: exact with minhash.verify = exact,
        # estimated from the signatures otherwise; 1.0 for the same normalized text.
        StructField("similarity", DoubleType(), False),
        StructField("is_kept", BooleanType(), False),
        StructField("duplicate_of", StringType(), True),  # the kept doc_id; null on the kept row
        StructField("dedup_run_id", StringType(), False),
    ]
)

# One row per document that entered near/exact dedup (keep = true), so a later batch is compared
# with them without re-reading or re-shingling their text.
DEDUP_SIGNATURES_SCHEMA = StructType(
    [
        StructField("doc_id", StringType(), False),
        StructField("source", StringType(), False),
        StructField("lang", StringType(), True),
        StructField("quality_score", DoubleType(), True),
        StructField("length", LongType(), False),  # UTF-8 bytes of the text
        StructField("norm_hash", StringType(), False),
        StructField("signature", ArrayType(IntegerType(), False), True),
        StructField("bands", ArrayType(LongType(), False), True),
        StructField("params", StringType(), False),  # hash of the settings the signature depends on
        StructField("dedup_run_id", StringType(), False),
    ]
)

# Line dedup (dedup.line_dedup): one row per document that entered it (keep = true), with the
# distinct hashes of its units, so a later batch is counted with them without re-reading their text.
LINE_HASHES_SCHEMA = StructType(
    [
        StructField("doc_id", StringType(), False),
        StructField("source", StringType(), False),
        StructField("hashes", ArrayType(LongType(), False), False),  # xxh3-64 of each normalized unit
        StructField("params", StringType(), False),  # hash of the settings the hashes depend on
        StructField("dedup_run_id", StringType(), False),
    ]
)

# One row per document line dedup removed units from (replaced each run): its text without them,
# the recomputed signals, and the rules' verdict on them (keep = false: dropped after line dedup).
LINE_DEDUP_DOCS_SCHEMA = StructType(
    [
        StructField("doc_id", StringType(), False),
        StructField("source", StringType(), False),
        StructField("kind", StringType(), False),
        StructField("n_bytes_before", LongType(), False),
        StructField("removed_bytes", LongType(), False),
        StructField("removed_frac", DoubleType(), False),  # removed_bytes / n_bytes_before
        StructField("text", StringType(), False),
        StructField("n_bytes", LongType(), False),
        StructField("signals", STRING_DOUBLE_MAP, True),
        StructField("keep", BooleanType(), False),
        StructField("drop_reasons", ArrayType(StringType()), True),
        StructField("dedup_run_id", StringType(), False),
    ]
)
