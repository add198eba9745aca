"""``videollm predict`` / ``videollm stream`` on untrained-but-saved example models (cheap: no
training), their inputs (one .npy, a folder, a feature-source YAML) and their user errors."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from videollm_core import build_pipeline, from_pretrained, load_config, save_pretrained
from videollm_core.cli.commands import main

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["data.train.demo.num_videos=4", "data.val.demo.num_videos=4"]


def _saved(example: str, folder: Path, perturb) -> Path:
    """The example's pipeline (random but non-trivial weights) saved as a model folder."""
    pipeline = build_pipeline(load_config(ROOT / "examples" / f"{example}.yaml", SMALL)).eval()
    perturb(pipeline, scale=0.3)
    save_pretrained(pipeline, folder, inputs={pipeline.tasks[0]: {"fps": 4.0, "window": 2.0}})
    return folder


@pytest.fixture(scope="module")
def oad_model(tmp_path_factory, perturb):
    return _saved("oad", tmp_path_factory.mktemp("models") / "oad", perturb)


@pytest.fixture
def videos(tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for vid, steps in (("vid_a", 13), ("vid_b", 8)):
        np.save(folder / f"{vid}.npy", rng.standard_normal((steps, 32)).astype(np.float32))
    return folder


def _scores(path: Path) -> dict[str, dict[str, np.ndarray]]:
    """``{video: {"action": [T, C], ...}}`` of an OAD predictions file, read by the metric."""
    from videollm_core import REGISTRIES

    scores = REGISTRIES.metrics.build({"type": "oad"}, where="test").load_predictions(path)
    return {vid: {k: np.asarray(v, dtype=np.float64) for k, v in scores[vid].items()} for vid in scores}


def test_predict_reads_a_folder_a_file_and_a_source_config_alike(oad_model, videos, tmp_path, capsys):
    outs = {}
    (tmp_path / "source.yaml").write_text(f"type: NpyFeatures\ndir: {videos}\n")
    for name, features in (("folder", videos), ("yaml", tmp_path / "source.yaml")):
        outs[name] = tmp_path / f"{name}.json"
        assert main(["predict", str(oad_model), "--features", str(features), "--out", str(outs[name])]) == 0, capsys.readouterr().err
    assert "2 video(s)" in capsys.readouterr().out
    folder, yaml_src = _scores(outs["folder"]), _scores(outs["yaml"])
    assert sorted(folder) == sorted(yaml_src) == ["vid_a", "vid_b"]
    assert all(np.array_equal(folder[v][k], yaml_src[v][k]) for v in folder for k in folder[v])
    single = tmp_path / "single.json"
    assert main(["predict", str(oad_model), "--features", str(videos / "vid_a.npy"), "--out", str(single)]) == 0
    one = _scores(single)
    assert list(one) == ["vid_a"] and one["vid_a"]["action"].shape == (13, 41)
    assert np.allclose(one["vid_a"]["action"], folder["vid_a"]["action"])


def test_predict_windows_restart_the_stream_as_the_datasets_do(oad_model, videos, tmp_path):
    """window 2 s at 4 fps = 8 steps: step 8 of a 13-step video starts a fresh context."""
    from videollm_core import from_pretrained

    out = tmp_path / "p.json"
    assert main(["predict", str(oad_model), "--features", str(videos / "vid_a.npy"), "--out", str(out)]) == 0
    got = _scores(out)["vid_a"]["action"]
    pipeline = from_pretrained(oad_model)
    feats = torch.from_numpy(np.load(videos / "vid_a.npy"))
    first, second = pipeline.stream(step_seconds=0.25), pipeline.stream(step_seconds=0.25)
    want = torch.cat([first.push(feats[:8])["action"][0], second.push(feats[8:])["action"][0]]).softmax(-1)
    assert np.allclose(got, want.numpy(), atol=1e-3)  # the writer stores float16 scores
    whole = pipeline.stream(step_seconds=0.25).push(feats)["action"][0].softmax(-1)
    assert not np.allclose(got[8:], whole[8:].numpy(), atol=1e-3)  # one context over the video differs


@pytest.mark.parametrize("example", ["anticipation", "online_caption"])
def test_stream_answers_each_unit_like_the_python_stream(example, tmp_path, capsys, perturb):
    from videollm_core import from_pretrained

    model = _saved(example, tmp_path / example, perturb)
    pipeline = from_pretrained(model)
    d = pipeline.encoder.in_dim
    feats = np.random.default_rng(1).standard_normal((5, d)).astype(np.float32)
    np.save(tmp_path / "clip.npy", feats)
    assert main(["stream", str(model), str(tmp_path / "clip.npy"), "--json", "--top", "2"]) == 0
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines()]
    assert "units/s" in captured.err
    stream = pipeline.stream(step_seconds=0.25)
    expected = []
    for i in range(6):  # 5 pushes of one step, then the end of the video
        out = stream.push(torch.from_numpy(feats[i : i + 1])) if i < 5 else stream.flush()
        if out is None:
            continue
        if example == "anticipation":
            expected.append({"unit": stream.units - 1,
                             **{k: out[k][0].softmax(-1).topk(2).indices.tolist() for k in ("verb", "noun", "action")}})
        elif out["captions"][0]:
            expected.append({"unit": stream.units - 1, "caption": out["captions"][0]})
    assert expected and stream.units >= 1
    if example == "anticipation":
        assert [{"unit": line["unit"], **{k: [c for c, _ in line[k]] for k in ("verb", "noun", "action")}} for line in lines] == expected
    else:
        assert [{"unit": line["unit"], "caption": line["caption"]} for line in lines] == expected


def test_user_errors_exit_2_with_one_message(oad_model, videos, tmp_path, capsys):
    cases = [
        (["stream", str(oad_model), str(videos)], "expected a .npy feature file"),
        (["stream", str(oad_model), str(videos / "vid_a.npy"), "--step-seconds", "0"], "--step-seconds"),
        (["predict", str(oad_model), "--features", str(videos), "--out", str(tmp_path / "p.json"), "--task", "nlq"], "unknown task"),
        (["predict", str(oad_model), "--features", str(tmp_path / "none"), "--out", str(tmp_path / "p.json")], "not found"),
        (["predict", str(tmp_path), "--features", str(videos), "--out", str(tmp_path / "p.json")], "videollm export"),
        (["export", str(tmp_path), "--out", str(tmp_path / "m")], "not a run's work dir"),
    ]
    for argv, needle in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert needle in err and "Traceback" not in err, (argv, err)


#: one task per kind of official file not covered above (OAD, anticipation and captions are): a
#: result folder, proposals with captions, query windows, future action sequences.
@pytest.mark.parametrize("example", ["action_segmentation", "dense_caption", "nlq", "lta"])
def test_predict_writes_every_tasks_official_format(example, tmp_path, capsys):
    """New videos carry no annotation ids: every head predicts from the ids ``predict`` makes, and the
    task's metric reads the file back."""
    from videollm_core import REGISTRIES
    from videollm_core.cli.inference import task_metric_config

    pipeline = build_pipeline(load_config(ROOT / "examples" / f"{example}.yaml")).eval()
    task = pipeline.tasks[0]
    save_pretrained(pipeline, tmp_path / "model", inputs={task: {"fps": 2.0, "window": None}})
    (tmp_path / "videos").mkdir()
    for vid, steps in (("clip_one", 20), ("clip_two", 9)):
        np.save(tmp_path / "videos" / f"{vid}.npy", np.random.default_rng(steps).standard_normal((steps, pipeline.encoder.in_dim),
                                                                                                 dtype=np.float32))
    metric = REGISTRIES.metrics.build(task_metric_config(pipeline.config, task), where="test")
    out = tmp_path / f"pred{getattr(metric, 'prediction_suffix', '.json') or ''}"
    argv = ["predict", str(tmp_path / "model"), "--features", str(tmp_path / "videos"), "--out", str(out)]
    assert main(argv + (["--query", "where is the knife"] if task in ("nlq", "qvhighlights") else [])) == 0, capsys.readouterr().err
    assert "2 video(s)" in capsys.readouterr().out
    assert metric.load_predictions(out)
