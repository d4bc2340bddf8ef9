"""The one Spark wrapper of the dedup kernels: signature rows via mapInArrow."""

from __future__ import annotations

import functools
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql.types import ArrayType, IntegerType, LongType, StringType, StructField, StructType

from curate.dedup.config import DedupConfig
from curate.dedup.minhash import MAX_HASH, MinHasher, band_hashes
from curate.dedup.normalize import exact_hashes, normalize

SIGNATURE_FIELDS = StructType(
    [
        StructField("norm_hash", StringType(), False),  # xxh3-128 of the normalized text
        # MinHash values (uint32 bit patterns stored as int) and band hashes; null: no shingle.
        StructField("signature", ArrayType(IntegerType(), False), True),
        StructField("bands", ArrayType(LongType(), False), True),
    ]
)


@functools.lru_cache(maxsize=4)
def _hasher(cfg_json: str) -> tuple[DedupConfig, MinHasher]:
    cfg = DedupConfig.model_validate_json(cfg_json)
    m = cfg.minhash
    return cfg, MinHasher(num_perm=m.num_perm, seed=m.seed, scheme=m.scheme,
                          word_ngram=m.word_ngram, char_ngram=m.char_ngram)


def _list_array(values: np.ndarray, valid: np.ndarray, dtype: pa.DataType) -> pa.ListArray:
    width = values.shape[1]
    offsets = pa.array(np.arange(len(values) + 1, dtype=np.int32) * width)
    lists = pa.ListArray.from_arrays(offsets, pa.array(values.reshape(-1), dtype))
    return pc.if_else(pa.array(valid), lists, pa.nulls(len(values), lists.type))


def signature_batch(batch: pa.RecordBatch, cfg_json: str) -> pa.RecordBatch:
    """The batch without `text`, plus norm_hash, signature and bands (lang picks char shingles)."""
    cfg, hasher = _hasher(cfg_json)
    norm = normalize(batch.column("text"), cfg.normalize)
    mode = cfg.minhash.shingles
    if mode == "auto" and "lang" in batch.schema.names:
        char_mask = pc.fill_null(pc.is_in(batch.column("lang"), pa.array(cfg.minhash.char_langs)), False)
        char_mask = char_mask.to_numpy(zero_copy_only=False)
    else:
        char_mask = np.full(len(batch), mode == "char")
    sig = hasher.signatures(norm, char_mask=char_mask)
    nonempty = ~(sig == MAX_HASH).all(axis=1)
    bands = band_hashes(sig, bands=cfg.minhash.bands, rows=cfg.minhash.rows)
    kept = [n for n in batch.schema.names if n != "text"]
    return pa.RecordBatch.from_arrays(
        [
            *(batch.column(n) for n in kept),
            exact_hashes(norm),
            _list_array(sig.view(np.int32), nonempty, pa.int32()),
            _list_array(bands, nonempty, pa.int64()),
        ],
        names=[*kept, *SIGNATURE_FIELDS.names],
    )


def _signature_batches(batches: Iterator[pa.RecordBatch], cfg_json: str) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        yield signature_batch(batch, cfg_json)


def signature_frame(docs: DataFrame, cfg: DedupConfig) -> DataFrame:
    """`docs` (text and, for shingles=auto, lang) with text replaced by norm_hash, signature, bands."""
    fn = functools.partial(_signature_batches, cfg_json=cfg.model_dump_json())
    fields = [f for f in docs.schema.fields if f.name != "text"]
    return docs.mapInArrow(fn, StructType([*fields, *SIGNATURE_FIELDS.fields]))
