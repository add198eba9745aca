"""A trained run as an artefact: export, reload in a fresh process, evaluate, predict, stream.

One tiny OAD run (examples/oad.yaml, LoRA r 2, 4 steps, 4 demo videos) is trained once per
module and exported with ``videollm export``; every test checks one promise of the folder.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from videollm_core.cli.commands import main, run_main
from videollm_core.config import load_config

pytestmark = pytest.mark.slow  # one tiny training run, shared by the module
ROOT = Path(__file__).resolve().parents[2]
OPTIONS = ["train.max_steps=4", "train.eval_every=4", "train.log_every=2", "model.tuner.type=LoRA", "model.tuner.r=2",
           "data.train.demo.num_videos=4", "data.val.demo.num_videos=4", "data.batch_size=4"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """``(work_dir, model_dir, config_path)`` of a trained and exported tiny run."""
    from videollm_core.validation import validate_config
    from videollm_core.engine.runner import Runner

    base = tmp_path_factory.mktemp("artefact")
    cfg = load_config(ROOT / "examples" / "oad.yaml", [*OPTIONS, f"work_dir={base / 'run'}"])
    validate_config(cfg)
    Runner(cfg).train()
    config_path = base / "run" / "config.yaml"
    assert main(["export", str(base / "run"), "--out", str(base / "model")]) == 0
    return base / "run", base / "model", config_path


def _run_predictions(work_dir: Path) -> Path:
    """The run's validation predictions (a JSON file or the metric's compact folder)."""
    found = sorted((work_dir / "predictions").glob("oad_val*"))
    assert len(found) == 1, found
    return found[0]


def _same_predictions(a: Path, b: Path) -> None:
    """Two prediction files, or folders of files, hold the same content (arrays of ``.npz`` compared exactly)."""
    if a.is_dir():
        assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir())
        for child in a.iterdir():
            _same_predictions(child, b / child.name)
    elif a.suffix == ".npz":
        with np.load(a) as x, np.load(b) as y:
            assert sorted(x.files) == sorted(y.files)
            for key in x.files:
                assert np.array_equal(x[key], y[key]), (a, key)
    else:
        assert json.loads(a.read_text()) == json.loads(b.read_text()), a


def _val_record(work_dir: Path) -> dict:
    records = [json.loads(line) for line in (work_dir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in records if r.get("split") == "val" and r["step"] == 4][-1]


FRESH = r"""
import json, sys
import videollm_core
from videollm_core.config import load_config
from videollm_core.head_args import build_task_dataset
from videollm_core.cli.inference import write_predictions
from videollm_core.validation import task_specs

model_dir, config_path, out = sys.argv[1:4]
pipeline = videollm_core.VideoLLM.from_pretrained(model_dir)  # the Hugging Face convention
spec = task_specs(load_config(config_path))[0]
ds = build_task_dataset(load_config(config_path), spec, "val")
entries = []
for i in range(0, len(ds), 4):
    batch = ds.collate([ds[j] for j in range(i, min(i + 4, len(ds)))])
    entries.extend(pipeline.predict(pipeline(batch, "oad"), batch, "oad"))
write_predictions(pipeline.config, "oad", entries, out)
"""


@pytest.mark.subprocess
def test_from_pretrained_in_a_fresh_process_gives_the_runs_predictions(run, tmp_path):
    work_dir, model_dir, config_path = run
    assert sorted(p.name for p in model_dir.iterdir()) == ["README.md", "adapter_config.json", "adapter_model.safetensors",
                                                            "config.yaml", "model.safetensors", "videollm.json"]
    theirs = _run_predictions(work_dir)
    out = tmp_path / f"fresh{theirs.suffix}"
    done = subprocess.run([sys.executable, "-c", FRESH, str(model_dir), str(config_path), str(out)], capture_output=True,
                          text=True, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    _same_predictions(out, theirs)


def test_folder_is_standalone_and_carries_the_card(run):
    import yaml

    _, model_dir, _ = run
    cfg = yaml.safe_load((model_dir / "config.yaml").read_text())
    assert "data" not in cfg and cfg["model"]["head"] == {"type": "OnlineActionDetectionHead", "num_classes": 41,
                                                          "num_verbs": 11, "num_nouns": 5} | {
        k: v for k, v in cfg["model"]["head"].items() if k not in ("type", "num_classes", "num_verbs", "num_nouns")}
    from huggingface_hub import ModelCard

    card = ModelCard.load(model_dir / "README.md")
    assert card.data.library_name == "videollm-core"
    assert "oad" in card.data.tags and card.data.datasets == ["EK100OADDataset"]
    assert f"Expects `[T, {cfg['model']['encoder']['in_dim']}]` feature arrays" in card.text
    info = json.loads((model_dir / "videollm.json").read_text())
    assert info["step"] == 4 and info["base_model"] is None and {k: v for k, v in info["inputs"]["oad"].items() if k not in ("class_names", "dataset")} == {"fps": 4.0, "window": 16.0}
    assert len(info["inputs"]["oad"]["class_names"]) > 1  # the action names, for `videollm stream`
    assert info["inputs"]["oad"]["dataset"] == {"type": "EK100OADDataset", "fps": 4.0, "window": 16.0}  # for predict --annotations
    mAP = [r for r in card.data.eval_results if r.metric_type == "mAP"][0].metric_value
    assert mAP == pytest.approx(info["metrics"]["oad/mAP"])


def test_eval_only_with_the_exported_folder_reproduces_the_metrics(run, tmp_path, capsys):
    work_dir, model_dir, config_path = run
    code = run_main([str(config_path), "--eval-only", "--checkpoint", str(model_dir), "--work-dir", str(tmp_path / "w"), "--json"])
    out = capsys.readouterr().out
    assert code == 0
    scores = json.loads(out[out.index("{"):])
    expected = {k: v for k, v in _val_record(work_dir).items() if k.startswith("oad/")}
    assert set(scores) == set(expected)
    for key, value in expected.items():
        assert abs(scores[key] - value) <= 1e-6, key


def test_peft_loads_the_exported_lora_adapter(run):
    import copy

    from peft import PeftModel
    from transformers import AutoModel

    from videollm_core import from_pretrained

    _, model_dir, _ = run
    pipeline = from_pretrained(model_dir)
    ours = {n.split("base_model.model.", 1)[1]: p for n, p in pipeline.llm.model.named_parameters() if "lora_" in n}
    base = AutoModel.from_config(copy.deepcopy(pipeline.llm.backbone.config))
    peft_model = PeftModel.from_pretrained(base, str(model_dir))
    theirs = {n.split("base_model.model.", 1)[1]: p for n, p in peft_model.named_parameters() if "lora_" in n}
    assert ours and set(theirs) == set(ours)
    assert any(float(p.abs().sum()) > 0 for n, p in theirs.items() if "lora_B" in n)  # trained, not the zero init
    for name, value in ours.items():
        assert torch.equal(theirs[name], value), name


def _val_features(config_path: Path, folder: Path) -> tuple[Path, list[str]]:
    """The val videos' features as ``<video>.npy`` in ``folder``; returns the ground-truth csv and the ids."""
    from videollm_core.head_args import build_task_dataset
    from videollm_core.validation import task_specs

    cfg = load_config(config_path)
    ds = build_task_dataset(cfg, task_specs(cfg)[0], "val")
    folder.mkdir()
    for vid, (feats, _) in ds._videos.items():
        np.save(folder / f"{vid}.npy", np.asarray(feats, dtype=np.float32))
    return ds.source.annotations, sorted(ds._videos)


def test_predict_on_new_features_scores_like_the_run(run, tmp_path, capsys):
    work_dir, model_dir, config_path = run
    gt, _ = _val_features(config_path, tmp_path / "features")
    out = tmp_path / f"pred{_run_predictions(work_dir).suffix}"
    assert main(["predict", str(model_dir), "--features", str(tmp_path / "features"), "--out", str(out)]) == 0
    capsys.readouterr()
    scores = []
    for pred in (out, _run_predictions(work_dir)):
        assert main(["evaluate", "oad", "--ground-truth", str(gt), "--predictions", str(pred), "--json"]) == 0
        scores.append(json.loads(capsys.readouterr().out))
    assert scores[0] == pytest.approx(scores[1], abs=1e-9)
    assert scores[0]["mAP"] == pytest.approx(_val_record(work_dir)["oad/mAP"], abs=1e-6)


def test_stream_json_prints_the_python_streams_answers(run, tmp_path, capsys):
    from videollm_core import from_pretrained

    _, model_dir, config_path = run
    _, vids = _val_features(config_path, tmp_path / "features")
    video = tmp_path / "features" / f"{vids[0]}.npy"
    feats = torch.from_numpy(np.load(video))[:20]
    np.save(tmp_path / "clip.npy", feats.numpy())
    assert main(["stream", str(model_dir), str(tmp_path / "clip.npy"), "--json", "--top", "3"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["unit"] for line in lines] == list(range(20))
    pipeline = from_pretrained(model_dir)
    names = pipeline.pretrained_info["inputs"]["oad"]["class_names"]
    stream = pipeline.stream(step_seconds=0.25)
    for i, line in enumerate(lines):
        out = stream.push(feats[i : i + 1])
        for key in ("action", "verb", "noun"):
            probs = out[key][0, 0].softmax(-1)
            top = probs.topk(3)
            # actions by name (head class a + 1 is action a, 0 the background); verbs and nouns by id
            want = [("background" if c == 0 else names[c - 1]) if key == "action" else c for c in top.indices.tolist()]
            assert [c for c, _ in line[key]] == want, (i, key)
            assert [p for _, p in line[key]] == pytest.approx(top.values.tolist(), abs=1e-6)


def test_predict_or_eval_without_a_checkpoint_needs_allow_untrained(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"_base_: {ROOT / 'examples' / 'oad.yaml'}\nwork_dir: {tmp_path / 'w'}\n")
    small = ["--cfg-options", "data.train.demo.num_videos=4", "data.val.demo.num_videos=4"]
    assert run_main([str(cfg), "--predict", *small]) == 2
    err = capsys.readouterr().err
    assert "no checkpoint" in err and "--allow-untrained" in err and "Traceback" not in err
    assert run_main([str(cfg), "--predict", "--allow-untrained", *small]) == 0
    assert list((tmp_path / "w" / "predictions").glob("oad_val*"))
