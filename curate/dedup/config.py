"""Config of the `dedup` stage (the `dedup:` section of the pipeline YAML)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from curate.schemas.base import Model

KeyCriterion = Literal["quality_score", "length"]
Scope = Literal["global", "source", "lang"]


class NormalizeConfig(Model):
    """How text is normalized before hashing (exact) and shingling (near)."""

    nfc: bool = True
    lowercase: bool = True
    # Unicode punctuation (\\p{P}) becomes a space: "end.Next" and "end. Next" shingle alike.
    strip_punctuation: bool = True
    # Runs of Unicode whitespace become one space, leading/trailing whitespace goes.
    collapse_whitespace: bool = True


class ExactConfig(Model):
    enabled: bool = True


class MinHashConfig(Model):
    enabled: bool = True
    # 14 x 8 = 112 permutations, FineWeb's setting: P(candidate) = 1 - (1 - s^8)^14, 50% at s ~ 0.72.
    bands: int = Field(14, ge=1, le=512)
    rows: int = Field(8, ge=1, le=64)
    seed: int = Field(1, ge=0, lt=2**32)
    # datasketch's permutation scheme: "affine32" (datasketch >= 2.0 default) or "legacy" (< 2.0).
    scheme: Literal["affine32", "legacy"] = "affine32"
    # word: n-grams of space-separated words; char: n-grams of characters; auto: char for the
    # languages in `char_langs` (no spaces between words) and word otherwise.
    shingles: Literal["auto", "word", "char"] = "auto"
    word_ngram: int = Field(5, ge=1, le=64)
    char_ngram: int = Field(5, ge=1, le=64)
    char_langs: list[str] = Field(default_factory=lambda: ["zh", "ja", "ko", "th", "lo", "km", "my", "bo"])
    # Candidate verification, an edge is kept when its Jaccard is >= min_similarity: "exact" computes
    # it on the two documents' shingle sets (re-shingled for candidate documents only); "signature"
    # estimates it from the MinHash signatures (cheaper, but at 112 permutations about 6% of the
    # edges it keeps are below the threshold); "none" keeps every LSH candidate (FineWeb's choice).
    verify: Literal["exact", "signature", "none"] = "exact"
    min_similarity: float = Field(0.7, ge=0.0, le=1.0)
    # Candidate pairs of an LSH bucket (curate.dedup.buckets): all pairs in a bucket of up to
    # bucket_window + 2 documents; in a larger one each document with its next bucket_window (in
    # doc_id order) and the smallest: at most (bucket_window + 1) pairs per document.
    bucket_window: int = Field(8, ge=1, le=1024)

    @property
    def num_perm(self) -> int:
        return self.bands * self.rows


class LineDedupConfig(Model):
    """Line and paragraph dedup: units (normalized as `dedup.normalize` says) found in at least
    `min_docs` documents of one source are removed from the text that reaches docs_curated."""

    enabled: bool = False
    # A unit is removed from every document of a source once that many of its documents (kept, not
    # removed as duplicates, this run's and earlier runs') hold it.
    min_docs: int = Field(10, ge=2)
    # line: lines ("\n"-separated); paragraph: blocks separated by blank lines; both: either.
    unit: Literal["line", "paragraph", "both"] = "line"
    # Code documents (kind = code): none leaves them untouched (neither counted nor changed); header
    # counts and removes only the units of a file's leading comment block (a licence header); all
    # treats them as prose.
    code: Literal["none", "header", "all"] = "none"


class DedupConfig(Model):
    # Duplicates are looked for within all kept documents, one source, or one language.
    scope: Scope = "global"
    normalize: NormalizeConfig = Field(default_factory=NormalizeConfig)
    exact: ExactConfig = Field(default_factory=ExactConfig)
    minhash: MinHashConfig = Field(default_factory=MinHashConfig)
    line_dedup: LineDedupConfig = Field(default_factory=LineDedupConfig)
    # The kept document of a cluster: the first criterion decides, ties go to the next, then the
    # smallest doc_id. quality_score: highest first (null last); length: longest first.
    keep_by: list[KeyCriterion] = Field(default_factory=lambda: ["quality_score", "length"])
    # A duplicate graph of at most this many verified edges gets its connected components in one
    # Spark task (2 M random edges: 4.4 s and 0.5 GB of task memory); a larger one in distributed rounds.
    one_task_max_edges: int = Field(2_000_000, ge=0)
    # A signature table of at most this many documents is deduplicated in two Spark tasks with
    # numpy (curate.dedup.one_task) instead of ~30 small distributed jobs. Memory of those tasks:
    # about 0.6 KB per document at 112 permutations (300 MB at 500 k documents).
    one_task_max_docs: int = Field(500_000, ge=0)
    # ... and whose one clustering task holds at most this many bytes: the signatures (num_perm x 4
    # bytes each, checked first), the candidate edges' doc_ids and the candidates' shingle sets (4
    # bytes a shingle, about one per word), measured once the first task has found the candidates;
    # above it the candidates go on through the distributed steps (a few thousand books, or a few
    # hundred thousand source files, have GiBs of shingles). At most 2 GiB - 1: Arrow's 32-bit
    # offsets bound a column the task combines.
    one_task_max_bytes: int = Field(1 << 30, ge=0, lt=1 << 31)
    # incremental: documents already deduplicated (in the persisted signature table) are not
    # re-shingled; new ones are compared with all of them. full: recompute everything.
    mode: Literal["incremental", "full"] = "incremental"

    @model_validator(mode="after")
    def _unique_keep_by(self) -> DedupConfig:
        if len(set(self.keep_by)) != len(self.keep_by):
            raise ValueError(f"keep_by lists a criterion twice: {self.keep_by}")
        return self
