"""Realizing a mixture: which documents fill which samples, decided on document lengths alone.

Plain numpy over (doc_id, n_tokens) of the components; no tokens and no Spark. Components that
share a source may share documents (`prose_hq` and `web` in examples/mixture.yaml), so they are
realized together (`overlap_groups`, `plan_group`); under Spark a group of more than
mix.plan_bucket_docs member rows is split into hash buckets of its documents (`bucket_targets`),
one task each, so no task's input grows with the corpus and no document list reaches the driver;
the driver assembles the manifest's numbers from per-component aggregates (`stage_plans`). The
result is a table of *pieces* — (stage, sample, offset in sample, doc_id, token start, token
count) — that the shard writer fills with token ids.

The rules, per stage:
- A component gets `round(samples x share)` whole samples (largest remainder, so they sum to the
  stage's samples); every sample holds exactly `seq_len` tokens of ONE component.
- A component's documents are drawn in rounds. Round r holds the documents used r times so far,
  in a seeded hash order; a stage takes documents until its target is met, so a later stage takes
  the documents earlier stages left unused before it repeats any, and a document repeats only
  after every document of its component was used as often.
- One epoch cap per document: a document is drawn at most ceil(max_epochs) times over all stages
  and all components, where max_epochs is the smallest of the components that contain it (None:
  no cap). Uses count across components: a document `web` drew is used for `prose_hq` too, so
  `prose_hq` prefers documents no component drew yet. Within a stage, the components of a group
  draw in name order. A component whose documents all reached their cap before its target is
  met leaves a shortfall, and the mixture is refused (`check_shortfalls`).
- Buckets (plan version 3): a group's documents are split into B = ceil(member rows /
  mix.plan_bucket_docs) buckets by a hash of doc_id (every component of a document in the same
  bucket), and the rules above hold within each bucket. A component's tokens are shared out in
  proportion to its supply in each bucket, cumulatively over the stages: through stage s, bucket b
  draws floor(C x P(b+1) / S) - floor(C x P(b) / S) tokens, C the component's tokens through s, S
  its supply, P(b) its supply in the buckets before b; so no bucket is asked beyond its epoch cap
  when the component as a whole is not, and every bucket is about as far into its epochs. The
  component's draw order of a stage is bucket 0's draws, then bucket 1's, ..., and each bucket's
  last drawn document is cut as below. With one bucket (B = 1: any group up to plan_bucket_docs
  rows) the pieces are plan version 2's.
- Drawn documents, each ending with EOS, are concatenated and split every `seq_len` tokens. Tail
  policy: the last drawn document is cut at the target; its remainder is not emitted in this stage
  (the document still counts as used). Nothing is padded.
- Samples of the components are interleaved by jittered stratification: sample j of a component
  with n samples gets the key (j + u) / n, u uniform in [0, 1) from the stage seed, and all samples
  are ordered by key. Any window of w consecutive samples then holds w x share ± 2 samples of each
  component.

A change of these rules that gives other pieces for the same mixture and input bumps
PLAN_VERSION, which is part of the shard version (curate.tokenize.publish.version_of).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from curate.errors import ConfigError, StorageError
from curate.schemas.mixture import Mixture, StageSpec

# 3: groups beyond mix.plan_bucket_docs rows planned in hash buckets (2: one epoch cap per document
# across overlapping components; 1: one per component).
PLAN_VERSION = 3

PIECES_SCHEMA = pa.schema(
    [
        ("stage", pa.string()),
        ("sample", pa.int64()),  # position of the sample in the stage
        ("offset", pa.int32()),  # where the piece starts inside the sample
        # null: a shortfall row, tok_len = tokens the component could not draw (see check_shortfalls)
        ("doc_id", pa.string()),
        ("tok_start", pa.int32()),  # first token of the document the piece takes
        ("tok_len", pa.int32()),
        ("component", pa.string()),
    ]
)

_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer: a bijective scramble of uint64 values."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return (x ^ (x >> np.uint64(31))) & _M64


@dataclass(frozen=True)
class Supply:
    """The documents of one component, sorted by doc_id so that draws never depend on input order."""

    doc_ids: np.ndarray  # str objects
    n_tokens: np.ndarray  # int64, EOS included
    keys: np.ndarray = field(repr=False)  # uint64 hash of doc_id

    @classmethod
    def of(cls, doc_ids: list[str] | np.ndarray, n_tokens: list[int] | np.ndarray) -> Supply:
        ids = np.asarray(doc_ids, dtype=object)
        lengths = np.asarray(n_tokens, dtype=np.int64)
        if ids.shape != lengths.shape:
            raise ValueError(f"doc_ids ({ids.shape}) and n_tokens ({lengths.shape}) differ in length")
        if lengths.size and lengths.min() < 1:
            raise StorageError("docs_tokenized has a document with n_tokens < 1 (every one ends with EOS); rerun `curate tokenize`")
        order = np.argsort(ids, kind="stable")
        ids, lengths = ids[order], lengths[order]
        if ids.size > 1 and (ids[1:] == ids[:-1]).any():
            dup = ids[1:][ids[1:] == ids[:-1]][0]
            raise StorageError(f"doc_id {dup!r} appears more than once in docs_tokenized; rerun `curate tokenize`")
        keys = np.fromiter((xxhash.xxh3_64_intdigest(d) for d in ids), dtype=np.uint64, count=ids.size)
        return cls(ids, lengths, keys)

    @property
    def tokens(self) -> int:
        return int(self.n_tokens.sum())

    def __len__(self) -> int:
        return int(self.doc_ids.size)


def apportion(total: int, shares: dict[str, float]) -> dict[str, int]:
    """Split `total` whole units by `shares` (summing to 1) with the largest-remainder method."""
    exact = {k: total * s for k, s in shares.items()}
    counts = {k: math.floor(v) for k, v in exact.items()}
    left = total - sum(counts.values())
    # Largest remainder first; ties go to the larger share, then to the name, for determinism.
    for k in sorted(exact, key=lambda k: (-(exact[k] - counts[k]), -shares[k], k))[:left]:
        counts[k] += 1
    return counts


def stage_targets(mixture: Mixture, stage: StageSpec) -> dict[str, int]:
    """Tokens each component contributes to `stage`: whole samples times seq_len."""
    samples = apportion(stage.samples, mixture.shares(stage))
    return {c: n * stage.seq_len for c, n in samples.items()}


def check_supply(mixture: Mixture, supply_tokens: dict[str, int]) -> None:
    """Refuse a mixture whose stages ask a component for more tokens than its epoch cap allows."""
    problems = []
    for name, comp in mixture.components.items():
        asked = {s.name: stage_targets(mixture, s)[name] for s in mixture.stages}
        total = sum(asked.values())
        have = supply_tokens.get(name, 0)
        if total == 0:
            continue
        per_stage = ", ".join(f"{s} {n:,}" for s, n in asked.items() if n)
        if have == 0:
            problems.append(
                f"component {name!r} matches no documents (sources {comp.sources}, where {comp.where!r}) "
                f"but stages ask it for {total:,} tokens ({per_stage}); fix its sources/where or set its weights to 0"
            )
        elif comp.max_epochs is not None and total > comp.max_epochs * have:
            problems.append(
                f"component {name!r}: stages ask for {total:,} tokens ({per_stage}) but {have:,} tokens exist "
                f"and max_epochs {comp.max_epochs:g} allows {math.floor(comp.max_epochs * have):,}; lower its "
                f"weights or the budgets, or raise max_epochs to at least {math.ceil(total / have * 100) / 100:g}"
            )
    if problems:
        raise ConfigError(f"mixture {mixture.name!r} cannot be realized:\n  " + "\n  ".join(problems))


def draw(supply: Supply, usage: np.ndarray, *, tokens: int, seed: int, component: str,
         cap: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Draw documents until `tokens` are covered or every document is at its `cap` (draws per
    document; None: no cap); returns (doc indices in order, tokens taken of each), which cover
    fewer than `tokens` when the caps stopped it.

    `usage` (times each document was used by earlier stages) is updated in place.
    """
    picked: list[np.ndarray] = []
    taken: list[np.ndarray] = []
    need = tokens
    while need > 0:
        open_ = np.flatnonzero(usage < cap) if cap is not None else np.arange(usage.size)
        if not open_.size:
            break
        rnd = int(usage[open_].min())
        cand = open_[usage[open_] == rnd]
        salt = np.uint64(xxhash.xxh3_64_intdigest(f"{seed}\x00{component}\x00{rnd}"))
        cand = cand[np.argsort(_mix64(supply.keys[cand] ^ salt), kind="stable")]
        cum = np.cumsum(supply.n_tokens[cand])
        n = int(np.searchsorted(cum, need)) + 1  # first prefix that reaches `need`
        cand = cand[:n]
        take = supply.n_tokens[cand].copy()
        if cum[min(n, cum.size) - 1] >= need:
            take[-1] -= int(cum[n - 1] - need)
        picked.append(cand)
        taken.append(take)
        usage[cand] += 1
        need -= int(take.sum())
    if not picked:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    return np.concatenate(picked), np.concatenate(taken)


def pack(taken: np.ndarray, *, seq_len: int, start: int = 0) -> dict[str, np.ndarray]:
    """Split the concatenation of drawn pieces (lengths `taken`), placed from token `start` of the
    component's stream on, into samples of `seq_len` tokens.

    Returns parallel arrays: draw (index into `taken`), sample, offset (in the sample), tok_start
    (in the document), tok_len.
    """
    taken = np.asarray(taken, dtype=np.int64)
    starts = start + np.cumsum(taken) - taken
    first = starts // seq_len
    last = (starts + taken - 1) // seq_len
    per_draw = (last - first + 1).astype(np.int64)
    draw_idx = np.repeat(np.arange(taken.size), per_draw)
    # k-th piece of its draw.
    k = np.arange(draw_idx.size) - np.repeat(np.cumsum(per_draw) - per_draw, per_draw)
    sample = first[draw_idx] + k
    lo = np.maximum(starts[draw_idx], sample * seq_len)
    hi = np.minimum(starts[draw_idx] + taken[draw_idx], (sample + 1) * seq_len)
    return {
        "draw": draw_idx,
        "sample": sample,
        "offset": lo - sample * seq_len,
        "tok_start": lo - starts[draw_idx],
        "tok_len": hi - lo,
    }


def interleave(counts: dict[str, int], *, seed: int) -> dict[str, np.ndarray]:
    """Global position of each component's samples (see the module doc)."""
    rng = np.random.default_rng(seed)
    names = sorted(counts)
    keys = [(np.arange(counts[c]) + rng.random(counts[c])) / max(counts[c], 1) for c in names]
    owner = np.concatenate([np.full(counts[c], i) for i, c in enumerate(names)]) if names else np.empty(0)
    order = np.lexsort((owner, np.concatenate(keys) if keys else np.empty(0)))
    position = np.empty(order.size, dtype=np.int64)
    position[order] = np.arange(order.size)
    out, at = {}, 0
    for c in names:
        out[c] = position[at : at + counts[c]]
        at += counts[c]
    return out


@dataclass(frozen=True)
class ComponentStats:
    target_share: float
    realized_share: float
    tokens: int
    documents: int  # distinct documents drawn
    draws: int  # documents drawn, repeats included
    epochs: float  # tokens / supply tokens, this stage
    epochs_cumulative: float  # through this stage
    supply_tokens: int
    supply_documents: int


@dataclass(frozen=True)
class StagePlan:
    stage: StageSpec
    samples: int
    components: dict[str, ComponentStats]
    unsampled: tuple[str, ...] = ()  # components with a weight > 0 that get no sample

    @property
    def tokens(self) -> int:
        return self.samples * self.stage.seq_len

    @property
    def warnings(self) -> list[str]:
        return [
            f"stage {self.stage.name!r}: component {name!r} has weight {self.stage.weights[name]:g} (share "
            f"{self.components[name].target_share:.3%}) but gets 0 of the stage's {self.samples:,} samples; "
            f"raise its weight or budget_tokens, or set the weight to 0"
            for name in self.unsampled
        ]


def overlap_groups(mixture: Mixture) -> list[list[str]]:
    """The components, grouped so that components sharing a source (and so, maybe, documents) are
    in one group, directly or through others; each group and the list sorted."""
    groups: list[set[str]] = []
    for name in sorted(mixture.components):
        sources = set(mixture.components[name].sources)
        touching = [g for g in groups if any(sources & set(mixture.components[c].sources) for c in g)]
        groups = [g for g in groups if all(g is not t for t in touching)] + [{name}.union(*touching)]
    return sorted(sorted(g) for g in groups)


def _caps(mixture: Mixture, names: list[str], index: dict[str, np.ndarray], n_docs: int) -> np.ndarray:
    """Draws allowed per document of a group: ceil of the smallest max_epochs of its components."""
    no_cap = np.iinfo(np.int64).max
    cap = np.full(n_docs, no_cap, dtype=np.int64)
    for name in names:
        epochs = mixture.components[name].max_epochs
        if epochs is not None:
            cap[index[name]] = np.minimum(cap[index[name]], math.ceil(epochs))
    return cap


Targets = dict[str, list[tuple[int, int]]]  # component -> per stage (tokens to draw, first token in its stream)


def bucket_targets(mixture: Mixture, bucket_tokens: dict[str, list[int]]) -> dict[str, list[list[tuple[int, int]]]]:
    """Each component's stage targets shared out over the buckets of its group (see the module doc),
    from its supply tokens per bucket: {component: per bucket, per stage (tokens, start)}."""
    out = {}
    for name, tokens in bucket_tokens.items():
        supply, prefix = sum(tokens), [0, *itertools.accumulate(tokens)]
        per_bucket: list[list[tuple[int, int]]] = [[] for _ in tokens]
        through, before = 0, [0] * len(tokens)
        for stage in mixture.stages:
            target = stage_targets(mixture, stage)[name]
            through += target
            cumulative = [(through * prefix[b + 1] // supply - through * prefix[b] // supply) if supply else 0
                          for b in range(len(tokens))]
            share = [c - p for c, p in zip(cumulative, before)]
            if min(share) < 0:  # only when a stage asks for fewer tokens than there are buckets
                raise ConfigError(
                    f"stage {stage.name!r} asks component {name!r} for {target:,} tokens, too few to share out "
                    f"over its {len(tokens)} planning buckets; raise mix.plan_bucket_docs")
            for b, start in enumerate(itertools.accumulate([0, *share[:-1]])):
                per_bucket[b].append((share[b], start))
            before = cumulative
        out[name] = per_bucket
    return out


def whole_targets(mixture: Mixture, names: list[str]) -> Targets:
    """Every stage's whole target of each component of `names`, from token 0: one bucket."""
    targets = [stage_targets(mixture, stage) for stage in mixture.stages]
    return {name: [(t[name], 0) for t in targets] for name in names}


def plan_group(mixture: Mixture, supplies: dict[str, Supply], targets: Targets | None = None) -> pa.Table:
    """The pieces the components of `supplies` (one of `overlap_groups`, or one bucket of one)
    contribute to every stage (PIECES_SCHEMA, `sample` = position in the stage), plus a shortfall
    row for a component the epoch caps kept from its target. `targets`: what each component draws
    per stage and where in its stream (a bucket's, `bucket_targets`; None: `whole_targets`). Uses
    and caps are counted per document over the components and the stages; the preference for
    unused documents spans the stages."""
    names = sorted(supplies)
    targets = targets or whole_targets(mixture, names)
    ids = np.concatenate([supplies[c].doc_ids for c in names]) if names else np.empty(0, dtype=object)
    union, inverse = np.unique(ids, return_inverse=True)
    bounds = np.cumsum([0] + [len(supplies[c]) for c in names])
    index = {c: inverse[bounds[i]:bounds[i + 1]] for i, c in enumerate(names)}  # supply row -> union row
    usage = np.zeros(union.size, dtype=np.int64)
    cap = _caps(mixture, names, index, union.size)
    parts = []
    for s, stage in enumerate(mixture.stages):
        # Every task computes the same interleave from the mixture alone.
        positions = interleave({c: t // stage.seq_len for c, t in stage_targets(mixture, stage).items()},
                               seed=stage.seed)
        for name in names:
            tokens, start = targets[name][s]
            if not tokens:
                continue
            supply, at = supplies[name], index[name]
            mine = usage[at]
            idx, taken = draw(supply, mine, tokens=tokens, seed=stage.seed, component=name, cap=cap[at])
            usage[at] = mine
            p = pack(taken, seq_len=stage.seq_len, start=start)
            docs = idx[p["draw"]]
            columns = {
                "sample": positions[name][p["sample"]],
                "offset": p["offset"].astype(np.int32),
                "doc_id": pa.array(supply.doc_ids[docs].tolist(), type=pa.string()),
                "tok_start": p["tok_start"].astype(np.int32),
                "tok_len": p["tok_len"].astype(np.int32),
            }
            short = tokens - int(taken.sum())
            if short:
                columns = {"sample": [-1], "offset": [0], "doc_id": [None], "tok_start": [0], "tok_len": [short]}
            n = len(columns["sample"])
            parts.append(pa.table({"stage": [stage.name] * n, **columns, "component": [name] * n}, schema=PIECES_SCHEMA))
    return pa.concat_tables(parts) if parts else PIECES_SCHEMA.empty_table()


def check_shortfalls(mixture: Mixture, short: dict[tuple[str, str], int]) -> None:
    """Refuse a mixture whose components could not be drawn to their targets under the per-document
    epoch caps; `short` is {(stage, component): tokens missing} (plan_group's shortfall rows)."""
    if not short:
        return
    group_of = {name: group for group in overlap_groups(mixture) for name in group}
    problems = []
    for (stage, name), tokens in sorted(short.items()):
        spec = next(s for s in mixture.stages if s.name == stage)
        others = [c for c in group_of[name] if c != name]
        shared = (f"; its documents may also be drawn by {others}, whose draws count against the same caps"
                  if others else "")
        problems.append(
            f"stage {stage!r}: component {name!r} is {tokens:,} of its {stage_targets(mixture, spec)[name]:,} "
            f"tokens short: every one of its documents was drawn as often as its epoch cap allows (ceil of the "
            f"smallest max_epochs of the components containing it{shared}); lower its weights or the budgets, "
            f"or raise max_epochs"
        )
    raise ConfigError(f"mixture {mixture.name!r} cannot be realized:\n  " + "\n  ".join(problems))


def stage_plans(
    mixture: Mixture, supply: dict[str, tuple[int, int]], drawn: dict[tuple[str, str], tuple[int, int]]
) -> list[StagePlan]:
    """Every stage's numbers from aggregates: `supply` {component: (tokens, documents)} and `drawn`
    {(stage, component): (distinct documents, draws)} of the pieces (a draw = a piece at token 0)."""
    used_tokens = dict.fromkeys(mixture.components, 0)
    plans = []
    for stage in mixture.stages:
        targets = stage_targets(mixture, stage)
        shares = mixture.shares(stage)
        stats = {}
        for c in sorted(mixture.components):
            supply_tokens, supply_documents = supply.get(c, (0, 0))
            documents, draws = drawn.get((stage.name, c), (0, 0))
            used_tokens[c] += targets[c]
            stats[c] = ComponentStats(
                target_share=shares[c],
                realized_share=targets[c] / (stage.samples * stage.seq_len),
                tokens=targets[c],
                documents=documents,
                draws=draws,
                epochs=targets[c] / supply_tokens if supply_tokens else 0.0,
                epochs_cumulative=used_tokens[c] / supply_tokens if supply_tokens else 0.0,
                supply_tokens=supply_tokens,
                supply_documents=supply_documents,
            )
        unsampled = tuple(c for c in sorted(stage.weights) if stage.weights[c] > 0 and not targets[c])
        plans.append(StagePlan(stage=stage, samples=stage.samples, components=stats, unsampled=unsampled))
    return plans


def realize(mixture: Mixture, supplies: dict[str, Supply]) -> tuple[list[StagePlan], pa.Table]:
    """The whole realization in this process: (plans, pieces sorted by stage name, sample, offset).

    What `curate mix` does with Spark (one `plan_group` per task, aggregates to the driver), for
    tests and small inputs.
    """
    check_supply(mixture, {c: s.tokens for c, s in supplies.items()})
    pieces = pa.concat_tables(
        [PIECES_SCHEMA.empty_table()]
        + [plan_group(mixture, {c: supplies[c] for c in group if c in supplies}) for group in overlap_groups(mixture)]
    )
    short = pieces.filter(pc.is_null(pieces["doc_id"]))
    check_shortfalls(mixture, {(r["stage"], r["component"]): r["tok_len"] for r in short.to_pylist()})
    counts = (
        pieces.append_column("_draw", pc.equal(pieces["tok_start"], 0).cast(pa.int64()))
        .group_by(["stage", "component"])
        .aggregate([("doc_id", "count_distinct"), ("_draw", "sum")])
    )
    drawn = {(r["stage"], r["component"]): (r["doc_id_count_distinct"], r["_draw_sum"]) for r in counts.to_pylist()}
    supply = {c: (s.tokens, len(s)) for c, s in supplies.items()}
    return stage_plans(mixture, supply, drawn), pieces.sort_by([(k, "ascending") for k in ("stage", "sample", "offset")])
