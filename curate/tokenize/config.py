"""The `tokenize` and `mix` sections of the pipeline config."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from curate.schemas.base import Model


class TokenizeConfig(Model):
    # docs_curated normally; docs_annotated / docs_raw tokenize earlier stages' output (no filtering).
    input: Literal["docs_curated", "docs_annotated", "docs_raw"] = "docs_curated"
    # tiktoken threads per Spark task; 1 keeps one task per core (Spark already runs a task per core).
    threads: int = Field(1, ge=1, le=64)


class MixConfig(Model):
    # The mixture YAML; None: the embedded examples/mixture.yaml. `curate mix --mixture FILE` overrides.
    mixture: str | None = None
    # Samples one Spark task writes (one MDS writer, one sub-directory of shards): the write parallelism.
    samples_per_task: int = Field(8192, ge=1)
