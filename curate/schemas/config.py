"""The pipeline config: one YAML file, validated on load.

Every model forbids unknown keys. A bad file is refused with one line per problem naming the key
path, the value given and what is allowed (see `format_validation_error`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from curate.dedup.config import DedupConfig
from curate.errors import ConfigError
from curate.quality.config import AnnotateConfig
from curate.schemas.base import Model
from curate.tokenize.config import MixConfig, TokenizeConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
EMBEDDED_DEFAULT = REPO_ROOT / "examples" / "local.yaml"

InputFormat = Literal["auto", "jsonl", "parquet", "text", "code", "warc", "wet"]




class SparkConfig(Model):
    """Used when curate starts Spark itself; under spark-submit the launcher's settings win."""

    master: str = "local[*]"
    driver_memory: str = Field("6g", pattern=r"^\d+[kmgt]?$")
    shuffle_partitions: int = Field(8, ge=1, le=100_000)
    ui: bool = False
    log_level: Literal["ERROR", "WARN", "INFO", "DEBUG"] = "ERROR"
    conf: dict[str, str | int | float | bool] = Field(default_factory=dict)


class InputConfig(Model):
    """One input: a file, a directory or a glob, with the source name its documents get."""

    source: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", max_length=64)
    kind: Literal["text", "code"]
    path: str
    format: InputFormat = "auto"
    text_field: str = "text"
    id_field: str | None = None


class IngestConfig(Model):
    # Larger documents are quarantined: they would dominate a task's memory downstream.
    max_doc_bytes: int = Field(10_000_000, ge=1)
    # The Stack's limit for one source file.
    max_code_file_bytes: int = Field(1_000_000, ge=1)
    # Bound on the decompressed bytes of one .gz/.zst file, gzipped WARC/WET or Parquet file (zip-bomb guard).
    max_decompressed_bytes: int = Field(8_000_000_000, ge=1)
    # Uncompressed JSONL files above this size are read by several tasks in byte ranges.
    split_bytes: int = Field(64_000_000, ge=1_000_000)
    vendored_dirs: list[str] = Field(
        default_factory=lambda: [
            "node_modules", "vendor", "vendors", "third_party", "thirdparty", "bower_components",
            ".git", ".hg", ".svn", "__pycache__", ".tox", ".venv", "venv",
        ]
    )
    lock_files: list[str] = Field(
        default_factory=lambda: [
            "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "poetry.lock", "Pipfile.lock",
            "Cargo.lock", "Gemfile.lock", "composer.lock", "go.sum", "uv.lock", "pdm.lock",
        ]
    )


class TrackingConfig(Model):
    """MLflow tracking of `curate run`: parameters, counts, timings and the report as an artifact.

    Off while `mlflow_uri` is None; needs `mlflow` or `mlflow-skinny` installed. A `file:` URI is a
    local file store (MLflow 3 refuses those unless MLFLOW_ALLOW_FILE_STORE=true; curate sets it
    for a file: URI configured here).
    """

    mlflow_uri: str | None = None  # file:///abs/mlruns, http://host:5000, databricks, sqlite:///mlflow.db
    experiment: str = Field("curate", min_length=1)


class DeltaConfig(Model):
    """Which Delta engine reads and writes the tables (README "Delta Lake: two engines").

    `auto`: Spark's own Delta where the session has its classes (Databricks, `--packages`) or
    set-up installed its jars, delta-rs otherwise. `native` refuses to run without the jar;
    `delta-rs` never uses it."""

    engine: Literal["auto", "native", "delta-rs"] = "auto"


class StorageConfig(Model):
    """How an object-store root or input (s3://, s3a://) is reached. Unset values come from the
    standard AWS environment (AWS_ENDPOINT_URL, AWS_REGION), as the AWS SDKs take them. Credentials
    are never configured here: each process reads them from its environment or the provider chain."""

    endpoint: str | None = Field(None, pattern=r"^https?://[^\s/]+/?$")  # an S3-compatible server; None: AWS
    region: str | None = None
    path_style: bool | None = None  # default: true with an endpoint

    @model_validator(mode="before")
    @classmethod
    def _no_credentials(cls, data: Any) -> Any:
        if isinstance(data, dict):
            secret = [k for k in data if any(w in str(k).lower() for w in ("key", "secret", "token", "password"))]
            if secret:
                raise ValueError(f"{secret}: credentials are never read from the config; export AWS_ACCESS_KEY_ID / "
                                 "AWS_SECRET_ACCESS_KEY (or use the cluster's provider chain) instead")
        return data


_IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"


class CatalogConfig(Model):
    """Register every table in Spark's catalog as well, as `[name.]schema.<table>` over its location
    (`CREATE TABLE IF NOT EXISTS ... USING DELTA LOCATION ...`), so that SQL users find them by name.
    `name`: the catalog of a three-part name (Unity Catalog's `main`); None: the session's current one."""

    name: str | None = Field(None, pattern=_IDENTIFIER)
    schema_name: str = Field(alias="schema", pattern=_IDENTIFIER)


class PipelineConfig(Model):
    root: str = "data"
    spark: SparkConfig = Field(default_factory=SparkConfig)
    delta: DeltaConfig = Field(default_factory=DeltaConfig)
    storage: StorageConfig | None = None
    catalog: CatalogConfig | None = None
    inputs: list[InputConfig] = Field(default_factory=list)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    annotate: AnnotateConfig = Field(default_factory=AnnotateConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    tokenize: TokenizeConfig = Field(default_factory=TokenizeConfig)
    mix: MixConfig = Field(default_factory=MixConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)

    @field_validator("inputs")
    @classmethod
    def _unique_paths(cls, inputs: list[InputConfig]) -> list[InputConfig]:
        seen: set[tuple[str, str]] = set()
        for i in inputs:
            if (i.source, i.path) in seen:
                raise ValueError(f"input {i.path!r} is listed twice for source {i.source!r}")
            seen.add((i.source, i.path))
        return inputs

    def config_hash(self) -> str:
        """Stable hash of the effective config (recorded in `runs`, used to skip unchanged stages)."""
        # Where runs are logged does not change what they compute.
        blob = json.dumps(self.model_dump(mode="json", exclude={"tracking"}), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def format_validation_error(err: ValidationError, *, origin: str) -> str:
    lines = [f"invalid config {origin}:"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "<top level>"
        value = e.get("input")
        shown = json.dumps(value, default=str) if not isinstance(value, dict) else "{...}"
        if len(shown) > 80:
            shown = shown[:77] + "..."
        if e["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown key (value {shown}); remove it or check its spelling")
        else:
            lines.append(f"  {key}: got {shown}; {e['msg'][0].lower()}{e['msg'][1:]}")
    return "\n".join(lines)


def parse_model(model: type[Model], data: Any, *, origin: str) -> Any:
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, origin=origin)) from None


def read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist; pass an existing --config") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path} is not valid YAML: {err}") from None


def _resolve(path: str, base: Path) -> str:
    """Relative local paths in a config are relative to the config file's directory."""
    if "://" in path or Path(path).is_absolute():
        return path
    return str((base / path).resolve())


def load_pipeline_config(path: str | Path | None = None, *, root: str | None = None,
                         delta_engine: str | None = None) -> PipelineConfig:
    """Load `path` (the embedded default when None), then apply `--root` and `--delta-engine` overrides."""
    cfg_path = Path(path) if path is not None else EMBEDDED_DEFAULT
    if path is None and not cfg_path.exists():
        cfg = PipelineConfig()
    else:
        cfg = parse_model(PipelineConfig, read_yaml(cfg_path), origin=str(cfg_path))
        base = cfg_path.resolve().parent
        cfg = cfg.model_copy(
            update={
                "root": _resolve(cfg.root, base),
                "inputs": [i.model_copy(update={"path": _resolve(i.path, base)}) for i in cfg.inputs],
                "mix": cfg.mix.model_copy(update={"mixture": _resolve(cfg.mix.mixture, base)})
                if cfg.mix.mixture else cfg.mix,
            }
        )
    if root is not None:
        cfg = cfg.model_copy(update={"root": root if "://" in root else str(Path(root).resolve())})
    if delta_engine is not None:
        cfg = cfg.model_copy(update={"delta": parse_model(DeltaConfig, {"engine": delta_engine}, origin="--delta-engine")})
    return cfg
