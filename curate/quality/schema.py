"""The docs_annotated table: every docs_raw column (text redacted) plus signals and verdict."""

from __future__ import annotations

from pyspark.sql.pandas.types import from_arrow_type
from pyspark.sql.types import StringType, StructField, StructType

from curate.quality.annotator import ANNOTATION_FIELDS
from curate.schemas.tables import DOCS_RAW_SCHEMA

# lang, lang_score, lang_top, code_lang, signals, pii_counts, quality_score, keep, drop_reasons
ANNOTATION_SCHEMA = StructType([StructField(f.name, from_arrow_type(f.type), True) for f in ANNOTATION_FIELDS])

DOCS_ANNOTATED_SCHEMA = StructType(
    [
        *DOCS_RAW_SCHEMA.fields,
        *ANNOTATION_SCHEMA.fields,
        StructField("annotate_run_id", StringType(), False),
    ]
)
