"""Real text from this machine for the dedup tests: licenses, stdlib docstrings, CJK test data."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

LICENSES = Path("/usr/share/common-licenses")
CJK = Path(sys.base_prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "test" / "cjkencodings"


def license_text(name: str) -> str:
    return (LICENSES / name).read_text(encoding="utf-8")


def paragraphs(name: str, *, min_words: int = 30) -> list[str]:
    """The license's paragraphs with at least `min_words` words."""
    return [p.strip() for p in license_text(name).split("\n\n") if len(p.split()) >= min_words]


def stdlib_docstrings(*, min_words: int = 40) -> list[str]:
    """Module docstrings of stdlib modules: real English prose, one document each."""
    import argparse, collections, csv, difflib, email, json, logging, pathlib, pickle, shutil  # noqa: E401
    import subprocess, tarfile, threading, typing, unittest, urllib.request, zipfile  # noqa: E401

    mods = [argparse, collections, csv, difflib, email, json, logging, pathlib, pickle, shutil,
            subprocess, tarfile, threading, typing, unittest, urllib.request, zipfile]
    docs = [inspect.getdoc(m) or "" for m in mods]
    return [d for d in docs if len(d.split()) >= min_words]


def stdlib_source(module: str) -> str:
    """Source code of one stdlib module."""
    import importlib

    return inspect.getsource(importlib.import_module(module))


def cjk_text(name: str) -> str:
    """A real CJK text shipped with CPython's test suite (e.g. 'euc_jp-utf8.txt', 'gb2312-utf8.txt')."""
    return (CJK / name).read_text(encoding="utf-8")

