"""The dedup kernels on Arrow batches: signature rows (`signature_rows`, for mapInArrow or a
file-by-file `map_into`) and shingle sets (`shingle_set_frame`)."""

from __future__ import annotations

import functools
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql.types import ArrayType, BinaryType, IntegerType, LongType, StringType, StructField, StructType

from curate.dedup.config import DedupConfig
from curate.dedup.minhash import MAX_HASH, MinHasher, band_hashes, shingle_sets
from curate.dedup.normalize import exact_hashes, normalize

SIGNATURE_FIELDS = StructType(
    [
        StructField("norm_hash", StringType(), False),  # xxh3-128 of the normalized text
        # MinHash values (uint32 bit patterns stored as int) and band hashes; null: no shingle.
        StructField("signature", ArrayType(IntegerType(), False), True),
        StructField("bands", ArrayType(LongType(), False), True),
    ]
)


SHINGLES_FIELD = StructField("shingles", ArrayType(IntegerType(), False), False)
# The same sets packed: each one's int32 values as one binary value. Spark moves a binary value as
# one copy where it converts an array<int> element by element (at 16x, the one-task path's
# re-shingling and clustering went from 10.8 to 9.7 s).
PACKED_SHINGLES_FIELD = StructField("shingles", BinaryType(), False)


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


def _char_mask(batch: pa.RecordBatch, cfg: DedupConfig) -> np.ndarray:
    """Which rows get character shingles: shingles=char, or shingles=auto and a char_langs lang."""
    mode = cfg.minhash.shingles
    if mode == "auto" and "lang" in batch.schema.names:
        mask = pc.fill_null(pc.is_in(batch.column("lang"), pa.array(cfg.minhash.char_langs)), False)
        return mask.to_numpy(zero_copy_only=False)
    return np.full(len(batch), mode == "char")


def _text_replaced(batch: pa.RecordBatch, arrays: list[pa.Array], names: list[str]) -> pa.RecordBatch:
    """The batch without `text`, plus `arrays` as columns `names`."""
    kept = [n for n in batch.schema.names if n != "text"]
    return pa.RecordBatch.from_arrays([*(batch.column(n) for n in kept), *arrays], names=[*kept, *names])


def signature_batch(batch: pa.RecordBatch, cfg_json: str) -> pa.RecordBatch:
    """The batch without `text`, plus norm_hash, signature and bands (lang picks char shingles)."""
    cfg, hasher = _hasher(cfg_json)
    norm = normalize(batch.column("text"), cfg.normalize)
    sig = hasher.signatures(norm, char_mask=_char_mask(batch, cfg))
    nonempty = ~(sig == MAX_HASH).all(axis=1)
    bands = band_hashes(sig, bands=cfg.minhash.bands, rows=cfg.minhash.rows)
    arrays = [exact_hashes(norm), _list_array(sig.view(np.int32), nonempty, pa.int32()),
              _list_array(bands, nonempty, pa.int64())]
    return _text_replaced(batch, arrays, SIGNATURE_FIELDS.names)


def _signed_docs(batch: pa.RecordBatch) -> pa.RecordBatch:
    """doc_id, source, lang, quality_score, length and text of the rows with keep = true (all rows
    without a keep column); a missing lang or quality_score is null, a missing length (n_bytes) the
    text's UTF-8 bytes."""
    names = batch.schema.names
    if "keep" in names:
        batch = batch.filter(pc.fill_null(batch.column("keep"), False))
    n = len(batch)

    def column(name: str, default, dtype: pa.DataType) -> pa.Array:
        return (batch.column(name) if name in names else default).cast(dtype)

    return pa.RecordBatch.from_arrays(
        [batch.column("doc_id"), batch.column("source"), column("lang", pa.nulls(n), pa.string()),
         column("quality_score", pa.nulls(n), pa.float64()),
         column("n_bytes", pc.binary_length(batch.column("text")), pa.int64()), batch.column("text")],
        names=["doc_id", "source", "lang", "quality_score", "length", "text"],
    )


def signature_rows(batches: Iterator[pa.RecordBatch], cfg_json: str, params: str,
                   run_id: str | None = None) -> Iterator[pa.RecordBatch]:
    """Signature rows (DEDUP_SIGNATURES_SCHEMA; without dedup_run_id when `run_id` is None) of the
    documents with keep = true in `batches` (doc_id, source, text and any of keep, lang,
    quality_score, n_bytes)."""
    for batch in batches:
        docs = _signed_docs(batch)
        if not len(docs):
            continue
        out = signature_batch(docs, cfg_json)
        out = out.append_column("params", pa.array([params] * len(out), pa.string()))
        if run_id is not None:
            out = out.append_column("dedup_run_id", pa.array([run_id] * len(out), pa.string()))
        yield out


def shingle_set_batch(batch: pa.RecordBatch, cfg_json: str, packed: bool = False) -> pa.RecordBatch:
    """The batch without `text`, plus the sorted distinct shingle hashes (`shingles`) of each text,
    `packed` or not (PACKED_SHINGLES_FIELD, SHINGLES_FIELD)."""
    cfg = DedupConfig.model_validate_json(cfg_json)
    norm = normalize(batch.column("text"), cfg.normalize)
    m = cfg.minhash
    sets = shingle_sets(norm, char_mask=_char_mask(batch, cfg), word_ngram=m.word_ngram, char_ngram=m.char_ngram)
    return _text_replaced(batch, [pack(sets) if packed else sets], [SHINGLES_FIELD.name])


def pack(sets: pa.ListArray) -> pa.BinaryArray:
    """Each list of int32 as one binary value holding its values' bytes (`unpack` reverses it)."""
    offsets = sets.offsets.to_numpy()
    byte_offsets = ((offsets - offsets[0]) * 4).astype(np.int32)
    values = np.ascontiguousarray(pc.list_flatten(sets).to_numpy(), np.int32)
    return pa.BinaryArray.from_buffers(pa.binary(), len(sets), [None, pa.py_buffer(byte_offsets), pa.py_buffer(values)])


def unpack(values: pa.BinaryArray) -> list[np.ndarray]:
    return [np.frombuffer(v, np.int32) for v in values.to_pylist()]


def unpack_lists(values: pa.BinaryArray) -> pa.ListArray:
    """`pack`'s input back: each binary value's int32 values as a list."""
    _, offset_buffer, data = values.buffers()
    offsets = np.frombuffer(offset_buffer, np.int32)[values.offset:values.offset + len(values) + 1]
    raw = np.frombuffer(data, np.uint8)[offsets[0]:offsets[-1]] if data is not None else np.empty(0, np.uint8)
    return pa.ListArray.from_arrays(pa.array((offsets - offsets[0]) // 4, pa.int32()), pa.array(raw.view(np.int32)))


def candidate_shingle_batches(batches: Iterator[pa.RecordBatch], wanted: pa.Table,
                              cfg_json: str) -> Iterator[pa.RecordBatch]:
    """(doc_id, shingles packed) of the rows of `batches` (doc_id, text) whose doc_id is in `wanted`
    (doc_id, lang), shingled as `wanted`'s lang says (the signed shingling)."""
    ids = wanted.column("doc_id").combine_chunks()
    for batch in batches:
        at = pc.index_in(batch.column("doc_id"), value_set=ids)
        hit = pc.is_valid(at)
        if not pc.any(hit).as_py():
            continue
        rows, at = batch.filter(hit), at.filter(hit)
        docs = pa.RecordBatch.from_arrays(
            [rows.column("doc_id"), wanted.column("lang").take(at).combine_chunks(), rows.column("text")],
            names=["doc_id", "lang", "text"])
        yield shingle_set_batch(docs, cfg_json, packed=True).drop_columns(["lang"])


def _map_batches(batches: Iterator[pa.RecordBatch], fn, **kwargs) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        yield fn(batch, **kwargs)


def shingle_set_frame(docs: DataFrame, cfg: DedupConfig, packed: bool = False) -> DataFrame:
    """`docs` (text and, for shingles=auto, lang) with text replaced by shingles: array<int>, or
    binary when `packed`."""
    kept = [f for f in docs.schema.fields if f.name != "text"]
    fn = functools.partial(_map_batches, fn=shingle_set_batch, cfg_json=cfg.model_dump_json(), packed=packed)
    return docs.mapInArrow(fn, StructType([*kept, PACKED_SHINGLES_FIELD if packed else SHINGLES_FIELD]))
