"""Mixture target vs realized shares, read from the manifests of the shard versions a run published."""

from __future__ import annotations

import json
from pathlib import Path

from curate.tokenize.publish import MANIFEST, VERSIONS


def version_dirs(root: str, runs: list[dict]) -> list[Path]:
    """The shard version the run's `mix` stage published or reused; without one, each mixture's latest."""
    for r in runs:
        if r["stage"] == "mix" and r["status"] == "succeeded" and r["message"] and Path(r["message"]).is_dir():
            return [Path(r["message"])]
    shards = Path(root) / "shards"
    if "://" in root or not shards.is_dir():
        return []
    out = []
    for listing in sorted(shards.glob(f"*/{VERSIONS}")):
        versions = json.loads(listing.read_text())
        if versions:
            out.append(listing.parent / versions[-1]["version"])
    return [d for d in out if d.is_dir()]


def mixture_stages(dirs: list[Path]) -> list[dict]:
    """One entry per curriculum stage: budget, realized tokens and each component's shares."""
    out = []
    for vdir in dirs:
        manifests = [json.loads(p.read_text()) for p in vdir.glob(f"*/{MANIFEST}")]
        for m in sorted(manifests, key=lambda m: m["stage_index"]):
            out.append({
                "mixture": m["mixture"], "version": m["version"], "stage": m["stage"], "seq_len": m["seq_len"],
                "budget_tokens": m["budget_tokens"], "tokens": m["tokens"], "samples": m["samples"],
                "path": str(vdir / m["stage"]),
                "components": [
                    {"name": name, "target_share": c["target_share"], "realized_share": c["realized_share"],
                     "tokens": c["tokens"], "documents": c["documents"], "epochs": c["epochs"]}
                    for name, c in sorted(m["components"].items())
                ],
            })
    return out
