"""Mixture target vs realized shares, read from the manifests of the shard versions a run published."""

from __future__ import annotations

import json

from curate.storage import Storage, join
from curate.tokenize.publish import MANIFEST, Shelf


def version_dirs(root: str, runs: list[dict], *, storage: Storage) -> list[str]:
    """The shard version the run's `mix` stage published or reused; without one, each mixture's latest."""
    for r in runs:
        if r["stage"] == "mix" and r["status"] == "succeeded" and r["message"]:
            return [r["message"]]
    from pyarrow.fs import FileSelector

    fs, shards = storage.filesystem(join(root, "shards"))
    out = []
    for mixture in fs.get_file_info(FileSelector(shards, allow_not_found=True)):
        if mixture.is_file:
            continue
        shelf = Shelf(root, mixture.base_name, storage=storage)
        versions = shelf.versions()
        if versions:
            out.append(shelf.version_uri(versions[-1]["version"]))
    return out


def mixture_stages(dirs: list[str], *, storage: Storage) -> list[dict]:
    """One entry per curriculum stage: budget, realized tokens and each component's shares."""
    from pyarrow.fs import FileSelector

    out = []
    for vdir in dirs:
        fs, path = storage.filesystem(vdir)
        manifests = []
        for stage in fs.get_file_info(FileSelector(path, allow_not_found=True)):
            try:
                with fs.open_input_stream(join(stage.path, MANIFEST), compression=None) as f:
                    manifests.append(json.loads(f.read()))
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                continue
        for m in sorted(manifests, key=lambda m: m["stage_index"]):
            out.append({
                "mixture": m["mixture"], "version": m["version"], "stage": m["stage"], "seq_len": m["seq_len"],
                "budget_tokens": m["budget_tokens"], "tokens": m["tokens"], "samples": m["samples"],
                "path": join(vdir, m["stage"]),
                "components": [
                    {"name": name, "target_share": c["target_share"], "realized_share": c["realized_share"],
                     "tokens": c["tokens"], "documents": c["documents"], "epochs": c["epochs"]}
                    for name, c in sorted(m["components"].items())
                ],
            })
    return out
