"""A class-data-sharing archive (AppCDS) of the local Spark JVM's classes, made once by set-up.

A local session's JVM loads and verifies some 15,000 classes from Spark's jars: about 2 s of its
start and 1 s of its first job on this machine (measured with and without the archive). The JVM
maps an archive of them instead. `python -m curate.class_archive` makes it for this interpreter's
pyspark and this Java by running the pipeline on the bundled sample; sessions curate starts itself
use it when it is there. The JVM checks the archive against its class path and flags and runs
without it when they differ.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

# Its lines (classes it skips while dumping, mismatches while mapping) would only be noise.
_QUIET = "-Xlog:cds*=off"
_dumping: Path | None = None  # set while `make` runs the sample


def _java() -> Path | None:
    """The `java` spark-submit runs: JAVA_HOME's, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    found = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    return Path(found).resolve() if found and os.path.exists(found) else None


def archive_path() -> Path | None:
    """Where the archive for this pyspark and this Java lives (None without either). Another Java
    build or reinstalled jars get a name of their own: the JVM would refuse the old archive
    silently, and set-up would not know to make a new one."""
    import pyspark

    java, jars = _java(), Path(pyspark.__file__).with_name("jars")
    if java is None or not jars.is_dir():
        return None
    key = f"{java}|{java.stat().st_mtime_ns}|{jars}|{jars.stat().st_mtime_ns}"
    return Path(sys.prefix) / "share" / "curate" / f"spark-{hashlib.sha256(key.encode()).hexdigest()[:16]}.jsa"


def java_options() -> str:
    """JVM options of a local session: map the archive when there is one."""
    if _dumping is not None:
        return f"-XX:ArchiveClassesAtExit={_dumping} {_QUIET}"
    path = archive_path()
    return f"-XX:SharedArchiveFile={path} {_QUIET}" if path is not None and path.is_file() else ""


def make() -> Path:
    """Run the pipeline on the bundled sample in a scratch root with the JVM dumping the classes
    it loaded, and put the archive in place once the JVM has exited (a truncated archive crashes
    the JVM that maps it, so it appears whole or not at all)."""
    global _dumping
    from pyspark import SparkContext

    from curate.cli import main

    path = archive_path()
    if path is None:
        raise SystemExit("class archive: no Java (JAVA_HOME or PATH) or no jars in the pyspark package")
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob("spark-*.jsa"):  # for another Java or pyspark: never mapped again
        stale.unlink()
    with tempfile.TemporaryDirectory(prefix="curate-cds-") as scratch:
        _dumping = Path(scratch) / "spark.jsa"
        if main(["run", "--root", str(Path(scratch) / "root")]) != 0:
            raise SystemExit("class archive: the sample run failed")
        gateway = SparkContext._gateway
        SparkContext.getOrCreate().stop()
        gateway.proc.stdin.close()  # the JVM exits on EOF, and dumps the archive as it does
        if gateway.proc.wait() != 0 or not _dumping.is_file():
            raise SystemExit("class archive: the JVM did not write it")
        os.replace(shutil.copy(_dumping, path.with_suffix(f".tmp{os.getpid()}")), path)
    return path


def main(argv: list[str]) -> int:
    """`--check`: exit 1 when the archive is not there yet; otherwise make it when it is not."""
    made = archive_path()
    if made is not None and made.is_file():
        print(f"class archive: {made}")
        return 0
    if "--check" in argv:
        return 1
    print(f"class archive: {make()}")
    return 0


if __name__ == "__main__":  # through the package's module: `_dumping` is read from there
    from curate.class_archive import main

    sys.exit(main(sys.argv[1:]))
