"""The numbers a run report shows, aggregated in Spark: only grouped counts reach the driver.

Tables are read as they were when the run ended (the last Delta version committed before its
end), so an older run's report is not changed by later runs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from curate.dedup.schema import DUP_CLUSTERS_SCHEMA
from curate.errors import StorageError
from curate.quality.rules import RulesConfig
from curate.quality.schema import DOCS_ANNOTATED_SCHEMA
from curate.schemas import tables as t

if TYPE_CHECKING:
    from curate.delta.store import DeltaStore

HISTOGRAM_BINS = 30
TOP_LANGUAGES = 25


def run_rows(store: DeltaStore, run_id: str | None) -> list[dict]:
    """The `runs` rows of `run_id` (default: the latest run), in the order the stages ran."""
    if not store.exists(t.RUNS):
        raise StorageError(f"no runs recorded under {store.root}; run `curate run` first")
    runs = store.read(t.RUNS)
    if run_id is None:
        latest = runs.orderBy(F.col("started_at").desc()).select("run_id").first()
        run_id = latest["run_id"]
    rows = [r.asDict() for r in runs.filter(F.col("run_id") == run_id).orderBy("started_at").collect()]
    if not rows:
        known = [r[0] for r in runs.select("run_id").distinct().orderBy(F.col("run_id").desc()).limit(5).collect()]
        raise StorageError(f"run {run_id!r} is not in the runs table under {store.root}; recent runs: {known}")
    return rows


def versions_at_end(store: DeltaStore, runs: list[dict], names: tuple[str, ...]) -> dict[str, int]:
    """Each table's last version committed before the run ended (tables that did not exist yet are left out)."""
    end = max(r["started_at"] + timedelta(seconds=r["duration_s"]) for r in runs)
    end_ms = end.timestamp() * 1000 + 1000  # collected timestamps are naive local time; 1 s for rounding
    out = {}
    for name in names:
        done = [h["version"] for h in store.history(name) if h["timestamp"] <= end_ms]
        if done:
            out[name] = max(done)
    return out


def _read(store: DeltaStore, versions: dict[str, int], name: str, schema=None) -> DataFrame | None:
    if name not in versions:
        return None if schema is None else store.spark.createDataFrame([], schema)
    return store.read(name, version=versions[name])


def funnel(store: DeltaStore, versions: dict[str, int]) -> dict[str, dict[str, int]]:
    """Per source: records refused at ingest, documents and bytes/tokens after each stage."""
    out: dict[str, dict[str, int]] = {}

    def put(rows, *fields):
        for r in rows:
            counts = out.setdefault(r["source"], {})
            for f in fields:
                counts[f] = int(r[f] or 0)

    if (q := _read(store, versions, t.QUARANTINE)) is not None:
        put(q.filter(F.col("stage") == "ingest").groupBy("source")
            .agg(F.sum((F.col("action") == "quarantined").cast("long")).alias("quarantined"),
                 F.sum((F.col("action") == "skipped").cast("long")).alias("skipped")).collect(),
            "quarantined", "skipped")
    if (raw := _read(store, versions, t.DOCS_RAW)) is not None:
        put(raw.groupBy("source").agg(F.count("*").alias("raw"), F.sum("n_bytes").alias("raw_bytes")).collect(),
            "raw", "raw_bytes")
    if (ann := _read(store, versions, t.DOCS_ANNOTATED)) is not None:
        kept = F.col("keep").cast("long")
        put(ann.groupBy("source").agg(F.count("*").alias("annotated"), F.sum(kept).alias("kept"),
                                      F.sum(kept * F.col("n_bytes")).alias("kept_bytes")).collect(),
            "annotated", "kept", "kept_bytes")
    if (cur := _read(store, versions, t.DOCS_CURATED)) is not None:
        put(cur.groupBy("source").agg(F.count("*").alias("curated"), F.sum("n_bytes").alias("curated_bytes"))
            .collect(), "curated", "curated_bytes")
    if (tok := _read(store, versions, t.DOCS_TOKENIZED)) is not None:
        put(tok.groupBy("source").agg(F.count("*").alias("tokenized"), F.sum("n_tokens").alias("tokens"))
            .collect(), "tokenized", "tokens")
    return dict(sorted(out.items()))


def drop_reasons(store: DeltaStore, versions: dict[str, int]) -> list[dict]:
    """Documents per (stage, reason): ingest refusals, failed annotate rules, removed duplicates."""
    out = []
    if (q := _read(store, versions, t.QUARANTINE)) is not None:
        rows = q.groupBy("stage", "action", "reason_code").count().collect()
        out += [{"stage": r["stage"], "reason": f"{r['action']}:{r['reason_code']}", "documents": r["count"]}
                for r in rows]
    if (ann := _read(store, versions, t.DOCS_ANNOTATED)) is not None:
        rows = ann.select(F.explode("drop_reasons").alias("reason")).groupBy("reason").count().collect()
        out += [{"stage": "annotate", "reason": r["reason"], "documents": r["count"]} for r in rows]
    clusters = _read(store, versions, t.DUP_CLUSTERS, DUP_CLUSTERS_SCHEMA)
    rows = clusters.filter(~F.col("is_kept")).groupBy("kind").count().collect()
    out += [{"stage": "dedup", "reason": f"duplicate:{r['kind']}", "documents": r["count"]} for r in rows]
    if (lines := _read(store, versions, t.LINE_DEDUP_DOCS)) is not None:
        rows = (lines.filter(~F.col("keep")).select(F.explode("drop_reasons").alias("reason"))
                .groupBy("reason").count().collect())
        out += [{"stage": "dedup", "reason": f"after_line_dedup:{r['reason']}", "documents": r["count"]}
                for r in rows]
    return sorted(out, key=lambda d: (-d["documents"], d["stage"], d["reason"]))


def line_dedup(store: DeltaStore, versions: dict[str, int]) -> list[dict]:
    """Per source: the documents line dedup changed, the bytes it removed and the documents the rules
    then dropped (none when line dedup is off)."""
    if (lines := _read(store, versions, t.LINE_DEDUP_DOCS)) is None:
        return []
    rows = lines.groupBy("source").agg(
        F.count("*").alias("changed"), F.sum("n_bytes_before").alias("bytes_before"),
        F.sum("removed_bytes").alias("removed_bytes"), F.sum((~F.col("keep")).cast("long")).alias("dropped")).collect()
    return [{"source": r["source"], "changed": r["changed"], "bytes_before": int(r["bytes_before"]),
             "removed_bytes": int(r["removed_bytes"]), "dropped": int(r["dropped"])}
            for r in sorted(rows, key=lambda r: r["source"])]


def languages(store: DeltaStore, versions: dict[str, int]) -> dict[str, list[dict]]:
    """Per kind, kept and dropped documents per language (`lang` for text, `code_lang` for code)."""
    ann = _read(store, versions, t.DOCS_ANNOTATED, DOCS_ANNOTATED_SCHEMA)
    label = F.coalesce(F.when(F.col("kind") == "code", F.col("code_lang")).otherwise(F.col("lang")),
                       F.lit("unknown"))
    rows = (ann.groupBy("kind", label.alias("lang"))
            .agg(F.sum(F.col("keep").cast("long")).alias("kept"), F.count("*").alias("documents")).collect())
    out: dict[str, list[dict]] = {}
    for r in sorted(rows, key=lambda r: (-r["documents"], r["lang"])):
        out.setdefault(r["kind"], []).append(
            {"lang": r["lang"], "kept": int(r["kept"] or 0), "dropped": r["documents"] - int(r["kept"] or 0)})
    for langs in out.values():
        if len(langs) > TOP_LANGUAGES:
            rest = langs[TOP_LANGUAGES - 1:]
            langs[TOP_LANGUAGES - 1:] = [{"lang": f"{len(rest)} others", "kept": sum(x["kept"] for x in rest),
                                          "dropped": sum(x["dropped"] for x in rest)}]
    return out


def _thresholds(rules: RulesConfig) -> dict[str, dict[str, dict[str, float]]]:
    """kind -> signal -> {"min"|"max": threshold}: the base rules of each kind that are switched on."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for kind, base in (("text", rules.text), ("code", rules.code)):
        for name, threshold in base.items():
            if threshold is not None:
                out.setdefault(kind, {}).setdefault(name[4:], {})[name[:3]] = float(threshold)
    return out


def _range(stat, thresholds: dict[str, float]) -> tuple[float, float]:
    """Bins span the 1st..99th percentile, widened to a threshold that falls among the values."""
    lo, hi = stat["p"][0], stat["p"][1]
    if lo == hi:
        lo, hi = stat["lo"], stat["hi"]
    for v in thresholds.values():
        if stat["lo"] <= v <= stat["hi"]:
            lo, hi = min(lo, v), max(hi, v)
    return (lo, hi) if lo < hi else (lo - 0.5, hi + 0.5)


def signal_histograms(store: DeltaStore, versions: dict[str, int], rules: RulesConfig) -> list[dict]:
    """Histograms (kept / dropped per bin) of every signal a rule of the document's kind reads."""
    wanted = _thresholds(rules)
    ann = _read(store, versions, t.DOCS_ANNOTATED, DOCS_ANNOTATED_SCHEMA)
    cond = F.lit(False)
    for kind, signals in wanted.items():
        cond = cond | ((F.col("kind") == kind) & F.col("signal").isin(list(signals)))
    values = (ann.select("kind", "keep", F.explode("signals").alias("signal", "value"))
              .filter(cond & F.col("value").isNotNull() & ~F.isnan("value") & (F.abs("value") < float("inf"))))
    stats = {(r["kind"], r["signal"]): r for r in values.groupBy("kind", "signal").agg(
        F.count("*").alias("n"), F.min("value").alias("lo"), F.max("value").alias("hi"),
        F.percentile_approx("value", [0.01, 0.99], 1000).alias("p")).collect()}
    if not stats:
        return []
    ranges = {key: _range(s, wanted[key[0]][key[1]]) for key, s in stats.items()}
    bounds = store.spark.createDataFrame([(k, s, lo, hi) for (k, s), (lo, hi) in ranges.items()],
                                         "kind string, signal string, lo double, hi double")
    b = F.floor((F.col("value") - F.col("lo")) / (F.col("hi") - F.col("lo")) * HISTOGRAM_BINS)
    counts = (values.join(F.broadcast(bounds), ["kind", "signal"])
              .withColumn("bin", F.least(F.greatest(b, F.lit(0)), F.lit(HISTOGRAM_BINS - 1)).cast("int"))
              .groupBy("kind", "signal", "bin")
              .agg(F.sum(F.col("keep").cast("long")).alias("kept"), F.count("*").alias("documents"))
              .collect())
    bins: dict[tuple[str, str], list[list[int]]] = {k: [[0, 0] for _ in range(HISTOGRAM_BINS)] for k in stats}
    for r in counts:
        bins[(r["kind"], r["signal"])][r["bin"]] = [int(r["kept"] or 0), r["documents"] - int(r["kept"] or 0)]
    return [
        {"kind": kind, "signal": signal, "lo": ranges[(kind, signal)][0], "hi": ranges[(kind, signal)][1],
         "min": stats[(kind, signal)]["lo"], "max": stats[(kind, signal)]["hi"], "documents": stats[(kind, signal)]["n"],
         "kept": [k for k, _ in bins[(kind, signal)]], "dropped": [d for _, d in bins[(kind, signal)]],
         "thresholds": wanted[kind][signal]}
        for kind, signal in sorted(stats)
    ]


def cluster_sizes(store: DeltaStore, versions: dict[str, int]) -> list[dict]:
    """Duplicate clusters per (size, kind): one kept row per cluster carries its size."""
    clusters = _read(store, versions, t.DUP_CLUSTERS, DUP_CLUSTERS_SCHEMA)
    rows = clusters.filter(F.col("is_kept")).groupBy("cluster_size", "kind").count().collect()
    return sorted(({"size": r["cluster_size"], "kind": r["kind"], "clusters": r["count"]} for r in rows),
                  key=lambda d: (d["size"], d["kind"]))


def timings(runs: list[dict]) -> list[dict]:
    """Per stage: status, seconds, rows in/out and rows in per second."""
    out = []
    for r in runs:
        rate = r["rows_in"] / r["duration_s"] if r["rows_in"] and r["duration_s"] else None
        counts = dict(r["counts"] or {})
        out.append({"stage": r["stage"], "status": r["status"], "engine": r.get("engine") or "-",
                    "started_at": _iso(r["started_at"]),
                    "seconds": r["duration_s"], "rows_in": r["rows_in"], "rows_out": r["rows_out"],
                    "rows_per_s": rate, "tokens": counts.get("tokens"), "message": r["message"] or ""})
    return out


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="seconds")
