from curate.schemas.config import PipelineConfig
from curate.tokenize.config import MixConfig, TokenizeConfig


class Cfg(PipelineConfig):
    """PipelineConfig with the tokenize and mix sections (the real one gains them when wired)."""

    tokenize: TokenizeConfig = TokenizeConfig()
    mix: MixConfig = MixConfig()
