"""Run `curate` as a user would, in its own process session, and fingerprint what it left on disk.

A crashed run is compared with an undisturbed one by content: every table sorted, run ids left out
(they differ by construction), and the shards' sample sequence read back with StreamingDataset.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

import curate
from curate.faults import ACTION_ENV, FAULT_ENV, HARNESS_ENV, ONCE_ENV
from curate.schemas.config import EMBEDDED_DEFAULT

REPO = Path(curate.__file__).resolve().parents[1]
# Tables and the column that identifies a row in each (no key may repeat).
TABLE_KEYS = {
    "docs_raw": "doc_id",
    "quarantine": "record_id",
    "docs_annotated": "doc_id",
    "dedup_signatures": "doc_id",
    "dup_clusters": "doc_id",
    "docs_curated": "doc_id",
    "docs_tokenized": "doc_id",
}
# Tables of a stage's own state, compared between runs over the same input files.
STATE_KEYS = {"ingest_files": ("source", "input_file", "start")}  # one row per input file task
# Manifest keys that name the run or the version rather than the content.
_RUN_SPECIFIC = {"run_id", "created_at", "version", "input_versions", "input_tables", "train_loader"}


def sample_config(path: Path, *, sources: set[str] | None = None) -> Path:
    """The embedded default config (bundled sample), made portable and small: local[2], 2 GB driver."""
    cfg = yaml.safe_load(EMBEDDED_DEFAULT.read_text())
    base = EMBEDDED_DEFAULT.parent
    cfg["inputs"] = [{**i, "path": str(base / i["path"])} for i in cfg["inputs"]
                     if sources is None or i["source"] in sources]
    cfg["spark"] = {"master": "local[2]", "driver_memory": "2g", "shuffle_partitions": 2}
    cfg.setdefault("mix", {})["mixture"] = str(base / "mixture.yaml")
    path.write_text(yaml.safe_dump(cfg))
    return path


def _session_pids(sid: int) -> list[int]:
    out = subprocess.run(["ps", "-s", str(sid), "-o", "pid="], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _peak_rss_mb(sid: int, driver: int, peaks: dict, done: threading.Event) -> None:
    """Poll the session's processes' peak resident memory (VmHWM) by role until `done`."""
    while not done.wait(0.5):
        for pid in _session_pids(sid):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:  # it ended meanwhile
                continue
            hwm = [line for line in status.splitlines() if line.startswith("VmHWM:")]
            if not hwm:
                continue
            role = "driver" if pid == driver else "jvm" if "java" in cmd else "python_worker" if "pyspark" in cmd else None
            if role:
                peaks[role] = max(peaks.get(role, 0), int(hwm[0].split()[1]) // 1024)


def run_curate(args: list[str], *, fault: str | None = None, timeout: float = 1800,
               extra_env: dict | None = None) -> subprocess.CompletedProcess:
    """`python -m curate.cli ARGS` in a new session; with `fault`, CURATE_FAULT names that point and
    CURATE_FAULT_HARNESS=1 arms it (`extra_env` may add CURATE_FAULT_ACTION / CURATE_FAULT_ONCE).

    Afterwards the session must be empty: a fault kills the driver, the JVM and the Python workers.
    Survivors are killed (by pid) and reported in `.survivors`; `.peak_rss_mb` has the peak resident
    memory of the driver, the JVM and the largest Python worker.
    """
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for var in (FAULT_ENV, HARNESS_ENV, ACTION_ENV, ONCE_ENV):
        env.pop(var, None)
    env.update(extra_env or {})
    if fault:
        env[FAULT_ENV], env[HARNESS_ENV] = fault, "1"
    proc = subprocess.Popen([sys.executable, "-m", "curate.cli", *args], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    peaks: dict[str, int] = {}
    done = threading.Event()
    watcher = threading.Thread(target=_peak_rss_mb, args=(proc.pid, proc.pid, peaks, done), daemon=True)
    watcher.start()
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        done.set()
        watcher.join()
        deadline = time.monotonic() + 15
        while (left := _session_pids(proc.pid)) and time.monotonic() < deadline:
            time.sleep(0.5)
        for pid in left:
            os.kill(pid, signal.SIGKILL)
    result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    result.survivors = left
    result.peak_rss_mb = peaks
    return result


def _canonical(value):
    if isinstance(value, list) and value and isinstance(value[0], tuple):  # a map read back as pairs
        return sorted(value)
    return value


def table_digest(root: Path, name: str) -> dict:
    """Rows, duplicate keys and a hash of the sorted rows without run ids, from the Delta snapshot."""
    from deltalake import DeltaTable

    dt = DeltaTable(str(root / "tables" / name))
    table = dt.to_pyarrow_table()
    cols = [c for c in table.column_names if not c.endswith("run_id")]
    rows = sorted(json.dumps([_canonical(r[c]) for c in cols], default=str) for r in table.select(cols).to_pylist())
    key = {**TABLE_KEYS, **STATE_KEYS}[name]
    keys = list(zip(*(table.column(c).to_pylist() for c in ((key,) if isinstance(key, str) else key))))
    missing = [f for f in dt.file_uris() if not Path(f.removeprefix("file://")).is_file()]
    return {"rows": len(rows), "duplicate_keys": len(keys) - len(set(keys)), "missing_files": missing,
            "sha": hashlib.sha256("\n".join(rows).encode()).hexdigest()}


def tables_digest(root: Path) -> dict:
    return {name: table_digest(root, name) for name in (*TABLE_KEYS, *STATE_KEYS) if (root / "tables" / name).is_dir()}


def shards_digest(root: Path, cache: Path) -> dict:
    """Per mixture stage: the published sample sequence's hash and the manifest's content keys."""
    import numpy as np
    from streaming import StreamingDataset

    out = {}
    for mixture in sorted((root / "shards").iterdir()):
        listed = [v["version"] for v in json.loads((mixture / "versions.json").read_text())]
        on_disk = sorted(p.name for p in mixture.iterdir() if p.is_dir())
        out[mixture.name] = {"listed": len(listed), "dirs": on_disk}
        assert all((mixture / v).is_dir() for v in listed), f"versions.json lists a missing version: {listed}"
        for stage in sorted((mixture / listed[-1]).iterdir()):
            h = hashlib.sha256()
            ds = StreamingDataset(remote=str(stage), local=str(cache / mixture.name / stage.name), shuffle=False,
                                  batch_size=1)
            for s in ds:
                h.update(np.asarray(s["tokens"], dtype=np.int32).tobytes())
                h.update(s["source"].encode())
            manifest = json.loads((stage / "manifest.json").read_text())
            out[f"{mixture.name}/{stage.name}"] = {
                "samples": ds.num_samples, "sha": h.hexdigest(),
                "manifest": {k: v for k, v in manifest.items() if k not in _RUN_SPECIFIC},
            }
    return out
