"""Where curate's files live: a local folder, or an S3 object store (`s3://`, `s3a://`).

One `Storage` per run carries the object store's settings (endpoint, region, addressing; never a
credential) to every client that touches files: Spark (S3A, `spark_conf`), delta-rs
(`delta_rs_options`) and pyarrow (`filesystem`, used by curate's own tasks and the driver). It is
small and picklable, so Spark tasks get it with their function. Credentials come from each process's
environment or the cluster's provider chain (curate/objectstore.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import unquote, urlparse
from typing import TYPE_CHECKING, Mapping

from curate import objectstore

if TYPE_CHECKING:
    from pyarrow import fs

    from curate.schemas.config import StorageConfig

S3_SCHEMES = ("s3", "s3a")
DEFAULT_REGION = "us-east-1"


def scheme(uri: str) -> str | None:
    return uri.split("://", 1)[0].lower() if "://" in uri else None


def is_remote(uri: str) -> bool:
    return scheme(uri) not in (None, "file")


def local_path(uri: str) -> str:
    """The path of a local `uri`: a plain path, or a file: URI as Hadoop (file:/a%20b) or others
    (file:///a%20b) write it."""
    return unquote(urlparse(uri).path) if uri.startswith("file:") else uri


def join(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *parts])


def delete_tree(filesystem: fs.FileSystem, path: str) -> None:
    """Delete the files under `path`, then its folders deepest first, one request each: S3-compatible
    servers such as s3proxy refuse the multi-object delete pyarrow's delete_dir sends for a folder
    with anything under it (no Content-MD5), directory markers S3A leaves included."""
    from pyarrow.fs import FileSelector

    entries = filesystem.get_file_info(FileSelector(path, recursive=True, allow_not_found=True))
    for info in sorted(entries, key=lambda i: (i.is_file, i.path.count("/")), reverse=True):
        (filesystem.delete_file if info.is_file else filesystem.delete_dir)(info.path)
    if filesystem.get_file_info(path).type.name == "Directory":
        filesystem.delete_dir(path)


@dataclass(frozen=True)
class Storage:
    """An S3 endpoint (None: AWS's own), its region, and path-style addressing (S3-compatible servers)."""

    endpoint: str | None = None
    region: str = DEFAULT_REGION
    path_style: bool = False

    @classmethod
    def from_config(cls, cfg: StorageConfig | None, environ: Mapping[str, str] = os.environ) -> Storage:
        """The config's settings, else the standard AWS environment (AWS_ENDPOINT_URL, AWS_REGION)."""
        endpoint = (cfg.endpoint if cfg else None) or environ.get("AWS_ENDPOINT_URL") or None
        region = (cfg.region if cfg else None) or environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
        path_style = cfg.path_style if cfg and cfg.path_style is not None else endpoint is not None
        return cls(endpoint=endpoint, region=region or DEFAULT_REGION, path_style=path_style)

    def spark_conf(self) -> dict[str, str]:
        """SparkConf entries for S3A at this endpoint (s3:// mapped to S3A too)."""
        return objectstore.spark_conf(endpoint=self.endpoint, region=self.region, path_style=self.path_style)

    def delta_rs_options(self, uri: str) -> dict[str, str] | None:
        """delta-rs `storage_options` for the table at `uri` (None for a local one, and for stores other
        than S3, which delta-rs configures from their own environment variables)."""
        if scheme(uri) not in S3_SCHEMES:
            return None
        return objectstore.delta_rs_options(endpoint=self.endpoint, region=self.region)

    def filesystem(self, uri: str) -> tuple[fs.FileSystem, str]:
        """A pyarrow filesystem and the path in it of `uri`: a local path, s3:// or s3a:// at this
        endpoint, or another store pyarrow opens from its URI alone (gs://)."""
        from pyarrow import fs

        if not is_remote(uri):
            return fs.LocalFileSystem(), os.path.abspath(local_path(uri))
        if scheme(uri) not in S3_SCHEMES:
            return fs.FileSystem.from_uri(uri)
        options = {"region": self.region, "force_virtual_addressing": not self.path_style}
        if self.endpoint:
            host = self.endpoint.split("://", 1)[-1].rstrip("/")
            options.update(endpoint_override=host, scheme="http" if self.endpoint.startswith("http://") else "https")
        return fs.S3FileSystem(**options), uri.split("://", 1)[1]
