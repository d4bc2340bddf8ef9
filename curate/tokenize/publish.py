"""Shard output layout, manifests and atomic publication.

`<root>/shards/<mixture>/<version>/<stage>/` holds one stage's MDS dataset (index.json plus one
sub-directory of shards per writer task), `manifest.json` and `train_loader.yaml`. A version is
the hash of the mixture config and the input tables' identities (Delta table id) and versions, so
the same inputs and mixture give the same version and an edit, new data or a table created again
(its versions restart at 0) give a new one beside the old. All stages of a version are written
under `<root>/shards/<mixture>/.tmp-<version>-<run>/` and renamed into place in one step; readers
never see a partial version. `versions.json` lists the published versions.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

import yaml

from curate.errors import StorageError
from curate.faults import fault_point
from curate.schemas.mixture import Mixture
from curate.tokenize.encoder import ENCODING_NAME, EOS_ID, VOCAB_SIZE
from curate.tokenize.mds_writer import COLUMNS as MDS_COLUMNS
from curate.tokenize.realize import StagePlan

MANIFEST = "manifest.json"
VERSIONS = "versions.json"


def mixture_dir(root: str, mixture: Mixture) -> Path:
    if "://" in root:
        raise StorageError(
            f"shards are written and published on a local or mounted filesystem; root {root!r} is a URL. "
            f"Mount the bucket (e.g. /dbfs, a FUSE mount) and pass that path as --root"
        )
    return Path(root) / "shards" / mixture.name


def version_of(mixture: Mixture, input_versions: dict[str, int], input_tables: dict[str, str]) -> str:
    """`input_tables`: each input table's Delta table id, which tells a table deleted and written
    again (same version numbers, other rows) from the one an older version was drawn from."""
    blob = json.dumps({"mixture": mixture.config_hash(), "inputs": input_versions, "tables": input_tables},
                      sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def staging_dir(root: str, mixture: Mixture, version: str, run_id: str) -> Path:
    return mixture_dir(root, mixture) / f".tmp-{version}-{run_id}"


def train_loader_yaml(stage_dir: Path, *, seq_len: int, mixture: str, version: str, stage: str) -> str:
    """A Streaming / llm-foundry `train_loader` for the stage (the published path, read as remote)."""
    snippet = {
        "train_loader": {
            "name": "text",
            "dataset": {
                "remote": str(stage_dir),
                "local": f"/tmp/streaming-cache/{mixture}/{version}/{stage}",
                "split": None,
                # The samples are already interleaved with the stage seed; shuffle: true reshuffles them.
                "shuffle": False,
                "max_seq_len": seq_len,
                "eos_token_id": EOS_ID,
            },
            "drop_last": True,
            "num_workers": 8,
        },
        "tokenizer": {"name": "tiktoken", "kwargs": {"encoding_name": ENCODING_NAME}},
    }
    return yaml.safe_dump(snippet, sort_keys=False)


def write_manifest(
    stage_dir: Path,
    plan: StagePlan,
    *,
    mixture: Mixture,
    published_dir: Path,
    version: str,
    input_versions: dict[str, int],
    input_tables: dict[str, str],
    shards: dict[str, int],
    run_id: str,
) -> dict:
    stage = plan.stage
    loader = train_loader_yaml(
        published_dir, seq_len=stage.seq_len, mixture=mixture.name, version=version, stage=stage.name
    )
    manifest = {
        "mixture": mixture.name,
        "version": version,
        "stage": stage.name,
        "stage_index": [s.name for s in mixture.stages].index(stage.name),
        "seq_len": stage.seq_len,
        "samples": plan.samples,
        "tokens": plan.tokens,
        "budget_tokens": stage.budget_tokens,
        "seed": stage.seed,
        "tokenizer": {"encoding": ENCODING_NAME, "eos_token_id": EOS_ID, "vocab_size": VOCAB_SIZE},
        "tail_policy": "the last document drawn for a component is cut at its target; no padding",
        "columns": MDS_COLUMNS,
        "components": {
            name: {
                **vars(st),
                "sources": mixture.components[name].sources,
                "where": mixture.components[name].where,
                "max_epochs": mixture.components[name].max_epochs,
            }
            for name, st in plan.components.items()
        },
        "shards": {
            **shards,
            "compression": mixture.shards.compression,
            "size_limit_bytes": mixture.shards.size_limit_bytes,
        },
        "config_hash": mixture.config_hash(),
        "input_versions": input_versions,
        "input_tables": input_tables,
        "run_id": run_id,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "train_loader": loader,
    }
    (stage_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    (stage_dir / "train_loader.yaml").write_text(loader)
    return manifest


def published_versions(root: str, mixture: Mixture) -> list[dict]:
    path = mixture_dir(root, mixture) / VERSIONS
    return json.loads(path.read_text()) if path.is_file() else []


def publish(staging: Path, final: Path, *, entry: dict) -> None:
    """Rename the staged version into place (atomic on one filesystem) and list it in versions.json."""
    if final.exists():
        shutil.rmtree(staging, ignore_errors=True)
        raise StorageError(f"version {final} was published meanwhile by another run; nothing was changed")
    fault_point("mix:staged")
    os.rename(staging, final)
    fault_point("mix:renamed")  # published, not yet listed in versions.json
    list_version(final, entry=entry)
    for stale in final.parent.glob(f".tmp-{entry['version']}-*"):  # left by killed runs of this version
        shutil.rmtree(stale, ignore_errors=True)


def list_version(final: Path, *, entry: dict) -> None:
    """Add (or replace) the version's entry in versions.json, atomically."""
    listing = final.parent / VERSIONS
    versions = json.loads(listing.read_text()) if listing.is_file() else []
    versions = [v for v in versions if v["version"] != entry["version"]] + [entry]
    tmp = listing.with_suffix(f".{entry['version']}.tmp")
    tmp.write_text(json.dumps(versions, indent=2) + "\n")
    os.replace(tmp, listing)
