"""Where redaction applies: every text that reaches docs_annotated, docs_curated, docs_tokenized and
the shards is redacted (metadata values, uri and source_id included), quarantine excerpts too, and
tokenize refuses docs_raw (unredacted) unless the config opts in. Real documents of this machine
(scripts/build_pii_set.py's planted set) through `curate run`."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import yaml
from pyspark.sql.pandas.types import to_arrow_schema

from curate.cli import main
from curate.delta.store import open_store
from curate.errors import ConfigError
from curate.jobs.common import StageContext
from curate.jobs.tokenize_docs import run_tokenize
from curate.quality.annotator import Annotator
from curate.quality.config import AnnotateConfig
from curate.quality.rules import CODE_KIND_RULES, TEXT_RULES
from curate.schemas.config import PipelineConfig, parse_model
from curate.schemas.tables import DOCS_RAW_SCHEMA
from curate.tokenize.encoder import get_encoding

COPYRIGHTS = sorted(Path("/usr/share/doc").glob("*/copyright"))


def _contacts() -> list[tuple[str, str]]:
    """(package, Upstream-Contact) of Debian copyright files naming an address: real people's."""
    out = []
    for path in COPYRIGHTS:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines()[:40]:
            if line.startswith("Upstream-Contact:") and "@" in line and "example" not in line:
                out.append((path.parent.name, line.split(":", 1)[1].strip()))
    return out


def test_annotate_redacts_metadata_values_uri_and_source_id(pii_set):
    """Real maintainers' addresses (Debian copyright files) and planted secrets in metadata, an
    address as the input's own id, credentials in a page URL: none is left; pii_counts counts them."""
    contacts = _contacts()[:20]
    assert len(contacts) >= 10
    rng = random.Random(7)
    gpl = Path("/usr/share/common-licenses/GPL-3").read_text(encoding="utf-8")
    rows, planted = [], []
    for i, (package, contact) in enumerate(contacts):
        token = pii_set.secret(rng, "github_token")[1]
        ip = pii_set.global_ipv4(rng)
        meta = {"package": package, "upstream_contact": contact, "deploy": json.dumps({"token": token, "host": ip})}
        uri = f"https://ci:{pii_set.password(rng)}@build.{package}.org/log/{i}" if i % 2 else f"{package}/copyright"
        source_id = pii_set.email(rng)[1]
        planted.append((contact.rsplit("<", 1)[-1].rstrip(">").strip(), token, ip, source_id))
        rows.append((f"d{i}", source_id, "debian", "text", gpl, uri, 0, "in.jsonl", len(gpl), list(meta.items()), "r1"))
    batch = pa.RecordBatch.from_pylist([dict(zip(DOCS_RAW_SCHEMA.names, r)) for r in rows],
                                       schema=to_arrow_schema(DOCS_RAW_SCHEMA))
    out = Annotator(AnnotateConfig()).annotate_batch(batch).to_pylist()
    for row, (address, token, ip, source_id), raw in zip(out, planted, rows):
        fields = " ".join([row["uri"], row["source_id"], *(v for _, v in row["metadata"])])
        for value in (address, token, ip, source_id):
            assert value not in fields, (value, fields)
        assert dict(row["metadata"])["package"] == dict(raw[9])["package"]  # nothing to redact: unchanged
        counts = dict(row["pii_counts"])
        assert counts["EMAIL"] >= 2 and counts["SECRET_GITHUB_TOKEN"] == 1 and counts["IPV4"] == 1
        if raw[5].startswith("https://"):
            assert row["uri"].startswith("https://ci:<SECRET_PASSWORD>@build.") and counts["SECRET_PASSWORD"] == 1
        else:
            assert row["uri"] == raw[5]


def _write_inputs(tmp: Path, rows: list[dict], rng: random.Random, pii_set) -> tuple[list[str], list[str]]:
    """The planted prose as a JSONL input whose records carry planted values in extra fields (and
    some an address as their id), the planted code and config files as a source tree, and a
    malformed line whose excerpt holds planted values. Returns (planted values, the line's)."""
    values = [p["value"] for row in rows for p in row["plants"] if p["class"] != "private_key"]
    with open(tmp / "prose.jsonl", "w", encoding="utf-8") as f:
        for i, row in enumerate(r for r in rows if r["type"] == "prose"):
            contact, token = pii_set.email(rng)[1], pii_set.secret(rng, "slack_token")[1]
            record = {"id": pii_set.email(rng)[1] if i % 3 == 0 else row["doc"], "text": row["text"],
                      "contact": contact, "settings": {"slack_token": token, "path": row["path"]}}
            values += [contact, token] + ([record["id"]] if i % 3 == 0 else [])
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
        bad = [pii_set.email(rng)[1], pii_set.phone(rng)[1], pii_set.secret(rng, "aws_access_key_id")[1]]
        f.write('{"id": "bad-1", "text": "Kontakt: %s, Tel. %s, key %s\n' % tuple(bad))  # unterminated: malformed
    for row in rows:
        if row["type"] != "prose":
            path = tmp / "tree" / row["doc"] / Path(row["path"]).name
            path.parent.mkdir(parents=True)
            path.write_text(row["text"], encoding="utf-8")
    return values, bad


@pytest.fixture(scope="module")
def pipeline(spark, tmp_path_factory, pii_set):
    tmp = tmp_path_factory.mktemp("reach")
    rng = random.Random(11)
    rows = pii_set.build_set(seed=0, per_class=30, lookalikes_per_class=30)  # test_pii_planted's set
    values, bad = _write_inputs(tmp, rows, rng, pii_set)
    mixture = {"name": "reach", "components": {"all": {"sources": ["prose", "files"], "max_epochs": 50}},
               "stages": [{"name": "s1", "budget_tokens": 256 * 64, "seq_len": 256, "seed": 1, "weights": {"all": 1}}]}
    (tmp / "mixture.yaml").write_text(yaml.safe_dump(mixture))
    cfg = {"root": str(tmp / "root"), "spark": {"master": "local[2]", "driver_memory": "4g", "shuffle_partitions": 2},
           "inputs": [{"source": "prose", "kind": "text", "path": str(tmp / "prose.jsonl"), "id_field": "id"},
                      {"source": "files", "kind": "code", "path": str(tmp / "tree")}],
           # every rule off: the planted documents (config files are short) reach every table
           "annotate": {"rules": {"text": dict.fromkeys(TEXT_RULES), "code": dict.fromkeys(CODE_KIND_RULES)}},
           "mix": {"mixture": str(tmp / "mixture.yaml")}}
    (tmp / "pipeline.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["run", "--config", str(tmp / "pipeline.yaml")]) == 0
    return {"store": open_store(spark, str(tmp / "root")), "values": values, "bad": bad, "root": tmp / "root",
            "config": tmp / "pipeline.yaml"}


def _strings(row: dict) -> str:
    parts = [row.get(c) or "" for c in ("text", "uri", "source_id", "excerpt", "reason")]
    parts += [v or "" for v in (row.get("metadata") or {}).values()]
    return "\n".join(parts)


@pytest.mark.parametrize("table", ["docs_annotated", "docs_curated"])
def test_no_planted_value_reaches_the_annotated_and_curated_tables(pipeline, table):
    rows = pipeline["store"].read(table).collect()
    assert len(rows) >= 100
    leaks = [(r["doc_id"], v) for r in rows for v in pipeline["values"] if v in _strings(r.asDict())]
    assert not leaks, leaks[:10]


def test_docs_raw_keeps_the_bronze_copy(pipeline):
    raw = "\n".join(_strings(r.asDict()) for r in pipeline["store"].read("docs_raw").collect())
    assert sum(v in raw for v in pipeline["values"]) >= 0.9 * len(pipeline["values"])


def test_no_planted_value_reaches_tokens_or_shards(pipeline):
    enc = get_encoding()
    tokenized = pipeline["store"].read("docs_tokenized").collect()
    assert len(tokenized) >= 100
    texts = [enc.decode(r["tokens"][:-1]) + "\n" + (r["source_id"] or "") for r in tokenized]
    assert not [v for v in pipeline["values"] for t in texts if v in t]
    from streaming import StreamingDataset

    stage = next((pipeline["root"] / "shards" / "reach").glob("*/s1"))
    ds = StreamingDataset(local=str(stage), shuffle=False, batch_size=1)
    shards = enc.decode(np.concatenate([np.asarray(s["tokens"]) for s in ds]).tolist())
    assert "<EMAIL>" in shards or "<SECRET_" in shards
    assert not [v for v in pipeline["values"] if v in shards]


def test_quarantine_excerpts_are_redacted(pipeline):
    (row,) = [r.asDict() for r in pipeline["store"].read("quarantine").collect() if r["reason_code"] == "malformed_json"]
    assert not [v for v in pipeline["bad"] if v in row["excerpt"]]
    assert {"<EMAIL>", "<PHONE>", "<SECRET_AWS_KEY>"} <= {w.strip(",") for w in row["excerpt"].split()}


def test_tokenize_refuses_docs_raw_unless_the_config_opts_in(pipeline, spark):
    with pytest.raises(ConfigError, match="tokenize.allow_unredacted_input"):
        parse_model(PipelineConfig, {"tokenize": {"input": "docs_raw"}}, origin="pipeline.yaml")
    cfg = PipelineConfig(root=str(pipeline["root"]))
    ctx = StageContext(spark=spark, cfg=cfg, store=pipeline["store"], run_id="t-raw", options={"input": "docs_raw"})
    with pytest.raises(ConfigError, match="tokenize.allow_unredacted_input"):  # `curate tokenize --input docs_raw`
        run_tokenize(ctx)
    assert main(["tokenize", "--config", str(pipeline["config"]), "--input", "docs_raw"]) != 0
    allowed = PipelineConfig(root=str(pipeline["root"]), tokenize={"input": "docs_raw", "allow_unredacted_input": True})
    result = run_tokenize(StageContext(spark=spark, cfg=allowed, store=pipeline["store"], run_id="t-raw2"))
    assert result.rows_out == pipeline["store"].rows("docs_raw")
