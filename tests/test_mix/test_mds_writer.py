import json

import pyarrow as pa
import pytest

from curate.errors import StorageError
from curate.schemas.mixture import Mixture
from curate.tokenize.encoder import encode_documents
from curate.tokenize.mds import TASK_STATS, merge_task_indexes, plan_tasks, write_task_shards
from curate.tokenize.realize import Supply, realize
from test_tokenize.corpus import python_docs

SPT = 40  # samples per task


def task_batches(drop_row: int | None = None, drop_last_sample: bool = False) -> tuple[list[pa.RecordBatch], int]:
    docs = python_docs(6)
    ids = {d.uri: t for d, t in zip(docs, encode_documents([d.text for d in docs]).to_pylist())}
    m = Mixture.model_validate(
        {"name": "w", "components": {"d": {"sources": ["pydocs"]}},
         "stages": [{"name": "s", "budget_tokens": 100 * 64, "seq_len": 64, "weights": {"d": 1}}]}
    )
    (plan,), pieces = realize(m, {"d": Supply.of(list(ids), [len(t) for t in ids.values()])})
    rows = pieces.to_pylist()
    out = [
        {"task": r["sample"] // SPT, "sample": r["sample"], "offset": r["offset"],
         "tokens": ids[r["doc_id"]][r["tok_start"] : r["tok_start"] + r["tok_len"]], "component": r["component"]}
        for i, r in enumerate(rows) if i != drop_row and not (drop_last_sample and r["sample"] == plan.samples - 1)
    ]
    table = pa.Table.from_pylist(out)
    return table.to_batches(max_chunksize=7), plan.samples


def write(batches, tmp_path):
    tasks = plan_tasks(tmp_path, samples=100, seq_len=64, samples_per_task=SPT)
    return list(write_task_shards(iter(batches), tasks=tasks, compression=None, size_limit=1 << 20))


def test_tasks_write_every_sample(tmp_path):
    batches, samples = task_batches()
    out = write(batches, tmp_path)
    assert all(b.schema == TASK_STATS for b in out)
    stats = [b.to_pylist()[0] for b in out]
    assert [s["task"] for s in stats] == [0, 1, 2] and sum(s["samples"] for s in stats) == samples == 100
    assert json.loads((tmp_path / "00002" / "index.json").read_text())["shards"][0]["samples"] == 20


def test_merged_index_is_streamings_and_reads_back(tmp_path):
    from streaming import StreamingDataset
    from streaming.base.util import merge_index

    batches, samples = task_batches()
    write(batches, tmp_path / "ours")
    tasks = plan_tasks(tmp_path / "ours", samples=100, seq_len=64, samples_per_task=SPT)
    merge_task_indexes(tmp_path / "ours", tasks)
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    merge_index([f"{t.dir}/index.json" for t in tasks], str(theirs), keep_local=True)
    assert (tmp_path / "ours" / "index.json").read_bytes() == (theirs / "index.json").read_bytes()
    ds = StreamingDataset(local=str(tmp_path / "ours"), batch_size=1, shuffle=False)
    assert len(ds) == samples and [len(ds[i]["tokens"]) for i in (0, samples - 1)] == [64, 64]


def test_a_missing_task_index_is_refused(tmp_path):
    tasks = plan_tasks(tmp_path, samples=100, seq_len=64, samples_per_task=SPT)
    with pytest.raises(StorageError, match="wrote no index"):
        merge_task_indexes(tmp_path, tasks)


def test_a_missing_piece_is_refused(tmp_path):
    batches, _ = task_batches(drop_row=5)
    with pytest.raises(StorageError, match=r"arrived at stream position \d+, expected \d+"):
        write(batches, tmp_path)


def test_a_missing_last_sample_is_refused(tmp_path):
    batches, _ = task_batches(drop_last_sample=True)
    with pytest.raises(StorageError, match=r"shard task 2: wrote 19 samples, the plan has 20"):
        write(batches, tmp_path)
