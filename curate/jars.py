"""JVM packages the Spark sessions curate starts can load: fetched from Maven Central once, by set-up.

Features: `delta` (Spark's Delta Lake) and `s3` (hadoop-aws's S3A filesystem, for s3a:// and s3:// paths).
`python -m curate.jars install delta` resolves the Maven coordinates of a feature with Spark's own
resolver (Ivy, as `spark-submit --packages` does) and copies into `<venv>/share/curate/jars/<feature>/`
the jars that Spark's own jars folder does not already hold (Ivy also brings older copies of
Jackson, Parquet, Hadoop... which would only shadow nothing). Runs afterwards need no network: a
session adds those files with `spark.jars`, and `--jars` hands the same files to a cluster.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from curate.errors import ConfigError

_SCALA = "2.13"
_MANIFEST = "manifest.json"


def _spark_version() -> str:
    import pyspark

    return pyspark.__version__


def _hadoop_version() -> str:
    """The Hadoop inside pyspark's jars (`hadoop-client-api-3.5.0.jar`): hadoop-aws must match it."""
    found = sorted((_spark_home() / "jars").glob("hadoop-client-api-*.jar"))
    if not found:
        raise ConfigError(f"no hadoop-client-api jar in {_spark_home() / 'jars'}: cannot match hadoop-aws to "
                          "this pyspark; reinstall pyspark (scripts/setup.sh)")
    return found[-1].name.removeprefix("hadoop-client-api-").removesuffix(".jar")


def coordinates(feature: str) -> list[str]:
    """The Maven coordinates of `feature`, matched to the installed Python packages."""
    if feature == "delta":
        spark_minor = ".".join(_spark_version().split(".")[:2])
        return [f"io.delta:delta-spark_{spark_minor}_{_SCALA}:{metadata.version('delta-spark')}"]
    if feature == "s3":
        # S3A (s3a:// and, mapped by curate.objectstore.spark_conf, s3://) with the AWS SDK v2 bundle
        # hadoop-aws declares.
        return [f"org.apache.hadoop:hadoop-aws:{_hadoop_version()}"]
    raise ConfigError(f"unknown JVM package feature {feature!r}; known: delta, s3")


def jar_dir(feature: str) -> Path:
    return Path(sys.prefix) / "share" / "curate" / "jars" / feature


def installed(feature: str) -> list[Path]:
    """The installed jars of `feature` when they were resolved for its current coordinates and this
    Spark; empty otherwise (never installed, or the Python packages changed since)."""
    folder = jar_dir(feature)
    try:
        manifest = json.loads((folder / _MANIFEST).read_text())
    except (OSError, ValueError):
        return []
    if (manifest.get("coordinates") != coordinates(feature) or manifest.get("spark") != _spark_version()
            or manifest.get("excluded", []) != _EXCLUDED.get(feature, [])):
        return []
    jars = [folder / name for name in manifest["jars"]]
    return jars if all(j.is_file() for j in jars) else []


def _spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def _artifact(jar_name: str) -> str:
    """`jackson-core` of `jackson-core-2.21.2.jar` (Spark's jars folder)."""
    return re.sub(r"-\d[\w.+-]*\.jar$", "", jar_name)


def _ivy_artifact(jar_name: str) -> str:
    """`jackson-core` of `com.fasterxml.jackson.core_jackson-core-2.13.5.jar` (Ivy names `<org>_<file>`)."""
    return _artifact(jar_name.split("_", 1)[1])


# hadoop-aws declares the whole AWS SDK v2 bundle: every AWS service's client, 654 MiB for 2.35.4 (hadoop
# 3.5.0), which `--jars` would copy to every executor. S3A needs these of its modules (13 MiB with what
# they need and Spark lacks; tests/test_objectstore runs S3A, its multipart uploads and Delta on them).
_AWS_SDK_BUNDLE = "software.amazon.awssdk:bundle"
_AWS_SDK_MODULES = ("s3", "s3-transfer-manager", "sts")
# Packages a feature's resolution leaves out (recorded in its manifest: an install without them is stale).
_EXCLUDED = {"s3": [_AWS_SDK_BUNDLE]}


def _resolve(coords: list[str], scratch: Path, *, exclude: list[str]) -> list[Path]:
    """Spark's `--packages` resolution of `coords` into the Ivy folder `scratch/ivy`: the jars it fetched."""
    spark_home = _spark_home()
    empty = scratch / "resolve.py"
    empty.write_text("")
    env = {**os.environ, "SPARK_HOME": str(spark_home), "PYSPARK_PYTHON": sys.executable}
    cmd = [str(spark_home / "bin" / "spark-submit"), "--conf", f"spark.jars.ivy={scratch}/ivy",
           "--packages", ",".join(coords)]
    if exclude:
        cmd += ["--exclude-packages", ",".join(exclude)]
    done = subprocess.run([*cmd, str(empty)], env=env, capture_output=True, text=True)
    resolved = sorted((scratch / "ivy" / "jars").glob("*.jar"))
    if done.returncode != 0 or not resolved:
        raise ConfigError(f"could not fetch {', '.join(coords)} from Maven Central (spark-submit --packages "
                          f"exited {done.returncode}):\n{done.stderr[-3000:]}")
    return resolved


def _declared_aws_sdk(scratch: Path) -> str:
    """The AWS SDK version the resolved hadoop-aws declares (its Ivy descriptor names the bundle)."""
    for descriptor in (scratch / "ivy" / "cache" / "org.apache.hadoop" / "hadoop-aws").glob("ivy-*.xml"):
        found = re.search(r'<dependency org="software\.amazon\.awssdk" name="bundle" rev="([^"]+)"',
                          descriptor.read_text())
        if found:
            return found.group(1)
    raise ConfigError(f"hadoop-aws's descriptor in {scratch} names no {_AWS_SDK_BUNDLE}: cannot tell which AWS SDK "
                      "modules S3A needs; check the hadoop-aws version in curate/jars.py")


def install(feature: str) -> list[Path]:
    """Resolve `feature` with Spark's resolver into a scratch Ivy folder and keep the jars Spark lacks."""
    coords = coordinates(feature)
    provided = {_artifact(j.name) for j in (_spark_home() / "jars").glob("*.jar")}
    with tempfile.TemporaryDirectory(prefix="curate-ivy-") as tmp:
        scratch = Path(tmp)
        excluded = _EXCLUDED.get(feature, [])
        resolved = _resolve(coords, scratch, exclude=excluded)
        if feature == "s3":
            sdk = _declared_aws_sdk(scratch)
            resolved = _resolve([*coords, *(f"software.amazon.awssdk:{m}:{sdk}" for m in _AWS_SDK_MODULES)],
                                scratch, exclude=excluded)
        keep = [j for j in resolved if _ivy_artifact(j.name) not in provided]
        folder = jar_dir(feature)
        staging = folder.with_name(f".{feature}.tmp{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for jar in keep:
            shutil.copy2(jar, staging / jar.name)
        manifest = {"coordinates": coords, "spark": _spark_version(), "excluded": excluded, "jars": [j.name for j in keep],
                    "provided_by_spark": [j.name for j in resolved if j not in keep]}
        (staging / _MANIFEST).write_text(json.dumps(manifest, indent=1))
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(staging, folder)
    return installed(feature)


def main(argv: list[str]) -> int:
    """`install FEATURE...`: fetch what is not installed yet; `--check FEATURE...`: exit 1 if missing;
    `path FEATURE...`: print the installed jars, comma-separated (for `--jars`). Features are separate
    arguments or comma-separated (`path delta,s3`)."""
    if len(argv) < 2 or argv[0] not in ("install", "--check", "path"):
        print("usage: python -m curate.jars install|--check|path FEATURE...", file=sys.stderr)
        return 2
    command = argv[0]
    features = [f for arg in argv[1:] for f in arg.split(",") if f]
    if command == "path":
        print(",".join(str(j) for f in features for j in installed(f)))
        return 0
    missing = [f for f in features if not installed(f)]
    if command == "--check":
        return 1 if missing else 0
    for feature in missing:
        jars = install(feature)
        print(f"jars: {feature}: {len(jars)} jars in {jar_dir(feature)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
