"""The tokenize stage: curated documents -> docs_tokenized (cl100k_base ids ending with EOS)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from curate.tokenize.schema import CARRIED
from curate.tokenize.spark import tokenize_frame

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from curate.tokenize.config import TokenizeConfig


def tokenize_input(docs: DataFrame) -> DataFrame:
    """The carried columns and `text` of `docs` (docs_curated, or an earlier stage's table: its missing
    columns read as null)."""
    carried = [
        (F.col(f.name) if f.name in docs.columns else F.lit(None)).cast(f.dataType).alias(f.name) for f in CARRIED
    ]
    return docs.select(*carried, "text")


def tokenize(docs: DataFrame, cfg: TokenizeConfig) -> DataFrame:
    """Tokenize `docs` (see `tokenize_input`)."""
    return tokenize_frame(tokenize_input(docs), threads=cfg.threads)
