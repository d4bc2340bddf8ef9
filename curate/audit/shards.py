"""The documents of the latest published shard version of a mixture (recorded by `curate mix`)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from curate.schemas.mixture import Mixture
from curate.tokenize.publish import MANIFEST, mixture_dir, published_versions

MEMBERS_FILE = "documents.parquet"  # written by curate.jobs.mix into every stage folder


@dataclass(frozen=True)
class ShardVersion:
    version: str
    input_versions: dict[str, int]
    members: DataFrame | None  # (stage, doc_id, component, tokens); None: not recorded
    documents: dict[tuple[str, str], int]  # (stage, component) -> documents, from the manifests


def latest_shard_version(spark: SparkSession, root: str, mixture: Mixture) -> ShardVersion | None:
    versions = published_versions(root, mixture)
    if not versions:
        return None
    entry = versions[-1]
    vdir = mixture_dir(root, mixture) / entry["version"]
    frames, documents = [], {}
    for stage in entry["stages"]:
        manifest = json.loads((vdir / stage / MANIFEST).read_text())
        documents.update({(stage, c): s["documents"] for c, s in manifest["components"].items()})
        path = vdir / stage / MEMBERS_FILE
        frames.append(spark.read.parquet(str(path)).withColumn("stage", F.lit(stage)) if path.is_file() else None)
    members = None
    if frames and all(f is not None for f in frames):
        members = frames[0]
        for f in frames[1:]:
            members = members.unionByName(f)
    return ShardVersion(entry["version"], entry["input_versions"], members, documents)
