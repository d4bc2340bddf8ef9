"""The DAG: stages in the order they run, with the tables each reads and writes.

Defined once here; `curate run`, the per-stage commands and the workflow exports all read it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from curate.schemas import tables as t


@dataclass(frozen=True)
class Stage:
    name: str
    job: str  # "module:function" taking a StageContext, returning a StageResult
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    summary: str

    def load(self) -> Callable:
        module, func = self.job.split(":")
        return getattr(importlib.import_module(module), func)

    @property
    def module(self) -> str:
        return self.job.split(":")[0]


STAGES: tuple[Stage, ...] = (
    Stage("ingest", "curate.jobs.ingest:run_ingest", (), (t.DOCS_RAW, t.QUARANTINE),
          "raw files -> docs_raw (+ quarantine)"),
    Stage("annotate", "curate.jobs.annotate:run_annotate", (t.DOCS_RAW,), (t.DOCS_ANNOTATED,),
          "docs_raw -> docs_annotated: language, quality signals, verdict, PII redaction"),
    Stage("dedup", "curate.jobs.dedup:run_dedup", (t.DOCS_ANNOTATED,),
          (t.DEDUP_SIGNATURES, t.DUP_CLUSTERS, t.DOCS_CURATED),
          "docs_annotated -> dup_clusters + docs_curated: exact and MinHash dedup"),
    Stage("tokenize", "curate.jobs.tokenize_docs:run_tokenize", (t.DOCS_CURATED,), (t.DOCS_TOKENIZED,),
          "docs_curated -> docs_tokenized: tiktoken cl100k_base ids"),
    Stage("mix", "curate.jobs.mix:run_mix", (t.DOCS_TOKENIZED,), (),
          "docs_tokenized + mixture -> MDS shards per curriculum stage"),
)


def stage(name: str) -> Stage:
    for s in STAGES:
        if s.name == name:
            return s
    raise KeyError(name)
