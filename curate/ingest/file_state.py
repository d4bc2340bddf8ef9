"""What an input file looks like now (size, mtime, etag), stat'ed on the driver: ingest reads again
only the file tasks whose state differs from the one recorded when they were last read."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import NamedTuple

from curate.ingest.records import FileTask
from curate.storage import Storage, is_remote

# Object stores answer one request per file: stat them a few at a time.
_REMOTE_THREADS = 16


class FileState(NamedTuple):
    size: int
    mtime_ns: int
    etag: str | None  # an object store's entity tag (changes with the content); None on a local disk


# A path that cannot be stat'ed (a name that is not UTF-8 is listed escaped; ingest records it as
# `invalid_path`), or an object gone between listing and stat.
UNKNOWN = FileState(-1, -1, None)


def _local_state(path: str) -> FileState:
    """The link itself for a symbolic link (listing skips links; their target is not read)."""
    try:
        st = os.lstat(path.removeprefix("file://"))
    except OSError:
        return UNKNOWN
    return FileState(st.st_size, st.st_mtime_ns, None)


def _remote_state(path: str, storage: Storage) -> FileState:
    """One HEAD request: size, Last-Modified and ETag from the object's metadata."""
    filesystem, inner = storage.filesystem(path)
    try:
        with filesystem.open_input_file(inner) as f:
            meta = {k: v.decode() if isinstance(v, bytes) else v for k, v in f.metadata().items()}
            size = f.size()
    except OSError:
        return UNKNOWN
    modified = meta.get("Last-Modified")
    mtime_ns = int(datetime.fromisoformat(modified.replace("Z", "+00:00")).timestamp() * 1e9) if modified else 0
    return FileState(size, mtime_ns, meta.get("ETag"))


def file_states(tasks: list[FileTask], storage: Storage) -> dict[str, FileState]:
    """The state of each distinct input file of `tasks`."""
    files = sorted({t.input_file for t in tasks})
    remote = [f for f in files if is_remote(f)]
    states = {f: _local_state(f) for f in files if not is_remote(f)}
    if remote:
        with ThreadPoolExecutor(min(_REMOTE_THREADS, len(remote))) as pool:
            states.update(zip(remote, pool.map(lambda f: _remote_state(f, storage), remote)))
    return states
