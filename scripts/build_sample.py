"""Build the bundled sample corpus `examples/sample/` from real text and code on this machine.

Nothing here is written by hand or generated: every document is a real man page (rendered
with groff as `man` does), a real page of the Python or Debian Reference HTML documentation (main text extracted
with resiliparse), a real README/copyright/log file from /usr/share/doc, or a real source file
from the Python install, /usr/share/doc examples or npm's node_modules. The only changes made are
the ones the sample needs and that SOURCES.md names: small edits to make near duplicates
(a paragraph removed, two lines swapped, the real Python docs footer appended), and byte-level
corruption of real documents for `bad/`.

Deterministic: inputs are sorted, every choice comes from `random.Random` seeded with SEED,
gzip headers carry no timestamp, WARC record ids and dates are derived from the content.
Re-running on the same machine image rewrites identical files.

    python scripts/build_sample.py [--out examples/sample] [--install]

`--install` (as root) apt-gets the Debian documentation packages listed in DEBIAN_PACKAGES.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import logging
import os
import random
import re
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("build_sample")

SEED = 20240917
REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "examples" / "sample"

# Debian packages whose documentation the sample and the corpus are built from.
DEBIAN_PACKAGES = [
    "man-db", "groff-base", "python3-doc",
    "manpages", "manpages-de", "manpages-fr", "manpages-es", "manpages-ja", "manpages-pl",
    "manpages-ru", "manpages-it", "manpages-nl", "manpages-zh", "manpages-pt-br", "manpages-cs",
    "manpages-uk",
    "debian-reference-en", "debian-reference-de", "debian-reference-fr", "debian-reference-es",
    "debian-reference-it", "debian-reference-ja", "debian-reference-zh-cn",
]

MAN_ROOT = Path("/usr/share/man")
# lang_hint -> directory under /usr/share/man ("" = the untranslated English pages).
MAN_LANGS = {
    "cs": "cs", "de": "de", "en": "", "es": "es", "fr": "fr", "it": "it", "ja": "ja", "nl": "nl",
    "pl": "pl", "pt": "pt_BR", "ru": "ru", "uk": "uk", "zh": "zh_CN",
}
PYDOC_ROOT = Path("/usr/share/doc/python3.11/html")
PYDOC_URL = "https://docs.python.org/3.11/"
DEBREF_ROOT = Path("/usr/share/debian-reference")
DEBREF_URL = "https://www.debian.org/doc/manuals/debian-reference/"
# lang_hint -> language suffix of the Debian Reference files.
DEBREF_LANGS = {"de": "de", "en": "en", "es": "es", "fr": "fr", "it": "it", "ja": "ja", "zh": "zh-cn"}

PY_OLD = Path("/usr/lib/python3.11")  # Debian's 3.11.2
PY_NEW = Path("/root/.pyenv/versions/3.11.7/lib/python3.11")
LOREM_CANDIDATES = [
    "/work/main/.venv/lib/python3.11/site-packages/setuptools/_vendor/jaraco/text/Lorem ipsum.txt",
    "/usr/lib/google-cloud-sdk/platform/bundledpythonunix/lib/python3.12/site-packages/"
    "setuptools/_vendor/jaraco/text/Lorem ipsum.txt",
]


# ---------------------------------------------------------------------------------------------
# Helpers shared with build_corpus.py


def ensure_packages(packages: list[str], *, install: bool) -> None:
    """Install missing Debian packages when allowed (root), else stop with what to run."""
    missing = [p for p in packages if not _dpkg_installed(p)]
    if not missing:
        return
    cmd = "apt-get update && apt-get install -y " + " ".join(missing)
    if not install or os.geteuid() != 0:
        sys.exit(f"missing Debian packages: {' '.join(missing)}\nrun as root: {cmd}\n"
                 "(or pass --install when running this script as root)")
    log.info("installing %s", " ".join(missing))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env)


def _dpkg_installed(package: str) -> bool:
    res = subprocess.run(["dpkg-query", "-W", "-f", "${Status}", package],
                         capture_output=True, text=True)
    return res.returncode == 0 and res.stdout == "install ok installed"  # not "... not-installed"


_MAN_ENV = dict(os.environ, LANG="C.UTF-8", LC_ALL="C.UTF-8")
# What `man --no-justification --no-hyphenation` does: left-adjust and make .ad/.hy no-ops.
_MAN_PRELUDE = b".ad l\n.de ad\n..\n.nh\n.de hy\n..\n"


def render_man(path: Path) -> str:
    """A man page as plain UTF-8 text, laid out for an 80-column terminal as `man` shows it.

    groff directly (with preconv and tbl) is 2.5x faster than `man -l`; line breaks may differ.
    `.so` includes resolve against the page's man root.
    """
    src = read_maybe_gz(path)
    res = subprocess.run(
        ["groff", "-k", "-t", "-man", "-Tutf8", "-rLL=78n", "-rLT=78n", "-P-cbou"],
        input=_MAN_PRELUDE + src, capture_output=True, env=_MAN_ENV, cwd=path.parents[1], timeout=120)
    return tidy(res.stdout.decode("utf-8", errors="replace"))


def tidy(text: str) -> str:
    """Strip trailing blanks and collapse runs of blank lines (layout, not content)."""
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def html_text(html: str, *, main_content: bool) -> str:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    return tidy(extract_plain_text(HTMLTree.parse(html), main_content=main_content))


def html_title(html: str) -> str:
    from resiliparse.parse.html import HTMLTree

    return HTMLTree.parse(html).title.strip()


def read_maybe_gz(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def gzip_bytes(data: bytes) -> bytes:
    """gzip with no file name and mtime 0, so the output is byte-for-byte reproducible."""
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as gz:
        gz.write(data)
    return buf.getvalue()


def zstd_bytes(data: bytes) -> bytes:
    import zstandard

    return zstandard.ZstdCompressor(level=10).compress(data)


def jsonl_bytes(rows: list[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def man_pages(lang_dir: str, sections: tuple[str, ...] = ("1", "5", "8")) -> list[Path]:
    """Regular (non-symlink) man page files of one language, sorted."""
    base = MAN_ROOT / lang_dir if lang_dir else MAN_ROOT
    out: list[Path] = []
    for sec in sections:
        d = base / f"man{sec}"
        if d.is_dir():
            out += [p for p in sorted(d.iterdir()) if p.is_file() and not p.is_symlink()]
    return out


def man_url(path: Path, package: str, lang_dir: str) -> str:
    """The page's address on manpages.debian.org, where Debian publishes the same page."""
    name = path.name.removesuffix(".gz")
    suffix = f".{lang_dir}" if lang_dir else ""
    return f"https://manpages.debian.org/bookworm/{package}/{name}{suffix}.html"


def owning_packages(paths: list[Path]) -> dict[Path, str]:
    """`dpkg -S` for many paths at once: path -> Debian package."""
    out: dict[Path, str] = {}
    for i in range(0, len(paths), 200):
        chunk = paths[i : i + 200]
        res = subprocess.run(["dpkg", "-S", *map(str, chunk)], capture_output=True, text=True)
        for line in res.stdout.splitlines():
            pkg, _, p = line.partition(": ")
            out[Path(p)] = pkg.split(",")[0].split(":")[0]
    return {p: out.get(p, "unknown") for p in paths}


# ---------------------------------------------------------------------------------------------
# The sample


@dataclass
class Sample:
    out: Path
    rng: random.Random
    provenance: list[tuple[str, str, str, str]] = field(default_factory=list)  # file, id, origin, how
    expected: dict = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)  # file -> one-line description
    next_id: int = 0

    def new_id(self, prefix: str) -> str:
        self.next_id += 1
        return f"{prefix}-{self.next_id:05d}"

    def record(self, file: str, doc_id: str, origin: str, how: str = "as is") -> None:
        self.provenance.append((file, doc_id, origin, how))

    def write(self, rel: str, data: bytes) -> None:
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def pick_man_docs(s: Sample, lang: str, *, n: int, min_bytes: int, max_bytes: int) -> list[dict]:
    # google-cloud-cli ships thousands of near-identical English `gcloud_*` pages: leave them to
    # the big corpus so that they do not crowd out everything else here.
    pages = [p for p in man_pages(MAN_LANGS[lang]) if not p.name.startswith("gcloud")]
    random.Random(f"{SEED}-man-{lang}").shuffle(pages)
    docs: list[dict] = []
    for p in pages:
        if len(docs) == n:
            break
        text = render_man(p)
        if min_bytes <= len(text.encode()) <= max_bytes:
            docs.append({"path": p, "text": text})
    pkgs = owning_packages([d["path"] for d in docs])
    return [{"id": s.new_id("web"), "text": d["text"], "url": man_url(d["path"], pkgs[d["path"]], MAN_LANGS[lang]),
             "lang_hint": lang, "_origin": str(d["path"])} for d in docs]


def pick_pydoc_pages(s: Sample, *, n: int) -> list[dict]:
    pages = sorted((PYDOC_ROOT / "library").glob("*.html"))
    random.Random(f"{SEED}-pydoc").shuffle(pages)
    docs = []
    for p in pages:
        if len(docs) == n:
            break
        text = html_text(p.read_text(encoding="utf-8"), main_content=True)
        if 2_000 <= len(text.encode()) <= 16_000:
            rel = p.relative_to(PYDOC_ROOT).as_posix()
            docs.append({"id": s.new_id("web"), "text": text, "url": PYDOC_URL + rel,
                         "lang_hint": "en", "_origin": str(p)})
    return docs


def debref_sections(chapter: str, suffix: str) -> list[tuple[str, str]]:
    """(section title, text) of each top-level section of one Debian Reference chapter."""
    from resiliparse.parse.html import HTMLTree

    tree = HTMLTree.parse((DEBREF_ROOT / f"{chapter}.{suffix}.html").read_text(encoding="utf-8"))
    out = []
    for node in tree.body.query_selector_all("div.chapter > div.section"):
        h2 = node.query_selector("h2")
        text = html_text(node.html, main_content=False)
        out.append((h2.text.strip() if h2 else "", text))
    return out


def pick_debref_web(s: Sample, *, chapters: list[str], per_chapter: int) -> list[dict]:
    docs = []
    for lang, suffix in sorted(DEBREF_LANGS.items()):
        for ch in chapters:
            secs = debref_sections(ch, suffix)
            for i, (title, text) in enumerate(secs[:per_chapter]):
                if len(text.encode()) < 500:
                    continue
                docs.append({"id": s.new_id("web"), "text": text,
                             "url": f"{DEBREF_URL}{ch}.{suffix}.html#section-{i + 1}",
                             "lang_hint": lang,
                             "_origin": f"{DEBREF_ROOT}/{ch}.{suffix}.html section {i + 1} ({title})"})
    return docs


def pydoc_footer() -> str:
    """The real footer every Python docs page carries (boilerplate a crawler picks up)."""
    from resiliparse.parse.html import HTMLTree

    html = (PYDOC_ROOT / "library" / "colorsys.html").read_text(encoding="utf-8")
    node = HTMLTree.parse(html).body.query_selector("div.footer")
    return html_text(node.html, main_content=False)


def word_jaccard(a: str, b: str, *, n: int = 5) -> float:
    """Jaccard similarity of word n-gram sets (what MinHash estimates), for SOURCES.md."""
    def grams(t: str) -> set[tuple[str, ...]]:
        w = t.split()
        return {tuple(w[i : i + n]) for i in range(max(1, len(w) - n + 1))}

    ga, gb = grams(a), grams(b)
    return len(ga & gb) / len(ga | gb)


def paragraphs(text: str) -> list[str]:
    return text.split("\n\n")


def near_duplicate(doc: dict, kind: str, rng: random.Random, footer: str) -> tuple[str, str]:
    """A real small edit of a real document: (new text, description)."""
    if kind == "paragraph_removed":
        paras = paragraphs(doc["text"])
        i = rng.randrange(1, len(paras) - 1)
        return "\n\n".join(paras[:i] + paras[i + 1 :]), f"paragraph {i} of {len(paras)} removed"
    if kind == "lines_swapped":
        lines = doc["text"].split("\n")
        candidates = [i for i in range(1, len(lines) - 2) if lines[i].strip() and lines[i + 1].strip()]
        i = rng.choice(candidates)
        lines[i], lines[i + 1] = lines[i + 1], lines[i]
        return "\n".join(lines), f"lines {i} and {i + 1} swapped"
    if kind == "footer_appended":
        return doc["text"].rstrip("\n") + "\n\n" + footer, "Python docs footer appended"
    raise ValueError(kind)


def build_web(s: Sample) -> dict[str, list[dict]]:
    rng = s.rng
    man_docs: list[dict] = []
    for lang in sorted(MAN_LANGS):
        man_docs += pick_man_docs(s, lang, n=28, min_bytes=1_500, max_bytes=8_000)
    debref = pick_debref_web(s, chapters=["ch06", "ch07", "ch11", "ch12"], per_chapter=4)
    pydocs = pick_pydoc_pages(s, n=60)
    footer = pydoc_footer()

    # Re-crawl: the same pages fetched again (exact duplicates under a new id), edited copies
    # (near duplicates) and pages a quality filter should drop.
    recrawl: list[dict] = []
    dup_ids: list[tuple[str, str]] = []
    for pool in (man_docs, debref, pydocs):
        for src in rng.sample(pool, 3):
            d = dict(src, id=s.new_id("web"), url=src["url"].replace("https://", "http://", 1))
            recrawl.append(d)
            dup_ids.append((d["id"], src["id"]))
    near_ids: list[tuple[str, str, str, float]] = []
    # Long sources only, so that one edit leaves the copy a near (not a distant) duplicate.
    long_docs = [d for d in man_docs + debref + pydocs
                 if len(paragraphs(d["text"])) >= 12 and len(d["text"].encode()) >= 4_000]
    kinds = ["paragraph_removed", "lines_swapped", "footer_appended"] * 3
    for src, kind in zip(rng.sample(long_docs, len(kinds)), kinds):
        text, how = near_duplicate(src, kind, rng, footer)
        d = dict(src, id=s.new_id("web"), text=text, url=src["url"] + "?from=recrawl",
                 _how=f"near duplicate of {src['id']}: {how}")
        recrawl.append(d)
        near_ids.append((d["id"], src["id"], kind, round(word_jaccard(src["text"], text), 3)))

    junk: list[tuple[str, str]] = []
    for letter in ["Q", "Y", "K"]:
        p = PYDOC_ROOT / f"genindex-{letter}.html"
        d = {"id": s.new_id("web"), "text": html_text(p.read_text(encoding="utf-8"), main_content=False),
             "url": PYDOC_URL + p.name, "lang_hint": "en", "_origin": str(p),
             "_how": "whole page text incl. navigation (an index: a list of short link lines)"}
        recrawl.append(d)
        junk.append((d["id"], "navigation-like list of short lines"))
    for pkg in ["libbz2-1.0", "zlib1g", "libzstd1", "liblzma5"]:
        desc = subprocess.run(["dpkg-query", "-W", "-f", "${binary:Summary}", pkg],
                              capture_output=True, text=True).stdout.strip()
        if desc:
            d = {"id": s.new_id("web"), "text": desc,
                 "url": f"https://packages.debian.org/bookworm/{pkg}", "lang_hint": "en",
                 "_origin": f"dpkg-query -W -f '${{binary:Summary}}' {pkg}"}
            recrawl.append(d)
            junk.append((d["id"], "only a few words"))
    for path, why in [
        ("/usr/share/doc/openjdk-17-jre-headless/test-amd64/jtreg-summary-hotspot.log",
         "log with repeated lines"),
        ("/usr/share/doc/x11-utils/copyright", "license text repeated many times (repeated lines)"),
    ]:
        url = "file://" + path
        d = {"id": s.new_id("web"), "text": Path(path).read_text(encoding="utf-8"), "url": url,
             "lang_hint": "en", "_origin": path}
        recrawl.append(d)
        junk.append((d["id"], why))
    lorem = next((Path(p) for p in LOREM_CANDIDATES if Path(p).exists()), None)
    if lorem is None:
        sys.exit("no 'Lorem ipsum.txt' found (setuptools' vendored jaraco.text ships one); "
                 f"looked in: {LOREM_CANDIDATES}")
    d = {"id": s.new_id("web"), "text": lorem.read_text(encoding="utf-8"),
         "url": "file://" + str(lorem).replace(" ", "%20"),
         "lang_hint": "la", "_origin": str(lorem)}
    recrawl.append(d)
    junk.append((d["id"], "lorem ipsum placeholder text"))

    # A crawler that fetched one man page twice in the same crawl: an exact duplicate in-file.
    src = man_docs[rng.randrange(len(man_docs))]
    again = dict(src, id=s.new_id("web"))
    man_docs.append(again)
    dup_ids.append((again["id"], src["id"]))

    files = {
        "web/manpages-00.jsonl.gz": man_docs,
        "web/debian-reference-00.jsonl.zst": debref,
        "web/python-docs-00.jsonl.gz": pydocs,
        "web/recrawl-00.jsonl.zst": recrawl,
    }
    dup_of = dict(dup_ids)
    for rel, docs in files.items():
        rows = [{k: v for k, v in d.items() if not k.startswith("_")} for d in docs]
        raw = jsonl_bytes(rows)
        s.write(rel, gzip_bytes(raw) if rel.endswith(".gz") else zstd_bytes(raw))
        for d in docs:
            how = f"exact duplicate of {dup_of[d['id']]}" if d["id"] in dup_of else d.get("_how", "as is")
            s.record(rel, d["id"], d["_origin"], how)
    langs: dict[str, int] = {}
    for docs in files.values():
        for d in docs:
            langs[d["lang_hint"]] = langs.get(d["lang_hint"], 0) + 1
    s.expected["web"] = {
        "docs_per_file": {rel: len(docs) for rel, docs in files.items()},
        "lang_hint_counts": dict(sorted(langs.items())),
        "exact_duplicates": [{"id": a, "duplicate_of": b} for a, b in dup_ids],
        "near_duplicates": [{"id": a, "near_duplicate_of": b, "edit": k, "jaccard_word_5grams": j}
                            for a, b, k, j in near_ids],
        "junk": [{"id": a, "why": w} for a, w in junk],
    }
    s.notes.update({
        "web/manpages-00.jsonl.gz": "man pages in 13 languages rendered with groff, one per line",
        "web/debian-reference-00.jsonl.zst": "sections of the Debian Reference HTML (7 languages)",
        "web/python-docs-00.jsonl.gz": "Python 3.11 library reference pages (main text)",
        "web/recrawl-00.jsonl.zst": "exact duplicates, near duplicates and junk pages",
    })
    return files


def build_books(s: Sample) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = []
    for lang, suffix in sorted(DEBREF_LANGS.items()):
        for ch in ["ch03", "ch04", "ch05", "ch08"]:
            p = DEBREF_ROOT / f"{ch}.{suffix}.html"
            html = p.read_text(encoding="utf-8")
            rows.append({"id": f"debref-{ch}-{suffix}", "text": html_text(html, main_content=True),
                         "title": html_title(html), "_origin": str(p)})
    howto = []
    for name in ["sorting", "unicode", "sockets", "descriptor", "functional", "logging", "regex", "enum"]:
        p = PYDOC_ROOT / "_sources" / "howto" / f"{name}.rst.txt"
        text = p.read_text(encoding="utf-8")
        title = next(l for l in text.splitlines() if l.strip() and not l.startswith((".", "*", "=")))
        howto.append({"id": f"python-howto-{name}", "text": text, "title": title.strip(),
                      "_origin": str(p)})
    for rel, docs in [("books/debian-reference.parquet", rows), ("books/python-howto.parquet", howto)]:
        table = pa.table({k: [d[k] for d in docs] for k in ("id", "text", "title")})
        s.out.joinpath(rel).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, s.out / rel, compression="zstd", compression_level=10)
        for d in docs:
            s.record(rel, d["id"], d["_origin"])
        s.expected.setdefault("books", {})[rel] = len(docs)
    s.notes["books/debian-reference.parquet"] = "Debian Reference chapters 3, 4, 5, 8 in 7 languages"
    s.notes["books/python-howto.parquet"] = "Python HOWTOs (reStructuredText sources)"


def build_notes(s: Sample) -> None:
    notes = {
        "notes/python3.11-README.venv.txt": "/usr/share/doc/python3.11/README.venv",
        "notes/git-README.txt": "/usr/share/doc/git/README.md",
        "notes/manpages-de-README.txt": "/usr/share/doc/manpages-de/README.md",
        "notes/manpages-ja-README.txt": "/usr/share/doc/manpages-ja/README.gz",
        # Two packages ship the identical file: a real exact duplicate.
        "notes/libdrm2-copyright.txt": "/usr/share/doc/libdrm2/copyright",
        "notes/libdrm-common-copyright.txt": "/usr/share/doc/libdrm-common/copyright",
    }
    for rel, origin in notes.items():
        s.write(rel, read_maybe_gz(Path(origin)))
        s.record(rel, "", origin, "gunzipped" if origin.endswith(".gz") else "as is")
    s.expected["notes"] = {"files": len(notes), "exact_duplicate_files": [
        "notes/libdrm2-copyright.txt", "notes/libdrm-common-copyright.txt"]}
    s.notes["notes/*.txt"] = "READMEs and copyright files from /usr/share/doc, one document each"


def build_code(s: Sample) -> None:
    gsutil_rsa = Path("/usr/lib/google-cloud-sdk/platform/gsutil/third_party/rsa")
    npm = Path("/usr/lib/node_modules/npm/node_modules")
    files = {
        # Two CPython versions side by side: bisect.py is identical (exact duplicate),
        # colorsys.py differs by two lines (near duplicate).
        "code/cpython-3.11.2/Lib/bisect.py": PY_OLD / "bisect.py",
        "code/cpython-3.11.7/Lib/bisect.py": PY_NEW / "bisect.py",
        "code/cpython-3.11.2/Lib/colorsys.py": PY_OLD / "colorsys.py",
        "code/cpython-3.11.7/Lib/colorsys.py": PY_NEW / "colorsys.py",
        "code/cpython-3.11.7/Lib/fnmatch.py": PY_NEW / "fnmatch.py",
        "code/cpython-3.11.7/Lib/shlex.py": PY_NEW / "shlex.py",
        "code/cpython-3.11.7/Include/pymacro.h": PY_NEW.parents[1] / "include/python3.11/pymacro.h",
        "code/cpython-3.11.7/Include/pymath.h": PY_NEW.parents[1] / "include/python3.11/pymath.h",
        # A compiled .pyc under a .py name: binary content behind a text extension.
        "code/cpython-3.11.7/Lib/colorsys_compiled.py":
            PY_NEW / "__pycache__" / "colorsys.cpython-311.pyc",
        "code/zlib-examples/zpipe.c": Path("/usr/share/doc/zlib1g-dev/examples/zpipe.c"),
        "code/zlib-examples/zran.c": Path("/usr/share/doc/zlib1g-dev/examples/zran.c"),
        "code/zlib-examples/zran.h": Path("/usr/share/doc/zlib1g-dev/examples/zran.h"),
        "code/docs-theme/static/doctools.js": PYDOC_ROOT / "_static/doctools.js",
        "code/docs-theme/static/sidebar.js": PYDOC_ROOT / "_static/sidebar.js",
        "code/docs-theme/static/pydoctheme.css": PYDOC_ROOT / "_static/pydoctheme.css",
        "code/scripts/rerere-train.sh": Path("/usr/share/doc/git/contrib/rerere-train.sh"),
        "code/scripts/dpkg-error.sh": Path("/usr/share/dpkg/sh/dpkg-error.sh"),
        # No extension: the language comes from the shebang.
        "code/scripts/zcmp": Path("/usr/bin/zcmp"),
        "code/scripts/pydoc3.11": Path("/usr/bin/pydoc3.11"),
        "code/persistent-https/main.go": Path("/usr/share/doc/git/contrib/persistent-https/main.go"),
        "code/persistent-https/proxy.go": Path("/usr/share/doc/git/contrib/persistent-https/proxy.go"),
        # A real lock file (gsutil's vendored python-rsa ships it).
        "code/Pipfile.lock": gsutil_rsa / "Pipfile.lock",
        # Vendored code: skipped by path.
        "code/third_party/rsa/common.py": gsutil_rsa / "rsa/common.py",
        "code/third_party/rsa/pem.py": gsutil_rsa / "rsa/pem.py",
        "code/node_modules/abbrev/package.json": npm / "abbrev/package.json",
        "code/node_modules/abbrev/lib/index.js": npm / "abbrev/lib/index.js",
    }
    for rel, origin in files.items():
        if not origin.is_file():
            sys.exit(f"missing source file {origin}; this script expects the standard image of "
                     "this project's machines (pyenv 3.11.7, git, zlib1g-dev, npm, google-cloud-sdk)")
        s.write(rel, origin.read_bytes())
        s.record(rel, "", str(origin))
    by_ext: dict[str, int] = {}
    for rel in files:
        ext = Path(rel).suffix or "(none)"
        by_ext[ext] = by_ext.get(ext, 0) + 1
    s.expected["code"] = {
        "files": len(files),
        "files_by_extension": dict(sorted(by_ext.items())),
        "exact_duplicate_files": ["code/cpython-3.11.2/Lib/bisect.py", "code/cpython-3.11.7/Lib/bisect.py"],
        "near_duplicate_files": ["code/cpython-3.11.2/Lib/colorsys.py", "code/cpython-3.11.7/Lib/colorsys.py"],
        "skip_vendored": sorted(r for r in files if "/third_party/" in r or "/node_modules/" in r),
        "skip_lock": ["code/Pipfile.lock"],
        "skip_binary": ["code/cpython-3.11.7/Lib/colorsys_compiled.py"],
    }
    s.notes["code/"] = "a small source tree (Python, C, JS, CSS, shell, Go) with dups, vendored, lock, binary"


def build_warc(s: Sample) -> None:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    rel = "warc/python-docs-00.warc.gz"
    pages = sorted((PYDOC_ROOT / "tutorial").glob("*.html"))
    fetches = [(p, "text/html; charset=utf-8") for p in pages]
    fetches += [(PYDOC_ROOT / "_static/pydoctheme.css", "text/css"),
                (PYDOC_ROOT / "_images/tk_msg.png", "image/png")]
    date = "2024-09-17T12:00:00Z"

    def rid(*parts: str) -> str:
        return f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, '|'.join(parts))}>"

    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    info = (f"software: curate scripts/build_sample.py\nformat: WARC File Format 1.0\n"
            f"description: Python 3.11 docs from {PYDOC_ROOT} served as a crawl\n").encode()
    writer.write_record(writer.create_warc_record(
        "", "warcinfo", payload=io.BytesIO(info), length=len(info),
        warc_content_type="application/warc-fields",
        warc_headers_dict={"WARC-Record-ID": rid("warcinfo"), "WARC-Date": date,
                           "WARC-Filename": Path(rel).name}))
    n_html = 0
    for p, ctype in fetches:
        url = PYDOC_URL + p.relative_to(PYDOC_ROOT).as_posix()
        body = p.read_bytes()
        req = f"GET /{url.split('/', 3)[3]} HTTP/1.1\r\nHost: docs.python.org\r\nUser-Agent: curate-sample\r\n\r\n"
        request = writer.create_warc_record(
            url, "request", payload=io.BytesIO(req.encode()), length=len(req),
            warc_headers_dict={"WARC-Record-ID": rid("request", url), "WARC-Date": date})
        http = StatusAndHeaders("200 OK", [("Content-Type", ctype), ("Content-Length", str(len(body)))],
                                protocol="HTTP/1.1")
        response = writer.create_warc_record(
            url, "response", payload=io.BytesIO(body), length=len(body), http_headers=http,
            warc_headers_dict={"WARC-Record-ID": rid("response", url), "WARC-Date": date,
                               "WARC-Concurrent-To": rid("request", url)})
        writer.write_record(request)
        writer.write_record(response)
        s.record(rel, url, str(p), f"HTTP 200 {ctype}")
        n_html += ctype.startswith("text/html")
    s.write(rel, buf.getvalue())
    s.expected["warc"] = {rel: {"warcinfo": 1, "request": len(fetches), "response": len(fetches),
                                "html_responses": n_html, "non_html_responses": len(fetches) - n_html}}
    s.notes[rel] = "Python tutorial pages + one CSS + one PNG as a crawler's WARC (warcinfo, request, response)"


def build_bad(s: Sample, web: dict[str, list[dict]]) -> None:
    """Real documents, really broken. Each bad line is one kind of damage; good lines in between."""
    rng = random.Random(f"{SEED}-bad")
    kinds = ["good", "truncated_json", "good", "invalid_utf8", "text_null", "good", "text_number",
             "good", "text_empty", "good", "text_missing", "lone_surrogate", "not_an_object", "good"]
    pool = rng.sample([d for d in web["web/manpages-00.jsonl.gz"] if d["lang_hint"] in ("de", "fr", "ru")],
                      len(kinds))
    lines: list[tuple[bytes, str]] = []
    for kind, src in zip(kinds, pool):
        d = {"id": src["id"] + "-b", "text": src["text"], "url": src["url"], "lang_hint": src["lang_hint"]}
        line = json.dumps(d, ensure_ascii=False).encode()
        if kind == "truncated_json":  # a writer killed mid-line (at a character boundary)
            line = line.decode()[: len(line) // 3].encode()
        elif kind == "invalid_utf8":
            # The first multi-byte character loses a continuation byte, as when a byte-oriented
            # tool cuts a buffer in the middle of a character.
            i = next(k for k, b in enumerate(line) if b >= 0xC0)
            line = line[: i + 1] + line[i + 2 :]
        elif kind in ("text_null", "text_number", "text_empty"):
            d["text"] = {"text_null": None, "text_number": 123, "text_empty": ""}[kind]
            line = json.dumps(d, ensure_ascii=False).encode()
        elif kind == "text_missing":  # the text under another field name
            d["body"] = d.pop("text")
            line = json.dumps(d, ensure_ascii=False).encode()
        elif kind == "lone_surrogate":  # a valid JSON escape that no UTF-8 can hold
            marker = "\x00SURROGATE\x00"
            d["text"] = d["text"][:200] + marker + d["text"][200:]
            line = json.dumps(d, ensure_ascii=False).replace("\\u0000SURROGATE\\u0000", "\\ud800").encode()
        elif kind == "not_an_object":
            line = json.dumps([d["text"][:300]], ensure_ascii=False).encode()
        lines.append((line, kind))
    body = b"".join(line + b"\n" for line, _ in lines)
    s.write("bad/broken.jsonl", body)
    kinds: dict[str, int] = {}
    by_kind: dict[str, int] = {}
    for n, ((_, kind), src) in enumerate(zip(lines, pool), start=1):
        by_kind[kind] = by_kind.get(kind, 0) + 1
        s.record("bad/broken.jsonl", f"line {n}", f"{src['id']} in web/manpages-00.jsonl.gz", kind)

    # A valid gzip of real docs, cut in the middle (a download that stopped).
    docs = [{**d, "id": d["id"] + "-t"} for d in web["web/python-docs-00.jsonl.gz"][:8]]
    docs = [{k: v for k, v in d.items() if not k.startswith("_")} for d in docs]
    full_gz = gzip_bytes(jsonl_bytes(docs))
    cut = full_gz[: len(full_gz) // 2]
    s.write("bad/truncated.jsonl.gz", cut)
    recovered = zlib_prefix(cut)
    complete = recovered.count(b"\n")
    for d in docs:
        s.record("bad/truncated.jsonl.gz", d["id"], "web/python-docs-00.jsonl.gz",
                 f"gzip cut at {len(cut)} of {len(full_gz)} bytes")
    # A real document under an extension no reader knows.
    s.write("bad/notes.xyz", Path("/usr/share/doc/python3.11/README.venv").read_bytes())
    s.record("bad/notes.xyz", "", "/usr/share/doc/python3.11/README.venv", "renamed to .xyz")
    s.expected["bad"] = {
        "bad/broken.jsonl": {"lines": len(lines), "by_kind": dict(sorted(by_kind.items())),
                             "line_kinds": [k for _, k in lines]},
        "bad/truncated.jsonl.gz": {"docs_before_cut": len(docs), "complete_lines_recoverable": complete,
                                   "gz_bytes_full": len(full_gz), "gz_bytes_kept": len(cut)},
        "bad/notes.xyz": {"unknown_extension": True},
    }
    s.notes["bad/"] = "malformed JSONL lines, a truncated .gz and an unknown extension"


def zlib_prefix(gz: bytes) -> bytes:
    """What a streaming reader decompresses from a truncated gzip before it hits the end."""
    import zlib

    return zlib.decompressobj(wbits=31).decompress(gz)


def write_sources(s: Sample) -> None:
    sizes = {p.relative_to(s.out).as_posix(): p.stat().st_size
             for p in sorted(s.out.rglob("*")) if p.is_file() and p.name not in ("SOURCES.md", "PROVENANCE.tsv")}
    s.expected["sizes_bytes"] = sizes
    s.expected["total_bytes"] = sum(sizes.values())
    prov = "file\tid\torigin\thow\n" + "".join("\t".join(r) + "\n" for r in s.provenance)
    (s.out / "PROVENANCE.tsv").write_text(prov, encoding="utf-8")
    w = s.expected["web"]
    md = [
        "# The bundled sample corpus",
        "",
        "Generated by `scripts/build_sample.py` (do not edit by hand; re-run the script). Every",
        "document is real text or code from this machine's Debian packages and Python install;",
        "`PROVENANCE.tsv` names the origin of every document, line and file, and what was done to it.",
        "",
        "| path | contents |",
        "| --- | --- |",
        *[f"| `{k}` | {v} |" for k, v in s.notes.items()],
        "",
        "## Web (`web/*.jsonl.gz`, `web/*.jsonl.zst`)",
        "",
        "Fields: `id` (the record's own id), `text`, `url` (where the same document is published:",
        "manpages.debian.org, docs.python.org, www.debian.org, packages.debian.org; `file://` for the",
        "local files that have no public page), `lang_hint` (language of the source",
        "package; translated man pages keep some English passages).",
        "",
        *[f"- `{k}`: {v} documents" for k, v in w["docs_per_file"].items()],
        f"- languages (`lang_hint`: documents): {', '.join(f'{k}: {v}' for k, v in w['lang_hint_counts'].items())}",
        f"- exact duplicates (same text, new id): {len(w['exact_duplicates'])}",
        f"- near duplicates (one real edit of a real page): {len(w['near_duplicates'])}",
        f"- junk for the quality rules: {len(w['junk'])} "
        f"({', '.join(sorted({j['why'] for j in w['junk']}))})",
        "",
        "## Books (`books/*.parquet`, columns `id`, `text`, `title`)",
        "",
        *[f"- `{k}`: {v} documents" for k, v in s.expected["books"].items()],
        "",
        "## Bad inputs (`bad/`)",
        "",
        "`bad/broken.jsonl`, line by line: "
        + ", ".join(f"{i}: {k}" for i, k in enumerate(s.expected["bad"]["bad/broken.jsonl"]["line_kinds"], 1)),
        "",
        f"`bad/truncated.jsonl.gz`: the first half of a valid gzip of "
        f"{s.expected['bad']['bad/truncated.jsonl.gz']['docs_before_cut']} documents; "
        f"{s.expected['bad']['bad/truncated.jsonl.gz']['complete_lines_recoverable']} complete lines "
        "decompress before the cut. `bad/notes.xyz`: a README under an unknown extension.",
        "",
        f"Total size: {s.expected['total_bytes'] / 1e6:.2f} MB.",
        "",
        "## Expected counts (machine-readable; tests/test_sample reads this block)",
        "",
        "```json",
        json.dumps(s.expected, indent=1, ensure_ascii=False),
        "```",
        "",
    ]
    (s.out / "SOURCES.md").write_text("\n".join(md), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--install", action="store_true", help="apt-get missing doc packages (root)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    ensure_packages(DEBIAN_PACKAGES, install=args.install)
    if args.out.exists():
        shutil.rmtree(args.out)
    s = Sample(out=args.out, rng=random.Random(SEED))
    web = build_web(s)
    log.info("web done")
    build_books(s)
    build_notes(s)
    build_code(s)
    build_warc(s)
    build_bad(s, web)
    write_sources(s)
    log.info("sample written to %s (%.2f MB)", args.out, s.expected["total_bytes"] / 1e6)
    return 0


if __name__ == "__main__":
    sys.exit(main())
