"""The run lock: one `curate run` or stage command at a time on a storage root.

On a local or mounted root the lock is `fcntl.flock` on `<root>/_curate/run.lock`. The operating
system releases it when the holding process ends, however it ends (SIGKILL included), so a crashed
run never leaves a stale lock. The file records the holder (pid, host, run id, command, start time)
for the message the next run shows.

Object-store roots (`s3://`, `abfss://`, `gs://`) have no such lock: there, Delta's optimistic
concurrency protects the tables. Each write is one commit made against the table version it read,
and a commit that conflicts with one made meanwhile is rejected (`CommitFailedError` from delta-rs,
`Concurrent*Exception` from Delta on the JVM) and reported as a `StorageError` that says so.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from curate.errors import RunLockedError

log = logging.getLogger(__name__)

LOCK_FILE = "_curate/run.lock"
_POLL_S = 0.5


def lock_path(root: str) -> Path | None:
    """The lock file of a local or mounted root; None for an object-store root."""
    if root.startswith("file://"):
        root = root[len("file://"):]
    elif "://" in root:
        return None
    return Path(root) / LOCK_FILE


def _holder(f) -> str:
    f.seek(0)
    try:
        h = json.loads(f.read() or "{}")
    except ValueError:
        h = {}
    if not h:
        return "another curate process (it has not recorded itself yet)"
    return (f"run {h.get('run_id')} (`curate {h.get('command')}`, pid {h.get('pid')} on {h.get('host')}, "
            f"started {h.get('started_at')})")


@contextmanager
def run_lock(root: str, *, run_id: str, command: str, wait_s: float = 0) -> Iterator[None]:
    """Hold the root's run lock for the block; wait up to `wait_s` seconds for it, then fail naming the holder."""
    path = lock_path(root)
    if path is None:
        log.debug("no run lock on object-store root %s: Delta's optimistic concurrency protects its tables", root)
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        deadline = time.monotonic() + wait_s
        waited = False
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise RunLockedError(
                        f"storage root {root} is in use by {_holder(f)}; the lock ({path}) is released when that "
                        f"run ends. Pass --wait SECONDS to wait for it, or use another --root"
                    ) from None
                if not waited:
                    log.info("waiting up to %.0fs for the run lock held by %s", wait_s, _holder(f))
                    waited = True
                time.sleep(_POLL_S)
        try:
            f.seek(0)
            f.truncate()
            json.dump({"run_id": run_id, "command": command, "pid": os.getpid(), "host": socket.gethostname(),
                       "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}, f)
            f.flush()
            yield
        finally:
            f.seek(0)
            f.truncate()
            fcntl.flock(f, fcntl.LOCK_UN)
