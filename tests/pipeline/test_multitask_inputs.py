"""One LLM for tasks whose features differ in width (the paper's RQ3 on real features): each task
brings its own encoder and translator under ``tasks[i]``, the LLM is shared (issue 22).

Checked here on the demo data (EK100 OAD at 32-d, QVHighlights at 48-d): the config validates
and its mistakes are named; the pipeline builds one LLM and one encoder/translator pair per task;
the runner trains and evaluates both tasks; the model folder round-trips and streams each task at
its own width; a push of the other task's width is refused.
"""
from __future__ import annotations

import json

import pytest
import torch

from videollm_core import DataError, VideoLLM, build_pipeline, save_pretrained
from videollm_core.errors import ConfigError, ConfigErrors
from videollm_core.validation import config_problems, validate_config

LLM = {"type": "HFCausalLM", "config": {"model_type": "gpt2", "n_layer": 1, "n_embd": 32, "n_head": 2, "n_positions": 256,
                                        "bos_token_id": None, "eos_token_id": None},
       "tokenizer": {"words": ["online", "action", "moment", "retrieval", "a", "the", "man"]}}


def two_widths(tmp_path) -> dict:
    """OAD on 32-d features and QVHighlights on 48-d ones, no shared encoder or translator."""
    oad = {"type": "EK100OADDataset", "window": 8.0, "demo": {"num_videos": 4, "seed": 0, "feature_dim": 32}}
    qvh = {"type": "QVHighlightsDataset", "demo": {"num_videos": 8, "seed": 0, "feature_dim": 48}}
    return {
        "work_dir": str(tmp_path / "work"),
        "model": {"llm": LLM, "tuner": {"type": "Frozen"}},
        "tasks": [
            {"name": "oad", "encoder": {"type": "TemporalUnitEncoder", "in_dim": 32}, "translator": {"type": "LinearTranslator"},
             "head": {"type": "OnlineActionDetectionHead"}, "metric": {"type": "oad"}, "prompt": "online action",
             "data": {"train": {**oad, "split": "training"}, "val": {**oad, "split": "validation"}}},
            {"name": "qvh", "encoder": {"type": "TemporalUnitEncoder", "in_dim": 48}, "translator": {"type": "MLPTranslator"},
             "head": {"type": "MomentRetrievalHighlightHead"}, "metric": {"type": "qvhighlights"}, "prompt": "moment retrieval",
             "data": {"train": {**qvh, "split": "train"}, "val": {**qvh, "split": "val"}}},
        ],
        "data": {"batch_size": 2, "num_workers": 0},
        "train": {"max_steps": 4, "lr": 1e-3, "eval_every": 4, "log_every": 1},
    }


def test_a_config_whose_tasks_bring_their_own_inputs_validates_and_builds_one_llm(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOLLM_CACHE", str(tmp_path / "cache"))
    cfg = two_widths(tmp_path)
    validate_config(cfg)
    pipeline = build_pipeline(cfg)
    assert pipeline.encoder is None and pipeline.translator is None
    assert pipeline.encoder_for("oad").in_dim == 32 and pipeline.encoder_for("qvh").in_dim == 48
    assert type(pipeline.translator_for("qvh")).__name__ == "MLPTranslator"
    assert sum(1 for m in pipeline.modules() if type(m).__name__ == "GPT2Model") == 1  # one LLM
    parts = pipeline.components()
    assert {"encoder.oad", "encoder.qvh", "translator.oad", "translator.qvh", "llm"} <= set(parts)


def test_a_task_with_its_own_encoder_beside_the_shared_one(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOLLM_CACHE", str(tmp_path / "cache"))
    cfg = two_widths(tmp_path)
    cfg["model"].update(encoder={"type": "TemporalUnitEncoder", "in_dim": 32}, translator={"type": "LinearTranslator"})
    del cfg["tasks"][0]["encoder"], cfg["tasks"][0]["translator"]
    del cfg["tasks"][1]["translator"]  # its own encoder: its own translator, built from model.translator
    validate_config(cfg)
    pipeline = build_pipeline(cfg)
    assert pipeline.encoder_for("oad") is pipeline.encoder
    assert pipeline.encoder_for("qvh").in_dim == 48
    assert pipeline.translator_for("qvh") is not pipeline.translator
    assert pipeline.translator_for("qvh").in_dim == pipeline.encoder_for("qvh").out_dim


def test_mistakes_are_named_with_their_yaml_path(tmp_path):
    cfg = two_widths(tmp_path)
    del cfg["tasks"][1]["translator"]  # no translator of its own, and none shared
    cfg["tasks"][0]["encodr"] = cfg["tasks"][0].pop("encoder")
    problems = [(e.where, e.hint) for e in config_problems(cfg)]
    assert ("tasks.0.encodr", "did you mean 'encoder'?") in problems
    assert ("tasks.1", "add tasks.1.translator: {type: ...}, or a shared model.translator") in problems  # none of its own, none shared
    del cfg["tasks"][0]["translator"]
    problems = [(e.where, e.hint) for e in config_problems(cfg)]
    assert ("model", "add model.translator: {type: ...} (see `videollm list translators`), or give every task its own "
                     "tasks[i].translator") in problems  # no task has one
    cfg = two_widths(tmp_path)
    cfg["tasks"][1]["translator"] = {"type": "LinearTranslatr"}
    with pytest.raises(ConfigErrors) as err:
        validate_config(cfg)
    assert "tasks.1.translator" in str(err.value) and "LinearTranslator" in str(err.value)


def test_it_trains_both_tasks_round_trips_and_streams_each_at_its_width(tmp_path, monkeypatch):
    from videollm_core.engine.runner import Runner

    monkeypatch.setenv("VIDEOLLM_CACHE", str(tmp_path / "cache"))
    runner = Runner(two_widths(tmp_path))
    runner.train()
    lines = [json.loads(line) for line in (tmp_path / "work" / "metrics.jsonl").read_text().splitlines() if line.strip()]
    keys = {k for r in lines for k in r}
    assert any(k.startswith("oad/") for k in keys) and any(k.startswith("qvh/") for k in keys)
    save_pretrained(runner.pipeline, tmp_path / "model")
    model = VideoLLM.from_pretrained(tmp_path / "model")
    before = runner.pipeline.eval().state_dict()
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert model.stream(task="oad").push(torch.randn(6, 32)) is not None
    assert model.stream(task="qvh", query="a man").push(torch.randn(6, 48)) is not None
    with pytest.raises(DataError, match="48"):
        model.stream(task="qvh").push(torch.randn(6, 32))


def test_each_task_has_its_own_query_position(tmp_path, monkeypatch):
    """The paper's multitask order: retrieval tasks append the query after the video, the online
    tasks have none; a model-wide `after` refuses the online head, a task's own does not."""
    monkeypatch.setenv("VIDEOLLM_CACHE", str(tmp_path / "cache"))
    cfg = two_widths(tmp_path)
    cfg["tasks"][1]["head"]["query_fusion"] = True
    cfg["model"]["query_position"] = "after"
    problems = [(e.where, str(e)) for e in config_problems(cfg)]
    assert [w for w, _ in problems] == ["model.query_position"] and "task 'oad'" in problems[0][1]
    del cfg["model"]["query_position"]
    cfg["tasks"][1]["query_position"] = "after"
    validate_config(cfg)
    pipeline = build_pipeline(cfg)
    assert pipeline.query_positions == {"oad": "before", "qvh": "after"}
    cfg["tasks"][1]["query_position"] = "last"
    assert [e.where for e in config_problems(cfg)] == ["tasks.1.query_position"]
    with pytest.raises(ConfigError, match="cannot stream with a query"):
        pipeline.stream(task="qvh", query="a man")
    assert pipeline.stream(task="oad").push(torch.randn(3, 32)) is not None
