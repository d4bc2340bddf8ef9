"""MDS shards: one writer per task, the merged index, and the shards' footprint.

A task receives the pieces of a contiguous range of samples, sorted by (task, sample, offset),
each with its token ids. Concatenated in that order they ARE the samples back to back, so the
writer checks every piece lands where the plan put it, then cuts every `seq_len` ids.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from curate.errors import StorageError
from curate.faults import fault_point
from curate.storage import Storage, delete_tree, join
from curate.tokenize.mds_writer import TokenShardWriter

if TYPE_CHECKING:
    from collections.abc import Iterator

log = logging.getLogger(__name__)

# One row per writer task (TASK_STATS_SCHEMA in spark.py is its Spark twin).
TASK_STATS = pa.schema([("task", pa.int32()), ("samples", pa.int64()), ("shards", pa.int32()), ("bytes", pa.int64())])


def task_dir(out_dir: str | Path, task: int) -> str:
    return join(str(out_dir), f"{task:05d}")


@dataclass(frozen=True)
class TaskSpec:
    """What one writer task writes: samples [first_sample, first_sample + samples) of a stage, into `dir`
    (a local folder or an object-store URI)."""

    dir: str
    first_sample: int
    samples: int
    seq_len: int


def plan_tasks(out_dir: str | Path, *, samples: int, seq_len: int, samples_per_task: int) -> list[TaskSpec]:
    """One stage's writer tasks: consecutive ranges of `samples_per_task` samples."""
    return [
        TaskSpec(task_dir(out_dir, t), first, min(samples_per_task, samples - first), seq_len)
        for t, first in enumerate(range(0, samples, samples_per_task))
    ]


class _TaskWriter:
    def __init__(self, task: int, spec: TaskSpec, *, compression: str | None, size_limit: int, storage: Storage):
        fs, path = storage.filesystem(spec.dir)
        delete_tree(fs, path)  # a failed earlier attempt of this task
        self.task, self.seq_len = task, spec.seq_len
        self.first, self.expected = spec.first_sample, spec.samples
        self.written_tokens = 0  # tokens received so far, as a position in the task's stream
        self.buf = np.empty(0, dtype=np.int32)
        self.sources: list[str] = []
        self.samples = 0
        self.writer = TokenShardWriter(spec.dir, compression=compression, size_limit=size_limit, storage=storage)

    def add(self, seg: pa.RecordBatch) -> None:
        tokens = seg.column("tokens")
        lens = tokens.value_lengths().to_numpy(zero_copy_only=False).astype(np.int64)
        pos = self.written_tokens + np.cumsum(lens) - lens
        sample = seg.column("sample").to_numpy()
        offset = seg.column("offset").to_numpy().astype(np.int64)
        expected = (sample - self.first) * self.seq_len + offset
        if not np.array_equal(pos, expected):
            bad = int(np.flatnonzero(pos != expected)[0])
            raise StorageError(
                f"shard task {self.task}: sample {int(sample[bad])} offset {int(offset[bad])} arrived at stream "
                f"position {int(pos[bad])}, expected {int(expected[bad])}; a document's tokens are missing or "
                f"changed since the plan was made (docs_tokenized must not change during `curate mix`)"
            )
        starts = offset == 0
        self.sources.extend(seg.column("component").filter(pa.array(starts)).to_pylist())
        self.written_tokens += int(lens.sum())
        values = tokens.flatten().to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
        self.buf = np.concatenate([self.buf, values]) if self.buf.size else values
        full = self.buf.size // self.seq_len
        for k in range(full):
            sample_ids = self.buf[k * self.seq_len : (k + 1) * self.seq_len]
            self.writer.write(sample_ids, self.sources[self.samples])
            self.samples += 1
        self.buf = self.buf[full * self.seq_len :].copy()

    def close(self) -> dict:
        if self.buf.size:
            raise StorageError(
                f"shard task {self.task}: {self.buf.size} tokens left after the last full sample of "
                f"{self.seq_len}; the plan's pieces do not add up to whole samples"
            )
        if self.samples != self.expected:
            raise StorageError(
                f"shard task {self.task}: wrote {self.samples} samples, the plan has {self.expected}; "
                f"pieces are missing (docs_tokenized must not change during `curate mix`)"
            )
        fault_point("mix:shard_task")  # shard files written, the task's index not yet
        self.writer.finish()
        samples, shards, size = self.writer.footprint()
        return {"task": self.task, "samples": samples, "shards": shards, "bytes": size}


def write_task_shards(
    batches: Iterator[pa.RecordBatch], *, tasks: list[TaskSpec], compression: str | None, size_limit: int,
    storage: Storage = Storage(),
) -> Iterator[pa.RecordBatch]:
    """Write the shards of every task whose pieces arrive (columns task, sample, offset, tokens, component).

    `task` indexes `tasks`; pieces arrive sorted by (task, sample, offset).
    """
    current: _TaskWriter | None = None
    for batch in batches:
        task = batch.column("task").to_numpy()
        cuts = [0, *(np.flatnonzero(task[1:] != task[:-1]) + 1).tolist(), len(task)]
        for lo, hi in zip(cuts[:-1], cuts[1:]):
            t = int(task[lo])
            if current is None or current.task != t:
                if current is not None:
                    yield pa.RecordBatch.from_pylist([current.close()], schema=TASK_STATS)
                current = _TaskWriter(t, tasks[t], compression=compression, size_limit=size_limit, storage=storage)
            current.add(batch.slice(lo, hi - lo))
    if current is not None:
        yield pa.RecordBatch.from_pylist([current.close()], schema=TASK_STATS)


def merge_task_indexes(out_dir: str | Path, tasks: list[TaskSpec], *, storage: Storage = Storage()) -> None:
    """Write `out_dir/index.json` over the tasks' sub-directories, in task (= sample) order.

    The same file as `streaming.base.util.merge_index` writes (a test compares them), without
    importing `streaming` on the driver: its package init pulls in transformers and torch (~6 s).
    """
    fs, out = storage.filesystem(str(out_dir))
    shards = []
    for t in tasks:
        index = join(storage.filesystem(t.dir)[1], "index.json")
        try:
            with fs.open_input_stream(index, compression=None) as f:
                listed = json.loads(f.read())["shards"]
        except FileNotFoundError:
            raise StorageError(f"shard task wrote no index at {index}; rerun `curate mix`") from None
        for shard in listed:
            for key in ("raw_data", "zip_data", "raw_meta", "zip_meta"):
                if shard.get(key):
                    shard[key]["basename"] = f"{t.dir.rstrip('/').rsplit('/', 1)[-1]}/{shard[key]['basename']}"
            shards.append(shard)
    with fs.open_output_stream(join(out, "index.json"), compression=None) as f:
        f.write(json.dumps({"version": 2, "shards": shards}).encode())
