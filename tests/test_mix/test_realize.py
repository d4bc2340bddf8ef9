import hashlib
from collections import Counter

import numpy as np
import pyarrow.compute as pc
import pytest

from curate.errors import ConfigError
from curate.schemas.mixture import Mixture
from curate.tokenize.encoder import encode_documents
from curate.tokenize.realize import (
    Supply, apportion, bucket_targets, draw, interleave, overlap_groups, pack, realize, stage_targets,
)
from test_tokenize.corpus import python_docs


def mixture(stages, components=None) -> Mixture:
    comps = components or {"a": {"sources": ["a"], "max_epochs": 3}, "b": {"sources": ["b"], "max_epochs": 3}}
    return Mixture.model_validate({"name": "t", "components": comps, "stages": stages})


def supply(prefix, lengths) -> Supply:
    return Supply.of([f"{prefix}{i:04d}" for i in range(len(lengths))], lengths)


def stage_pieces(pieces, stage) -> dict:
    return pieces.filter(pc.equal(pieces["stage"], stage)).to_pydict()


def test_apportion_sums_and_is_within_one():
    got = apportion(1000, {"x": 0.333, "y": 0.333, "z": 0.334})
    assert sum(got.values()) == 1000 and got == {"x": 333, "y": 333, "z": 334}
    got = apportion(7, {"x": 0.5, "y": 0.5})
    assert sum(got.values()) == 7 and abs(got["x"] - got["y"]) == 1


def test_pack_splits_into_exact_samples():
    taken = np.array([5, 12, 3, 4])  # 24 tokens, seq_len 8 -> 3 samples
    p = pack(taken, seq_len=8)
    per_sample = np.bincount(p["sample"], weights=p["tok_len"])
    assert per_sample.tolist() == [8, 8, 8]
    # The 12-token draw spans samples 0..2 and is cut where the samples are.
    d1 = p["draw"] == 1
    assert p["sample"][d1].tolist() == [0, 1, 2]
    assert p["tok_start"][d1].tolist() == [0, 3, 11] and p["tok_len"][d1].tolist() == [3, 8, 1]
    assert p["offset"][d1].tolist() == [5, 0, 0]


def test_draw_prefers_unused_then_repeats_whole_documents():
    s = supply("d", [10] * 10)  # 100 tokens
    usage = np.zeros(10, dtype=np.int64)
    idx1, t1 = draw(s, usage, tokens=35, seed=1, component="a")
    assert t1.tolist() == [10, 10, 10, 5] and sorted(usage.tolist()) == [0] * 6 + [1] * 4
    idx2, t2 = draw(s, usage, tokens=80, seed=2, component="a")
    # The 6 unused documents first, then a second round over all 10.
    assert set(idx2[:6].tolist()) == set(range(10)) - set(idx1.tolist())
    assert t2.sum() == 80 and usage.max() == 2 and usage.min() == 1


def test_draw_is_deterministic_and_seeded():
    s = supply("d", list(range(1, 50)))
    a = draw(s, np.zeros(len(s), dtype=np.int64), tokens=300, seed=7, component="a")[0]
    b = draw(s, np.zeros(len(s), dtype=np.int64), tokens=300, seed=7, component="a")[0]
    c = draw(s, np.zeros(len(s), dtype=np.int64), tokens=300, seed=8, component="a")[0]
    assert a.tolist() == b.tolist() and a.tolist() != c.tolist()
    # Input order does not matter: the supply is sorted by doc_id.
    r = Supply.of(s.doc_ids[::-1], s.n_tokens[::-1])
    got = draw(r, np.zeros(len(r), dtype=np.int64), tokens=300, seed=7, component="a")[0]
    assert r.doc_ids[got].tolist() == s.doc_ids[a].tolist()


def test_interleave_windows_follow_shares():
    pos = interleave({"a": 7000, "b": 2000, "c": 1000}, seed=3)
    owner = np.empty(10_000, dtype=object)
    for c, p in pos.items():
        owner[p] = c
    for start in range(0, 9000, 500):
        window = owner[start : start + 1000]
        assert abs((window == "a").sum() - 700) <= 2
        assert abs((window == "c").sum() - 100) <= 2


def test_realize_exact_shares_and_epochs_across_stages():
    m = mixture(
        [
            {"name": "s1", "budget_tokens": 64 * 300, "seq_len": 64, "seed": 1, "weights": {"a": 2, "b": 1}},
            {"name": "s2", "budget_tokens": 64 * 300 + 63, "seq_len": 64, "seed": 2, "weights": {"a": 1, "b": 1}},
        ]
    )
    rng_lengths = [37, 400, 5, 90, 64, 1, 250, 128, 77, 3000] * 4
    plans, pieces = realize(m, {"a": supply("a", rng_lengths), "b": supply("b", rng_lengths[::-1])})
    for plan in plans:
        t = stage_pieces(pieces, plan.stage.name)
        assert plan.samples == 300
        per_sample = np.bincount(t["sample"], weights=t["tok_len"], minlength=plan.samples)
        assert (per_sample == 64).all()
        for c, st in plan.components.items():
            assert abs(st.realized_share - st.target_share) <= 0.005
            got = sum(n for n, comp in zip(t["tok_len"], t["component"]) if comp == c)
            assert got == st.tokens
    a1, a2 = plans[0].components["a"], plans[1].components["a"]
    assert a2.epochs_cumulative == pytest.approx(a1.epochs + a2.epochs)


def test_component_smaller_than_one_sample_repeats_within_cap():
    m = mixture(
        [{"name": "s", "budget_tokens": 1000, "seq_len": 100, "weights": {"a": 9, "b": 1}}],
        {"a": {"sources": ["a"]}, "b": {"sources": ["b"], "max_epochs": 5}},
    )
    (plan,), _ = realize(m, {"a": supply("a", [300] * 10), "b": supply("b", [30, 20])})  # b: 50 tokens < seq_len
    st = plan.components["b"]
    assert st.tokens == 100 and st.documents == 2 and st.draws >= 4 and st.epochs == 2.0


def test_budget_beyond_epoch_cap_names_component_and_numbers():
    m = mixture(
        [{"name": "s", "budget_tokens": 1000, "seq_len": 100, "weights": {"a": 1, "b": 1}}],
        {"a": {"sources": ["a"]}, "b": {"sources": ["b"], "max_epochs": 2}},
    )
    with pytest.raises(ConfigError, match=r"component 'b': stages ask for 500 tokens \(s 500\) but 200 tokens exist and max_epochs 2 allows 400"):
        realize(m, {"a": supply("a", [600]), "b": supply("b", [100, 100])})


def test_empty_component():
    m = mixture(
        [{"name": "s", "budget_tokens": 1000, "seq_len": 100, "weights": {"a": 1, "b": 1}}],
    )
    with pytest.raises(ConfigError, match=r"component 'b' matches no documents"):
        realize(m, {"a": supply("a", [600] * 3), "b": supply("b", [])})
    m0 = mixture([{"name": "s", "budget_tokens": 1000, "seq_len": 100, "weights": {"a": 1, "b": 0}}])
    (plan,), _ = realize(m0, {"a": supply("a", [600] * 3), "b": supply("b", [])})
    assert plan.components["b"].tokens == 0 and plan.components["a"].tokens == 1000


def test_document_longer_than_seq_len_spans_samples():
    m = mixture([{"name": "s", "budget_tokens": 1000, "seq_len": 100, "weights": {"a": 1}}])
    (plan,), pieces = realize(m, {"a": supply("a", [2500])})
    t = stage_pieces(pieces, "s")
    assert set(t["doc_id"]) == {"a0000"} and plan.samples == 10
    assert t["tok_start"] == list(range(0, 1000, 100))


def test_duplicate_doc_ids_are_refused():
    from curate.errors import StorageError

    with pytest.raises(StorageError, match=r"doc_id 'x' appears more than once"):
        Supply.of(["x", "y", "x"], [3, 4, 5])


def test_spark_realization_equals_the_local_one(spark):
    """Under Spark each group of components up to bucket_docs rows is planned in its own task and
    only aggregates reach the driver: the pieces and the manifest numbers equal the one-process
    realization's."""
    from curate.pipelines.mix import drawn_counts, supply_totals
    from curate.tokenize.realize import stage_plans
    from curate.tokenize.spark import plan_pieces_frame

    m = mixture(
        [
            {"name": "s1", "budget_tokens": 64 * 200, "seq_len": 64, "seed": 3, "weights": {"a": 3, "b": 1, "a2": 1}},
            {"name": "s2", "budget_tokens": 32 * 500, "seq_len": 32, "seed": 4, "weights": {"a": 1, "b": 2}},
        ],
        {"a": {"sources": ["a"], "max_epochs": 3}, "b": {"sources": ["b"], "max_epochs": 3},
         "a2": {"sources": ["a"], "max_epochs": 3}},  # half of a's documents: planned in a's task
    )
    lengths = [37, 400, 5, 90, 64, 1, 250, 128, 77, 3000, 12, 640] * 3
    a = supply("a", lengths)
    supplies = {"a": a, "b": supply("b", lengths[::-1][:20]), "a2": Supply.of(a.doc_ids[::2], a.n_tokens[::2])}
    plans, pieces = realize(m, supplies)
    rows = [
        {"component": c, "doc_id": d, "n_tokens": int(n)}
        for c, s in supplies.items() for d, n in zip(s.doc_ids, s.n_tokens)
    ]
    members = spark.createDataFrame(rows[::-1], "component string, doc_id string, n_tokens long").repartition(3)
    frame = plan_pieces_frame(members, m, totals=supply_totals(members), bucket_docs=len(rows))  # one bucket: v2
    got = frame.toArrow().sort_by([(k, "ascending") for k in ("stage", "sample", "offset")])
    assert got.to_pydict() == pieces.to_pydict()
    drawn, short = drawn_counts(frame)
    assert stage_plans(m, supply_totals(members), drawn) == plans and short == {}


@pytest.fixture(scope="module")
def pydocs() -> tuple[list[str], list[int]]:
    """(doc_id, n_tokens with EOS) of 60 real pages of Python's documentation, by content hash."""
    docs = python_docs(60)
    ids = [hashlib.sha256(d.text.encode()).hexdigest()[:16] for d in docs]
    return ids, [len(t) for t in encode_documents([d.text for d in docs]).to_pylist()]


def _overlapping(pydocs, stages: list[tuple[float, dict]], *, hq_epochs: float, web_epochs: float):
    """`web` = all pages, `hq` = every fourth of the same pages (as prose_hq overlaps web); a stage
    is (budget in multiples of web's supply, weights)."""
    ids, lengths = pydocs
    m = mixture(
        [{"name": f"s{i + 1}", "budget_tokens": int(budget * sum(lengths)), "seq_len": 256, "seed": i + 1,
          "weights": weights} for i, (budget, weights) in enumerate(stages)],
        {"web": {"sources": ["web"], "max_epochs": web_epochs},
         "hq": {"sources": ["web"], "where": "quality_score >= 0.5", "max_epochs": hq_epochs}},
    )
    supplies = {"web": Supply.of(ids, lengths), "hq": Supply.of(ids[::4], lengths[::4])}
    return m, supplies


def _draws_per_document(pieces) -> Counter:
    return Counter(d for d, start in zip(pieces["doc_id"].to_pylist(), pieces["tok_start"].to_pylist()) if start == 0)


def test_overlapping_components_share_one_epoch_cap_per_document(pydocs):
    # web: 1.2 epochs of all pages in s1; hq: 0.6 epochs of its pages in s2 (0.15 of web's supply).
    # Each is within its cap of 2 alone; together a page web drew twice cannot be drawn again.
    m, supplies = _overlapping(pydocs, [(1.2, {"web": 1}), (0.15, {"hq": 1})], hq_epochs=2, web_epochs=2)
    assert overlap_groups(m) == [["hq", "web"]]
    plans, pieces = realize(m, supplies)
    draws = _draws_per_document(pieces)
    assert max(draws.values()) == 2  # ceil(max_epochs), over both components and both stages
    s2 = _draws_per_document(pieces.filter(pc.equal(pieces["stage"], "s2")))
    assert s2 and all(draws[d] == 2 for d in s2)  # hq took pages web drew once, never twice
    for plan in plans:  # and every target is met
        t = stage_pieces(pieces, plan.stage.name)
        for c, st in plan.components.items():
            assert sum(n for n, comp in zip(t["tok_len"], t["component"]) if comp == c) == st.tokens


def test_the_smallest_max_epochs_of_overlapping_components_caps_their_shared_documents(pydocs):
    # hq (max_epochs 1) has no weight, yet its pages are drawn once at most; web's others up to 3 times.
    ids, _ = pydocs
    m, supplies = _overlapping(pydocs, [(2.2, {"web": 1}), (0.05, {"web": 1})], hq_epochs=1, web_epochs=3)
    _, pieces = realize(m, supplies)
    draws = _draws_per_document(pieces)
    assert max(draws[d] for d in ids[::4]) == 1 and max(draws.values()) == 3


def test_a_component_the_shared_caps_leave_short_is_refused(pydocs):
    # web: 1.5 epochs of all pages under a cap of 2 draws, so about half of hq's pages are at 2 when
    # hq asks 0.9 epochs of them (each alone is within its cap).
    m, supplies = _overlapping(pydocs, [(1.5, {"web": 1}), (0.225, {"hq": 1})], hq_epochs=2, web_epochs=2)
    with pytest.raises(ConfigError, match=r"stage 's2': component 'hq' is [\d,]+ of its [\d,]+ tokens short: every "
                                          r"one of its documents was drawn as often as its epoch cap allows .*"
                                          r"drawn by \['web'\]"):
        realize(m, supplies)


def test_a_weight_that_rounds_to_zero_samples_is_a_warning_naming_the_component():
    m = mixture(
        [{"name": "s", "budget_tokens": 1000, "seq_len": 100, "weights": {"a": 1, "b": 0.01}},
         {"name": "t", "budget_tokens": 1000, "seq_len": 100, "weights": {"a": 1, "b": 0}}],
    )
    plans, _ = realize(m, {"a": supply("a", [300] * 10), "b": supply("b", [30, 20])})
    assert plans[0].unsampled == ("b",) and plans[1].unsampled == ()  # a weight of 0 asks for nothing
    (warning,) = plans[0].warnings
    assert "stage 's': component 'b' has weight 0.01" in warning and "gets 0 of the stage's 10 samples" in warning


def test_components_sharing_a_source_are_planned_together():
    m = mixture([{"name": "s", "budget_tokens": 1000, "seq_len": 100, "weights": {"a": 1}}],
                {"a": {"sources": ["x"]}, "b": {"sources": ["y", "z"]}, "c": {"sources": ["z", "w"]},
                 "d": {"sources": ["w"]}, "e": {"sources": ["v"]}})
    assert overlap_groups(m) == [["a"], ["b", "c", "d"], ["e"]]


def test_the_shard_version_changes_with_the_plan_version(monkeypatch):
    from curate.tokenize import publish

    m = mixture([{"name": "s", "budget_tokens": 1000, "seq_len": 100, "weights": {"a": 1}}])
    now = publish.version_of(m, {"docs_tokenized": 3}, {"docs_tokenized": "a-table-id"})
    monkeypatch.setattr(publish, "PLAN_VERSION", publish.PLAN_VERSION - 1)
    assert publish.version_of(m, {"docs_tokenized": 3}, {"docs_tokenized": "a-table-id"}) != now


def test_bucket_targets_share_each_stage_out_in_proportion_within_the_caps():
    m = mixture([{"name": "s1", "budget_tokens": 7_000, "seq_len": 100, "seed": 1, "weights": {"a": 1}},
                 {"name": "s2", "budget_tokens": 3_300, "seq_len": 100, "seed": 2, "weights": {"a": 1}},
                 {"name": "s3", "budget_tokens": 1_700, "seq_len": 100, "seed": 3, "weights": {"a": 1}}],
                {"a": {"sources": ["a"], "max_epochs": 2}})
    tokens = [1_000, 3_513, 0, 1_487, 1]  # 6,001 tokens: 12,000 asked is just within 2 epochs
    (per_bucket,) = bucket_targets(m, {"a": tokens}).values()
    through = [0] * len(tokens)
    for s, stage in enumerate(m.stages):
        shares = [per_bucket[b][s] for b in range(len(tokens))]
        assert sum(t for t, _ in shares) == stage_targets(m, stage)["a"]
        assert [start for _, start in shares] == list(np.cumsum([0] + [t for t, _ in shares[:-1]]))
        for b, (t, _) in enumerate(shares):
            through[b] += t
            assert abs(through[b] - sum(stage_targets(m, x)["a"] for x in m.stages[: s + 1]) * tokens[b] / 6_001) < 1
    assert all(t <= 2 * n for t, n in zip(through, tokens)) and through[2] == 0


def _pydocs_members(spark, n: int, *, partitions: int):
    """(component, doc_id, n_tokens) of `n` real pages: `web` all, `hq` every fourth (overlapping)."""
    docs = python_docs(n)
    ids = [hashlib.sha256(d.text.encode()).hexdigest()[:16] for d in docs]
    lengths = [len(t) for t in encode_documents([d.text for d in docs]).to_pylist()]
    rows = [("web", d, n_) for d, n_ in zip(ids, lengths)] + [("hq", d, n_) for d, n_ in zip(ids[::4], lengths[::4])]
    frame = spark.createDataFrame(rows, "component string, doc_id string, n_tokens long").repartition(partitions)
    return frame, sum(lengths)


def _bucketed_mixture(supply: int) -> Mixture:
    return mixture(
        [{"name": "s1", "budget_tokens": int(0.8 * supply) // 512 * 512, "seq_len": 512, "seed": 1,
          "weights": {"web": 3, "hq": 1}},
         {"name": "s2", "budget_tokens": int(0.4 * supply) // 256 * 256, "seq_len": 256, "seed": 2,
          "weights": {"web": 1, "hq": 1}}],
        {"web": {"sources": ["web"], "max_epochs": 2}, "hq": {"sources": ["web"], "max_epochs": 2}},
    )


def test_bucketed_planning_is_bounded_and_the_same_for_any_partitioning(spark):
    """A group far beyond plan_bucket_docs rows is planned in hash buckets of about that many rows,
    whatever the corpus size; the pieces do not depend on the partitioning, fill every sample and
    meet every target within the per-document epoch cap."""
    from curate.pipelines.mix import supply_totals
    from curate.tokenize.spark import plan_pieces_frame, planning_buckets

    bucket_docs = 40
    for n in (240, 480):  # the corpus doubles; the largest task does not
        members, supply = _pydocs_members(spark, n, partitions=3)
        tagged, targets = planning_buckets(members, _bucketed_mixture(supply), totals=supply_totals(members),
                                           bucket_docs=bucket_docs)
        sizes = [r["count"] for r in tagged.groupBy("group", "bucket").count().collect()]
        assert len(sizes) == -(-(n + n // 4) // bucket_docs) and set(targets) == {"hq", "web"}
        assert max(sizes) <= 1.5 * bucket_docs, sorted(sizes)

    runs = []
    before = spark.conf.get("spark.sql.shuffle.partitions")
    try:
        for partitions, shuffle in [(1, 2), (5, 7)]:
            spark.conf.set("spark.sql.shuffle.partitions", str(shuffle))
            members, supply = _pydocs_members(spark, 240, partitions=partitions)
            m = _bucketed_mixture(supply)
            frame = plan_pieces_frame(members, m, totals=supply_totals(members), bucket_docs=bucket_docs)
            runs.append(frame.toArrow().sort_by([(k, "ascending") for k in ("stage", "sample", "offset")]))
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", before)
    assert runs[0].equals(runs[1])
    pieces = runs[0]
    assert pieces["doc_id"].null_count == 0  # no shortfall row
    assert max(_draws_per_document(pieces).values()) <= 2
    for stage in m.stages:
        t = stage_pieces(pieces, stage.name)
        per_sample = Counter()
        for sample, n in zip(t["sample"], t["tok_len"]):
            per_sample[sample] += n
        assert sorted(per_sample) == list(range(stage.samples))
        assert set(per_sample.values()) == {stage.seq_len}
        for c, target in stage_targets(m, stage).items():
            assert sum(n for n, comp in zip(t["tok_len"], t["component"]) if comp == c) == target
