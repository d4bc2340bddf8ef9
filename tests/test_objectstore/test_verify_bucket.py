"""`curate verify --root s3://...`: the bundled sample's published shards, uploaded to the S3 server,
read back from the bucket with streaming.StreamingDataset (remote=, local= a cache)."""

from __future__ import annotations

import json

import boto3
import pytest

from curate.cli import main
from curate.tokenize.publish import VERSIONS
from test_objectstore.server import BUCKET


def upload(folder, prefix: str, *, truncate: str | None = None) -> None:
    """Every file under `folder` to s3://BUCKET/prefix/..., the one named `truncate` cut in half."""
    s3 = boto3.client("s3")
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        key = path.relative_to(folder).as_posix()
        data = path.read_bytes()
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}/{key}", Body=data[: len(data) // 2] if key == truncate else data)


@pytest.fixture(scope="module")
def latest(sample_run):
    mdir = sample_run["root"] / "shards" / "sample"
    return json.loads((mdir / VERSIONS).read_text())[-1]["version"]


@pytest.mark.parametrize("scheme", ["s3", "s3a"])
def test_verify_reads_the_shards_from_the_bucket(sample_run, latest, aws_environ, scheme, tmp_path, capsys, caplog):
    upload(sample_run["root"], f"verify-{scheme}")
    cache = tmp_path / "cache"
    rc = main(["verify", "--config", str(sample_run["config"]), "--root", f"{scheme}://{BUCKET}/verify-{scheme}",
               "--cache", str(cache)])
    assert rc == 0, caplog.text
    assert f"shard version {latest} of mixture 'sample'" in capsys.readouterr().out
    assert sorted(p.name for p in (cache / "sample" / latest).iterdir() if p.is_dir()) == ["anneal", "pretrain"]
    assert list((cache / "sample" / latest / "pretrain").glob("0*/shard.*"))  # downloaded from the bucket


def test_verify_rejects_a_truncated_shard_in_the_bucket(sample_run, latest, aws_environ, caplog):
    stage = sample_run["root"] / "shards" / "sample" / latest / "pretrain"
    (shard,) = stage.glob("0*/shard.*.mds.zstd")
    key = shard.relative_to(sample_run["root"]).as_posix()
    upload(sample_run["root"], "verify-truncated", truncate=key)
    rc = main(["verify", "--config", str(sample_run["config"]), "--root", f"s3://{BUCKET}/verify-truncated"])
    assert rc == 2
    assert f"pretrain: shard {shard.parent.name}/{shard.name} (samples 0-" in caplog.text
    assert "anneal:" not in caplog.text
