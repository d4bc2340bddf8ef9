"""Spark (S3A), Spark's Delta, delta-rs, pyarrow and mosaicml-streaming against a real S3 server
(s3proxy from scripts/objectstore.sh), each checked by reading back through another client."""

from __future__ import annotations

import hashlib
import subprocess
import threading
from pathlib import Path

import boto3
import numpy as np
import pytest
from botocore.exceptions import ClientError

from test_objectstore.server import BUCKET, SCRIPT
from test_objectstore.spark_job import MULTIPART_BYTES, multipart_payload

# The tests of the Spark job (about 95 s: its own session, S3A and Delta on the server) are opt-in.
spark_test = pytest.mark.integration


def _keys(prefix: str) -> list[str]:
    s3 = boto3.client("s3")
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))


def test_start_is_idempotent_and_prints_only_exports(objectstore):
    again = subprocess.run([str(SCRIPT), "start", BUCKET], env=objectstore["script_env"], capture_output=True,
                           text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    # Compared by digest: a failing comparison would print the secret.
    assert hashlib.sha256(again.stdout.encode()).digest() == hashlib.sha256(objectstore["stdout"].encode()).digest()
    names = [line.split("=", 1)[0] for line in again.stdout.splitlines()]
    assert names == ["export AWS_ENDPOINT_URL", "export AWS_ACCESS_KEY_ID", "export AWS_SECRET_ACCESS_KEY",
                     "export AWS_REGION", "export AWS_DEFAULT_REGION", "export AWS_ALLOW_HTTP",
                     "export S3_ENDPOINT_URL", "export AWS_EC2_METADATA_DISABLED"]
    assert objectstore["env"]["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")


def test_the_server_refuses_a_wrong_secret(aws_environ):
    s3 = boto3.client("s3", aws_access_key_id=aws_environ["AWS_ACCESS_KEY_ID"], aws_secret_access_key="not-the-secret")
    with pytest.raises(ClientError) as refused:
        s3.list_objects_v2(Bucket=BUCKET)
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


@spark_test
def test_spark_s3a_writes_and_reads_parquet_at_s3a_and_s3(spark_job, aws_environ):
    for scheme in ("s3a", "s3"):
        assert spark_job["results"][f"parquet_{scheme}"] == {"rows": 500, "id_sum": sum(range(500))}
        # Seen by another client: the committer's _temporary folder went with S3A's bulk delete.
        keys = _keys(f"parquet-{scheme}/")
        assert [k for k in keys if k.endswith(".parquet")]
        assert not [k for k in keys if "_temporary" in k]


@spark_test
def test_s3a_multipart_upload(spark_job, aws_environ):
    s3 = boto3.client("s3")
    head = s3.head_object(Bucket=BUCKET, Key="multipart/blob.bin")
    assert head["ContentLength"] == MULTIPART_BYTES
    assert head["ETag"].strip('"').endswith("-3")  # S3's ETag of an object uploaded in 3 parts
    assert s3.get_object(Bucket=BUCKET, Key="multipart/blob.bin")["Body"].read() == multipart_payload()


@spark_test
def test_spark_delta_table_read_by_delta_rs(spark_job, aws_environ):
    from deltalake import DeltaTable

    from curate.objectstore import delta_rs_options

    assert spark_job["results"]["spark_delta_rows"] == 1010
    options = delta_rs_options(endpoint=aws_environ["AWS_ENDPOINT_URL"], region=aws_environ["AWS_REGION"])
    table = DeltaTable(f"s3://{BUCKET}/spark-delta", storage_options=options)
    ids = sorted(table.to_pyarrow_table(columns=["id"])["id"].to_pylist())
    assert table.version() == 1
    assert ids == list(range(1000)) + list(range(1000, 1010))
    # The same with the environment alone: delta-rs reads endpoint, keys and AWS_ALLOW_HTTP from it.
    assert DeltaTable(f"s3a://{BUCKET}/spark-delta").version() == 1


@spark_test
def test_delta_rs_table_read_by_spark_delta(spark_job, delta_rs_rows):
    assert spark_job["results"]["delta_rs_table"] == [[r["id"], r["lang"]] for r in delta_rs_rows.to_pylist()]


@spark_test
def test_pyarrow_s3filesystem_lists_and_reads(spark_job, aws_environ):
    import pyarrow.parquet as pq
    from pyarrow import fs

    endpoint = aws_environ["AWS_ENDPOINT_URL"]
    s3 = fs.S3FileSystem(endpoint_override=endpoint.removeprefix("http://"), scheme="http",
                         region=aws_environ["AWS_REGION"])  # keys: from the environment
    listed = s3.get_file_info(fs.FileSelector(f"{BUCKET}/parquet-s3a", recursive=True))
    assert sorted(f.path.removeprefix(f"{BUCKET}/") for f in listed if f.path.endswith(".parquet")) == \
        [k for k in _keys("parquet-s3a/") if k.endswith(".parquet")]
    table = pq.read_table(f"{BUCKET}/parquet-s3a", filesystem=s3)
    assert sorted(table["id"].to_pylist()) == list(range(500))


def test_streaming_reads_mds_shards_from_the_bucket(aws_environ, tmp_path):
    from streaming import StreamingDataset

    from curate.tokenize.mds_writer import TokenShardWriter

    rng = np.random.default_rng(7)
    samples = [(rng.integers(0, 100_000, size=int(n), dtype=np.int32), ["web", "code"][i % 2])
               for i, n in enumerate(rng.integers(8, 400, size=300))]
    writer = TokenShardWriter(tmp_path / "mds", compression="zstd:3", size_limit=1 << 14)
    for tokens, source in samples:
        writer.write(tokens, source)
    writer.finish()
    assert writer.footprint()[1] > 3  # several shards, each a download
    s3 = boto3.client("s3")
    for path in sorted((tmp_path / "mds").iterdir()):
        s3.upload_file(str(path), BUCKET, f"mds/v1/{path.name}")

    ds = StreamingDataset(remote=f"s3://{BUCKET}/mds/v1", local=str(tmp_path / "cache"), shuffle=False, batch_size=1)
    got = [ds[i] for i in range(ds.num_samples)]
    assert len(got) == len(samples)
    for (tokens, source), sample in zip(samples, got):
        assert sample["source"] == source
        assert np.array_equal(sample["tokens"], tokens)


def test_delete_tree_removes_files_and_directory_markers(aws_environ):
    """s3proxy refuses the multi-object delete pyarrow's delete_dir sends for a folder with anything
    under it; curate's delete_tree deletes one key at a time, S3A's empty-folder markers included."""
    from curate.storage import Storage, delete_tree

    s3 = boto3.client("s3")
    for key in ("tree/a/x.bin", "tree/a/b/y.bin", "tree/a/b/c/", "tree/a/d/", "tree-kept/z.bin"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"" if key.endswith("/") else b"1")
    delete_tree(*Storage.from_config(None).filesystem(f"s3://{BUCKET}/tree/a"))
    assert _keys("tree/a") == []
    assert _keys("tree-kept/") == ["tree-kept/z.bin"]


def test_conditional_put_refuses_an_existing_key_and_admits_one_racer(aws_environ):
    """What delta-rs commits (and a publisher's pointer) rely on: If-None-Match: * is atomic."""
    s3 = boto3.client("s3")
    s3.put_object(Bucket=BUCKET, Key="cond/taken", Body=b"first")
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket=BUCKET, Key="cond/taken", Body=b"second", IfNoneMatch="*")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert s3.get_object(Bucket=BUCKET, Key="cond/taken")["Body"].read() == b"first"

    for trial in range(5):
        key, winners = f"cond/race-{trial}", []

        def claim(writer: int, key=key, winners=winners) -> None:
            try:
                s3.put_object(Bucket=BUCKET, Key=key, Body=f"writer {writer}".encode() * 1000, IfNoneMatch="*")
                winners.append(writer)
            except ClientError as e:
                assert e.response["ResponseMetadata"]["HTTPStatusCode"] in (409, 412)

        threads = [threading.Thread(target=claim, args=(w,)) for w in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(winners) == 1
        assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == f"writer {winners[0]}".encode() * 1000


def test_the_secret_stays_out_of_the_servers_files_and_output(objectstore):
    secret = objectstore["env"]["AWS_SECRET_ACCESS_KEY"]
    assert len(secret) >= 40
    state = objectstore["state"]
    assert secret not in (state / "s3proxy.log").read_text()
    assert secret not in objectstore["stderr"]
    # Only the files that must hold it do, readable by their owner alone (the data folder holds none).
    holders = sorted(p.name for p in state.rglob("*") if p.is_file() and secret.encode() in p.read_bytes())
    assert holders == ["credentials", "s3proxy.properties"]
    assert {(state / name).stat().st_mode & 0o777 for name in holders} == {0o600}


@spark_test
def test_the_secret_stays_out_of_the_spark_jobs_output(objectstore, spark_job):
    assert objectstore["env"]["AWS_SECRET_ACCESS_KEY"] not in spark_job["output"]


def test_s3_jars_match_pysparks_hadoop_without_the_sdk_bundle():
    import pyspark

    from curate.jars import installed, main

    jars = installed("s3")
    hadoop = [p.name for p in (Path(pyspark.__file__).parent / "jars").glob("hadoop-client-api-*.jar")]
    assert len(hadoop) == 1
    assert f"org.apache.hadoop_hadoop-aws-{hadoop[0].removeprefix('hadoop-client-api-')}" in [j.name for j in jars]
    assert {"s3", "s3-transfer-manager", "sts"} <= {j.name.split("_", 1)[1].rsplit("-", 1)[0] for j in jars}
    assert not [j for j in jars if "bundle" in j.name]
    assert sum(j.stat().st_size for j in jars) < 30 << 20
    assert main(["path", "delta,s3"]) == 0
