"""The tokenize stage: curated documents -> docs_tokenized (cl100k_base ids ending with EOS)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from curate.tokenize.schema import CARRIED
from curate.tokenize.spark import tokenize_frame

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from curate.tokenize.config import TokenizeConfig


def tokenize(docs: DataFrame, cfg: TokenizeConfig) -> DataFrame:
    """Tokenize `docs` (docs_curated, or an earlier stage's table: its missing columns read as null)."""
    carried = [
        (F.col(f.name) if f.name in docs.columns else F.lit(None)).cast(f.dataType).alias(f.name) for f in CARRIED
    ]
    return tokenize_frame(docs.select(*carried, "text"), threads=cfg.threads)
