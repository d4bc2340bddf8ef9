"""Examples kept one per line: `.jsonl` (a field of each object) or plain text (the line itself)."""

from __future__ import annotations

import json
from pathlib import Path

from curate.errors import InputError


def read_line_examples(path: Path, *, text_field: str, fix: str) -> list[str]:
    """Non-blank lines of `path` as examples (plain-text lines keep their newline).

    `fix` ends the error message for a bad JSONL line: what the user should change.
    """
    texts: list[str] = []
    with path.open(encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            if path.suffix != ".jsonl":
                texts.append(line)
                continue
            try:
                texts.append(str(json.loads(line)[text_field]))
            except (json.JSONDecodeError, KeyError, TypeError):
                raise InputError(f"{path}:{i} is not a JSON object with field {text_field!r}{fix}") from None
    return texts
