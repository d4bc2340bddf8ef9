"""The annotate stage: docs_raw -> docs_annotated (PII redacted, language, signals, verdict)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from curate.quality.spark import annotate_frame, redecide_fn
from curate.schemas.tables import DOCS_RAW_SCHEMA

if TYPE_CHECKING:
    import numpy as np
    from pyspark.sql import DataFrame

    from curate.quality.config import AnnotateConfig


def annotate(docs: DataFrame, cfg: AnnotateConfig, *, eval_ngrams: np.ndarray | None = None,
             run_id: str | None = None) -> DataFrame:
    """Annotate docs_raw rows; `eval_ngrams` (decontam.eval_ngram_set) enables decontamination,
    `run_id` adds it as `annotate_run_id`."""
    return annotate_frame(docs.select(*DOCS_RAW_SCHEMA.names), cfg, eval_ngrams=eval_ngrams, run_id=run_id)


def redecide(cfg: AnnotateConfig):
    """The batch function re-applying `cfg.rules` to stored signals, for `DeltaStore.rewrite`: a
    threshold change without recomputing anything."""
    return redecide_fn(cfg.rules)
