"""Real text from this machine for the quality tests."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

LICENSES = Path("/usr/share/common-licenses")
LANGID_SET = Path(__file__).parents[1] / "data" / "langid" / "manpages.jsonl"


@pytest.fixture(scope="session")
def gpl3() -> str:
    """English legal prose that passes every default text rule."""
    return (LICENSES / "GPL-3").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def changelog() -> str:
    """A Debian changelog: list-like, repetitive, few sentences."""
    return gzip.open("/usr/share/doc/apt/changelog.gz", "rt", encoding="utf-8").read()[:20_000]


@pytest.fixture(scope="session")
def langid_rows() -> list[dict]:
    return [json.loads(line) for line in LANGID_SET.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="session")
def python_source() -> str:
    import argparse

    return Path(argparse.__file__).read_text(encoding="utf-8")
