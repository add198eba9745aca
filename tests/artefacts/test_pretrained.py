"""``save_pretrained`` / ``from_pretrained`` round trip on a pipeline built without a Runner,
and the errors a user meets with a wrong or damaged folder."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from videollm_core import VideoBatch, build_pipeline, from_pretrained, load_config, save_pretrained
from videollm_core.errors import DataError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def saved(tmp_path_factory, perturb):
    cfg = load_config(ROOT / "examples" / "oad.yaml", ["model.tuner.type=PrefixTuning", "model.tuner.num_virtual_tokens=3",
                                                       "data.train.demo.num_videos=4", "data.val.demo.num_videos=4"])
    pipeline = build_pipeline(cfg).eval()
    perturb(pipeline, seed=1)
    folder = tmp_path_factory.mktemp("pretrained") / "model"
    save_pretrained(pipeline, folder, step=7)
    return pipeline, folder


def _batch(steps: int = 9) -> VideoBatch:
    feats = torch.randn(2, steps, 32, generator=torch.Generator().manual_seed(2))
    start = torch.arange(steps, dtype=torch.float32)
    ts = torch.stack([start, start + 1], -1)[None].expand(2, -1, -1) / 4
    return VideoBatch(features=feats, mask=torch.ones(2, steps, dtype=torch.bool), timestamps=ts)


def test_round_trip_gives_the_same_outputs(saved):
    pipeline, folder = saved
    loaded = from_pretrained(folder)
    assert not loaded.training and loaded.pretrained_info["step"] == 7
    with torch.no_grad():
        want, got = pipeline(_batch(), "oad"), loaded(_batch(), "oad")
    for key in ("action", "verb", "noun"):
        assert torch.equal(want[key], got[key]), key
    # the frozen LLM built from config: its weights are in the folder, not re-drawn from a seed
    assert any(n.startswith("llm.") and "prefix" not in n for n in __import__("safetensors.torch").torch.load_file(
        str(folder / "model.safetensors")))


def test_not_a_model_folder(tmp_path):
    with pytest.raises(DataError) as err:
        from_pretrained(tmp_path)
    assert "videollm export" in err.value.render()
    with pytest.raises(DataError):
        from_pretrained(tmp_path / "nope")


def test_damaged_weights_are_named(saved, tmp_path):
    import shutil

    _, folder = saved
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    (copy / "model.safetensors").write_bytes(b"\x00" * 20)
    with pytest.raises(DataError) as err:
        from_pretrained(copy)
    assert "model.safetensors" in err.value.render()


def test_weights_of_another_model_are_refused(saved, tmp_path):
    import shutil

    _, folder = saved
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    text = (copy / "config.yaml").read_text().replace("num_classes: ", "num_classes: 1")
    (copy / "config.yaml").write_text(text)
    with pytest.raises(DataError) as err:
        from_pretrained(copy)
    assert "classifiers.action" in err.value.render()


def test_hub_id_offline_is_a_clear_error(monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(DataError) as err:
        from_pretrained("someone/videollm-oad")
    assert "cannot download 'someone/videollm-oad'" in err.value.render()


def test_multitask_model_round_trip(tmp_path, perturb):
    import yaml

    cfg = load_config(ROOT / "examples" / "multitask.yaml")
    pipeline = build_pipeline(cfg).eval()
    perturb(pipeline, seed=3)
    save_pretrained(pipeline, tmp_path / "m")
    saved = yaml.safe_load((tmp_path / "m" / "config.yaml").read_text())
    assert [t["name"] for t in saved["tasks"]] == pipeline.tasks and all("data" not in t for t in saved["tasks"])
    loaded = from_pretrained(tmp_path / "m")
    d = pipeline.encoder.in_dim
    feats = torch.randn(1, 10, d, generator=torch.Generator().manual_seed(4))
    start = torch.arange(10, dtype=torch.float32)
    for task in pipeline.tasks:
        batch = VideoBatch(features=feats, mask=torch.ones(1, 10, dtype=torch.bool), timestamps=torch.stack([start, start + 1], -1)[None],
                           queries=["a person cooks"] if task == "qvhighlights" else None)
        with torch.no_grad():
            want, got = pipeline(batch, task), loaded(batch, task)
        tensors = [k for k, v in want.items() if isinstance(v, torch.Tensor)]
        assert tensors and all(torch.equal(want[k], got[k]) for k in tensors), task


def test_named_base_llm_is_not_copied_and_peft_loads_the_adapter_onto_it(tmp_path, perturb):
    """With ``pretrained: DIR`` only the trained weights are saved; peft puts the adapter on the base model itself."""
    import json

    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModel, GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    base_dir = tmp_path / "gpt2-tiny"
    GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=64, n_head=2, n_positions=128, vocab_size=16)).save_pretrained(base_dir)
    cfg = load_config(ROOT / "examples" / "oad.yaml", [*["data.train.demo.num_videos=4", "data.val.demo.num_videos=4"],
                                                       "model.tuner.type=LoRA", "model.tuner.r=2", "model.prompt="])
    cfg["model"]["llm"] = {"type": "HFCausalLM", "pretrained": str(base_dir)}
    pipeline = build_pipeline(cfg).eval()
    perturb(pipeline)
    save_pretrained(pipeline, tmp_path / "m")
    saved = load_file(str(tmp_path / "m" / "model.safetensors"))
    llm_keys = [k for k in saved if k.startswith("llm.")]
    assert llm_keys and all("lora_" in k for k in llm_keys)
    frozen_llm = sum(p.numel() for p in pipeline.llm.parameters() if not p.requires_grad)
    assert sum(t.numel() for t in saved.values()) < frozen_llm / 10  # the base is not copied under any name
    assert json.loads((tmp_path / "m" / "videollm.json").read_text())["base_model"]["name_or_path"] == str(base_dir)
    loaded = from_pretrained(tmp_path / "m")
    with torch.no_grad():
        assert torch.equal(pipeline(_batch(), "oad")["action"], loaded(_batch(), "oad")["action"])
    peft_model = PeftModel.from_pretrained(AutoModel.from_pretrained(base_dir), str(tmp_path / "m")).eval()
    embeds = torch.randn(1, 6, 64, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        ours = loaded.llm.model(inputs_embeds=embeds).last_hidden_state
        theirs = peft_model(inputs_embeds=embeds).last_hidden_state
    assert torch.allclose(ours, theirs, atol=1e-6)


def test_files_the_metric_reads_travel_with_the_folder(tmp_path):
    """Anticipation formats actions through the dataset's actions.csv: the folder carries a copy."""
    import shutil

    import yaml

    from videollm_core.head_args import build_task_dataset
    from videollm_core.engine.pretrained import model_config
    from videollm_core.validation import task_specs

    cfg = load_config(ROOT / "examples" / "anticipation.yaml")
    pipeline = build_pipeline(cfg).eval()
    spec = task_specs(cfg)[0]
    metric_args = build_task_dataset(cfg, spec, "val").metric_args()
    assert Path(metric_args["actions"]).is_file()
    save_pretrained(pipeline, tmp_path / "m", config=model_config(cfg, pipeline.head_sizes, {spec.name: metric_args}))
    shutil.move(tmp_path / "m", tmp_path / "moved")  # another machine: only the folder
    saved = yaml.safe_load((tmp_path / "moved" / "config.yaml").read_text())
    assert saved["metric"]["actions"] == "tables/anticipation_actions.csv"
    loaded = from_pretrained(tmp_path / "moved")
    actions = Path(loaded.config["metric"]["actions"])
    assert actions.parent.parent == tmp_path / "moved" and actions.read_bytes() == Path(metric_args["actions"]).read_bytes()
