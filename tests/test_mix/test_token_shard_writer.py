"""TokenShardWriter writes what streaming.MDSWriter writes, without importing streaming."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from curate.tokenize.encoder import encode_documents
from curate.tokenize.mds_writer import COLUMNS, TokenShardWriter
from test_tokenize.corpus import python_docs


def samples(seq_len: int) -> list[tuple[np.ndarray, str]]:
    """Real token ids (cl100k of Python's docs) cut into samples, with alternating sources."""
    ids = np.concatenate([np.asarray(t, np.int32) for t in encode_documents([d.text for d in python_docs(6)]).to_pylist()])
    n = len(ids) // seq_len
    return [(ids[i * seq_len : (i + 1) * seq_len], ("web", "código")[i % 2]) for i in range(n)]


def write_both(tmp_path, compression, size_limit, seq_len):
    from streaming import MDSWriter

    data = samples(seq_len)
    ours = TokenShardWriter(tmp_path / "ours", compression=compression, size_limit=size_limit)
    theirs = MDSWriter(out=str(tmp_path / "theirs"), columns=COLUMNS, compression=compression, size_limit=size_limit)
    for tokens, source in data:
        ours.write(tokens, source)
        theirs.write({"tokens": tokens, "source": source})
    ours.finish()
    theirs.finish()
    return data, tmp_path / "ours", tmp_path / "theirs"


@pytest.mark.parametrize("compression", [None, "zstd", "zstd:7", "br", "snappy"])
def test_files_are_mdswriters_byte_for_byte(tmp_path, compression):
    data, ours, theirs = write_both(tmp_path, compression, size_limit=1 << 13, seq_len=256)
    names = sorted(p.name for p in theirs.iterdir())
    assert len(names) > 3  # several shards: the size-limit rollover is exercised
    assert sorted(p.name for p in ours.iterdir()) == names
    for name in names:
        assert (ours / name).read_bytes() == (theirs / name).read_bytes(), name


def test_gzip_shards_differ_only_in_the_timestamp_and_read_back(tmp_path):
    from streaming import StreamingDataset

    data, ours, theirs = write_both(tmp_path, "gz", size_limit=1 << 13, seq_len=300)
    assert (ours / "index.json").read_bytes() == (theirs / "index.json").read_bytes()
    for shard in theirs.glob("*.gz"):
        assert gzip.decompress((ours / shard.name).read_bytes()) == gzip.decompress(shard.read_bytes())
    ds = StreamingDataset(local=str(ours), batch_size=1, shuffle=False)
    assert len(ds) == len(data)
    for i in (0, len(data) // 2, len(data) - 1):
        assert np.array_equal(ds[i]["tokens"], data[i][0]) and ds[i]["source"] == data[i][1]


def test_a_sample_of_another_dtype_is_refused(tmp_path):
    writer = TokenShardWriter(tmp_path, compression=None, size_limit=1 << 20)
    with pytest.raises(ValueError, match="1-D int32"):
        writer.write(np.arange(10, dtype=np.int64), "web")


def test_no_shard_is_larger_than_its_size_limit_so_its_offsets_address_it(tmp_path):
    import json

    data, ours, _ = write_both(tmp_path, None, size_limit=1 << 13, seq_len=256)
    shards = json.loads((ours / "index.json").read_text())["shards"]
    assert len(shards) > 3 and all(s["raw_data"]["bytes"] <= 1 << 13 for s in shards)
    for s in shards:  # the last uint32 offset is the shard's size
        raw = (ours / s["raw_data"]["basename"]).read_bytes()
        n = int(np.frombuffer(raw[:4], np.uint32)[0])
        assert int(np.frombuffer(raw[4 + 4 * n : 8 + 4 * n], np.uint32)[0]) == len(raw)


@pytest.mark.parametrize("size_limit", [0, 2**32, 2**34])
def test_a_size_limit_uint32_offsets_cannot_address_is_refused(tmp_path, size_limit):
    with pytest.raises(ValueError, match="MDS offsets are uint32"):
        TokenShardWriter(tmp_path, compression=None, size_limit=size_limit)
