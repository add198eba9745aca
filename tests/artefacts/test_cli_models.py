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


def test_out_gives_what_its_name_says(oad_model, videos, tmp_path, capsys):
    """``--out x.json`` is one JSON file (OAD writes its JSON form, not the compact folder), a name
    without a suffix is the folder form; a file name for a folder-format task, or a folder for a
    file-format task, is an exit-2 error before any prediction is made."""
    as_file, as_folder = tmp_path / "preds.json", tmp_path / "preds"
    assert main(["predict", str(oad_model), "--features", str(videos), "--out", str(as_file)]) == 0
    assert as_file.is_file() and isinstance(json.loads(as_file.read_text()), dict)
    assert main(["predict", str(oad_model), "--features", str(videos), "--out", str(as_folder)]) == 0
    assert as_folder.is_dir()
    a, b = _scores(as_file), _scores(as_folder)
    assert sorted(a) == sorted(b) == ["vid_a", "vid_b"] and all(np.allclose(a[v]["action"], b[v]["action"], atol=1e-3) for v in a)  # the folder holds float16
    capsys.readouterr()
    segmentation = build_pipeline(load_config(ROOT / "examples" / "action_segmentation.yaml", SMALL)).eval()
    save_pretrained(segmentation, tmp_path / "seg", inputs={segmentation.tasks[0]: {"fps": 2.0, "window": None}})
    feats = tmp_path / "seg_feats"
    feats.mkdir()
    np.save(feats / "v.npy", np.zeros((6, segmentation.encoder.in_dim), np.float32))
    assert main(["predict", str(tmp_path / "seg"), "--features", str(feats), "--out", str(tmp_path / "seg.json")]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "a folder of files" in err and "Traceback" not in err
    assert not (tmp_path / "seg.json").exists()
    (tmp_path / "existing").mkdir()
    nlq = build_pipeline(load_config(ROOT / "examples" / "nlq.yaml", SMALL)).eval()
    save_pretrained(nlq, tmp_path / "nlq", inputs={nlq.tasks[0]: {"fps": 2.0, "window": None}})
    assert main(["predict", str(tmp_path / "nlq"), "--features", str(feats), "--out", str(tmp_path / "existing"), "--query", "q"]) == 2
    assert "ending in .json" in capsys.readouterr().err


def test_stream_names_classes_takes_numpy_and_refuses_nan(tmp_path, capsys, perturb):
    """Answers name the classes the model recorded; ``stream.push`` takes numpy arrays; NaN
    features are refused naming the step (``--json`` output never carries a NaN)."""
    from videollm_core.errors import DataError

    pipeline = build_pipeline(load_config(ROOT / "examples" / "action_segmentation.yaml", SMALL)).eval()
    perturb(pipeline, scale=0.3)
    task = pipeline.tasks[0]
    feats = np.random.default_rng(0).standard_normal((24, pipeline.encoder.in_dim)).astype(np.float32)  # 2 units of 10, and 4 steps
    with torch.no_grad():
        names = [f"label_{i}" for i in range(pipeline.stream(step_seconds=0.5).push(torch.from_numpy(feats))["logits"].shape[-1])]
    save_pretrained(pipeline, tmp_path / "model", inputs={task: {"fps": 2.0, "window": None, "class_names": names}})
    np.save(tmp_path / "clip.npy", feats)
    assert main(["stream", str(tmp_path / "model"), str(tmp_path / "clip.npy"), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    ranked = [c for line in lines for key, value in line.items() if key != "unit" for c, _ in value]
    assert ranked and all(c in names for c in ranked)
    stream = from_pretrained(tmp_path / "model").stream(step_seconds=0.5)
    from_numpy, from_tensor = stream.push(feats), from_pretrained(tmp_path / "model").stream(step_seconds=0.5).push(torch.from_numpy(feats))
    assert from_numpy is not None and torch.equal(from_numpy["logits"], from_tensor["logits"])
    bad = feats.copy()
    bad[3, 1] = np.nan
    with pytest.raises(DataError, match="step 27"):  # 24 steps pushed before
        stream.push(bad)
    np.save(tmp_path / "nan.npy", bad)
    assert main(["stream", str(tmp_path / "model"), str(tmp_path / "nan.npy"), "--json"]) == 2
    captured = capsys.readouterr()
    assert "non-finite" in captured.err and "step 3" in captured.err and "NaN," not in captured.out


@pytest.mark.subprocess
def test_stream_into_a_closed_pipe_exits_0_quietly(oad_model, tmp_path):
    import subprocess
    import sys

    np.save(tmp_path / "long.npy", np.random.default_rng(0).standard_normal((400, 32)).astype(np.float32))
    command = (f'"{sys.executable}" -m videollm_core.cli.commands stream "{oad_model}" "{tmp_path / "long.npy"}" --json | head -1; '
               'exit "${PIPESTATUS[0]}"')
    out = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.splitlines()) == 1 and json.loads(out.stdout)["unit"] == 0
    assert "rror" not in out.stderr and "Broken pipe" not in out.stderr, out.stderr


def test_features_that_disagree_with_the_model_exit_2(oad_model, videos, tmp_path, capsys):
    """A 2 steps/s feature folder for a 4 steps/s model, features of another width, NaN values."""
    (videos / "manifest.json").write_text(json.dumps({"backbone": "some/backbone", "fps": 2.0, "videos": {}}))
    out = tmp_path / "p.json"
    assert main(["predict", str(oad_model), "--features", str(videos), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "2 steps/s" in err and "4 steps/s" in err and "manifest.json" in err and "Traceback" not in err
    assert main(["stream", str(oad_model), str(videos / "vid_a.npy"), "--json"]) == 2
    assert "2 steps/s" in capsys.readouterr().err
    assert main(["predict", str(oad_model), "--features", str(videos), "--out", str(out), "--fps", "2"]) == 0  # the user's explicit choice
    (videos / "manifest.json").unlink()
    np.save(videos / "vid_a.npy", np.zeros((32, 13), np.float32))  # channels-first
    assert main(["predict", str(oad_model), "--features", str(videos), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "width 13" in err and "channels-first" in err and "vid_a" in err
    np.save(videos / "vid_a.npy", np.full((13, 32), np.inf, np.float32))
    assert main(["predict", str(oad_model), "--features", str(videos), "--out", str(out)]) == 2
    assert "non-finite" in capsys.readouterr().err


def test_stream_json_is_strict_json_even_from_a_broken_model(oad_model, videos, tmp_path, capsys):
    """A model whose weights went NaN scores NaN on finite features: ``--json`` refuses to print
    ``NaN`` (not JSON) and names the unit instead."""
    import shutil

    from safetensors.torch import load_file, save_file

    broken = tmp_path / "broken"
    shutil.copytree(oad_model, broken)
    weights = load_file(broken / "model.safetensors")
    save_file({k: torch.full_like(v, float("nan")) if v.is_floating_point() else v for k, v in weights.items()}, broken / "model.safetensors")
    assert main(["stream", str(broken), str(videos / "vid_a.npy"), "--json"]) == 2
    captured = capsys.readouterr()
    assert "non-finite scores at unit 0" in captured.err and "NaN" not in captured.out and "Traceback" not in captured.err


def test_predict_reads_features_with_the_source_the_model_recorded(tmp_path, capsys, perturb):
    """A model trained on ActivityNet-style C3D HDF5 features (``{type: HDF5Features, key:
    c3d_features}``) reads a new ``.h5`` file with that key; a folder of ``.npy`` is refused
    naming the source it expects."""
    h5py = pytest.importorskip("h5py")
    from videollm_core import REGISTRIES
    from videollm_core.cli.inference import task_metric_config

    pipeline = build_pipeline(load_config(ROOT / "examples" / "dense_caption.yaml")).eval()
    perturb(pipeline, scale=0.3)
    task, dim = pipeline.tasks[0], pipeline.encoder.in_dim
    source = {"type": "HDF5Features", "key": "c3d_features"}
    save_pretrained(pipeline, tmp_path / "model", inputs={task: {"fps": 1.0, "window": None, "source": source}})
    rng = np.random.default_rng(0)
    feats = {vid: rng.standard_normal((steps, dim)).astype(np.float32) for vid, steps in (("v_a", 12), ("v_b", 7))}
    with h5py.File(tmp_path / "c3d.hdf5", "w") as f:
        for vid, x in feats.items():
            f.create_group(vid).create_dataset("c3d_features", data=x)
            f[vid].create_dataset("other", data=np.zeros((3, 2)))  # two datasets: no guessing the key
    suffix = REGISTRIES.metrics.build(task_metric_config(pipeline.config, task), where="test").prediction_suffix
    out = tmp_path / f"pred{suffix}"
    assert main(["predict", str(tmp_path / "model"), "--features", str(tmp_path / "c3d.hdf5"), "--out", str(out)]) == 0, capsys.readouterr().err
    (tmp_path / "npy").mkdir()
    for vid, x in feats.items():
        np.save(tmp_path / "npy" / f"{vid}.npy", x)
    by_npy = tmp_path / f"npy_pred{suffix}"
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "model"), "--features", str(tmp_path / "npy"), "--out", str(by_npy)]) == 2
    err = capsys.readouterr().err
    assert "HDF5Features" in err and str(tmp_path / "npy") in err and "Traceback" not in err
    (tmp_path / "npy.yaml").write_text(f"type: NpyFeatures\ndir: {tmp_path / 'npy'}\n")  # the explicit way round
    assert main(["predict", str(tmp_path / "model"), "--features", str(tmp_path / "npy.yaml"), "--out", str(by_npy)]) == 0
    assert json.loads(out.read_text())["results"] == json.loads(by_npy.read_text())["results"]  # the same features, read both ways


def test_export_records_the_source_type_and_settings_not_its_location():
    from videollm_core.cli.export import task_inputs
    from videollm_core.data import VideoDataset

    class Clips(VideoDataset):
        fps, window = 2.0, 8.0

        def ground_truth(self):
            return {}

    dcfg = {"type": "Clips", "features": {"type": "HDF5Features", "path": "/data/c3d.hdf5", "key": "c3d_features", "fps": 2.0}}
    assert task_inputs(Clips(), dcfg) == {"fps": 2.0, "window": 8.0, "source": {"type": "HDF5Features", "key": "c3d_features"}}
    assert "source" not in task_inputs(Clips(), {"type": "Clips", "features_dir": "/data/npy"})
