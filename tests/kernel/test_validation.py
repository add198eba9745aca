"""validate_config reports every problem with its YAML path; task_specs normalises both forms."""
from __future__ import annotations

import copy

import pytest

from videollm_core.config import Config
from videollm_core.validation import TaskSpec, task_specs, validate_config
from videollm_core.errors import ConfigError, ConfigErrors
from videollm_core.validation import config_problems

GOOD = {
    "seed": 0,
    "model": {
        "encoder": {"type": "TinyEncoder", "in_dim": 8},
        "translator": {"type": "TinyTranslator", "hidden": 4},
        "llm": {"type": "TinyLLM", "n_embd": 16},
        "tuner": {"type": "TinyFreeze"},
        "head": {"type": "TinyHead"},
        "prompt": "classify",
    },
    "data": {"train": {"type": "TinyDataset", "ann_file": "a.json"}, "val": {"type": "TinyDataset", "ann_file": "b.json"},
             "batch_size": 2, "num_workers": 0, "on_error": "skip"},
    "metric": {"type": "tiny"},
    "train": {"max_steps": 10, "lr": 1e-3, "mixed_precision": "bf16", "clip_grad": None},  # early_stopping: a plugin's key (tests/core/test_config_keys.py)
}


def cfg_with(**paths):
    cfg = copy.deepcopy(GOOD)
    for path, value in paths.items():
        node = cfg
        *head, last = path.split("__")
        for part in head:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if value is KeyError:
            del node[last]
        else:
            node[last] = value
    return cfg


def problems(cfg, registries):
    return {e.where: e for e in config_problems(cfg, registries)}


def test_good_config_passes(registries):
    validate_config(GOOD, registries)


def test_misspelled_translator_names_path_role_and_suggestion(registries):
    errs = problems(cfg_with(model__translator={"type": "TinyTranslatr"}), registries)
    e = errs["model.translator.type"]
    assert "unknown translators 'TinyTranslatr'" in e.message and "'TinyTranslator'" in e.hint


def test_unknown_type_mentions_failed_plugins(registries):
    registries.attach(lambda: None, lambda: {"extplug": "failed: ImportError: no module named x"})
    e = problems(cfg_with(model__head={"type": "ExtHead"}), registries)["model.head.type"]
    assert "extplug (failed: ImportError" in e.hint


def test_every_problem_is_reported_at_once(registries):
    cfg = cfg_with(model__encoder={"type": "TinyEncoder", "in_dim": "eight", "pool": "mean"},
                   model__llm={"type": "TinyLLM", "n_embd": 16, "n_layers": 2},
                   data__batch_size=0, train__lr=-1.0, train__mixed_precision="fp32", train__max_stpes=3,
                   modle={})
    with pytest.raises(ConfigErrors) as info:
        validate_config(Config(cfg, filename="/x/c.yaml"), registries)
    where = {e.where: e for e in info.value.errors}
    assert set(where) == {"model.encoder.in_dim", "model.encoder.pool", "model.llm.n_layers", "data.batch_size",
                          "train.lr", "train.mixed_precision", "train.max_stpes", "modle"}
    assert "accepted parameters: in_dim, out_dim" in where["model.encoder.pool"].hint
    assert "'max_steps'" in where["train.max_stpes"].hint and "'model'" in where["modle"].hint
    text = info.value.render()
    assert text.startswith("/x/c.yaml: 8 problem(s)") and "model.llm.n_layers" in text


def test_missing_required_argument_and_missing_sections(registries):
    errs = problems(cfg_with(model__encoder={"type": "TinyEncoder"}, model__llm=KeyError, model__head=KeyError), registries)
    assert "missing required argument 'in_dim'" in errs["model.encoder"].message
    assert any("model.llm" in e.message for e in errs.values())
    assert "missing the task head" in errs["model.head"].message


def test_head_args_supplied_only_by_a_providing_dataset(registries):
    errs = problems(cfg_with(data={"batch_size": 2}), registries)
    assert "missing required argument 'num_classes'" in errs["model.head"].message
    assert problems(cfg_with(model__head={"type": "TinyHead", "num_classes": 4}, data={"batch_size": 2}), registries) == {}


def test_dataset_arguments_and_plugin_prefix(registries):
    errs = problems(cfg_with(data__train={"type": "kerneltest:TinyDataset"}), registries)
    assert list(errs) == ["data.train"] and "ann_file" in errs["data.train"].message
    errs = problems(cfg_with(data__val={"type": "other:TinyDataset", "ann_file": "x"}), registries)
    assert "no plugin 'other'" in errs["data.val.type"].message


def test_type_must_be_a_name_not_an_import_path(registries):
    errs = problems(cfg_with(model__tuner={"type": "os.system"}), registries)
    assert "never an import path" in errs["model.tuner.type"].hint


MULTI = {
    "model": {k: v for k, v in GOOD["model"].items() if k not in ("head", "prompt")},
    "data": {"batch_size": 2},
    "tasks": [
        {"name": "a", "head": {"type": "TinyHead"}, "data": {"train": {"type": "TinyDataset", "ann_file": "a"}},
         "metric": {"type": "tiny"}, "prompt": "task a", "weight": 2},
        {"name": "b", "head": {"type": "TinyHead", "num_classes": 2}, "data": {"val": {"type": "TinyDataset", "ann_file": "b"}}},
    ],
}


def test_multi_task_form_and_task_specs(registries):
    validate_config(MULTI, registries)
    specs = task_specs(MULTI)
    assert [s.name for s in specs] == ["a", "b"] and specs[0].weight == 2.0 and specs[1].weight == 1.0
    assert specs[0].path("head") == "tasks.0.head" and specs[1].data == {"val": {"type": "TinyDataset", "ann_file": "b"}}
    assert specs[0].prompt == "task a" and specs[1].metric is None


def test_multi_task_errors(registries):
    cfg = copy.deepcopy(MULTI)
    cfg["tasks"][1]["name"] = "a"
    cfg["tasks"][1]["head"]["type"] = "TinyHed"
    cfg["tasks"][0]["wieght"] = 1
    cfg["metric"] = {"type": "tiny"}
    cfg["data"]["train"] = {"type": "TinyDataset", "ann_file": "x"}
    errs = problems(cfg, registries)
    assert {"tasks.1.name", "tasks.0.wieght", "metric", "data.train"} <= set(errs)
    cfg["tasks"][1]["name"], cfg["tasks"][0].pop("wieght")
    cfg["tasks"][1]["name"] = "b"
    errs = problems(cfg, registries)
    assert "tasks.1.head.type" in errs and "'TinyHead'" in errs["tasks.1.head.type"].hint
    assert problems({**MULTI, "tasks": []}, registries)["tasks"].message == "expected a non-empty list of tasks"


def test_single_task_spec(registries):
    (spec,) = task_specs(GOOD)
    assert spec == TaskSpec(name="tiny", head={"type": "TinyHead"}, data={"train": GOOD["data"]["train"], "val": GOOD["data"]["val"]},
                            metric={"type": "tiny"}, prompt="classify", weight=1.0, prefix="")
    assert spec.path("head") == "model.head" and spec.path("data") == "data" and spec.path("prompt") == "model.prompt"


@pytest.mark.parametrize("key,value", [("max_steps", 0), ("grad_accum", 1.5), ("warmup_steps", -1), ("clip_grad", 0),
                                       ("weight_decay", "none"), ("log_every", 0),
                                       ("on_nan", "raise"), ("scheduler", "cosin"), ("scheduler", {"type": "x"})])
def test_train_scalars(registries, key, value):
    assert f"train.{key}" in problems(cfg_with(**{f"train__{key}": value}), registries)


def test_non_mapping_sections(registries):
    errs = problems(cfg_with(model=[1], train=3), registries)
    assert "model" in errs and "train" in errs
    assert isinstance(errs["train"], ConfigError)


def test_a_valid_config_comes_back_typed_with_its_defaults(registries):
    config = validate_config(cfg_with(seed=5), registries)
    assert (config.seed, config.train.seed, config.train.max_steps, config.train.mixed_precision) == (5, None, 10, "bf16")
    assert (config.train.warmup_steps, config.train.log_with, config.data.num_workers, config.context) == (0, ["tensorboard"], 0, None)
    assert validate_config(cfg_with(seed=5, train__seed=7), registries).seed == 7  # train.seed wins
    assert [t.name for t in config.tasks] == [t.name for t in task_specs(GOOD)] and config.raw["model"] == GOOD["model"]
    assert validate_config(config, registries) is config
