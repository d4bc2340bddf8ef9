"""Build a large real benchmark corpus: JSONL.gz shards of text and code from this machine.

Text: the Debian Reference and man pages in every installed language (rendered with groff), the
Python, Vim, Node.js and Rust documentation, and text files under /usr/share/doc. Code: source
files of every Python install (stdlib and site-packages), C headers, npm's node_modules, the
Google Cloud SDK and the example code under /usr/share/doc. Nothing is generated or repeated:
every document is one real file (or one rendered page), and exact repeats of a text already
written are skipped. When the machine holds less real text than asked for, the builder says so
and fills the rest with code (and the other way round); it never pads.

    python scripts/build_corpus.py --out /tmp/corpus --size-mb 200 [--text-share 0.5] [--jobs 2]

Output: DIR/text/text-NNNNN.jsonl.gz with {id, text, url, lang_hint, source, path},
DIR/code/code-NNNNN.jsonl.gz with {id, text, path, language, source}, and DIR/manifest.json
(documents and bytes per source and per shard, what ran short). Deterministic: sources and files
are walked in sorted order, man pages are rendered in parallel but written in order, gzip
headers carry no timestamp.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_sample import (  # noqa: E402  (a sibling script, not a package)
    DEBIAN_PACKAGES,
    DEBREF_LANGS,
    DEBREF_ROOT,
    MAN_ROOT,
    PYDOC_ROOT,
    PYDOC_URL,
    DEBREF_URL,
    ensure_packages,
    gzip_bytes,
    html_text,
    read_maybe_gz,
    render_man,
    tidy,
)

log = logging.getLogger("build_corpus")

MB = 1_000_000
MIN_DOC_BYTES = 200  # below this a "document" is an include stub or an empty page
MAX_DOC_BYTES = 2 * MB
MAX_CODE_BYTES = 1 * MB  # The Stack's limit for one source file

CODE_EXTENSIONS = {
    ".py": "python", ".pyi": "python", ".pyx": "cython", ".c": "c", ".h": "c", ".cc": "cpp",
    ".cpp": "cpp", ".hpp": "cpp", ".cxx": "cpp", ".js": "javascript", ".mjs": "javascript",
    ".cjs": "javascript", ".ts": "typescript", ".css": "css", ".sh": "shell", ".bash": "shell",
    ".go": "go", ".rs": "rust", ".rb": "ruby", ".pl": "perl", ".pm": "perl", ".lua": "lua",
    ".java": "java", ".cmake": "cmake", ".sql": "sql", ".el": "emacs-lisp", ".vim": "vim",
    ".awk": "awk", ".tcl": "tcl", ".m4": "m4", ".f90": "fortran", ".r": "r", ".R": "r",
}
TEXT_DOC_NAMES = ("README", "NEWS", "CHANGES", "HISTORY", "TODO", "FAQ", "AUTHORS", "THANKS",
                  "copyright", "changelog", "USAGE", "INSTALL", "BUGS", "CONTRIBUTING")
TEXT_DOC_SUFFIXES = (".txt", ".md", ".rst", ".text")

# man page directory -> lang_hint
MAN_LANG_HINT = {"cs": "cs", "da": "da", "de": "de", "es": "es", "fi": "fi", "fr": "fr", "hr": "hr",
                 "hu": "hu", "id": "id", "it": "it", "ja": "ja", "ko": "ko", "nl": "nl", "pl": "pl",
                 "pt": "pt", "pt_BR": "pt", "ro": "ro", "ru": "ru", "sl": "sl", "sr": "sr", "sv": "sv",
                 "tr": "tr", "uk": "uk", "zh_CN": "zh", "zh_TW": "zh"}
RUST_DOC = sorted(glob.glob("/root/.rustup/toolchains/stable-*/share/doc/rust/html"))
# Rust's guides are prose; the std/core API pages come after them.
RUST_PROSE = ["book", "reference", "nomicon", "rust-by-example", "edition-guide", "cargo", "rustc",
              "rustdoc", "embedded-book", "style-guide", "unstable-book", "error_codes"]


@dataclass(frozen=True)
class Doc:
    path: str
    text: str
    lang_hint: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Source:
    name: str
    kind: str  # text | code
    docs: Callable[[], Iterator[Doc]]
    # At most this share of the kind's budget, so that no one source crowds out the others.
    max_share: float = 1.0


# ---------------------------------------------------------------------------------------------
# Text sources


def debref_docs() -> Iterator[Doc]:
    for lang, suffix in sorted(DEBREF_LANGS.items()):
        for p in sorted(DEBREF_ROOT.glob(f"*.{suffix}.html")):
            yield Doc(str(p), html_text(p.read_text(encoding="utf-8"), main_content=True), lang,
                      DEBREF_URL + p.name)


def man_docs(*, translated: bool, jobs: int) -> Callable[[], Iterator[Doc]]:
    def gen() -> Iterator[Doc]:
        if translated:
            per_lang = [sorted(p for p in (MAN_ROOT / d).rglob("*") if p.is_file() and not p.is_symlink())
                        for d in sorted(MAN_LANG_HINT) if (MAN_ROOT / d).is_dir()]
            # Round-robin over languages so that a budget cut keeps every language.
            pages = [p for group in _interleave(per_lang) for p in group]
        else:
            pages = sorted(p for d in sorted(MAN_ROOT.glob("man*")) for p in d.iterdir()
                           if p.is_file() and not p.is_symlink())
            # google-cloud-cli's thousands of near-identical gcloud pages go last.
            pages.sort(key=lambda p: (p.name.startswith(("gcloud", "bq")), str(p)))
        for p, text in ordered_map(_render_or_empty, pages, jobs=jobs):
            lang_dir = p.parents[1].name if translated else ""
            yield Doc(str(p), text, MAN_LANG_HINT.get(lang_dir, "en"))
    return gen


def _render_or_empty(path: Path) -> str:
    """A page groff cannot render within the time limit counts as empty (skipped as too small)."""
    try:
        return render_man(path)
    except subprocess.TimeoutExpired:
        log.warning("groff timed out on %s; skipped", path)
        return ""


def ordered_map(fn: Callable, items: list, *, jobs: int, window: int = 64) -> Iterator[tuple]:
    """(item, fn(item)) in input order, at most `window` in flight; closing it cancels the rest.

    groff runs in subprocesses, so threads give real parallelism here.
    """
    with ThreadPoolExecutor(jobs) as pool:
        pending: deque = deque()
        try:
            for item in items:
                pending.append((item, pool.submit(fn, item)))
                if len(pending) >= window:
                    item0, fut = pending.popleft()
                    yield item0, fut.result()
            while pending:
                item0, fut = pending.popleft()
                yield item0, fut.result()
        finally:
            for _, fut in pending:
                fut.cancel()


def _interleave(groups: list[list[Path]]) -> Iterator[list[Path]]:
    for i in range(max(map(len, groups), default=0)):
        yield [g[i] for g in groups if i < len(g)]


def html_tree_docs(roots: list[Path], *, lang: str, url_base: str | None = None) -> Callable[[], Iterator[Doc]]:
    def gen() -> Iterator[Doc]:
        for root in roots:
            for p in sorted(root.rglob("*.html")):
                if "_static" in p.parts or "static.files" in p.parts:
                    continue
                try:
                    html = p.read_text(encoding="utf-8")
                except (UnicodeDecodeError, OSError):
                    continue
                url = url_base + p.relative_to(roots[0]).as_posix() if url_base else None
                yield Doc(str(p), html_text(html, main_content=True), lang, url)
    return gen


def plain_files(roots: list[str], *, suffixes: tuple[str, ...], names: tuple[str, ...] = (),
                lang: str | None = None) -> Callable[[], Iterator[Doc]]:
    def gen() -> Iterator[Doc]:
        for root in roots:
            for p in sorted(Path(root).rglob("*")):
                base = p.name.removesuffix(".gz")
                if not (base.endswith(suffixes) or base.startswith(names)) or not p.is_file() or p.is_symlink():
                    continue
                try:
                    text = read_maybe_gz(p).decode("utf-8")
                except (UnicodeDecodeError, OSError, EOFError, ValueError):
                    continue
                yield Doc(str(p), tidy(text), lang)
    return gen


def rust_docs() -> Iterator[Doc]:
    if not RUST_DOC:
        return
    root = Path(RUST_DOC[0])
    prose = [root / d for d in RUST_PROSE if (root / d).is_dir()]
    yield from html_tree_docs(prose, lang="en")()
    yield from html_tree_docs([root / "std", root / "core", root / "alloc"], lang="en")()


# ---------------------------------------------------------------------------------------------
# Code sources


def code_files(roots: list[str], *, exclude: tuple[str, ...] = ()) -> Callable[[], Iterator[Doc]]:
    def gen() -> Iterator[Doc]:
        for root in roots:
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames[:] = sorted(d for d in dirnames if d not in ("__pycache__", ".git") and
                                     not os.path.join(dirpath, d).startswith(exclude))
                for name in sorted(filenames):
                    if Path(name).suffix not in CODE_EXTENSIONS:
                        continue
                    p = os.path.join(dirpath, name)
                    try:
                        if os.path.islink(p) or os.path.getsize(p) > MAX_CODE_BYTES:
                            continue
                        raw = Path(p).read_bytes()
                        if b"\x00" in raw:
                            continue
                        text = raw.decode("utf-8")
                    except (OSError, UnicodeDecodeError):
                        continue
                    yield Doc(p, text, CODE_EXTENSIONS[Path(name).suffix])
    return gen


def python_installs() -> list[str]:
    """Every Python stdlib on the machine, newest first (real near-duplicates across versions)."""
    pyenv = sorted(glob.glob("/root/.pyenv/versions/*/lib/python*"), reverse=True)
    return [p for p in pyenv + sorted(glob.glob("/usr/lib/python3*")) if Path(p).is_dir()]


def sources(jobs: int) -> list[Source]:
    venv_sp = sorted(glob.glob(str(Path(sys.prefix) / "lib/python*/site-packages")))
    pyenv_sp = tuple(sorted(glob.glob("/root/.pyenv/versions/*/lib/python*/site-packages")))
    return [
        Source("debian-reference", "text", debref_docs),
        Source("man-translated", "text", man_docs(translated=True, jobs=jobs), max_share=0.2),
        Source("python-docs", "text", html_tree_docs([PYDOC_ROOT], lang="en", url_base=PYDOC_URL)),
        Source("vim-docs", "text", plain_files(["/usr/share/vim"], suffixes=(".txt",), lang="en")),
        Source("nodejs-docs", "text", plain_files(["/usr/share/doc/nodejs"], suffixes=(".md",), lang="en")),
        Source("usr-share-doc", "text",
               plain_files(["/usr/share/doc"], suffixes=TEXT_DOC_SUFFIXES, names=TEXT_DOC_NAMES),
               max_share=0.25),
        Source("rust-docs", "text", rust_docs, max_share=0.5),
        Source("man-english", "text", man_docs(translated=False, jobs=jobs)),
        Source("python-stdlib", "code", code_files(python_installs(), exclude=pyenv_sp), max_share=0.3),
        Source("site-packages", "code", code_files(venv_sp + list(pyenv_sp)), max_share=0.4),
        Source("c-headers", "code", code_files(["/usr/include"]), max_share=0.15),
        Source("node-modules", "code", code_files(["/usr/lib/node_modules"])),
        Source("doc-examples", "code", code_files(["/usr/share/doc", "/usr/share/cmake-3.25"])),
        Source("google-cloud-sdk", "code", code_files(["/usr/lib/google-cloud-sdk"])),
    ]


# ---------------------------------------------------------------------------------------------
# Registry sources (--registry-cache DIR): real packages fetched with apt-get, pip and npm, pinned
# to one version each so that two builds read the same files, downloaded and unpacked once into
# the cache. A package the registry no longer serves is logged and skipped.

APT_DOCS = {  # Debian 12 documentation packages: prose, several in many languages
    "debian-handbook": "11.20220922", "python-django-doc": "3:3.2.25-0+deb12u7",
    "postgresql-doc-15": "15.20-0+deb12u1", "perl-doc": "5.36.0-7+deb12u4", "git-doc": "1:2.39.5-0+deb12u3",
    "octave-doc": "7.3.0-2", "sphinx-doc": "5.3.0-4", "harden-doc": "3.19+nmu1", "debian-policy": "4.6.2.0",
    "developers-reference-de": "12.18", "developers-reference-fr": "12.18",
    "developers-reference-ja": "12.18", "developers-reference-ru": "12.18", "python-scipy-doc": "1.10.1-2",
}
LINUX_SOURCE = ("linux-source-6.1", "6.1.192-2")  # the kernel tree: C code, and its rst documentation
PYPI_WHEELS = [  # pure-Python wheels: real library code, no build step
    "Django==5.0.3", "sympy==1.12", "SQLAlchemy==2.0.29", "sphinx==7.2.6", "docutils==0.20.1",
    "pygments==2.17.2", "networkx==3.2.1", "pytest==8.1.1", "black==24.3.0", "pylint==3.1.0",
    "astroid==3.1.0", "twisted==24.3.0", "ansible-core==2.16.5", "celery==5.3.6", "kombu==5.3.6",
    "transformers==4.39.1", "boto3==1.34.69", "sqlglot==23.0.5", "hypothesis==6.99.12", "nltk==3.8.1",
    "jinja2==3.1.3", "werkzeug==3.0.1", "flask==3.0.2", "requests==2.31.0", "click==8.1.7",
    "rich==13.7.1", "textual==0.53.1", "pip==24.0", "setuptools==69.2.0", "scrapy==2.11.1",
]
NPM_PACKAGES = [
    "typescript@5.4.3", "lodash@4.17.21", "three@0.162.0", "webpack@5.91.0", "eslint@8.57.0",
    "rxjs@7.8.1", "vue@3.4.21", "express@4.19.2", "moment@2.30.1", "react-dom@18.2.0", "d3@7.9.0",
    "prettier@3.2.5", "@babel/parser@7.24.1", "axios@1.6.8", "jquery@3.7.1", "chart.js@4.4.2",
]


def _fetch(cache: Path, name: str, download: list[str], unpack: Callable[[Path, Path], None]) -> Path | None:
    """The unpacked package under cache/<name>/: downloaded with `download` (run in an empty
    folder, it leaves one file there) and unpacked by `unpack(file, dest)`, once."""
    dest = cache / "unpacked" / name
    if dest.is_dir():
        return dest
    tmp = cache / "download" / name
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        subprocess.run(download, cwd=tmp, check=True, capture_output=True, timeout=1800)
        (archive,) = [p for p in tmp.iterdir() if p.is_file()]
        part = dest.with_name(dest.name + ".part")
        shutil.rmtree(part, ignore_errors=True)
        part.mkdir(parents=True)
        unpack(archive, part)
    except (subprocess.SubprocessError, ValueError, OSError) as exc:
        err = getattr(exc, "stderr", b"") or b""
        log.warning("could not fetch %s (%s): %s", name, exc, err.decode(errors="replace")[-300:])
        return None
    part.rename(dest)
    shutil.rmtree(tmp)
    return dest


def _unpack_deb(deb: Path, dest: Path) -> None:
    subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], check=True, capture_output=True)
    for inner in dest.glob("usr/src/*.tar.xz"):  # linux-source ships the tree as one tarball
        subprocess.run(["tar", "-xJf", str(inner), "-C", str(dest / "usr/src")], check=True, capture_output=True)
        inner.unlink()


def _unpack_archive(archive: Path, dest: Path) -> None:
    fmt = "zip" if archive.suffix == ".whl" else None
    shutil.unpack_archive(str(archive), str(dest), format=fmt)


def apt_package(cache: Path, pkg: str, version: str) -> Path | None:
    return _fetch(cache, f"apt/{pkg}", ["apt-get", "download", f"{pkg}={version}"], _unpack_deb)


def registry_sources(cache: Path) -> list[Source]:
    """Sources read from pinned registry packages (fetched into `cache` on first use)."""
    def apt_docs() -> Iterator[Doc]:
        for pkg, version in sorted(APT_DOCS.items()):
            root = apt_package(cache, pkg, version)
            if root is None:
                continue
            lang = pkg.rsplit("-", 1)[1] if pkg.startswith("developers-reference-") else None
            for doc in html_tree_docs([root], lang=lang or "en")():
                # debian-handbook: .../html/<lang>/...; the language is the folder's name.
                parts = Path(doc.path).relative_to(root).parts
                hint = parts[parts.index("html") + 1][:2] if pkg == "debian-handbook" and "html" in parts else doc.lang_hint
                yield Doc(doc.path, doc.text, hint, doc.url)
            yield from plain_files([str(root)], suffixes=(".pod", ".txt"), lang=lang or "en")()

    def kernel(kind: str) -> Iterator[Doc]:
        root = apt_package(cache, *LINUX_SOURCE)
        if root is None:
            return
        trees = sorted((root / "usr/src").glob("linux-source-*"))
        if kind == "code":
            yield from code_files([str(t) for t in trees], exclude=tuple(str(t / "Documentation") for t in trees))()
        else:
            yield from plain_files([str(t / "Documentation") for t in trees], suffixes=(".rst", ".txt"), lang="en")()

    def packages(kind: str, specs: list[str], command: list[str]) -> Iterator[Doc]:
        for spec in specs:
            root = _fetch(cache, f"{kind}/{spec}", [*command, spec], _unpack_archive)
            if root is not None:
                yield from code_files([str(root)])()

    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-d", "."]
    return [
        Source("apt-docs", "text", apt_docs),
        Source("linux-docs", "text", lambda: kernel("text"), max_share=0.3),
        Source("pypi-wheels", "code", lambda: packages("pypi", PYPI_WHEELS, pip), max_share=0.4),
        Source("npm-packages", "code", lambda: packages("npm", NPM_PACKAGES, ["npm", "pack", "--silent"]),
               max_share=0.3),
        Source("linux-source", "code", lambda: kernel("code"), max_share=0.6),
    ]


# ---------------------------------------------------------------------------------------------
# Writing


@dataclass
class ShardWriter:
    out: Path
    kind: str
    shard_bytes: int
    shards: list[dict] = field(default_factory=list)
    _buf: list[bytes] = field(default_factory=list)
    _size: int = 0

    def add(self, row: dict) -> int:
        line = (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
        self._buf.append(line)
        self._size += len(line)
        if self._size >= self.shard_bytes:
            self.flush()
        return len(line)

    def flush(self) -> None:
        if not self._buf:
            return
        raw = b"".join(self._buf)
        rel = f"{self.kind}/{self.kind}-{len(self.shards):05d}.jsonl.gz"
        data = gzip_bytes(raw)
        (self.out / rel).parent.mkdir(parents=True, exist_ok=True)
        (self.out / rel).write_bytes(data)
        self.shards.append({"path": rel, "docs": len(self._buf), "jsonl_bytes": len(raw),
                            "gz_bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
        log.info("wrote %s (%d docs, %.1f MB)", rel, len(self._buf), len(raw) / MB)
        self._buf, self._size = [], 0


def build(out: Path, *, size_mb: float, text_share: float, jobs: int, shard_mb: float,
          registry_cache: Path | None = None) -> dict:
    start = time.monotonic()
    budget = {"text": size_mb * MB * text_share, "code": size_mb * MB * (1 - text_share)}
    writers = {k: ShardWriter(out, k, int(shard_mb * MB)) for k in budget}
    seen: set[bytes] = set()
    stats: dict[str, dict] = {}
    written = {"text": 0, "code": 0}
    all_sources = sources(jobs) + (registry_sources(registry_cache) if registry_cache else [])
    for kind in ("text", "code"):
        for src in (s for s in all_sources if s.kind == kind):
            written[kind] += _take(src, budget[kind] - written[kind], budget[kind] * src.max_share,
                                   writers[kind], seen, stats)
            if written[kind] >= budget[kind]:
                break
    shortfall = []
    for kind, other in (("text", "code"), ("code", "text")):
        short = budget[kind] - written[kind]
        if short > 0:
            msg = (f"the machine has only {written[kind] / MB:.1f} MB of unique real {kind} in these "
                   f"sources ({budget[kind] / MB:.0f} MB asked); filling {short / MB:.1f} MB with {other}")
            log.warning(msg)
            shortfall.append(msg)
            filled = 0
            for src in (s for s in all_sources if s.kind == other):
                filled += _take(src, short - filled, short, writers[other], seen, stats)
                if filled >= short:
                    break
            written[other] += filled
    for w in writers.values():
        w.flush()
    total = sum(written.values())
    if total < size_mb * MB:
        msg = f"all sources exhausted at {total / MB:.1f} MB of the {size_mb:.0f} MB asked"
        log.warning(msg)
        shortfall.append(msg)
    return {
        "size_mb_requested": size_mb, "text_share_requested": text_share,
        "text_bytes": written["text"], "code_bytes": written["code"], "total_text_bytes": total,
        "docs": sum(s["docs"] for s in stats.values()),
        "jsonl_bytes": sum(sh["jsonl_bytes"] for w in writers.values() for sh in w.shards),
        "gz_bytes": sum(sh["gz_bytes"] for w in writers.values() for sh in w.shards),
        "sources": stats, "shards": [sh for w in writers.values() for sh in w.shards],
        "shortfall": shortfall, "build_seconds": round(time.monotonic() - start, 1),
        "fields": {"text": ["id", "text", "url", "lang_hint", "source", "path"],
                   "code": ["id", "text", "path", "language", "source"]},
    }


def _take(src: Source, room: float, cap: float, writer: ShardWriter, seen: set[bytes],
          stats: dict[str, dict]) -> int:
    """Write docs of one source until `min(room, cap)` text bytes; return the bytes written."""
    limit = min(room, cap)
    st = stats.setdefault(src.name, {"kind": src.kind, "docs": 0, "text_bytes": 0, "skipped_small": 0,
                                     "skipped_large": 0, "skipped_repeat": 0, "languages": {}})
    taken = 0
    log.info("%s: up to %.1f MB", src.name, limit / MB)
    it = src.docs()
    for doc in it:
        if taken >= limit:
            break
        n = len(doc.text.encode("utf-8"))
        if n < MIN_DOC_BYTES:
            st["skipped_small"] += 1
            continue
        if n > MAX_DOC_BYTES:
            st["skipped_large"] += 1
            continue
        digest = hashlib.sha1(doc.text.encode("utf-8")).digest()
        if digest in seen:
            st["skipped_repeat"] += 1
            continue
        seen.add(digest)
        doc_id = hashlib.sha1(f"{src.name}:{doc.path}".encode()).hexdigest()[:16]
        if src.kind == "text":
            row = {"id": doc_id, "text": doc.text, "url": doc.url or "file://" + doc.path,
                   "lang_hint": doc.lang_hint, "source": src.name, "path": doc.path}
        else:
            row = {"id": doc_id, "text": doc.text, "path": doc.path, "language": doc.lang_hint,
                   "source": src.name}
        writer.add(row)
        taken += n
        st["docs"] += 1
        st["text_bytes"] += n
        key = doc.lang_hint or "unknown"
        st["languages"][key] = st["languages"].get(key, 0) + 1
    it.close()  # stops a man renderer's pool early
    st["languages"] = dict(sorted(st["languages"].items()))
    log.info("%s: %d docs, %.1f MB", src.name, st["docs"], st["text_bytes"] / MB)
    return taken


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="output directory (replaced)")
    ap.add_argument("--size-mb", type=float, required=True, help="MB of document text to write")
    ap.add_argument("--text-share", type=float, default=0.5, help="share of prose (rest: code)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel man renderers")
    ap.add_argument("--shard-mb", type=float, default=32.0, help="uncompressed MB per shard")
    ap.add_argument("--no-install", action="store_true", help="never apt-get missing doc packages")
    ap.add_argument("--registry-cache", type=Path,
                    help="also read pinned Debian doc packages, the Linux source, PyPI wheels and npm "
                         "packages, downloaded once into this folder (about 2.5 GB unpacked)")
    args = ap.parse_args(argv)
    if not 0 <= args.text_share <= 1 or args.size_mb <= 0:
        ap.error("--size-mb must be > 0 and --text-share within [0, 1]")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    ensure_packages(DEBIAN_PACKAGES, install=not args.no_install)
    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    manifest = build(args.out, size_mb=args.size_mb, text_share=args.text_share, jobs=args.jobs,
                     shard_mb=args.shard_mb, registry_cache=args.registry_cache)
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    log.info("corpus: %d docs, %.1f MB text (%.1f MB prose, %.1f MB code), %.1f MB gz, %.0f s -> %s",
             manifest["docs"], manifest["total_text_bytes"] / MB, manifest["text_bytes"] / MB,
             manifest["code_bytes"] / MB, manifest["gz_bytes"] / MB, manifest["build_seconds"], args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
