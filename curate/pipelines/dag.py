"""The DAG: stages in the order they run, with the tables each reads and writes.

Defined once here; `curate run`, the per-stage commands and the workflow exports all read it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from curate.schemas import tables as t


def _resolve(ref: str) -> Callable:
    module, func = ref.split(":")
    return getattr(importlib.import_module(module), func)


@dataclass(frozen=True)
class Stage:
    name: str
    job: str  # "module:function" taking a StageContext, returning a StageResult
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    summary: str
    # What decides the stage's output besides its input tables (hashed into runs.config_hash, so
    # `curate run` can skip the stage and an incremental job knows whether its stored rows are still
    # valid): config sections, dotted keys inside them that do not matter, command-line options, and
    # a "module:function" (ctx) -> JSON-able state of inputs that are not tables.
    config: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    fingerprint: str | None = None

    def load(self) -> Callable:
        return _resolve(self.job)

    def load_fingerprint(self) -> Callable | None:
        return _resolve(self.fingerprint) if self.fingerprint else None

    @property
    def module(self) -> str:
        return self.job.split(":")[0]


# Files annotate reads, hashed by content (`incremental.annotate_files`): a model retrained at the
# same path reruns the stages, the same model at a new path does not.
_ANNOTATE_FILE_PATHS = ("annotate.langid.model_path", "annotate.quality_model.model_path",
                        "annotate.decontam.eval_paths")

STAGES: tuple[Stage, ...] = (
    Stage("ingest", "curate.jobs.ingest:run_ingest", (), (t.DOCS_RAW, t.QUARANTINE, t.INGEST_FILES),
          "raw files -> docs_raw (+ quarantine)",
          config=("inputs", "ingest"), options=("inputs",), fingerprint="curate.jobs.ingest:input_files"),
    Stage("annotate", "curate.jobs.annotate:run_annotate", (t.DOCS_RAW,), (t.DOCS_ANNOTATED,),
          "docs_raw -> docs_annotated: language, quality signals, verdict, PII redaction",
          config=("annotate",), ignore=_ANNOTATE_FILE_PATHS, fingerprint="curate.jobs.incremental:annotate_files"),
    # Signatures and token ids are computed from the annotated text and carry its language and
    # score: annotate settings other than the keep/drop rules invalidate them.
    Stage("dedup", "curate.jobs.dedup:run_dedup", (t.DOCS_ANNOTATED,),
          (t.DEDUP_SIGNATURES, t.DUP_CLUSTERS, t.LINE_HASHES, t.LINE_DEDUP_DOCS, t.DOCS_CURATED),
          "docs_annotated -> dup_clusters + docs_curated: exact and MinHash dedup, line dedup",
          config=("dedup", "annotate"), ignore=("dedup.mode", "annotate.rules", *_ANNOTATE_FILE_PATHS),
          fingerprint="curate.jobs.incremental:annotate_files"),
    Stage("tokenize", "curate.jobs.tokenize_docs:run_tokenize", (t.DOCS_CURATED,), (t.DOCS_TOKENIZED,),
          "docs_curated -> docs_tokenized: tiktoken cl100k_base ids",
          config=("tokenize", "annotate"), ignore=("tokenize.threads", "annotate.rules", *_ANNOTATE_FILE_PATHS),
          options=("input",), fingerprint="curate.jobs.incremental:tokenize_inputs"),
    Stage("mix", "curate.jobs.mix:run_mix", (t.DOCS_TOKENIZED,), (),
          "docs_tokenized + mixture -> MDS shards per curriculum stage",
          config=("mix",), options=("mixture",), fingerprint="curate.jobs.incremental:mixture_hash"),
)


def stage(name: str) -> Stage:
    for s in STAGES:
        if s.name == name:
            return s
    raise KeyError(name)
