"""The effective config as flat `key: value` settings for people to read (MLflow parameters, the run
report), with the values of secret-looking Spark settings masked.

Credentials belong in the environment or the cluster's provider chain (DESIGN.md); when a user puts
one in `spark.conf` anyway (`spark.hadoop.fs.s3a.secret.key`), what curate writes for people shows
`***` in its place. The workflow exports use `looks_secret` to reference such values from Airflow
variables and Databricks secret scopes instead of writing them.
"""

from __future__ import annotations

import json
import re
from typing import Any

from curate.schemas.config import PipelineConfig

MASK = "***"
MAX_PARAM_CHARS = 6000  # MLflow's limit on a parameter value
_SECRET_NAME = re.compile(r"password|secret|token|key|credential", re.IGNORECASE)


def looks_secret(name: str) -> bool:
    """A setting or environment variable whose name says it holds a credential."""
    return bool(_SECRET_NAME.search(name))


def flat_params(value: Any, prefix: str = "") -> dict[str, str]:
    """Nested config -> {"dedup.minhash.num_perm": "128", ...}; lists become JSON."""
    if isinstance(value, dict):
        out: dict[str, str] = {}
        for k, v in value.items():
            out.update(flat_params(v, f"{prefix}{k}."))
        return out
    text = value if isinstance(value, str) else json.dumps(value)
    return {prefix.rstrip("."): text[:MAX_PARAM_CHARS]}


def shown_settings(cfg: PipelineConfig) -> dict[str, str]:
    """The config as flat parameters (tracking left out), secret-looking `spark.conf` values masked."""
    config = cfg.model_dump(mode="json", exclude={"tracking"})
    config["spark"]["conf"] = {k: MASK if looks_secret(k) else v for k, v in config["spark"]["conf"].items()}
    return flat_params(config)
