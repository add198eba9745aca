"""``save_pretrained`` / ``from_pretrained`` round trip on a pipeline built without a Runner,
the Hugging Face class API (``VideoLLM.from_pretrained``, ``pipeline.save_pretrained`` /
``push_to_hub`` through ``huggingface_hub.ModelHubMixin``), the model card's usage code run in
a fresh process, and the errors a user meets with a wrong or damaged folder. Nothing reaches
the network: hub calls are replaced by fakes."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

import videollm_core
from videollm_core import VideoBatch, VideoLLM, build_pipeline, from_pretrained, load_config, save_pretrained
from videollm_core.errors import ConfigError, DataError, PathError

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
    assert [t["encoder"]["in_dim"] for t in saved["tasks"]] == [32, 48]  # each task's own encoder is kept
    loaded = from_pretrained(tmp_path / "m")
    start = torch.arange(10, dtype=torch.float32)
    for task in pipeline.tasks:
        feats = torch.randn(1, 10, pipeline.encoder_for(task).in_dim, generator=torch.Generator().manual_seed(4))
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


# -- the Hugging Face class API (huggingface_hub.ModelHubMixin) -------------------------------
def _tensors(outputs: dict) -> dict[str, torch.Tensor]:
    return {k: v for k, v in outputs.items() if isinstance(v, torch.Tensor)}


def test_class_api_writes_our_folder_and_reloads_it(saved, tmp_path):
    pipeline, folder = saved
    assert videollm_core.from_pretrained == VideoLLM.from_pretrained  # the function is the classmethod
    pipeline.save_pretrained(tmp_path / "m")
    files = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert files == ["README.md", "adapter_config.json", "adapter_model.safetensors", "config.yaml", "model.safetensors",
                     "videollm.json"]  # no config.json of the mixin, and the card is ours
    card = (tmp_path / "m" / "README.md").read_text()
    assert "library_name: videollm-core" in card and "VideoLLM.from_pretrained(" in card
    loaded = VideoLLM.from_pretrained(tmp_path / "m")
    with torch.no_grad():
        assert torch.equal(pipeline(_batch(), "oad")["action"], loaded(_batch(), "oad")["action"])
    # a loaded model saved again keeps what its videollm.json recorded
    VideoLLM.from_pretrained(folder).save_pretrained(tmp_path / "again")
    again = VideoLLM.from_pretrained(str(tmp_path / "again"))
    assert again.pretrained_info["step"] == 7
    with torch.no_grad():
        assert torch.equal(pipeline(_batch(), "oad")["action"], again(_batch(), "oad")["action"])


CARD_RUN = """
import sys
import torch

batch_file, out = sys.argv[1:3]
batch = torch.load(batch_file)
with torch.no_grad():
    forward = model(VideoBatch(**batch), "oad")
torch.save({"features": features, "outputs": {k: v for k, v in outputs.items() if isinstance(v, torch.Tensor)},
            "forward": {k: v for k, v in forward.items() if isinstance(v, torch.Tensor)}}, out)
"""


def test_model_card_code_runs_in_a_fresh_process(saved, tmp_path):
    """The README's python block, the model's path put in, reproduces the saved model's outputs."""
    import re
    import subprocess
    import sys

    from videollm_core.engine.model_card import PLACEHOLDER

    pipeline, _ = saved
    pipeline.save_pretrained(tmp_path / "model")
    blocks = re.findall(r"```python\n(.*?)```", (tmp_path / "model" / "README.md").read_text(), re.S)
    assert len(blocks) == 1 and "from videollm_core import VideoLLM" in blocks[0] and PLACEHOLDER in blocks[0]
    code = blocks[0].replace(f'"{PLACEHOLDER}"', repr(str(tmp_path / "model")))
    script = tmp_path / "card.py"
    script.write_text(code + "from videollm_core import VideoBatch\n" + CARD_RUN)
    batch = _batch()
    torch.save({"features": batch.features, "mask": batch.mask, "timestamps": batch.timestamps}, tmp_path / "batch.pt")
    env = {**__import__("os").environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "batch.pt"), str(tmp_path / "out.pt")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    got = torch.load(tmp_path / "out.pt")
    with torch.no_grad():
        want_stream = _tensors(pipeline.stream().push(got["features"]))
        want_forward = _tensors(pipeline(batch, "oad"))
    assert want_stream and sorted(want_stream) == sorted(got["outputs"])
    assert want_forward and sorted(want_forward) == sorted(got["forward"])
    for want, have in ((want_stream, got["outputs"]), (want_forward, got["forward"])):
        for key in want:
            assert torch.allclose(want[key], have[key], atol=1e-6), key


def test_push_to_hub_uploads_our_folder(saved, monkeypatch):
    """``push_to_hub`` (the mixin's) uploads what ``save_pretrained`` writes; the hub client is a fake."""
    import huggingface_hub.hub_mixin

    uploaded: dict = {}

    class FakeApi:
        def __init__(self, token=None):
            uploaded["token"] = token

        def create_repo(self, repo_id, private=None, exist_ok=False):
            return type("Repo", (), {"repo_id": repo_id})()

        def upload_folder(self, *, repo_id, folder_path, **kwargs):
            uploaded.update(repo_id=repo_id, files=sorted(p.name for p in Path(folder_path).iterdir()),
                            card=(Path(folder_path) / "README.md").read_text())
            return "https://huggingface.co/someone/videollm-oad/commit/0"

    monkeypatch.setattr(huggingface_hub.hub_mixin, "HfApi", FakeApi)
    pipeline, _ = saved
    assert pipeline.push_to_hub("someone/videollm-oad", token="t").endswith("/commit/0")
    assert uploaded["repo_id"] == "someone/videollm-oad" and uploaded["token"] == "t"
    assert "config.json" not in uploaded["files"] and {"config.yaml", "model.safetensors", "videollm.json"} <= set(uploaded["files"])
    assert "library_name: videollm-core" in uploaded["card"]


def test_hub_id_goes_through_snapshot_download(saved, monkeypatch):
    import huggingface_hub

    pipeline, folder = saved
    calls = []
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda repo_id, **kw: calls.append((repo_id, kw)) or str(folder))
    loaded = VideoLLM.from_pretrained("someone/videollm-oad", revision="v1", cache_dir="c", token="t", local_files_only=True)
    assert calls == [("someone/videollm-oad", {"revision": "v1", "cache_dir": "c", "force_download": False,
                                               "local_files_only": True, "token": "t"})]
    assert loaded.pretrained_info["step"] == 7


def test_save_refuses_what_it_would_destroy(saved, tmp_path):
    pipeline, _ = saved
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(PathError) as err:
        pipeline.save_pretrained(tmp_path)
    assert "not a videollm-core model folder" in err.value.render()
    assert (tmp_path / "notes.txt").read_text() == "mine" and (tmp_path / "config.json").is_file()
    with pytest.raises(PathError):
        save_pretrained(pipeline, tmp_path / "notes.txt")
    with pytest.raises(ConfigError) as err:
        pipeline.save_pretrained(tmp_path / "m", config={"hidden": 8})
    assert err.value.hint and not (tmp_path / "m").exists()
