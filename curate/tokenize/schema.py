"""The docs_tokenized table: token ids plus the columns a mixture may filter on (no text)."""

from __future__ import annotations

from pyspark.sql.types import (
    ArrayType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
)

# Columns carried from the input; those an earlier stage has not produced yet read as null.
CARRIED = [
    StructField("doc_id", StringType(), False),
    StructField("source_id", StringType()),
    StructField("source", StringType(), False),
    StructField("kind", StringType(), False),  # text | code
    StructField("lang", StringType()),
    StructField("lang_score", DoubleType()),
    StructField("quality_score", DoubleType()),
    StructField("code_lang", StringType()),
    StructField("n_bytes", LongType()),
]

DOCS_TOKENIZED_SCHEMA = StructType(
    [
        *CARRIED,
        StructField("n_tokens", IntegerType(), False),  # EOS included
        # cl100k_base ids of the text, encoded as ordinary text, then EOS (100257).
        StructField("tokens", ArrayType(IntegerType(), False), False),
    ]
)
