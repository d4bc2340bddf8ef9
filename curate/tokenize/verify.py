"""`curate verify`: a published shard version read back with the trainer's reader and checked against
its manifests.

Every stage of the version is read with `streaming.StreamingDataset`, as a trainer reads it: `remote=`
the published stage folder (a local path or an object-store URL) and `local=` a cache folder, so
nothing is written next to the published files. Every sample must read; the samples and their
tokens must add up to the manifest's `samples`, `tokens` and per-component `tokens` (a sample's
`source` is its component); every sample must hold exactly `seq_len` int32 ids that the tokenizer
assigns. mosaicml-streaming pulls torch and transformers, so it is the `verify` extra, not a default
dependency of curate (which writes MDS with its own writer).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from curate.errors import DependencyError, StorageError, VerifyError
from curate.schemas.mixture import Mixture
from curate.tokenize.encoder import UNASSIGNED_IDS
from curate.storage import Storage, join
from curate.tokenize.publish import MANIFEST, Shelf

log = logging.getLogger(__name__)

_INSTALL_HINT = "pip install 'curate[verify]'"
# streaming names S3 `s3://`; Spark's S3A name for the same objects is `s3a://`.
_STREAMING_SCHEMES = {"s3a://": "s3://"}
_STREAMING_ENDPOINT = "S3_ENDPOINT_URL"  # where streaming's S3 client takes a custom endpoint from
_SHOWN = 5  # examples listed per kind of mismatch


@dataclass
class StageCheck:
    """What one stage's shards hold, read back, and every way they differ from its manifest."""

    stage: str
    samples: int = 0
    tokens: int = 0
    shards: int = 0
    problems: list[str] = field(default_factory=list)


def _streaming():
    try:
        from streaming import StreamingDataset
    except ImportError as err:
        raise DependencyError(f"`curate verify` reads shards with mosaicml-streaming, the trainer's reader, which is not "
                              f"installed ({err}): {_INSTALL_HINT}") from None
    return StreamingDataset


def _remote(location: str) -> str:
    for scheme, theirs in _STREAMING_SCHEMES.items():
        if location.startswith(scheme):
            return theirs + location[len(scheme):]
    return location


def _check_samples(ds, manifest: dict, check: StageCheck) -> None:
    """Read every sample shard by shard: a shard that fails to read is reported once and skipped
    (streaming would wait forever on a shard whose preparation raised)."""
    seq_len, vocab = manifest["seq_len"], manifest["tokenizer"]["vocab_size"]
    unassigned = np.array(sorted(UNASSIGNED_IDS), np.int64)
    wrong_shape, bad_ids, tokens_by_source = [], [], Counter()
    unread = []
    bounds = np.concatenate([[0], np.cumsum(ds.samples_per_shard)]).tolist()
    for shard, (start, stop) in enumerate(zip(bounds, bounds[1:])):
        raw, zipped = ds.shards[shard].file_pairs[0]
        name = (zipped or raw).basename
        for i in range(start, stop):
            try:
                sample = ds[i]
            except Exception as err:  # any failure to read is a finding, not a crash of the check
                unread.append(f"shard {name} (samples {start}-{stop - 1}) does not read: {type(err).__name__}: {err}")
                break
            tokens = np.asarray(sample["tokens"])
            check.samples += 1
            check.tokens += tokens.size
            tokens_by_source[sample["source"]] += tokens.size
            if tokens.dtype != np.int32 or tokens.shape != (seq_len,):
                wrong_shape.append((i, f"{tokens.dtype} {tokens.shape}"))
            ids = tokens.astype(np.int64, copy=False)
            bad = ids[(ids < 0) | (ids >= vocab) | np.isin(ids, unassigned)]
            if bad.size:
                bad_ids.append((i, int(bad[0])))
    check.shards = len(ds.shards)
    check.problems += unread
    if wrong_shape:
        check.problems.append(
            f"{len(wrong_shape)} samples are not {seq_len} int32 token ids (seq_len): "
            + "; ".join(f"sample {i}: {got}" for i, got in wrong_shape[:_SHOWN]))
    if bad_ids:
        check.problems.append(
            f"{len(bad_ids)} samples hold ids the tokenizer does not assign (vocabulary of {vocab}): "
            + "; ".join(f"sample {i}: id {t}" for i, t in bad_ids[:_SHOWN]))
    if unread:
        return  # the totals of a stage with unreadable shards say nothing more
    for key, got in (("samples", check.samples), ("tokens", check.tokens)):
        if got != manifest[key]:
            check.problems.append(f"{key}: manifest {manifest[key]:,}, read {got:,}")
    components = manifest["components"]
    for name in sorted(set(components) | set(tokens_by_source)):
        want = components[name]["tokens"] if name in components else None
        if want is None:
            check.problems.append(f"samples of component {name!r}, which the manifest does not list "
                                  f"({tokens_by_source[name]:,} tokens)")
        elif tokens_by_source[name] != want:
            check.problems.append(f"tokens of component {name!r}: manifest {want:,}, read {tokens_by_source[name]:,}")


def verify_stage(shelf: Shelf, version: str, stage: str, *, cache: Path) -> StageCheck:
    """Read one published stage of `shelf` into `cache` and check it."""
    dataset = _streaming()
    check = StageCheck(stage=stage)
    location = join(shelf.version_uri(version), stage)
    # streaming takes files already in `local` as downloaded: start empty, so the published bytes are read.
    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True)
    try:
        manifest = shelf.read_json(f"{version}/{stage}/{MANIFEST}")
    except (OSError, ValueError) as err:
        check.problems.append(f"{MANIFEST} does not read: {type(err).__name__}: {err}")
        return check
    try:
        ds = dataset(remote=_remote(location), local=str(cache), shuffle=False, batch_size=1)
    except Exception as err:  # a missing or broken index.json, reported like any other mismatch
        check.problems.append(f"streaming.StreamingDataset does not open it: {type(err).__name__}: {err}")
        return check
    _check_samples(ds, manifest, check)
    return check


def verify_published(root: str, mixture: Mixture, *, storage: Storage = Storage(), version: str | None = None,
                     cache: str | Path | None = None) -> tuple[str, list[StageCheck]]:
    """Check every stage of `version` (default: the latest published) of `mixture` under `root`.

    Shards are copied into `cache/<mixture>/<version>/<stage>` (default: a temporary folder, removed
    afterwards). Raises VerifyError naming each mismatch; returns (version, the stage checks).
    """
    _streaming()  # the install hint before anything else
    if storage.endpoint and _STREAMING_ENDPOINT not in os.environ:  # this process reads where the config points
        os.environ[_STREAMING_ENDPOINT] = storage.endpoint
    shelf = Shelf(root, mixture.name, storage=storage)
    with tempfile.TemporaryDirectory(prefix="curate-verify-") if cache is None else nullcontext(cache) as base:
        cache_dir = Path(base) / mixture.name
        listed = shelf.versions()
        if not listed:
            raise StorageError(f"mixture {mixture.name!r} has no published shard version under {root}; "
                               f"run `curate mix` first")
        names = [v["version"] for v in listed]
        if version is not None and version not in names:
            raise StorageError(f"version {version!r} of mixture {mixture.name!r} is not published under {root}; "
                               f"published: {', '.join(names)}")
        entry = listed[names.index(version)] if version is not None else listed[-1]
        location = shelf.version_uri(entry["version"])
        checks = []
        for stage in entry["stages"]:
            check = verify_stage(shelf, entry["version"], stage, cache=cache_dir / entry["version"] / stage)
            log.info("verify %s/%s/%s: %d samples, %d tokens, shards: %d, %s", mixture.name, entry["version"],
                     stage, check.samples, check.tokens, check.shards,
                     f"{len(check.problems)} mismatches" if check.problems else "as in the manifest")
            checks.append(check)
    wrong = [f"{c.stage}: {p}" for c in checks for p in c.problems]
    if wrong:
        raise VerifyError(f"shard version {entry['version']} of mixture {mixture.name!r} under {root} does not match "
                          f"its manifests ({len(wrong)} mismatches); remove {location} and rerun `curate mix` to write "
                          f"it again:\n  " + "\n  ".join(wrong))
    return entry["version"], checks
