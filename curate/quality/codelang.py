"""Programming language of a code document: extension or shebang, then content for ambiguous ones."""

from __future__ import annotations

import posixpath
import re

EXTENSIONS = {
    "py": "python", "pyi": "python", "pyx": "cython", "c": "c", "cc": "cpp", "cpp": "cpp", "cxx": "cpp",
    "hpp": "cpp", "hh": "cpp", "hxx": "cpp", "cs": "csharp", "java": "java", "kt": "kotlin", "scala": "scala",
    "go": "go", "rs": "rust", "js": "javascript", "mjs": "javascript", "cjs": "javascript", "jsx": "javascript",
    "tsx": "typescript", "rb": "ruby", "php": "php", "swift": "swift", "lua": "lua", "r": "r", "jl": "julia",
    "sh": "shell", "bash": "shell", "zsh": "shell", "ps1": "powershell", "sql": "sql", "hs": "haskell",
    "ml": "ocaml", "ex": "elixir", "exs": "elixir", "erl": "erlang", "clj": "clojure", "dart": "dart",
    "f90": "fortran", "f": "fortran", "pas": "pascal", "html": "html", "htm": "html", "css": "css",
    "scss": "scss", "md": "markdown", "rst": "restructuredtext", "tex": "tex", "json": "json", "yaml": "yaml",
    "yml": "yaml", "toml": "toml", "xml": "xml", "csv": "csv", "tsv": "csv", "ini": "ini", "cfg": "ini",
    "mk": "makefile", "cmake": "cmake", "vim": "vim", "el": "emacs-lisp", "lisp": "lisp", "scm": "scheme",
    "groovy": "groovy", "gradle": "groovy", "proto": "protobuf", "s": "assembly", "asm": "assembly",
    # ambiguous: resolved by content below
    "h": "c", "m": "objective-c", "pl": "perl", "ts": "typescript", "v": "verilog",
}
FILENAMES = {"makefile": "makefile", "dockerfile": "dockerfile", "cmakelists.txt": "cmake", "rakefile": "ruby"}
SHEBANGS = {"python": "python", "bash": "shell", "sh": "shell", "zsh": "shell", "perl": "perl", "ruby": "ruby",
            "node": "javascript", "lua": "lua", "Rscript": "r", "php": "php"}
# Formats that hold data or configuration rather than program logic (The Stack filters them apart).
DATA_LANGS = frozenset({"json", "yaml", "toml", "xml", "csv", "ini"})

_SHEBANG = re.compile(r"^#!\s*(?:/usr)?(?:/local)?/bin/(?:env\s+(?:-\S+\s+)*)?([A-Za-z]+)")
_CPP = re.compile(r"^\s*(?:class\s+\w+\s*[:{]|namespace\s+\w+|template\s*<|#include\s*<(?:iostream|vector|string|memory|map)>)"
                  r"|std::|\bpublic:|\bprivate:", re.M)
_OBJC = re.compile(r"^\s*(?:@interface|@implementation|@protocol|#import\b)", re.M)
_MATLAB = re.compile(r"^\s*(?:function\s.*=|end\s*$|%)", re.M)
_PROLOG = re.compile(r"^\s*[a-z]\w*\(.*\)\s*:-", re.M)
_QT_TS = re.compile(r"^\s*(?:<\?xml|<!DOCTYPE TS|<TS\b)")
_COQ = re.compile(r"^\s*(?:Theorem|Lemma|Proof\.|Qed\.|Require Import|Inductive)\b", re.M)


def detect_code_lang(uri: str, text: str, *, hint: str | None = None) -> str | None:
    """Language name for a code file at `uri`; `hint` is ingest's guess (metadata['language'])."""
    name = posixpath.basename(uri.replace("\\", "/")).lower()
    ext = name.rsplit(".", 1)[1] if "." in name else ""
    lang = FILENAMES.get(name) or EXTENSIONS.get(ext) or (hint.lower() if hint else None)
    if lang is None:
        m = _SHEBANG.match(text)
        lang = SHEBANGS.get(re.sub(r"[\d.]+$", "", m.group(1))) if m else None
    head = text[:20_000]
    if ext == "h":
        return "objective-c" if _OBJC.search(head) else "cpp" if _CPP.search(head) else "c"
    if ext == "m":
        return "objective-c" if _OBJC.search(head) else "matlab" if _MATLAB.search(head) else "objective-c"
    if ext == "pl":
        return "prolog" if _PROLOG.search(head) and "my $" not in head else "perl"
    if ext == "ts":
        return "xml" if _QT_TS.match(head) else "typescript"
    if ext == "v":
        return "coq" if _COQ.search(head) else "verilog"
    return lang
