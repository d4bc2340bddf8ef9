"""`curate verify`: the bundled sample's published shards read back with streaming.StreamingDataset,
and copies of them corrupted in the ways verify must reject."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from curate.cli import main
from curate.tokenize.encoder import VOCAB_SIZE
from curate.tokenize.mds import merge_task_indexes
from curate.tokenize.mds_writer import TokenShardWriter
from curate.tokenize.publish import MANIFEST, VERSIONS

STAGES = ("pretrain", "anneal")  # examples/mixture.yaml


def published(root: Path) -> tuple[str, Path]:
    """(latest version, its folder) of the sample mixture under `root`."""
    mdir = root / "shards" / "sample"
    version = json.loads((mdir / VERSIONS).read_text())[-1]["version"]
    return version, mdir / version


def files(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in sorted(folder.rglob("*")) if p.is_file()}


def verify(sample_run, *args: str) -> int:
    return main(["verify", "--config", str(sample_run["config"]), *args])


@pytest.fixture()
def copy_root(sample_run, tmp_path) -> Path:
    """A copy of the sample run's shards, free to corrupt (verify reads nothing else)."""
    root = tmp_path / "root"
    shutil.copytree(sample_run["root"] / "shards", root / "shards")
    return root


def test_verify_reads_every_sample_of_the_latest_version(sample_run, capsys, caplog):
    root = sample_run["root"]
    version, vdir = published(root)
    before = files(root / "shards")
    assert verify(sample_run) == 0, caplog.text
    out = capsys.readouterr().out
    assert f"shard version {version} of mixture 'sample'" in out
    for stage in STAGES:
        m = json.loads((vdir / stage / MANIFEST).read_text())
        assert m["samples"] > 0 and m["tokens"] == m["samples"] * m["seq_len"]
        assert f"{stage} {m['samples']:,} samples, {m['tokens']:,} tokens" in out
    assert files(root / "shards") == before  # read through a cache: nothing written beside the published files


def test_cache_and_version_flags(sample_run, tmp_path, caplog):
    version, vdir = published(sample_run["root"])
    cache = tmp_path / "cache"
    assert verify(sample_run, "--version", version, "--cache", str(cache)) == 0, caplog.text
    for stage in STAGES:  # the shards as a trainer's `local` holds them
        assert json.loads((cache / "sample" / version / stage / "index.json").read_text()) == \
            json.loads((vdir / stage / "index.json").read_text())
    caplog.clear()
    assert verify(sample_run, "--version", "000000000000") == 2
    assert "version '000000000000' of mixture 'sample' is not published" in caplog.text
    assert f"published: {version}" in caplog.text


def test_truncated_shard_is_rejected(sample_run, copy_root, caplog):
    version, vdir = published(copy_root)
    (shard,) = (vdir / "pretrain").glob("0*/shard.*.mds.zstd")
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2])
    assert verify(sample_run, "--root", str(copy_root)) == 2
    samples = json.loads((vdir / "pretrain" / MANIFEST).read_text())["samples"]
    assert (f"shard version {version} of mixture 'sample' under {copy_root} does not match its manifests "
            f"(1 mismatches)") in caplog.text
    assert f"pretrain: shard {shard.parent.name}/{shard.name} (samples 0-{samples - 1}) does not read" in caplog.text
    assert "anneal:" not in caplog.text


def test_missing_shard_is_rejected(sample_run, copy_root, caplog):
    _, vdir = published(copy_root)
    (shard,) = (vdir / "anneal").glob("0*/shard.*.mds.zstd")
    shard.unlink()
    assert verify(sample_run, "--root", str(copy_root)) == 2
    assert f"anneal: shard {shard.parent.name}/{shard.name} (samples 0-" in caplog.text
    assert "pretrain:" not in caplog.text


def read_samples(stage_dir: Path, cache: Path) -> list[tuple[np.ndarray, str]]:
    from streaming import StreamingDataset

    ds = StreamingDataset(remote=str(stage_dir), local=str(cache), shuffle=False, batch_size=1)
    return [(np.array(ds[i]["tokens"]), ds[i]["source"]) for i in range(ds.num_samples)]


def rewrite_stage(stage_dir: Path, samples: list[tuple[np.ndarray, str]]) -> None:
    """The stage's shards replaced by `samples`, written by curate's own writer as `curate mix` does."""
    for task in stage_dir.glob("0*"):
        shutil.rmtree(task)
    writer = TokenShardWriter(stage_dir / "00000", compression="zstd", size_limit=1 << 26)
    for tokens, source in samples:
        writer.write(tokens, source)
    writer.finish()
    merge_task_indexes(stage_dir, [SimpleNamespace(dir=str(stage_dir / "00000"))])


def test_samples_with_foreign_ids_or_wrong_length_are_rejected(sample_run, copy_root, tmp_path, caplog):
    _, vdir = published(copy_root)
    stage = vdir / "anneal"
    samples = read_samples(stage, tmp_path / "read")
    rewrite_stage(stage, samples)  # the same samples written again: still as in the manifest
    assert verify(sample_run, "--root", str(copy_root)) == 0, caplog.text

    seq_len = json.loads((stage / MANIFEST).read_text())["seq_len"]
    samples[3][0][7] = VOCAB_SIZE  # one past the vocabulary
    samples[5][0][0] = 100_256  # inside it, but an id cl100k_base does not assign
    samples[9] = (samples[9][0][:-1], samples[9][1])  # a sample one token short
    rewrite_stage(stage, samples)
    caplog.clear()
    assert verify(sample_run, "--root", str(copy_root)) == 2
    assert (f"anneal: 2 samples hold ids the tokenizer does not assign (vocabulary of {VOCAB_SIZE}): "
            f"sample 3: id {VOCAB_SIZE}; sample 5: id 100256") in caplog.text
    assert f"anneal: 1 samples are not {seq_len} int32 token ids (seq_len): sample 9: int32 ({seq_len - 1},)" \
        in caplog.text
    tokens = len(samples) * seq_len
    assert f"anneal: tokens: manifest {tokens:,}, read {tokens - 1:,}" in caplog.text
    component = samples[9][1]
    assert f"anneal: tokens of component {component!r}: manifest" in caplog.text
    assert "pretrain:" not in caplog.text


def test_counts_that_differ_from_the_manifest_are_rejected(sample_run, copy_root, caplog):
    _, vdir = published(copy_root)
    path = vdir / "pretrain" / MANIFEST
    manifest = json.loads(path.read_text())
    manifest["samples"] += 1
    name, component = next((n, c) for n, c in manifest["components"].items() if c["tokens"])
    component["tokens"] -= 5
    path.write_text(json.dumps(manifest))
    assert verify(sample_run, "--root", str(copy_root)) == 2
    samples = manifest["samples"] - 1
    assert f"pretrain: samples: manifest {samples + 1:,}, read {samples:,}" in caplog.text
    assert f"pretrain: tokens of component {name!r}: manifest {component['tokens']:,}, read " \
           f"{component['tokens'] + 5:,}" in caplog.text
    assert "(2 mismatches)" in caplog.text


def test_no_published_version(sample_run, tmp_path, caplog):
    assert verify(sample_run, "--root", str(tmp_path / "empty")) == 2
    assert "mixture 'sample' has no published shard version" in caplog.text and "run `curate mix`" in caplog.text


def test_without_streaming_the_error_names_the_extra(sample_run, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "streaming", None)  # as in an install without the `verify` extra
    assert verify(sample_run) == 2
    assert "mosaicml-streaming" in caplog.text and "pip install 'curate[verify]'" in caplog.text
