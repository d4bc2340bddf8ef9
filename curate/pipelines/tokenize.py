"""The tokenize stage: curated documents -> docs_tokenized (cl100k_base ids ending with EOS)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from curate.tokenize.spark import tokenize_frame

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from curate.tokenize.config import TokenizeConfig


def tokenize(docs: DataFrame, cfg: TokenizeConfig) -> DataFrame:
    """docs_tokenized rows of `docs` (docs_curated, or an earlier stage's table: the carried columns
    it lacks are null)."""
    return tokenize_frame(docs, threads=cfg.threads)
