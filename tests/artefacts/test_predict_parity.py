"""A trained model predicts on new data as its run did: for each of the nine tasks, a demo run
is exported, ``videollm predict`` reads the validation split (its features alone, or with the
split's annotation file in the benchmark's format where samples are anchored in it), and
``videollm evaluate`` scores the file against the split's official ground truth: the run's own
validation metrics come back (1e-6).

Among them the two cases that once went wrong: moment query (the model folder recorded frames
per second and a window in frames, read as steps per second and seconds: 2.97 average mAP where
the run scored 93.15) and Breakfast (channels-first MS-TCN features, per-frame answers).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from videollm_core.cli.commands import main, run_main

pytestmark = pytest.mark.slow  # nine tiny training runs

#: task -> (steps, what predict reads: "features" (a folder of the split's videos only) or the
#: config key of the split's annotation file, extra `videollm evaluate` options).
CASES = {
    "oad": (2, "features", []),
    "moment_query": (2, "annotation_file", ["-o", "subset=Test"]),  # durations from the file (features alone: below)
    "action_segmentation": (2, "features", []),
    "dense_caption": (4, "annotations", []),
    "anticipation": (2, "annotations", []),
    "online_caption": (2, "annotations", []),
    "lta": (2, "annotations", []),
    "nlq": (2, "annotation_file", []),
    "qvhighlights": (2, "annotation_file", []),
}


def _split_videos(task: str, val: dict) -> list[str]:
    """The validation split's video ids, read from its official files."""
    if task == "oad":
        root = Path(val["annotations"]).parent
        return [line.split(",")[0].strip() for line in (root / "validation_videos.csv").read_text().splitlines() if line.strip()]
    if task == "moment_query":
        database = json.loads(Path(val["annotation_file"]).read_text())["database"]
        return [vid for vid, item in database.items() if item["subset"] == val["split"]]
    if task == "action_segmentation":
        bundle = Path(val["data_root"]) / "splits" / f"{val['split']}.split{val['split_index']}.bundle"
        return [Path(line.strip()).stem for line in bundle.read_text().splitlines() if line.strip()]
    raise AssertionError(task)


def _ground_truth(task: str, val: dict, work: Path) -> str:
    """The split's ground truth in the form ``videollm evaluate TASK`` reads."""
    if task == "oad":
        return val["annotations"]
    if task == "moment_query":
        return val["annotation_file"]
    if task == "action_segmentation":
        return str(Path(val["data_root"]) / "splits" / f"{val['split']}.split{val['split_index']}.bundle")
    if task == "dense_caption":
        return ",".join(val["annotations"])
    return _annotations(task, val, work)


def _annotations(task: str, val: dict, work: Path) -> str:
    """The split's annotation file: the narrations of the split's videos for online captioning
    (the demo keeps every video's narrations in one file and lists each split's videos)."""
    if task == "online_caption":
        keep = {line.strip() for line in Path(val["videos"]).read_text().splitlines() if line.strip()}
        narrations = json.loads(Path(val["annotations"]).read_text())
        path = work / "narration_val.json"
        path.write_text(json.dumps({vid: item for vid, item in narrations.items() if vid in keep}))
        return str(path)
    if task == "dense_caption":
        return ",".join(val["annotations"])
    return val[CASES[task][1]]


@pytest.mark.parametrize("task", list(CASES))
def test_exported_model_predicts_the_runs_validation_metrics(task, tmp_path, monkeypatch, capsys):
    from videollm_core import REGISTRIES
    from videollm_core.cli.inference import task_metric_config
    from videollm_core.config import load_config

    monkeypatch.setenv("VIDEOLLM_CACHE", str(tmp_path / "cache"))
    steps, reads, options = CASES[task]
    assert main(["demo-data", task, "--out", str(tmp_path / "demo")]) == 0
    config = tmp_path / "demo" / "config.yaml"
    work, model = tmp_path / "work", tmp_path / "model"
    assert run_main([str(config), "--work-dir", str(work), "--quiet", "--cfg-options", f"train.max_steps={steps}",
                     f"train.eval_every={steps}", f"train.save_every={steps}"]) == 0, capsys.readouterr().err
    assert main(["export", str(work), "--out", str(model)]) == 0, capsys.readouterr().err
    info = json.loads((model / "videollm.json").read_text())
    want = {k.split("/", 1)[1]: v for k, v in info["metrics"].items() if k.startswith(f"{task}/")}
    assert want, info["metrics"]

    val = dict(load_config(config)["data"]["val"])
    features = Path(val["features_dir"])
    metric_cfg = task_metric_config(load_config(model / "config.yaml"), task)
    suffix = REGISTRIES.metrics.build(metric_cfg, where="test").prediction_suffix
    predictions = tmp_path / f"predictions{suffix or ''}"
    argv = ["predict", str(model), "--out", str(predictions), "--quiet", "--batch-size", str(load_config(config)["data"]["batch_size"])]
    split = tmp_path / "val_features"  # a folder holding the split's videos only, as a user would give it
    if reads == "features" or task == "moment_query":
        split.mkdir()
        for vid in _split_videos(task, val):
            (split / f"{vid}.npy").symlink_to(features / f"{vid}.npy")
    if reads == "features":
        argv += ["--features", str(split)]
    else:
        argv += ["--features", str(features), "--annotations", _annotations(task, val, tmp_path)]
    got = _predict_and_score(argv, task, _ground_truth(task, val, tmp_path), predictions, options, capsys)
    print(f"\n{task}: run {want}\n{task}: predict + evaluate {got}")
    assert set(want) <= set(got)
    assert {k: got[k] for k in want} == pytest.approx(want, abs=1e-6)
    if task == "moment_query":  # features alone: each video's duration is its steps / steps per second, not the file's
        argv = [a for a in argv[: argv.index("--features")]] + ["--features", str(split)]
        alone = _predict_and_score(argv, task, _ground_truth(task, val, tmp_path), predictions, options, capsys)
        assert abs(alone["average_mAP"] - want["average_mAP"]) < 1.0, (alone, want)


def _predict_and_score(argv: list[str], task: str, ground_truth: str, predictions: Path, options: list[str], capsys) -> dict:
    """``videollm predict ARGV``, then ``videollm evaluate TASK`` of its file: the scores."""
    assert main(argv) == 0, capsys.readouterr().err
    capsys.readouterr()
    assert main(["evaluate", task, "--ground-truth", ground_truth, "--predictions", str(predictions), "--json", *options]) == 0, \
        capsys.readouterr().err
    return json.loads(capsys.readouterr().out)
