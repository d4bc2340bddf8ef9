"""`curate quality train`: train the fastText quality classifier annotate scores documents with.

Positive and negative examples come from files or Delta tables: a `.jsonl` file (field
`--text-field`), a `.parquet` file, a Delta table directory (it has `_delta_log`), or a plain-text
file (one example per line). fastText trains on one machine, so no Spark session is started.
Prints held-out precision/recall as JSON; set `annotate.quality_model.model_path` to the output.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
from dataclasses import asdict
from pathlib import Path

from curate.errors import ConfigError, InputError
from curate.quality.line_files import read_line_examples
from curate.quality.classifier import train_quality_model

log = logging.getLogger(__name__)


def read_examples(path: str, *, text_field: str, where: str | None = None) -> list[str]:
    p = Path(path)
    if (p / "_delta_log").is_dir():
        from deltalake import DeltaTable

        table = DeltaTable(str(p)).to_pyarrow_dataset()
        columns = [text_field]
        if where is not None:
            import pyarrow.compute as pc

            field, _, value = where.partition("=")
            rows = table.to_table(columns=columns, filter=pc.field(field.strip()) == _literal(value.strip()))
        else:
            rows = table.to_table(columns=columns)
        return [t for t in rows.column(text_field).to_pylist() if t]
    if not p.is_file():
        raise InputError(f"training input {path} is neither a file nor a Delta table directory")
    if p.suffix == ".parquet":
        import pyarrow.parquet as pq

        return [t for t in pq.read_table(p, columns=[text_field]).column(text_field).to_pylist() if t]
    return [t.rstrip("\n") for t in read_line_examples(p, text_field=text_field, fix="")]


def _literal(value: str) -> object:
    return {"true": True, "false": False}.get(value.lower(), value)


def _gather(paths: list[str], *, text_field: str, where: str | None, limit: int | None, seed: int) -> list[str]:
    texts = [t for p in paths for t in read_examples(p, text_field=text_field, where=where)]
    if limit is not None and len(texts) > limit:
        texts = random.Random(seed).sample(texts, limit)
    return texts


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--positive", nargs="+", required=True, help="files / Delta tables of good examples")
    parser.add_argument("--negative", nargs="+", required=True, help="files / Delta tables of other examples")
    parser.add_argument("--out", required=True, help="where to save the model (.bin)")
    parser.add_argument("--text-field", default="text")
    parser.add_argument("--positive-where", help="for Delta tables: positives are rows with COLUMN=VALUE (keep=true)")
    parser.add_argument("--negative-where", help="for Delta tables: negatives are rows with COLUMN=VALUE (keep=false)")
    parser.add_argument("--positive-label", default="hq")
    parser.add_argument("--max-examples", type=int, help="sample at most this many per side (seeded)")
    parser.add_argument("--holdout", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epoch", type=int, default=5)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--word-ngrams", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)


def train(args: argparse.Namespace) -> int:
    """`curate quality train`: train, save, and print the held-out report as JSON."""
    if not 0 <= args.holdout < 1:
        raise ConfigError(f"--holdout must be in [0, 1), got {args.holdout}")
    opts = {"text_field": args.text_field, "limit": args.max_examples, "seed": args.seed}
    report = train_quality_model(
        _gather(args.positive, where=args.positive_where, **opts),
        _gather(args.negative, where=args.negative_where, **opts), out=args.out,
        positive_label=args.positive_label, holdout=args.holdout, seed=args.seed, epoch=args.epoch, lr=args.lr,
        word_ngrams=args.word_ngrams, threads=args.threads,
    )
    print(json.dumps(asdict(report)))
    return 0


def main(argv: list[str] | None = None) -> int:
    from curate.cli import main as cli_main

    return cli_main(["quality", "train", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
