"""The class archive set-up makes is one the JVM of a local session can map, and sessions map it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pyspark

from curate import class_archive


def _made() -> Path:
    path = class_archive.archive_path()
    assert path is not None and path.is_file(), "no class archive: scripts/setup.sh makes it"
    return path


def _spark_submit_version(archive: Path, cwd: Path) -> int:
    """`spark-submit --version` in a JVM that must map `archive` (-Xshare:on: else it stops)."""
    home = Path(pyspark.__file__).parent
    return subprocess.run([str(home / "bin" / "spark-submit"), "--driver-java-options",
                           f"-XX:SharedArchiveFile={archive} -Xshare:on", "--version"],
                          env={**os.environ, "SPARK_HOME": str(home)}, cwd=cwd, capture_output=True).returncode


def test_the_archive_fits_sparks_jvm(tmp_path):
    archive = _made()
    assert _spark_submit_version(archive, tmp_path) == 0
    # The check can fail: an archive the JVM cannot map stops it.
    bad = tmp_path / "other.jsa"
    bad.write_bytes(archive.read_bytes()[:4096])
    assert _spark_submit_version(bad, tmp_path) != 0


def test_local_sessions_map_it(spark):
    runtime = spark.sparkContext._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean()
    assert f"-XX:SharedArchiveFile={_made()}" in list(runtime.getInputArguments())
