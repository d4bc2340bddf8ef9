"""Incremental runs: what a stage's output depends on, and what its last successful run saw.

A stage's hash covers the config sections, options and non-table inputs it reads (see
`dag.Stage`; model files and evaluation sets by their content, not their paths), the identity of
its input tables (a table deleted and written again restarts its versions at 0) and the curate
version; `run_stage` records it in `runs.config_hash`. `curate run` skips a stage whose last
successful run had the same hash, read the same input table versions and whose outputs are still
the versions it wrote. The jobs that keep rows between runs (annotate, tokenize) ask
`rows_are_current` whether those rows were made with the current settings.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

import pyarrow.compute as pc
from pyspark.sql import Row

import curate
from curate.pipelines import dag
from curate.schemas.mixture import load_mixture
from curate.schemas.tables import RUNS
from curate.tokenize.realize import PLAN_VERSION

if TYPE_CHECKING:
    from curate.jobs.common import StageContext


def _jsonable(value):
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError(f"cannot hash {type(value).__name__} {value!r}")


def stage_hash(ctx: StageContext, name: str, *, fingerprint: bool = True) -> str:
    """Hash of what decides stage `name`'s output besides its input tables' versions (compared on
    their own, `unchanged_since`): its settings, its non-table inputs and which tables it reads.
    `fingerprint` False leaves the non-table inputs out (ingest compares its files one by one)."""
    key = ("stage_hash", name, fingerprint)
    if key not in ctx.memo:
        ctx.memo[key] = _stage_hash(ctx, name, fingerprint=fingerprint)
    return ctx.memo[key]


def _stage_hash(ctx: StageContext, name: str, *, fingerprint: bool) -> str:
    try:
        st = dag.stage(name)
    except KeyError:  # a job outside the DAG: the whole config decides
        return ctx.cfg.config_hash()
    config = ctx.cfg.model_dump(mode="json")
    parts = {
        "curate": curate.__version__,
        "stage": name,
        "config": {section: config[section] for section in st.config},
        "options": {o: ctx.options[o] for o in st.options if ctx.options.get(o)},
    }
    for dotted in st.ignore:
        *path, key = dotted.split(".")
        node = parts["config"]
        for p in path:
            node = node.get(p, {})
        node.pop(key, None)
    inputs = st.load_fingerprint() if fingerprint else None
    if inputs is not None:
        parts["inputs"] = inputs(ctx)
    parts["tables"] = {t: ctx.store.table_id(t) for t in st.inputs}
    blob = json.dumps(parts, sort_keys=True, default=_jsonable).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def annotate_files(ctx: StageContext) -> dict:
    """The content of the model files and evaluation sets annotate reads (their paths are left out
    of the hash): a model retrained at the same path reruns the stages, one moved does not."""
    return ctx.cfg.annotate.file_digests()


def tokenize_inputs(ctx: StageContext) -> dict:
    """annotate's files (tokenize carries language and quality score), and the identity of the table
    tokenized when --input / tokenize.input names another than docs_curated."""
    name = ctx.options.get("input") or ctx.cfg.tokenize.input
    return {"annotate": annotate_files(ctx), "input_table": ctx.store.table_id(name)}


def mixture_hash(ctx: StageContext) -> str:
    """The mix stage's non-table inputs: the mixture file's content and the plan version (the rules
    that realize it)."""
    return f"{load_mixture(ctx.options.get('mixture') or ctx.cfg.mix.mixture).config_hash()}-plan{PLAN_VERSION}"


def last_success(ctx: StageContext, name: str) -> Row | None:
    """The `runs` row of stage `name`'s latest successful run (read without a Spark job, once per stage)."""
    if "runs" not in ctx.memo:
        ctx.memo["runs"] = ctx.store.read_arrow(RUNS)
    runs = ctx.memo["runs"]
    if runs is None:
        return None
    done = runs.filter(pc.and_(pc.equal(runs["stage"], name), pc.equal(runs["status"], "succeeded")))
    rows = done.sort_by([("started_at", "descending")]).slice(0, 1).to_pylist()
    return Row(**rows[0]) if rows else None


def added_files(ctx: StageContext, stage: str, table: str, version: int, *,
                appended_only: bool = True) -> tuple[int, set[str]] | None:
    """(the version of `table` stage `stage` last read, the data files `table` gained from it to
    `version`), with `appended_only` only when it did not lose a file since (rows appended, none
    rewritten or removed); None otherwise, or where the engine cannot list its files as files that
    hold the rows as they are. Rows the stage has not seen are in those files either way."""
    last = last_success(ctx, stage)
    read = dict(last.input_versions or {}) if last is not None else {}
    if table not in read:
        return None
    before = ctx.store.data_files(table, version=read[table])
    now = ctx.store.data_files(table, version=version)
    if before is None or now is None or (appended_only and not before <= now):
        return None
    return read[table], now - before


def outputs_unchanged(ctx: StageContext, run: Row) -> bool:
    recorded = dict(run.output_versions or {})
    return ctx.store.versions(recorded) == recorded


# Files a run could not read at all: a later run reads them again, whatever changed (ingest counts
# them as `quarantined:unreadable_file`; a missing library, a reader fixed since, a partial upload).
RETRY_COUNT = "quarantined:unreadable_file"


def unchanged_since(ctx: StageContext, name: str, config_hash: str) -> Row | None:
    """The last successful run of `name` if nothing it depends on changed since and it left no file
    to read again, else None."""
    last = last_success(ctx, name)
    if last is None or last.config_hash != config_hash or not outputs_unchanged(ctx, last):
        return None
    if dict(last.counts or {}).get(RETRY_COUNT):
        return None
    recorded = dict(last.input_versions or {})
    names = set(recorded) | set(dag.stage(name).inputs)
    return last if ctx.store.versions(names) == recorded else None


# The most documents an incremental update deletes plus appends in a table it keeps (their ids pass
# through the driver, `DeltaStore.delete_and_append`); with more, the job rewrites the table.
MAX_CHANGED_DOCS = 50_000


def rows_are_current(ctx: StageContext, name: str) -> bool:
    """True when stage `name`'s output rows were written with the current hash and nothing else
    has written its tables since: a job may then process only the new documents."""
    last = last_success(ctx, name)
    return last is not None and last.config_hash == stage_hash(ctx, name) and outputs_unchanged(ctx, last)


def settings_changed(ctx: StageContext, name: str) -> bool:
    """True when stage `name` last succeeded with other settings (its kept state may be stale)."""
    last = last_success(ctx, name)
    return last is not None and last.config_hash != stage_hash(ctx, name)
