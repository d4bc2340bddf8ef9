"""Real multilingual text and code from this machine (no generated filler).

Translated manpages (Debian manpages-* packages) for languages with known labels, the Python
documentation sources for English, the Python standard library for code. Files are taken in
sorted order so every run sees the same corpus.
"""

from __future__ import annotations

import gzip
import sysconfig
from dataclasses import dataclass
from pathlib import Path

MAN_LANGS = {"de": "de", "fr": "fr", "es": "es", "ja": "ja", "ru": "ru", "zh": "zh_CN", "ko": "ko", "pl": "pl"}
PY_DOCS = Path("/usr/share/doc/python3.11/html/_sources")
STDLIB = Path(sysconfig.get_paths()["stdlib"])


@dataclass(frozen=True)
class Doc:
    source: str
    kind: str  # text | code
    lang: str
    uri: str
    text: str


def manpages(lang: str, n: int) -> list[Doc]:
    root = Path("/usr/share/man") / MAN_LANGS[lang] / "man1"
    out = []
    for p in sorted(root.glob("*.gz")) if root.is_dir() else []:
        try:
            text = gzip.decompress(p.read_bytes()).decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        out.append(Doc(f"man_{lang}", "text", lang, str(p), text))
        if len(out) == n:
            break
    return out


def python_docs(n: int) -> list[Doc]:
    files = sorted(PY_DOCS.rglob("*.rst.txt"))[:n] if PY_DOCS.is_dir() else []
    return [Doc("pydocs", "text", "en", str(p), p.read_text(encoding="utf-8")) for p in files]


def stdlib_code(n: int, *, package: str = "json") -> list[Doc]:
    files = sorted((STDLIB / package).rglob("*.py"))[:n]
    return [Doc("stdlib", "code", "python", str(p), p.read_text(encoding="utf-8")) for p in files]


def corpus(per_lang: int = 3, n_docs: int = 10, n_code: int = 6) -> list[Doc]:
    docs = [d for lang in MAN_LANGS for d in manpages(lang, per_lang)]
    return docs + python_docs(n_docs) + stdlib_code(n_code)


# Short documents the edge cases need: non-ASCII, emoji only, and special-token text.
SPECIAL_TEXTS = [
    "🎉🚀👩‍👩‍👧‍👦🇩🇪",
    "Le texte contient <|endoftext|> au milieu, et <|fim_prefix|> aussi.",
    "Ünïcödé — 東京 — Ελληνικά",
]


def curated_rows(docs: list[Doc]) -> list[dict]:
    """docs_curated-shaped rows (the contract's columns) for `docs`."""
    import hashlib

    return [
        {
            "doc_id": hashlib.sha1(f"{d.source}\x00{d.uri}\x00{d.text}".encode()).hexdigest(),
            "source_id": d.uri,
            "source": d.source,
            "kind": d.kind,
            "text": d.text,
            "lang": None if d.kind == "code" else d.lang,
            "lang_score": 0.9,
            "quality_score": 0.5 + (i % 5) / 10,
            "code_lang": "python" if d.kind == "code" else None,
            "n_bytes": len(d.text.encode()),
            "keep": True,
        }
        for i, d in enumerate(docs)
    ]


def special_docs() -> list[Doc]:
    return [Doc("special", "text", "xx", f"special/{i}", t) for i, t in enumerate(SPECIAL_TEXTS)]
