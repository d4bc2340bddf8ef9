"""Opening input files: local or remote (pyarrow.fs), with bounded decompression of .gz / .zst."""

from __future__ import annotations

import gzip
import io
import os

COMPRESSIONS = (".gz", ".zst")


class DecompressionLimit(OSError):
    """A compressed file expands beyond ingest.max_decompressed_bytes (zip-bomb guard)."""


class _Bounded(io.RawIOBase):
    """Reads through `inner`, refusing to return more than `limit` bytes in total."""

    def __init__(self, inner, limit: int):
        self.inner, self.limit, self.count = inner, limit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        # read1 returns what one decompression step produced, so the records before a truncation
        # point are delivered before the EOFError that reports it.
        data = self.inner.read1(len(buf))
        self.count += len(data)
        if self.count > self.limit:
            raise DecompressionLimit(f"decompressed size exceeds ingest.max_decompressed_bytes={self.limit}")
        buf[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.inner.close()
        super().close()


def compression_of(path: str) -> str | None:
    lower = path.lower()
    return next((c for c in COMPRESSIONS if lower.endswith(c)), None)


def open_raw(path: str):
    """A binary file object for a local path or a filesystem URI (s3://, gs://, ...)."""
    if "://" in path and not path.startswith("file://"):
        from pyarrow import fs

        filesystem, inner = fs.FileSystem.from_uri(path)
        return filesystem.open_input_file(inner)
    return open(path.removeprefix("file://"), "rb")


def file_size(path: str) -> int:
    if "://" in path and not path.startswith("file://"):
        from pyarrow import fs

        filesystem, inner = fs.FileSystem.from_uri(path)
        return filesystem.get_file_info(inner).size
    return os.path.getsize(path.removeprefix("file://"))


def open_decompressed(path: str, *, max_bytes: int):
    """A buffered binary stream of the file's content, decompressed and bounded if compressed."""
    raw = open_raw(path)
    kind = compression_of(path)
    if kind is None:
        return raw
    if kind == ".gz":
        inner = gzip.GzipFile(fileobj=raw, mode="rb")
    else:
        import zstandard

        inner = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True, closefd=True)
    return io.BufferedReader(_Bounded(inner, max_bytes), buffer_size=1 << 20)
