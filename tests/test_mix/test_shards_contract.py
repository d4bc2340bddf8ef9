"""Contract tests: `curate mix` output read back with streaming.StreamingDataset, the trainer's reader."""

import contextlib
import hashlib
import json
import logging
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml

from curate.delta.store import open_store
from curate.errors import ConfigError
from curate.jobs.common import StageContext
from curate.jobs.mix import run_mix
from curate.jobs.tokenize_docs import run_tokenize
from curate.schemas.config import PipelineConfig
from curate.tokenize.encoder import EOS_ID, UNASSIGNED_IDS, VOCAB_SIZE, get_encoding
from curate.tokenize.publish import MANIFEST, VERSIONS
from test_tokenize.corpus import curated_rows, manpages, python_docs, special_docs, stdlib_code

MIXTURE = {
    "name": "contract",
    "components": {
        "man": {"sources": ["man_de", "man_fr", "man_ja"], "max_epochs": 3},
        "docs": {"sources": ["pydocs"], "where": "quality_score >= 0.6", "max_epochs": 2},
        "code": {"sources": ["stdlib"], "where": "kind = 'code'", "max_epochs": 1},
        "tiny": {"sources": ["special"], "max_epochs": 200},  # fewer tokens than one sample
        "nothing": {"sources": ["pydocs"], "where": "lang = 'xx'"},  # empty
        "rare": {"sources": ["man_fr"], "max_epochs": 3},  # a weight too small for one sample
    },
    "stages": [
        {"name": "s1", "budget_tokens": 64 * 500 + 17, "seq_len": 64, "seed": 5,
         "weights": {"man": 3, "docs": 4, "code": 2.9, "tiny": 0.1, "rare": 0.001}},
        {"name": "s2", "budget_tokens": 128 * 300, "seq_len": 128, "seed": 6,
         "weights": {"man": 1, "docs": 1, "code": 1, "nothing": 0}},
    ],
    "shards": {"size_limit_bytes": 65536, "compression": "zstd"},
}


def write_mixture(path: Path, data: dict) -> str:
    path.write_text(yaml.safe_dump(data))
    return str(path)


@pytest.fixture(scope="module")
def env(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("root")
    docs = (
        manpages("de", 6) + manpages("fr", 6) + manpages("ja", 6) + python_docs(30)
        + stdlib_code(20, package="email") + special_docs()
    )
    rows = curated_rows(docs)
    store = open_store(spark, str(root))
    df = spark.createDataFrame(rows)
    store.append(df, "docs_curated", schema=df.schema)
    cfg = PipelineConfig(root=str(root), mix={"samples_per_task": 128})
    ctx = StageContext(spark=spark, cfg=cfg, store=store, run_id="tok")
    run_tokenize(ctx)
    mixture = write_mixture(root / "mixture.yaml", MIXTURE)
    mctx = StageContext(spark=spark, cfg=cfg, store=store, run_id="mix1", options={"mixture": mixture})
    with _captured_warnings() as warned:
        result = run_mix(mctx)
    return {"root": root, "ctx": mctx, "result": result, "rows": rows, "version_dir": Path(result.message),
            "warnings": warned}


@contextlib.contextmanager
def _captured_warnings():
    """The WARNING records curate's loggers emit meanwhile (a module-scoped caplog)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    logger = logging.getLogger("curate")
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


def read_all(stage_dir: Path, cache: Path) -> list[dict]:
    from streaming import StreamingDataset

    ds = StreamingDataset(remote=str(stage_dir), local=str(cache), shuffle=False, batch_size=1)
    return [{"tokens": np.asarray(s["tokens"]), "source": s["source"]} for s in ds]


@pytest.fixture(scope="module")
def samples(env, tmp_path_factory):
    return {
        stage: read_all(env["version_dir"] / stage, tmp_path_factory.mktemp(f"cache_{stage}"))
        for stage in ("s1", "s2")
    }


def manifest(env, stage) -> dict:
    return json.loads((env["version_dir"] / stage / MANIFEST).read_text())


def test_layout_and_manifest(env):
    vdir = env["version_dir"]
    assert vdir.parent == env["root"] / "shards" / "contract"
    assert sorted(p.name for p in vdir.iterdir()) == ["s1", "s2"]
    assert not [p for p in vdir.parent.iterdir() if p.name.startswith(".tmp")]
    m = manifest(env, "s1")
    for key in ("seq_len", "samples", "tokens", "components", "shards", "config_hash", "input_versions", "train_loader"):
        assert key in m
    assert m["seq_len"] == 64 and m["samples"] == 500 and m["tokens"] == 32000
    assert m["input_versions"] == {"docs_tokenized": 0}
    assert m["shards"]["count"] > 1 and m["shards"]["bytes"] > 0
    for c in m["components"].values():
        assert {"target_share", "realized_share", "tokens", "documents", "epochs"} <= set(c)
    assert m["components"]["nothing"]["tokens"] == 0 and m["components"]["nothing"]["supply_documents"] == 0
    loader = yaml.safe_load(m["train_loader"])["train_loader"]
    assert loader["dataset"]["max_seq_len"] == 64 and loader["dataset"]["remote"] == str(vdir / "s1")
    assert [v["version"] for v in json.loads((vdir.parent / VERSIONS).read_text())] == [vdir.name]


def test_a_weight_without_a_sample_is_a_warning_naming_the_component(env):
    expected = "stage 's1': component 'rare' has weight 0.001"
    assert [w for w in manifest(env, "s1")["warnings"] if expected in w] and manifest(env, "s2")["warnings"] == []
    assert [r for r in env["warnings"] if expected in r.getMessage() and r.name == "curate.jobs.mix"]
    assert env["result"].counts["samples.s1.rare"] == 0 and "samples.s2.rare" not in env["result"].counts
    assert manifest(env, "s1")["components"]["rare"]["tokens"] == 0


@pytest.mark.parametrize("stage", ["s1", "s2"])
def test_samples_are_exact_length_and_valid_ids(env, samples, stage):
    seq_len = manifest(env, stage)["seq_len"]
    got = samples[stage]
    assert len(got) == manifest(env, stage)["samples"]
    for s in got:
        assert s["tokens"].dtype == np.int32 and s["tokens"].shape == (seq_len,)
        assert s["tokens"].min() >= 0 and s["tokens"].max() < VOCAB_SIZE
    ids = np.concatenate([s["tokens"] for s in got])
    assert not np.isin(ids, list(UNASSIGNED_IDS)).any()


@pytest.mark.parametrize("stage", ["s1", "s2"])
def test_realized_shares_within_half_a_point(env, samples, stage):
    weights = next(s for s in MIXTURE["stages"] if s["name"] == stage)["weights"]
    total_w = sum(weights.values())
    tokens = Counter()
    for s in samples[stage]:
        tokens[s["source"]] += s["tokens"].size
    total = sum(tokens.values())
    m = manifest(env, stage)
    for comp, w in weights.items():
        assert abs(tokens[comp] / total - w / total_w) <= 0.005, comp
        assert m["components"][comp]["realized_share"] == pytest.approx(tokens[comp] / total)


@pytest.mark.parametrize("stage", ["s1", "s2"])
def test_every_window_of_samples_follows_the_mixture(samples, stage):
    # The windows hold 1 000 samples; these stages hold 300-500, so every window of 200 is
    # checked. Jittered stratification bounds a component's count in any window to
    # w x share +- (2 + 2 x components x share) samples: under 6 (3 %) here.
    weights = next(s for s in MIXTURE["stages"] if s["name"] == stage)["weights"]
    total_w = sum(weights.values())
    owners = [s["source"] for s in samples[stage]]
    w = 200
    for start in range(len(owners) - w + 1):
        window = Counter(owners[start : start + w])
        for comp, weight in weights.items():
            assert abs(window[comp] - w * weight / total_w) <= 0.03 * w, (stage, start, comp)


def test_decoding_gives_back_text_spans(env, samples):
    enc = get_encoding()
    texts: dict[str, list[bytes]] = {}
    for r in env["rows"]:
        comp = next(
            (c for c, spec in MIXTURE["components"].items() if r["source"] in spec["sources"] and c != "nothing"), None
        )
        texts.setdefault(comp, []).append(r["text"].encode())
    for stage in ("s1", "s2"):
        for s in samples[stage]:
            docs = texts[s["source"]]
            cuts = np.flatnonzero(s["tokens"] == EOS_ID)
            segments = np.split(s["tokens"], cuts + 1)
            for i, seg in enumerate(segments):
                complete = seg.size and seg[-1] == EOS_ID
                body = enc.decode_bytes((seg[:-1] if complete else seg).tolist())
                if len(segments) == 1:  # no EOS: the inside of one long document
                    assert any(body in d for d in docs)
                elif i == 0 and complete:  # from the sample start to an EOS: a document's end
                    assert any(d.endswith(body) for d in docs)
                elif complete:  # between two EOS: a whole document
                    assert body in docs
                else:  # after the last EOS: a document's beginning
                    assert any(d.startswith(body) for d in docs)


def test_edge_documents_reach_the_shards(samples):
    enc = get_encoding()
    tiny = [s for s in samples["s1"] if s["source"] == "tiny"]
    assert len(tiny) == 5  # 0.1 / 10 of 500 samples, from ~40 tokens of supply (repeated)
    text = "".join(enc.decode(s["tokens"].tolist()) for s in tiny)
    assert "<|endoftext|>" in text and "🎉🚀" in text and "東京" in text
    # The special-token text came back as ordinary tokens, so it survives with EOS ids removed.
    ids = np.concatenate([s["tokens"] for s in tiny])
    assert "<|endoftext|>" in enc.decode([t for t in ids.tolist() if t != EOS_ID])


def test_a_document_longer_than_seq_len_spans_samples(samples):
    # Manpages are thousands of tokens: some samples hold no EOS at all.
    assert any((s["tokens"] != EOS_ID).all() for s in samples["s1"] if s["source"] == "man")


def test_resume_from_state_dict(env, samples, tmp_path):
    from streaming import StreamingDataset

    stage_dir = env["version_dir"] / "s1"
    first = StreamingDataset(remote=str(stage_dir), local=str(tmp_path / "a"), shuffle=False, batch_size=1)
    it = iter(first)
    for _ in range(137):
        next(it)
    state = first.state_dict(137, True)
    resumed = StreamingDataset(remote=str(stage_dir), local=str(tmp_path / "b"), shuffle=False, batch_size=1)
    resumed.load_state_dict(state)
    rest = [np.asarray(s["tokens"]) for s in resumed]
    expected = [s["tokens"] for s in samples["s1"][137:]]
    assert len(rest) == len(expected) and all(np.array_equal(a, b) for a, b in zip(rest, expected))


def digest_dir(path: Path) -> dict[str, str]:
    return {
        str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }


def test_same_config_same_shards_and_reuse(env, tmp_path):
    vdir = env["version_dir"]
    before = digest_dir(vdir)
    again = run_mix(env["ctx"])  # already published: nothing is rewritten
    assert again.counts == {"reused": 1} and digest_dir(vdir) == before
    moved = tmp_path / "old"
    shutil.move(str(vdir), moved)
    try:
        rerun = run_mix(env["ctx"])
        assert Path(rerun.message) == vdir
        assert digest_dir(vdir) == digest_dir(moved)
    finally:
        shutil.rmtree(vdir, ignore_errors=True)
        shutil.move(str(moved), vdir)


def test_weight_edit_publishes_a_new_version_beside_the_old(env, tmp_path):
    data = json.loads(json.dumps(MIXTURE))
    data["stages"][1]["weights"] = {"man": 2, "docs": 1, "code": 1}
    ctx = env["ctx"]
    edited = StageContext(spark=ctx.spark, cfg=ctx.cfg, store=ctx.store, run_id="mix2",
                          options={"mixture": write_mixture(tmp_path / "m.yaml", data)})
    new_dir = Path(run_mix(edited).message)
    assert new_dir != env["version_dir"] and env["version_dir"].is_dir()
    listed = [v["version"] for v in json.loads((new_dir.parent / VERSIONS).read_text())]
    assert listed == [env["version_dir"].name, new_dir.name]
    m = json.loads((new_dir / "s2" / MANIFEST).read_text())
    assert m["components"]["man"]["realized_share"] == pytest.approx(0.5, abs=0.005)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["components"]["man"].update(sources=["man_de", "man_xx"]),
         r"component 'man' names unknown sources \['man_xx'\]; docs_tokenized has sources \["),
        (lambda d: d["components"]["docs"].update(where="qualty_score > 0.5"),
         r"components\.docs\.where 'qualty_score > 0\.5' is not a valid predicate .*UNRESOLVED_COLUMN.*columns \['doc_id'"),
        (lambda d: d["components"]["docs"].update(where="lang = "),
         r"components\.docs\.where 'lang = ' is not a valid predicate .*PARSE_SYNTAX_ERROR"),
        (lambda d: d["components"]["docs"].update(where="n_tokens + 1"),
         r"components\.docs\.where 'n_tokens \+ 1' is not a valid predicate .*DATATYPE_MISMATCH"),
        (lambda d: d["components"]["code"].update(max_epochs=0.05),
         r"component 'code': stages ask for [\d,]+ tokens \(s1 9,280, s2 12,800\) but [\d,]+ tokens exist and max_epochs 0\.05"),
        (lambda d: d["stages"][1]["weights"].update(nothing=1),
         r"component 'nothing' matches no documents"),
        # The special documents, once in a component of max_epochs 1, cap tiny's 200 epochs at 1 draw.
        (lambda d: d["components"].update(special_once={"sources": ["special"], "max_epochs": 1}),
         r"stage 's1': component 'tiny' is [\d,]+ of its 320 tokens short: .* drawn by \['special_once'\]"),
    ],
)
def test_mixture_refused_against_the_data(env, tmp_path, edit, message):
    data = json.loads(json.dumps(MIXTURE))
    edit(data)
    ctx = env["ctx"]
    bad = StageContext(spark=ctx.spark, cfg=ctx.cfg, store=ctx.store, run_id="bad",
                       options={"mixture": write_mixture(tmp_path / "bad.yaml", data)})
    with pytest.raises(ConfigError, match=message):
        run_mix(bad)
    assert not [p for p in (env["root"] / "shards" / "contract").iterdir() if p.name.startswith(".tmp")]
