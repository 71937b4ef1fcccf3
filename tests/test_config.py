import copy

import pytest

from morphopotency.config import ConfigError, check_config, input_file_keys, schema_errors


def test_default_config_is_valid(default_config, config_schema, repo, monkeypatch):
    monkeypatch.chdir(repo)
    check_config(default_config, config_schema)


def test_unknown_key_is_named_with_its_path(default_config, config_schema):
    config = copy.deepcopy(default_config)
    config["cnn"]["epochz"] = 3
    errors = schema_errors(config, config_schema)
    assert len(errors) == 1
    assert "unknown key 'cnn.epochz'" in errors[0]
    assert "epochs" in errors[0]  # the allowed keys are listed, so the typo is obvious


def test_unknown_top_level_key(default_config, config_schema):
    config = dict(default_config, cnnn={})
    assert any("unknown key 'cnnn'" in e for e in schema_errors(config, config_schema))


@pytest.mark.parametrize(
    ("section", "key", "value", "expected"),
    [
        ("cnn", "epochs", -1, "cnn.epochs: -1 is less than the minimum of 1"),
        ("cnn", "epochs", "ten", "cnn.epochs: 'ten' is not of type 'integer'"),
        (
            "imaging",
            "ssea3_threshold",
            300,
            "imaging.ssea3_threshold: 300 is greater than the maximum of 255",
        ),
        ("rnaseq", "values", "tpm", "rnaseq.values: 'tpm' is not one of ['counts', 'rpkm']"),
        ("cnn", "group_by", "cell", "cnn.group_by: 'cell' is not one of"),
    ],
)
def test_bad_values_are_named(default_config, config_schema, section, key, value, expected):
    config = copy.deepcopy(default_config)
    config[section][key] = value
    with pytest.raises(ConfigError) as err:
        check_config(config, config_schema)
    assert expected in str(err.value)


def test_missing_input_file_is_named(default_config, config_schema, tmp_path, repo, monkeypatch):
    monkeypatch.chdir(repo)
    config = copy.deepcopy(default_config)
    config["demo"]["enabled"] = False  # then the table must exist
    config["rnaseq"]["table"] = "results/demo/rnaseq/never_made.tsv.gz"
    with pytest.raises(ConfigError) as err:
        check_config(config, config_schema)
    assert "rnaseq.table: file not found: results/demo/rnaseq/never_made.tsv.gz" in str(err.value)


def test_files_made_by_the_demo_need_not_exist(default_config, config_schema, repo, monkeypatch):
    monkeypatch.chdir(repo)
    config = copy.deepcopy(default_config)
    config["rnaseq"]["table"] = "results/demo/rnaseq/not_yet_there.tsv.gz"
    check_config(config, config_schema)
    config["rnaseq"]["gene_sets"]["bp"] = "resources/go/missing.gmt"
    with pytest.raises(ConfigError, match="rnaseq.gene_sets.bp: file not found"):
        check_config(config, config_schema)


def test_input_file_keys_come_from_the_schema(config_schema):
    keys = input_file_keys(config_schema)
    assert ("samples",) in keys and ("rnaseq", "table") in keys and ("rnaseq", "gene_sets", "cc") in keys
