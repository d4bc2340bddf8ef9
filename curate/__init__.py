"""curate: a Spark + Delta data curation pipeline for LLM pretraining corpora."""

__version__ = "0.2.0"
