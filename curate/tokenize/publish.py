"""Shard output layout, manifests and atomic publication, on a local folder or an object store.

`<root>/shards/<mixture>/<version>/<stage>/` holds one stage's MDS dataset (index.json plus one
sub-directory of shards per writer task), `manifest.json` and `train_loader.yaml`. A version is
the hash of the mixture config, the input tables' identities (Delta table id) and versions and the
plan version (the rules that turn them into samples), so the same inputs and mixture give the same
version (the same bytes) and an edit, new data or a table created again (its versions restart at 0)
give a new one beside the old.

Publication (`Shelf`): a version is published when its pointer `_versions/<version>.json` exists,
written once the version's every file is; `versions.json` lists the published versions (rewritten
from the pointers after each publication, and again until it holds every pointer: concurrent
publishers converge). On a local folder a run writes its version under
`.tmp-<version>-<run>/` and renames it into place first, so its folder appears whole or not at all.
An object store has no rename: a run writes the version's files in place, index.json and the
manifests after every shard; a killed run leaves files no pointer names, and its rerun writes the
same bytes over them. Either way the earlier published versions are never touched.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import datetime, timezone

import yaml

from curate.errors import StorageError
from curate.faults import fault_point
from curate.schemas.mixture import Mixture
from curate.storage import Storage, delete_tree, is_remote, join
from curate.tokenize.encoder import ENCODING_NAME, EOS_ID, VOCAB_SIZE
from curate.tokenize.mds_writer import COLUMNS as MDS_COLUMNS
from curate.tokenize.realize import PLAN_VERSION, StagePlan

MANIFEST = "manifest.json"
MEMBERS_FILE = "documents.parquet"  # the documents of a stage: doc_id, component, tokens (for `curate audit`)
VERSIONS = "versions.json"
POINTERS = "_versions"
_LISTING_ROUNDS = 5  # rewrites of versions.json while publishers race


class Shelf:
    """The shard versions of one mixture under a storage root: `<root>/shards/<mixture>/`."""

    def __init__(self, root: str, mixture: str, *, storage: Storage = Storage()):
        self.uri = join(root, "shards", mixture)
        self.storage = storage
        self.fs, self.path = storage.filesystem(self.uri)

    def version_uri(self, version: str) -> str:
        return join(self.uri, version)

    def read_json(self, rel: str):
        with self.fs.open_input_stream(join(self.path, rel), compression=None) as f:
            return json.loads(f.read())

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Write a file of the shelf (whole, in one request on an object store)."""
        path = join(self.path, rel)
        self.fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
        with self.fs.open_output_stream(path, compression=None) as f:
            f.write(data)

    def exists(self, rel: str) -> bool:
        from pyarrow.fs import FileType

        return self.fs.get_file_info(join(self.path, rel)).type != FileType.NotFound

    def versions(self) -> list[dict]:
        """The published versions' entries in publication order: the pointers, and versions.json's
        entries (roots published before pointers existed)."""
        from pyarrow.fs import FileSelector

        entries = {e["version"]: e for e in (self.read_json(VERSIONS) if self.exists(VERSIONS) else [])}
        selector = FileSelector(join(self.path, POINTERS), allow_not_found=True)
        for info in self.fs.get_file_info(selector):
            if info.is_file and info.base_name.endswith(".json"):
                entry = self.read_json(f"{POINTERS}/{info.base_name}")
                entries[entry["version"]] = entry
        return sorted(entries.values(), key=lambda e: (e.get("published_at", ""), e["version"]))

    def is_published(self, version: str) -> bool:
        return self.exists(f"{POINTERS}/{version}.json") or any(e["version"] == version for e in self.versions())

    def unpublished(self) -> list[str]:
        """The folders (filesystem paths) of versions no pointer publishes: what mix runs killed
        before publishing left (local `.tmp-<version>-<run>/` staging, a version written in place on
        an object store), or what a run writing now has written so far."""
        from pyarrow.fs import FileType

        published = {e["version"] for e in self.versions()}
        return [info.path for info in self.fs.get_file_info(_selector(self.path))
                if info.type == FileType.Directory and info.base_name != POINTERS and info.base_name not in published]

    def writing_uri(self, version: str, run_id: str) -> str:
        """Where a run writes the version's files: a staging folder it renames into place (local), or
        the version's own place (object store: no rename)."""
        return self.version_uri(version) if is_remote(self.uri) else join(self.uri, f".tmp-{version}-{run_id}")

    def discard(self, written: str) -> None:
        """Remove what a failed run wrote: its local staging folder. On an object store the files stay
        for the rerun to overwrite (no pointer names them, and the same version has the same bytes)."""
        if not is_remote(self.uri):
            shutil.rmtree(self.storage.filesystem(written)[1], ignore_errors=True)

    def publish(self, written: str, *, entry: dict) -> None:
        """Make the version written at `written` the published `entry["version"]`."""
        version = entry["version"]
        if written != self.version_uri(version):  # a local staging folder: rename it into place
            final = join(self.path, version)
            if self.exists(version):
                self.discard(written)
                raise StorageError(f"version {self.version_uri(version)} was published meanwhile by another run; "
                                   "nothing was changed")
            fault_point("mix:staged")
            self.fs.move(self.storage.filesystem(written)[1], final)
        fault_point("mix:renamed")  # in place, its pointer not written
        self.list_version(entry)
        if not is_remote(self.uri):
            for stale in self.fs.get_file_info(_selector(self.path)):  # left by killed runs of this version
                if stale.base_name.startswith(f".tmp-{version}-"):
                    delete_tree(self.fs, stale.path)

    def list_version(self, entry: dict) -> None:
        """Write the version's pointer, then versions.json from every pointer until it holds them all."""
        entry = {**entry, "published_at": datetime.now(timezone.utc).isoformat(timespec="microseconds")}
        self.write_bytes(f"{POINTERS}/{entry['version']}.json", json.dumps(entry, indent=2).encode() + b"\n")
        for _ in range(_LISTING_ROUNDS):
            listed = self.versions()
            self._write_listing(listed)
            if [e["version"] for e in self.versions()] == [e["version"] for e in listed]:
                return

    def _write_listing(self, versions: list[dict]) -> None:
        data = json.dumps(versions, indent=2).encode() + b"\n"
        if is_remote(self.uri):  # one PUT: readers see the old object or the new one
            self.write_bytes(VERSIONS, data)
            return
        tmp = f"{VERSIONS}.{hashlib.sha256(data).hexdigest()[:12]}.tmp"
        self.write_bytes(tmp, data)
        self.fs.move(join(self.path, tmp), join(self.path, VERSIONS))


def _selector(path: str):
    from pyarrow.fs import FileSelector

    return FileSelector(path, allow_not_found=True)


def version_of(mixture: Mixture, input_versions: dict[str, int], input_tables: dict[str, str]) -> str:
    """The shard version: the mixture, the inputs and the rules that realize them (PLAN_VERSION).
    `input_tables`: each input table's Delta table id, which tells a table deleted and written
    again (same version numbers, other rows) from the one an older version was drawn from."""
    blob = json.dumps({"mixture": mixture.config_hash(), "inputs": input_versions, "tables": input_tables,
                       "plan": PLAN_VERSION},
                      sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def train_loader_yaml(stage_dir: str, *, seq_len: int, mixture: str, version: str, stage: str) -> str:
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
    stage_dir: str,
    plan: StagePlan,
    *,
    storage: Storage,
    mixture: Mixture,
    published_dir: str,
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
        "plan_version": PLAN_VERSION,
        "warnings": plan.warnings,
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
    fs, path = storage.filesystem(stage_dir)
    for name, text in ((MANIFEST, json.dumps(manifest, indent=2, sort_keys=False) + "\n"), ("train_loader.yaml", loader)):
        with fs.open_output_stream(join(path, name), compression=None) as f:
            f.write(text.encode())
    return manifest
