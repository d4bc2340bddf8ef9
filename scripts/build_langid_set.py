"""Build the labelled language-ID set: real paragraphs from Debian's translated manual pages.

Each language's paragraphs come from `/usr/share/man/<locale>/` (packages manpages-de,
manpages-fr, ..., manpages-ja, manpages-zh; English from `/usr/share/man/man1`), rendered with
`man -l`. Labels come from the translation, never from a language-ID model, so what could be
mislabelled is dropped by rules that do not look at the label's model:
- a translated page can keep untranslated English paragraphs: only pages whose English original
  is installed are used, and a paragraph that also appears in that original is dropped;
- synopses, code and option lists are not prose: a paragraph must end like a sentence, have no
  code characters ({}[]|;<>*) and at least 8 words (20 characters of its script for ja/zh);
- ja/zh/ru/uk paragraphs must be mostly in their own script (Latin-script quotes are not);
- boilerplate repeated across pages ("Full documentation at ...") is kept once;
- a paragraph whose words are mostly capitalized is a byline or a title ("Napsal Paul Eggert,
  David MacKenzie a Jim Meyering."): names, with one or two words of the language.
Output: JSON lines {"lang", "text", "page"}, and "split" with --eval-per-lang: each language's
first pages (in the seeded order) fill the evaluation split up to that many paragraphs, the pages
after them the calibration split, so the two never share a page.

    python scripts/build_langid_set.py --out tests/data/langid/manpages.jsonl --per-lang 80
    python scripts/build_langid_set.py --out tests/data/langid/labelled.jsonl --per-lang 480 \
        --max-per-page 8 --eval-per-lang 260
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
from pathlib import Path

import regex

MAN = Path("/usr/share/man")
# Directory under /usr/share/man -> ISO 639-1 code lid.176 uses.
LOCALES = {"": "en", "de": "de", "fr": "fr", "es": "es", "it": "it", "nl": "nl", "pl": "pl", "pt_BR": "pt",
           "ru": "ru", "uk": "uk", "ja": "ja", "zh_CN": "zh", "sv": "sv", "cs": "cs"}
MIN_CHARS = 50
MAX_CHARS = 600
MIN_WORDS = 8
MAX_CAPITALIZED = 0.6  # German capitalizes every noun: about a third of its words
SCRIPTS = {"ja": r"[\p{Han}\p{Hiragana}\p{Katakana}]", "zh": r"\p{Han}", "ru": r"\p{Cyrillic}", "uk": r"\p{Cyrillic}"}
_CODE = re.compile(r"[{}\[\]|;<>*]")
_END = re.compile(r"[.!?。！？][\"'”’)）」]*$")


def is_prose(p: str, lang: str) -> bool:
    if not _END.search(p) or _CODE.search(p):
        return False
    words = p.split()
    if sum(w[0].isupper() for w in words) > MAX_CAPITALIZED * len(words):
        return False
    if lang in SCRIPTS:
        own = len(regex.findall(SCRIPTS[lang], p))
        letters = sum(c.isalpha() for c in p)
        if own < 0.5 * letters or (lang in ("ja", "zh") and own < 20):
            return False
    return lang in ("ja", "zh") or len(words) >= MIN_WORDS


def render(page: Path) -> list[str]:
    """Paragraphs of a manual page: its indented body lines, rendered without wrapping."""
    env = {**os.environ, "MANWIDTH": "4000", "LC_ALL": "C.UTF-8"}
    proc = subprocess.run(["man", "-E", "UTF-8", "-l", str(page)], capture_output=True, env=env, timeout=30)
    text = subprocess.run(["col", "-b"], input=proc.stdout, capture_output=True).stdout.decode("utf-8", "replace")
    paragraphs = []
    for line in text.splitlines():
        if not line.startswith((" ", "\t")):
            continue  # headings and the title line
        p = re.sub(r"\s+", " ", line).strip()
        letters = sum(c.isalpha() for c in p)
        if MIN_CHARS <= len(p) <= MAX_CHARS and not p.startswith("-") and letters >= 0.6 * len(p):
            paragraphs.append(p)
    return paragraphs


def english_twin(page: Path, locale: str) -> Path | None:
    twin = MAN / page.relative_to(MAN / locale)
    return twin if twin.exists() else None


def collect(locale: str, lang: str, *, per_lang: int, max_per_page: int, rng: random.Random) -> list[dict]:
    base = MAN / locale if locale else MAN
    pages = sorted(p for d in sorted(base.glob("man[1-8]")) for p in d.iterdir() if p.is_file())
    rng.shuffle(pages)
    out: list[dict] = []
    seen: set[str] = set()
    for page in pages:
        if len(out) >= per_lang:
            break
        twin = english_twin(page, locale) if locale else None
        if locale and twin is None:
            continue
        try:
            paragraphs = render(page)
            english = set(render(twin)) if twin else set()
        except subprocess.TimeoutExpired:
            continue
        paragraphs = [p for p in paragraphs if p not in english and p not in seen and is_prose(p, lang)]
        for p in rng.sample(paragraphs, min(max_per_page, len(paragraphs))):
            seen.add(p)
            out.append({"lang": lang, "text": p, "page": str(page.relative_to(MAN))})
    return out[:per_lang]


def split_by_page(rows: list[dict], *, eval_rows: int) -> list[dict]:
    """Whole pages, in order, to the evaluation split until it has `eval_rows`; the rest to calibration."""
    n_eval, current = 0, None
    for row in rows:
        if row["page"] != current:
            current, split = row["page"], "evaluation" if n_eval < eval_rows else "calibration"
        n_eval += split == "evaluation"
        row["split"] = split
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--per-lang", type=int, default=80)
    ap.add_argument("--max-per-page", type=int, default=3)
    ap.add_argument("--eval-per-lang", type=int, default=None,
                    help="split each language: its first pages' paragraphs (this many) for evaluation, the rest for calibration")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    rows: list[dict] = []
    for locale, lang in LOCALES.items():
        got = collect(locale, lang, per_lang=args.per_lang, max_per_page=args.max_per_page,
                      rng=random.Random(f"{args.seed}-{locale}"))
        if args.eval_per_lang is not None:
            got = split_by_page(got, eval_rows=args.eval_per_lang)
        print(f"{lang}: {len(got)} paragraphs")
        rows += got
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


if __name__ == "__main__":
    main()
