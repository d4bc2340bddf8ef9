"""The `tokenize` and `mix` sections of the pipeline config."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from curate.schemas.base import Model


UNREDACTED_INPUTS = ("docs_raw",)  # tables whose texts no PII redaction has touched


class TokenizeConfig(Model):
    # docs_curated normally; docs_annotated / docs_raw tokenize earlier stages' output (no filtering).
    input: Literal["docs_curated", "docs_annotated", "docs_raw"] = "docs_curated"
    # docs_raw holds the texts as ingested, PII and secrets included: tokenizing it (into tables and
    # shards a trainer reads) needs this explicit opt-in.
    allow_unredacted_input: bool = False
    # tiktoken threads per Spark task; 1 keeps one task per core (Spark already runs a task per core).
    threads: int = Field(1, ge=1, le=64)

    @model_validator(mode="after")
    def _redacted_input(self) -> TokenizeConfig:
        self.check_input(self.input)
        return self

    def check_input(self, table: str) -> None:
        """Refuse a table of unredacted texts unless `allow_unredacted_input` says so."""
        if table in UNREDACTED_INPUTS and not self.allow_unredacted_input:
            raise ValueError(
                f"tokenize input {table!r} holds texts before PII redaction (e-mail addresses, secrets, ...); "
                "tokenize docs_curated or docs_annotated, or set tokenize.allow_unredacted_input: true to "
                "tokenize it anyway")


class MixConfig(Model):
    # The mixture YAML; None: the embedded examples/mixture.yaml. `curate mix --mixture FILE` overrides.
    mixture: str | None = None
    # Samples one Spark task writes (one MDS writer, one sub-directory of shards): the write parallelism.
    samples_per_task: int = Field(8192, ge=1)
    # Member rows (a document once per component it is in) one Spark task plans at most, about (a
    # hash of doc_id picks the bucket): a group of overlapping components with more is planned in
    # ceil(rows / plan_bucket_docs) buckets (plan version 3: see curate.tokenize.realize); up to
    # it, in one task, as plan version 2 did.
    plan_bucket_docs: int = Field(250_000, ge=1)
