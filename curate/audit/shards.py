"""The documents of the latest published shard version of a mixture (recorded by `curate mix`)."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from curate.schemas.mixture import Mixture
from curate.storage import Storage, join
from curate.tokenize.publish import MANIFEST, MEMBERS_FILE, Shelf


@dataclass(frozen=True)
class ShardVersion:
    version: str
    input_versions: dict[str, int]
    members: DataFrame | None  # (stage, doc_id, component, tokens); None: not recorded
    documents: dict[tuple[str, str], int]  # (stage, component) -> documents, from the manifests


def latest_shard_version(spark: SparkSession, root: str, mixture: Mixture, *, storage: Storage) -> ShardVersion | None:
    shelf = Shelf(root, mixture.name, storage=storage)
    versions = shelf.versions()
    if not versions:
        return None
    entry = versions[-1]
    frames, documents = [], {}
    for stage in entry["stages"]:
        manifest = shelf.read_json(f"{entry['version']}/{stage}/{MANIFEST}")
        documents.update({(stage, c): s["documents"] for c, s in manifest["components"].items()})
        rel = f"{entry['version']}/{stage}/{MEMBERS_FILE}"
        frames.append(spark.read.parquet(join(shelf.version_uri(entry["version"]), stage, MEMBERS_FILE))
                      .withColumn("stage", F.lit(stage)) if shelf.exists(rel) else None)
    members = None
    if frames and all(f is not None for f in frames):
        members = frames[0]
        for f in frames[1:]:
            members = members.unionByName(f)
    return ShardVersion(entry["version"], entry["input_versions"], members, documents)
