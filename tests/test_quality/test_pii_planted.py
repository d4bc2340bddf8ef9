"""Redaction measured on the planted set of scripts/build_pii_set.py, built here from this machine's
documents (manual pages in ten languages, Python's documentation, the standard library, C headers,
shell scripts, YAML/INI/.env-style configuration): at least 99% of the plants of every class are
redacted and at least 99% of every kind of look-alike is kept."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from curate.quality.pii import PiiOptions, redact

MIN_RATE = 0.99


@pytest.fixture(scope="module")
def rows(pii_set) -> list[dict]:
    return pii_set.build_set(seed=0, per_class=30, lookalikes_per_class=30)


@pytest.fixture(scope="module")
def scored(pii_set, rows) -> dict:
    opts = PiiOptions()
    return pii_set.score(rows, lambda text: redact(text, opts)[0])


def test_the_set_plants_every_class_in_real_documents_of_every_type(pii_set, rows):
    plants = Counter(p["class"] for r in rows for p in r["plants"])
    assert sum(plants.values()) >= 400
    assert set(plants) == set(pii_set.PLANT_CLASSES) and min(plants.values()) >= 20, plants
    looks = Counter(lk["class"] for r in rows for lk in r["lookalikes"])
    assert set(looks) == set(pii_set.LOOKALIKE_CLASSES) and min(looks.values()) >= 20, looks
    assert {"prose", "python", "c", "shell", "yaml", "ini", "env"} <= {r["type"] for r in rows}
    assert len({r["lang"] for r in rows if r["type"] == "prose"}) >= 8
    for r in rows:  # real files, planted: every inserted value is absent from the file itself
        assert Path(r["path"]).is_file()
        assert len(r["text"]) > len(r["base"]) or not (r["plants"] or r["lookalikes"])
        assert all(p["value"] not in r["base"] for p in r["plants"])


def test_every_class_of_plants_is_redacted(pii_set, scored):
    low = {c: s for c, s in scored["plants"].items() if s["recall"] < MIN_RATE}
    assert not low, {c: (s, scored["missed"][c][:5]) for c, s in low.items()}


def test_every_kind_of_lookalike_is_kept(pii_set, scored):
    low = {c: s for c, s in scored["lookalikes"].items() if s["kept_rate"] < MIN_RATE}
    assert not low, {c: (s, scored["missed"][c][:5]) for c, s in low.items()}


def test_a_plant_left_in_place_counts_as_missed(pii_set, rows):
    """The score cannot pass a redactor that does nothing (or one that deletes everything)."""
    nothing = pii_set.score(rows, lambda text: text)
    assert all(s["recall"] == 0 for s in nothing["plants"].values())
    everything = pii_set.score(rows, lambda text: "")
    assert all(s["kept_rate"] == 0 for s in everything["lookalikes"].values())
