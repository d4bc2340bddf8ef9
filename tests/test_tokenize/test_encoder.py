import hashlib

import pyarrow as pa
import pytest

from test_tokenize.corpus import corpus
from curate.errors import DependencyError
from curate.tokenize import encoder
from curate.tokenize.encoder import (
    EOS_ID,
    UNASSIGNED_IDS,
    VOCAB_SIZE,
    bpe_file,
    encode_documents,
    get_encoding,
    tokenize_batch,
)


def test_bundled_file_is_the_official_one():
    digest = hashlib.sha256(bpe_file().read_bytes()).hexdigest()
    assert digest.startswith("223921b7") and digest.endswith("b2a7")
    assert digest == encoder.CL100K_SHA256


def test_encoding_has_the_official_layout(official):
    enc = get_encoding()
    assert enc.n_vocab == official.n_vocab == VOCAB_SIZE
    assert enc._special_tokens == official._special_tokens
    assert enc._pat_str == official._pat_str
    assigned = set(enc._mergeable_ranks.values()) | set(enc._special_tokens.values())
    assert UNASSIGNED_IDS == set(range(VOCAB_SIZE)) - assigned


def test_ids_equal_official_encode_ordinary_on_real_corpus(official):
    docs = corpus()
    assert {d.kind for d in docs} == {"text", "code"} and len({d.lang for d in docs}) >= 8
    texts = [d.text for d in docs]
    ids = encode_documents(texts, threads=2).to_pylist()
    for doc, got in zip(docs, ids, strict=True):
        assert got[-1] == EOS_ID, doc.uri
        assert got[:-1] == official.encode_ordinary(doc.text), doc.uri


@pytest.mark.parametrize(
    "text",
    [
        "Grüße, 你好, こんにちは, Здравствуйте — ½ ∑ ≤",
        "🎉🚀👩‍👩‍👧‍👦🇩🇪",  # emoji only, with ZWJ sequences and a flag
        "before <|endoftext|> after <|fim_prefix|><|endofprompt|>",
        "",
    ],
)
def test_special_and_non_ascii_text(official, text):
    (ids,) = encode_documents([text]).to_pylist()
    assert ids == [*official.encode_ordinary(text), EOS_ID]
    # Special-token text is ordinary text: EOS only at the end, never a control token inside.
    assert not set(ids[:-1]) & set(official._special_tokens.values())
    assert official.decode(ids[:-1]) == text


def test_tokenize_batch_keeps_columns_and_drops_text():
    batch = pa.RecordBatch.from_pydict({"doc_id": ["a", "b"], "text": ["hello world", "<|endoftext|>"]})
    out = tokenize_batch(batch)
    assert out.schema.names == ["doc_id", "n_tokens", "tokens"]
    assert out.schema.field("tokens").type == pa.list_(pa.int32())
    rows = out.to_pylist()
    assert rows[0]["tokens"] == [15339, 1917, EOS_ID] and rows[0]["n_tokens"] == 3
    assert rows[1]["tokens"][-1] == EOS_ID and EOS_ID not in rows[1]["tokens"][:-1]


def test_corrupted_file_is_refused(tmp_path, monkeypatch):
    bad = tmp_path / "data" / "cl100k_base.tiktoken"
    bad.parent.mkdir()
    data = bytearray(bpe_file().read_bytes())
    data[100] ^= 1
    bad.write_bytes(bytes(data))
    monkeypatch.setattr(encoder, "bpe_file", lambda: bad)
    get_encoding.cache_clear()
    try:
        with pytest.raises(DependencyError, match="expected 223921b7.*reinstall"):
            get_encoding()
    finally:
        monkeypatch.undo()
        get_encoding.cache_clear()
