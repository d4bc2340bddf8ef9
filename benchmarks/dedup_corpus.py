"""Real documents from this machine for the dedup benchmarks (no generated filler).

Prose and code that ship with the interpreter and the virtualenv: every README / LICENSE / .rst /
.md / .txt file and every .py file, in sorted path order, so two runs read the same documents.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

_PROSE = {".rst", ".md", ".txt"}
_MAX_FILE_BYTES = 200_000


def _roots() -> list[Path]:
    stdlib = Path(sys.base_prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    return [stdlib, Path(sys.prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"]


def _is_doc(path: Path) -> bool:
    return path.suffix in _PROSE or path.suffix == ".py" or path.name.upper().startswith(("README", "LICENSE"))


def iter_documents(*, kind: str = "all") -> Iterator[tuple[str, str]]:
    """(path, text) of real files; kind 'prose', 'code' or 'all'."""
    for root in _roots():
        for path in sorted(root.rglob("*")):
            if not path.is_file() or not _is_doc(path):
                continue
            is_code = path.suffix == ".py"
            if (kind == "prose" and is_code) or (kind == "code" and not is_code):
                continue
            try:
                if path.stat().st_size > _MAX_FILE_BYTES:
                    continue
                text = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            if text.strip():
                yield str(path), text


def load(*, n_docs: int, kind: str = "all") -> list[str]:
    out = []
    for _, text in iter_documents(kind=kind):
        out.append(text)
        if len(out) >= n_docs:
            break
    return out
