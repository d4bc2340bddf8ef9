"""The mixture config: a named mixture, its components and its curriculum stages.

Its own YAML file (the embedded default's is `examples/mixture.yaml`), so that editing weights is
cheap and does not touch the pipeline config. Components are declared once and weighted per stage,
so a component's epoch cap is counted across all stages. Components may overlap (share
documents); a document is capped once, by the smallest max_epochs of the components containing
it (see curate.tokenize.realize).

Checks that need no data live here (weights, names, budgets against seq_len); checks against the
tokenized table (sources, columns, predicates, supply under the epoch caps) are in
`curate.pipelines.mix.validate_mixture`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from curate.schemas.base import Model
from curate.schemas.config import REPO_ROOT, parse_model, read_yaml
from curate.tokenize.mds_writer import MAX_SIZE_LIMIT, MIN_SIZE_LIMIT

EMBEDDED_MIXTURE = REPO_ROOT / "examples" / "mixture.yaml"

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$", max_length=64)]
Weight = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class ComponentSpec(Model):
    """Documents of `sources` that satisfy `where`, a Spark SQL predicate over docs_tokenized's columns."""

    sources: list[Name] = Field(min_length=1)
    where: str | None = Field(None, min_length=1)
    # Tokens drawn from this component over all stages, in multiples of its supply; and each of its
    # documents is drawn at most ceil(max_epochs) times over all stages and components (the
    # smallest cap of the components containing it applies). None: no cap.
    max_epochs: float | None = Field(1.0, gt=0, allow_inf_nan=False)


class StageSpec(Model):
    name: Name
    budget_tokens: int = Field(ge=1)
    seq_len: int = Field(2048, ge=1, le=1_048_576)
    seed: int = Field(0, ge=0, lt=2**63)
    # Component name -> weight; unlisted components get 0. Normalized to sum 1.
    weights: dict[Name, Weight] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> StageSpec:
        if self.budget_tokens < self.seq_len:
            raise ValueError(
                f"stage {self.name!r}: budget_tokens {self.budget_tokens} is smaller than one sample of "
                f"seq_len {self.seq_len}; raise budget_tokens to at least {self.seq_len} or lower seq_len"
            )
        if not any(w > 0 for w in self.weights.values()):
            raise ValueError(
                f"stage {self.name!r}: all weights are zero ({self.weights}); give at least one component a weight > 0"
            )
        return self

    @property
    def samples(self) -> int:
        """Samples the stage holds: whole samples of exactly seq_len tokens within the budget."""
        return self.budget_tokens // self.seq_len


class ShardSpec(Model):
    """MDS shard options (part of the output's identity, so part of the version hash)."""

    size_limit_bytes: int = 64 * 2**20
    compression: Literal["zstd", "zstd:1", "zstd:7", "zstd:16", "gz", "br", "snappy"] | None = "zstd"

    @field_validator("size_limit_bytes")
    @classmethod
    def _addressable(cls, size: int) -> int:
        if not MIN_SIZE_LIMIT <= size <= MAX_SIZE_LIMIT:
            raise ValueError(
                f"must be from {MIN_SIZE_LIMIT:,} to {MAX_SIZE_LIMIT:,} bytes (2^32 - 1): MDS shards address "
                f"their samples with uint32 byte offsets, so a larger shard would be unreadable"
            )
        return size


class Mixture(Model):
    name: Name
    components: dict[Name, ComponentSpec] = Field(min_length=1)
    stages: list[StageSpec] = Field(min_length=1)
    shards: ShardSpec = Field(default_factory=ShardSpec)

    @model_validator(mode="after")
    def _check(self) -> Mixture:
        names = [s.name for s in self.stages]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"stage names must be unique; {dupes} appear more than once")
        for i, stage in enumerate(self.stages):
            unknown = sorted(set(stage.weights) - set(self.components))
            if unknown:
                raise ValueError(
                    f"stages.{i} ({stage.name!r}).weights names unknown components {unknown}; "
                    f"declared components are {sorted(self.components)}"
                )
        return self

    def shares(self, stage: StageSpec) -> dict[str, float]:
        """Normalized target share of every component in `stage` (0 for unlisted ones)."""
        total = sum(stage.weights.values())
        return {c: stage.weights.get(c, 0.0) / total for c in self.components}

    def config_hash(self) -> str:
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def load_mixture(path: str | Path | None = None) -> Mixture:
    """Load and validate a mixture file (the embedded default when None)."""
    p = Path(path) if path is not None else EMBEDDED_MIXTURE
    return parse_model(Mixture, read_yaml(p), origin=str(p))
