import pytest
import yaml

from curate.errors import ConfigError
from curate.schemas.mixture import EMBEDDED_MIXTURE, Mixture, load_mixture


def base() -> dict:
    return {
        "name": "m",
        "components": {"web": {"sources": ["web"], "where": "lang = 'en'"}, "code": {"sources": ["stdlib"]}},
        "stages": [{"name": "s1", "budget_tokens": 10_000, "seq_len": 100, "seed": 1, "weights": {"web": 3, "code": 1}}],
    }


def load(tmp_path, data) -> Mixture:
    p = tmp_path / "mix.yaml"
    p.write_text(yaml.safe_dump(data))
    return load_mixture(p)


def test_embedded_default_loads():
    m = load_mixture()
    assert EMBEDDED_MIXTURE.name == "mixture.yaml" and m.stages and m.components


def test_valid_mixture_and_shares(tmp_path):
    m = load(tmp_path, base())
    assert m.shares(m.stages[0]) == {"web": 0.75, "code": 0.25}
    assert m.stages[0].samples == 100


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["stages"][0]["weights"].update(web=-1), r"stages\.0\.weights\.web: got -1; .*greater than or equal to 0"),
        (lambda d: d["stages"][0]["weights"].update(web=0, code=0), r"all weights are zero"),
        (lambda d: d["stages"][0]["weights"].update(nope=1), r"unknown components \['nope'\]; declared components are \['code', 'web'\]"),
        (lambda d: d["stages"][0].update(budget_tokens=99), r"budget_tokens 99 is smaller than one sample of seq_len 100"),
        (lambda d: d["stages"].append(dict(d["stages"][0])), r"stage names must be unique; \['s1'\]"),
        (lambda d: d["components"]["web"].update(max_epochs=0), r"components\.web\.max_epochs: got 0; .*greater than 0"),
        (lambda d: d["components"]["web"].update(sources=[]), r"components\.web\.sources: got \[\]"),
        (lambda d: d.update(shards={"compression": "lz77"}), r"shards\.compression: got \"lz77\""),
        (lambda d: d.update(colour="blue"), r"colour: unknown key"),
        # Above 2^32 - 1 a shard's uint32 offsets could not address all its bytes.
        (lambda d: d.update(shards={"size_limit_bytes": 2**34}),
         r"shards\.size_limit_bytes: got 17179869184; .*from 65,536 to 4,294,967,295 bytes"),
        (lambda d: d.update(shards={"size_limit_bytes": 2**32}), r"shards\.size_limit_bytes: got 4294967296; "),
        (lambda d: d.update(shards={"size_limit_bytes": 1000}), r"shards\.size_limit_bytes: got 1000; "),
    ],
)
def test_invalid_mixture_is_refused_precisely(tmp_path, edit, message):
    data = base()
    edit(data)
    with pytest.raises(ConfigError, match=message):
        load(tmp_path, data)


def test_config_hash_changes_with_weights(tmp_path):
    a = load(tmp_path, base())
    data = base()
    data["stages"][0]["weights"]["web"] = 2
    assert a.config_hash() == load(tmp_path, base()).config_hash() != load(tmp_path, data).config_hash()


def test_the_largest_addressable_shard_size_is_accepted(tmp_path):
    data = base()
    data["shards"] = {"size_limit_bytes": 2**32 - 1}
    assert load(tmp_path, data).shards.size_limit_bytes == 4_294_967_295
