"""The one place the quality subpackage meets Spark: annotate as mapInArrow, re-decide as a batch
function for `DeltaStore.rewrite`.

Python workers are reused across tasks, so the `Annotator` (fastText models, regexes, evaluation
n-grams) is built once per worker process and kept in `_ANNOTATORS`, by the config and the content
of its model files.
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import TYPE_CHECKING

import pyarrow as pa
from pyspark.sql.types import StringType, StructField, StructType

from curate.quality.annotator import Annotator, RuleBook, redecide_batch
from curate.quality.config import AnnotateConfig
from curate.quality.rules import RulesConfig
from curate.quality.schema import ANNOTATION_SCHEMA

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import numpy as np
    from pyspark.sql import DataFrame

_ANNOTATORS: dict[str, Annotator] = {}


def _annotate_batches(batches: Iterator[pa.RecordBatch], *, cfg_json: str, eval_ngrams: np.ndarray | None,
                      key: str, run_id: str | None) -> Iterator[pa.RecordBatch]:
    annotator = _ANNOTATORS.get(key)
    if annotator is None:
        annotator = _ANNOTATORS[key] = Annotator(AnnotateConfig.model_validate_json(cfg_json), eval_ngrams=eval_ngrams)
    for batch in batches:
        out = annotator.annotate_batch(batch)
        if run_id is not None:
            out = out.append_column("annotate_run_id", pa.array([run_id] * out.num_rows, pa.string()))
        yield out


def _redecide_batches(batches: Iterator[pa.RecordBatch], *, rules_json: str) -> Iterator[pa.RecordBatch]:
    rulebook = RuleBook(RulesConfig.model_validate_json(rules_json))
    for batch in batches:
        yield redecide_batch(batch, rulebook)


def annotate_fn(cfg: AnnotateConfig, *, eval_ngrams: np.ndarray | None = None,
                run_id: str | None = None) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """docs_raw batches -> the same rows (text redacted) plus the annotation columns, and
    `annotate_run_id` when `run_id` is given."""
    cfg_json = cfg.model_dump_json()
    # The models' content too: a worker Spark reuses must not keep a model replaced at the same path.
    digest = hashlib.sha256(cfg_json.encode() + json.dumps(cfg.file_digests()).encode())
    if eval_ngrams is not None:
        digest.update(eval_ngrams.tobytes())
    return functools.partial(_annotate_batches, cfg_json=cfg_json, eval_ngrams=eval_ngrams, key=digest.hexdigest(),
                             run_id=run_id)


def annotate_frame(docs: DataFrame, cfg: AnnotateConfig, *, eval_ngrams: np.ndarray | None = None,
                   run_id: str | None = None) -> DataFrame:
    """docs_raw rows -> the same rows (text redacted) plus the annotation columns, and
    `annotate_run_id` when `run_id` is given."""
    fields = [*docs.schema.fields, *ANNOTATION_SCHEMA.fields]
    if run_id is not None:
        fields.append(StructField("annotate_run_id", StringType(), False))
    return docs.mapInArrow(annotate_fn(cfg, eval_ngrams=eval_ngrams, run_id=run_id), StructType(fields))


def redecide_fn(rules: RulesConfig) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """docs_annotated batches -> the same with keep / drop_reasons recomputed from stored signals."""
    return functools.partial(_redecide_batches, rules_json=rules.model_dump_json())
