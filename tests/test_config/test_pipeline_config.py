from pathlib import Path

import pytest

from curate.errors import ConfigError
from curate.schemas.config import EMBEDDED_DEFAULT, load_pipeline_config


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "pipeline.yaml"
    p.write_text(text)
    return p


def test_embedded_default_loads_with_absolute_paths():
    cfg = load_pipeline_config(None)
    assert EMBEDDED_DEFAULT.exists()
    assert Path(cfg.root).is_absolute()
    assert {i.source for i in cfg.inputs} >= {"web", "code"}
    assert all(Path(i.path.split("*")[0]).is_absolute() for i in cfg.inputs)


def test_unknown_key_is_refused_with_its_path(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_pipeline_config(write(tmp_path, "ingest:\n  max_doc_bytez: 5\n"))
    assert "ingest.max_doc_bytez: unknown key" in str(err.value)


def test_wrong_type_names_key_value_and_allowed(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_pipeline_config(write(tmp_path, "spark:\n  shuffle_partitions: many\n"))
    msg = str(err.value)
    assert "spark.shuffle_partitions" in msg and '"many"' in msg and "integer" in msg


def test_out_of_range_value_is_refused(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_pipeline_config(write(tmp_path, "ingest:\n  max_doc_bytes: 0\n"))
    assert "ingest.max_doc_bytes: got 0; input should be greater than or equal to 1" in str(err.value)


def test_bad_input_kind_names_allowed_values(tmp_path):
    text = "inputs:\n  - {source: web, kind: video, path: x}\n"
    with pytest.raises(ConfigError) as err:
        load_pipeline_config(write(tmp_path, text))
    assert "inputs.0.kind" in str(err.value) and "'text' or 'code'" in str(err.value)


def test_root_override_and_relative_paths(tmp_path):
    cfg = load_pipeline_config(write(tmp_path, "root: store\ninputs:\n  - {source: a, kind: text, path: in}\n"))
    assert cfg.root == str(tmp_path / "store")
    assert cfg.inputs[0].path == str(tmp_path / "in")
    assert load_pipeline_config(write(tmp_path, "root: store\n"), root="s3://bucket/x").root == "s3://bucket/x"


def test_config_hash_changes_with_a_parameter(tmp_path):
    a = load_pipeline_config(write(tmp_path, "ingest: {max_doc_bytes: 10}\n"))
    b = load_pipeline_config(write(tmp_path, "ingest: {max_doc_bytes: 11}\n"))
    assert a.config_hash() != b.config_hash()


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_pipeline_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_pipeline_config(write(tmp_path, "a: [1,\n"))
