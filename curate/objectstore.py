"""Settings that point Spark (S3A) and delta-rs at an S3 endpoint; credentials stay in the environment.

No credential passes through these settings: S3A (with the provider set here), delta-rs, pyarrow and
boto3 each read AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) from the process
environment themselves, so a key never lands in a Spark or Hadoop conf, a log or a table. A Spark
session's JVM reads that environment when it starts: export it before the session starts.
Proven against s3proxy in tests/test_objectstore (scripts/objectstore.sh starts one).
"""

from __future__ import annotations


def s3a_conf(*, endpoint: str | None, region: str, path_style: bool) -> dict[str, str]:
    """Hadoop settings for S3A (prefix each key with `spark.hadoop.` in a SparkConf). `endpoint` None
    is AWS's own S3 in `region`; an S3-compatible server is usually reached with `path_style`."""
    conf = {
        # Only EMR's own filesystem serves s3:// elsewhere: let S3A serve it too.
        "fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "fs.AbstractFileSystem.s3.impl": "org.apache.hadoop.fs.s3a.S3A",
        # Without it the AWS SDK looks for the region, in the end at the instance-metadata address.
        "fs.s3a.endpoint.region": region,
        "fs.s3a.path.style.access": str(path_style).lower(),
    }
    if endpoint:
        # An S3-compatible server: the environment's keys (AWS SDK v2's provider). S3A's default chain
        # would also try fs.s3a.secret.key in the conf and the instance-metadata service, which is
        # right on AWS (instance roles) and is kept there.
        conf["fs.s3a.aws.credentials.provider"] = (
            "software.amazon.awssdk.auth.credentials.EnvironmentVariableCredentialsProvider")
        conf["fs.s3a.endpoint"] = endpoint
        conf["fs.s3a.connection.ssl.enabled"] = str(endpoint.startswith("https://")).lower()
    return conf


def spark_conf(*, endpoint: str | None, region: str, path_style: bool) -> dict[str, str]:
    """`s3a_conf` as SparkConf entries. Spark's Delta on s3:// and s3a:// then commits through its
    default S3SingleDriverLogStore: safe for one writing driver at a time per table only (no other
    process may commit to the table meanwhile; delta-rs writers included)."""
    return {f"spark.hadoop.{key}": value
            for key, value in s3a_conf(endpoint=endpoint, region=region, path_style=path_style).items()}


def delta_rs_options(*, endpoint: str | None, region: str) -> dict[str, str]:
    """delta-rs `storage_options` for s3:// and s3a:// tables. Commits need no locking provider: delta-rs
    1.x writes each commit with `If-None-Match: *`, which S3 (and s3proxy >= 4) refuse for an existing
    version, so concurrent writers conflict instead of overwriting one another."""
    options = {"AWS_REGION": region}
    if endpoint:
        options["AWS_ENDPOINT_URL"] = endpoint
        if endpoint.startswith("http://"):
            options["AWS_ALLOW_HTTP"] = "true"
    return options
