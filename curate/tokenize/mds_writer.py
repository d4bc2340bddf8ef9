"""MDS shards of token samples, written without importing `streaming`.

`streaming.MDSWriter` is the reference, but importing the `streaming` package imports transformers
and torch (about 7 s per Python worker, once per mix). This writer produces the same files as
`MDSWriter(columns={"tokens": "ndarray:int32", "source": "str"}, hashes=None)`: the same shard
layout, file names, size-limit rollover and index.json (tests compare them byte for byte), except
that gzip shards carry mtime 0, so equal inputs give equal files.

MDS shard: [samples: u32] [offsets: u32 x (samples + 1)] [config JSON] [sample 0] [sample 1] ...
A sample: [byte lengths of its variable columns: u32 each] [column bytes, in sorted column order].
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np

from curate.storage import Storage, join

# `tokens` is what llm-foundry's text loader reads; int32 because cl100k ids exceed 65 535. No
# `text` column: that loader would re-tokenize it. `source` holds the sample's mixture component
# (every sample is filled from one component). Sorted by name, as MDSWriter orders them.
COLUMNS = {"source": "str", "tokens": "ndarray:int32"}
_EXTRA_BYTES_PER_SAMPLE = 4  # its offset
# A shard's header holds uint32 byte offsets and its raw size is at most size_limit (one sample
# larger than the limit aside: a few MB at most), so every byte stays addressable up to 2^32 - 1
# (MDSWriter refuses 2^32 and above too).
MIN_SIZE_LIMIT, MAX_SIZE_LIMIT = 2**16, 2**32 - 1
_DEFAULT_LEVEL = {"zstd": 3, "gz": 9, "br": 11}  # streaming.base.compression's defaults


def _compressor(family: str, level: str):
    """bytes -> bytes for one of streaming's compressions: family 'zstd', 'gz', 'br' or 'snappy',
    level as in 'zstd:7' ('' for the family's default)."""
    level = int(level) if level else _DEFAULT_LEVEL.get(family)
    if family == "zstd":
        import zstd

        return lambda data: zstd.compress(data, level)
    if family == "gz":
        return lambda data: gzip.compress(data, level, mtime=0)
    if family == "br":
        import brotli

        return lambda data: brotli.compress(data, quality=level)
    if family == "snappy":
        import snappy

        return snappy.compress
    raise ValueError(f"unsupported MDS compression {family!r}")


def _shape_header(length: int) -> bytes:
    """NDArray encoding of a 1-D shape: one byte (ndim << 2 | shape dtype code), then the shape."""
    for code, dtype in enumerate((np.uint8, np.uint16, np.uint32, np.uint64)):
        if length < 1 << (8 << code):
            return bytes([(1 << 2) | code]) + np.array([length], dtype).tobytes()
    raise ValueError(f"sample of {length} tokens is too long for MDS")


class TokenShardWriter:
    """Writes samples (int32 token ids + source name) into MDS shards under `out` (a local folder, or
    an object-store URI reached through `storage`)."""

    def __init__(self, out: str | Path, *, compression: str | None, size_limit: int, storage: Storage = Storage()):
        if not 0 < size_limit <= MAX_SIZE_LIMIT:
            raise ValueError(f"size_limit {size_limit} is outside 1..{MAX_SIZE_LIMIT}: MDS offsets are uint32")
        self.out = str(out)
        self.fs, self.path = storage.filesystem(self.out)
        self.fs.create_dir(self.path, recursive=True)
        self.size_limit = size_limit
        # "zstd:7" -> extension "zstd", level "7"
        self._zip_ext, _, level = (compression or "").partition(":")
        self._compress = _compressor(self._zip_ext, level) if compression else None
        self.config = {
            "version": 2, "format": "mds", "compression": compression, "hashes": [], "size_limit": size_limit,
            "column_names": list(COLUMNS), "column_encodings": list(COLUMNS.values()), "column_sizes": [None, None],
        }
        self.config_data = json.dumps(self.config, sort_keys=True).encode("utf-8")
        self.shards: list[dict] = []
        self._reset()

    def _reset(self) -> None:
        self.samples: list[bytes] = []
        self.shard_size = 4 + 4 + len(self.config_data)

    def write(self, tokens: np.ndarray, source: str) -> None:
        if tokens.dtype != np.int32 or tokens.ndim != 1 or not tokens.size:
            raise ValueError(f"a sample is a non-empty 1-D int32 array, got {tokens.dtype} of shape {tokens.shape}")
        src = source.encode("utf-8")
        body = _shape_header(tokens.size) + tokens.tobytes()
        sample = np.array([len(src), len(body)], np.uint32).tobytes() + src + body
        size = len(sample) + _EXTRA_BYTES_PER_SAMPLE
        if self.size_limit and self.size_limit < self.shard_size + size:  # MDSWriter's rule, verbatim
            self._flush()
        self.samples.append(sample)
        self.shard_size += size

    def _flush(self) -> None:
        n = len(self.samples)
        offsets = np.array([0, *map(len, self.samples)]).cumsum().astype(np.uint32)
        offsets += 4 + 4 * (n + 1) + len(self.config_data)
        raw = np.uint32(n).tobytes() + offsets.tobytes() + self.config_data + b"".join(self.samples)
        raw_name = f"shard.{len(self.shards):05}.mds"
        raw_info = {"basename": raw_name, "bytes": len(raw), "hashes": {}}
        zip_info, data = None, raw
        if self._compress is not None:
            data = self._compress(raw)
            zip_info = {"basename": f"{raw_name}.{self._zip_ext}", "bytes": len(data), "hashes": {}}
        self._put((zip_info or raw_info)["basename"], data)
        self.shards.append({"samples": n, "raw_data": raw_info, "zip_data": zip_info, **self.config})
        self._reset()

    def footprint(self) -> tuple[int, int, int]:
        """(samples, shards, bytes on disk) of what was flushed."""
        size = sum((s["zip_data"] or s["raw_data"])["bytes"] for s in self.shards)
        return sum(s["samples"] for s in self.shards), len(self.shards), size

    def finish(self) -> None:
        if self.samples:
            self._flush()
        index = json.dumps({"version": 2, "shards": self.shards}, sort_keys=True)
        self._put("index.json", index.encode("utf-8"))

    def _put(self, name: str, data: bytes) -> None:
        with self.fs.open_output_stream(join(self.path, name), compression=None) as out:
            out.write(data)
