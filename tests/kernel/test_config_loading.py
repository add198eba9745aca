"""load_config: YAML only, _base_ chains, _delete_, --cfg-options semantics, clear errors."""
from __future__ import annotations

import pickle
import types

import pytest
import yaml

import videollm_core
from videollm_core.config import Config, load_config, merge, parse_value
from videollm_core.errors import ConfigError
from videollm_core.plugins import configure_config


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def load(path, overrides=None):
    return load_config(path, overrides)


def test_base_chain_merges_dicts_and_replaces_lists(tmp_path):
    write(tmp_path / "base" / "root.yaml", "seed: 1\nmodel: {llm: {type: A, n_layer: 2}, tuner: {type: F}}\nlist: [1, 2, 3]\n")
    write(tmp_path / "base" / "mid.yaml", "_base_: root.yaml\nmodel: {llm: {n_layer: 4}}\n")
    write(tmp_path / "other.yaml", "data: {batch_size: 2}\n")
    cfg = load(write(tmp_path / "cfg.yaml", "_base_: [base/mid.yaml, other.yaml]\nlist: [9]\nmodel: {tuner: {_delete_: true, type: G}}\n"))
    assert isinstance(cfg, Config) and isinstance(cfg, dict)
    assert cfg == {
        "seed": 1,
        "model": {"llm": {"type": "A", "n_layer": 4}, "tuner": {"type": "G"}},
        "list": [9],
        "data": {"batch_size": 2},
    }
    assert cfg.filename == str((tmp_path / "cfg.yaml").resolve())
    assert cfg.stem == "cfg"


def test_delete_without_base_value_is_stripped(tmp_path):
    cfg = load(write(tmp_path / "c.yaml", "a: {_delete_: true, b: 1}\n"))
    assert cfg == {"a": {"b": 1}}


def test_merge_does_not_modify_inputs():
    base = {"a": {"b": 1, "c": [1]}}
    update = {"a": {"b": 2}}
    out = merge(base, update)
    assert out == {"a": {"b": 2, "c": [1]}} and base == {"a": {"b": 1, "c": [1]}}
    out["a"]["c"].append(2)
    assert base["a"]["c"] == [1]


@pytest.mark.parametrize("text,expected", [
    ("1", 1), ("1e-3", 1e-3), ("true", True), ("False", False), ("None", None),
    ("[1,2]", [1, 2]), ("1,2", [1, 2]), ("[a, b]", ["a", "b"]), ("[(1,2),[3]]", [[1, 2], [3]]),
    ("online action detection", "online action detection"), ("'quoted'", "quoted"),
])
def test_parse_value_follows_dictaction(text, expected):
    assert parse_value(text) == expected


def test_overrides_nested_keys_lists_and_indices(tmp_path):
    path = write(tmp_path / "c.yaml", "a: {b: 0}\ne: [1, 2]\ntasks: [{name: x, head: {type: H}}]\n")
    cfg = load(path, ["a.b=1", "c.d=[1,2]", "e.0=3", "tasks.0.head.type=K", "e.-1=7"])
    assert cfg["a"] == {"b": 1} and cfg["c"] == {"d": [1, 2]} and cfg["e"] == [3, 7]
    assert cfg["tasks"][0]["head"] == {"type": "K"}
    cfg = load(path, {"a.b": 5, "x": {"y": 1}})
    assert cfg["a"]["b"] == 5 and cfg["x"] == {"y": 1}


@pytest.mark.parametrize("option,message", [
    ("e.5=1", "out of range"),
    ("e.x=1", "not an index"),
    ("a.b.c=1", "cannot set 'c' inside 'a.b'"),
    ("novalue", "expected KEY=VALUE"),
    ("a..b=1", "expected KEY=VALUE"),
    ("a.b=[1,2", "cannot parse"),
])
def test_bad_overrides_are_config_errors(tmp_path, option, message):
    path = write(tmp_path / "c.yaml", "a: {b: 0}\ne: [1, 2]\n")
    with pytest.raises(ConfigError) as e:
        load(path, [option])
    assert message in e.value.render()


def test_missing_file_and_missing_base(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError) as e:
        load(write(tmp_path / "c.yaml", "_base_: gone.yaml\n"))
    assert "gone.yaml" in e.value.render() and "relative to the file" in e.value.render()


def test_base_cycle(tmp_path):
    write(tmp_path / "a.yaml", "_base_: b.yaml\n")
    write(tmp_path / "b.yaml", "_base_: a.yaml\n")
    with pytest.raises(ConfigError, match="_base_ cycle"):
        load(tmp_path / "a.yaml")


def test_invalid_yaml_names_line(tmp_path):
    with pytest.raises(ConfigError) as e:
        load(write(tmp_path / "c.yaml", "a: 1\nb: [1, 2\nc: 3\n"))
    assert e.value.where.startswith(str(tmp_path / "c.yaml") + ":") and "invalid YAML" in e.value.message
    line = int(e.value.where.rsplit(":", 2)[1])
    assert 2 <= line <= 4


@pytest.mark.parametrize("text", ["- 1\n- 2\n", "just a string\n", "_base_: 3\n"])
def test_non_mapping_top_and_bad_base(tmp_path, text):
    with pytest.raises(ConfigError):
        load(write(tmp_path / "c.yaml", text))


def test_python_tags_cannot_import(tmp_path):
    text = "model: !!python/object/apply:os.system ['echo hacked']\n"
    with pytest.raises(ConfigError) as e:
        load(write(tmp_path / "c.yaml", text))
    assert "Python tags" in e.value.render()


def test_empty_file_is_empty_config(tmp_path):
    assert load(write(tmp_path / "c.yaml", "")) == {}


def test_yaml_roundtrip_and_pickle(tmp_path):
    cfg = load(write(tmp_path / "c.yaml", "a: {b: [1, 2.5, x]}\nprompt: hello world\n"))
    assert yaml.safe_load(cfg.to_yaml()) == dict(cfg)
    again = pickle.loads(pickle.dumps(cfg))
    assert again == cfg and again.filename == cfg.filename


def test_configure_hook_sees_and_can_reject(tmp_path, global_plugins):
    seen = []

    def videollm_configure(config):
        seen.append(dict(config))
        config.setdefault("seed", 42)
        if config.get("reject"):
            raise ConfigError("rejected by plugin", where="reject")

    plugin = types.ModuleType("configure_plugin")
    plugin.videollm_configure = videollm_core.hookimpl(videollm_configure)
    videollm_core.configure_plugins(autoload=False).register(plugin, name="configure_plugin")
    cfg = configure_config(load_config(write(tmp_path / "c.yaml", "a: 1\n"), ["a=2"]))
    assert seen == [{"a": 2}] and cfg["seed"] == 42
    with pytest.raises(ConfigError, match="rejected by plugin"):
        configure_config(load_config(write(tmp_path / "d.yaml", "reject: true\n")))


def test_python_api_exports():
    assert videollm_core.load_config is load_config
    from videollm_core.validation import validate_config as v1
    from videollm_core.validation import validate_config as v2

    assert v1 is v2
