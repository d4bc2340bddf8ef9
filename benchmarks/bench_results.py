"""Where every benchmark puts its numbers: a JSON file (benchmarks/results/ by default) and stdout."""

from __future__ import annotations

import json
from pathlib import Path


def write_result(result: dict, out: str | Path) -> None:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
