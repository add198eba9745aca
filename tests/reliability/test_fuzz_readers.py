"""Issue "Hostile data files" part 4: a fuzzer over every reader of the project's data files.

Each reader gets a valid file of its kind (from the tasks' demo data, or a saved tiny model)
with one damage (:mod:`file_mutations`): truncated, stray bytes, a value of another type, NaN,
huge numbers, deep nesting, empty, Latin-1, doubled. The property, for every example:

- the reader returns a result, or raises a :class:`~videollm_core.errors.UserError` (the CLI
  prints it and exits 2); never another exception;
- within :data:`SECONDS` (no hang) and :data:`MEMORY` bytes of Python allocations (numpy's
  included), with the file-size cap lowered to 8 MiB (``VIDEOLLM_MAX_FILE_BYTES``).

The readers: every task's predictions (read, then scored against its ground truth where
scoring needs no Java), every task's ground truth, every dataset's annotation file (the dataset
built on it), feature files (``.npy``, ``.npz``, ``predict``'s reader), feature manifests, and
model folders (``videollm.json``, ``config.yaml``, ``model.safetensors`` through
``VideoLLM.from_pretrained``). The examples are derandomized and bounded (``fuzz``), so CI runs
the same cases in well under a minute; ``VIDEOLLM_FUZZ_EXAMPLES=N`` hunts with N random ones.
A planted bug (a reader that lets a ``TypeError`` out) must make the fuzzer fail.
"""
from __future__ import annotations

import json
import shutil
import signal
import tempfile
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import yaml
from hypothesis import given, note
from hypothesis.errors import HypothesisException

from file_mutations import damaged
from fuzz_strategies import fuzz
from mutations import ROOT
from submissions import demo_ground_truth, metric_of, valid, write
from videollm_core.errors import UserError

SECONDS = 60
MEMORY = 512 * 2 ** 20
MAX_FILE_BYTES = str(8 * 2 ** 20)
TASKS = ("oad", "anticipation", "lta", "online_caption", "moment_query", "nlq", "qvhighlights", "action_segmentation", "dense_caption")
#: scoring these runs coco-caption's METEOR on Java: their predictions are read, not scored, per example.
JAVA_SCORED = ("online_caption", "dense_caption")
#: the dataset argument naming the annotation file the fuzzer damages, and other tables to keep in place.
ANNOTATION_ARG = {"EK100OADDataset": "annotations", "EK100AnticipationDataset": "annotations", "Ego4DLTADataset": "annotations",
                  "Ego4DNarrationDataset": "annotations", "ActivityNetCaptionsDataset": "annotations", "BreakfastDataset": "mapping"}


@dataclass
class Reader:
    """A reader under test: ``read(path)`` is given ``root`` (a file or a folder) after ``target``
    (``root`` itself, or a file inside it) was damaged."""

    name: str
    root: Path
    target: Path
    read: Callable[[Path], Any]
    examples: int = 25


class Hang(Exception):
    """A reader ran past :data:`SECONDS`."""


def _alarm(signum, frame):
    raise Hang(f"no answer after {SECONDS} s")


def check_reader(read: Callable[[Path], Any], path: Path) -> None:
    """The property: ``read(path)`` returns or raises a UserError, in bounded time and memory."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(SECONDS)
    tracemalloc.start()
    try:
        read(path)
    except UserError:
        pass
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < MEMORY, f"{peak:,} bytes allocated reading {path}"


def fuzz_reader(reader: Reader) -> None:
    """Run the property over damaged copies of ``reader``'s file (hypothesis; shrinks a failure)."""
    seed = reader.target.read_bytes()
    inside = reader.target.relative_to(reader.root) if reader.target != reader.root else None

    @fuzz(reader.examples)
    @given(data=damaged(seed))
    def run(data: bytes) -> None:
        with tempfile.TemporaryDirectory(prefix="videollm-fuzz-file-") as d:
            copy = Path(d) / reader.root.name
            (shutil.copytree if reader.root.is_dir() else shutil.copy2)(reader.root, copy)
            (copy / inside if inside else copy).write_bytes(data)
            note(f"reader: {reader.name}")
            check_reader(reader.read, copy)

    run()


# -- the readers ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demos(tmp_path_factory, demo_cache) -> dict[str, tuple[str, dict]]:
    """``task -> (ground-truth argument, the demo config)`` of every task's demo data."""
    out = {}
    for task in TASKS:
        folder = tmp_path_factory.mktemp(f"demo_{task}")
        out[task] = (demo_ground_truth(task, folder, demo_cache), yaml.safe_load((folder / "config.yaml").read_text()))
    return out


def prediction_readers(task: str, ground_truth: str, folder: Path) -> list[Reader]:
    metric = metric_of(task)
    truth = metric.load_ground_truth(ground_truth)
    root = write(task, valid(task, ground_truth), folder / f"pred_{task}{'' if task == 'action_segmentation' else '.json'}")
    target = sorted(root.iterdir())[0] if root.is_dir() else root

    def read(path: Path) -> Any:
        predictions = metric_of(task).load_predictions(path)
        return predictions if task in JAVA_SCORED else metric.evaluate(predictions, truth)

    return [Reader(f"{task} predictions", root, target, read)]


def truth_readers(task: str, ground_truth: str) -> list[Reader]:
    first = Path(ground_truth.split(",")[0])
    if task == "action_segmentation":  # the bundle names files of groundTruth/ beside it: damage one of those
        gt_dir = first.parent.parent / "groundTruth"
        return [Reader("MS-TCN ground truth", gt_dir, sorted(gt_dir.glob("*.txt"))[0], lambda p: metric_of(task).load_ground_truth(p))]
    return [Reader(f"{task} ground truth", first, first, lambda p: metric_of(task).load_ground_truth(p))]


def annotation_readers(task: str, config: dict) -> list[Reader]:
    """The task's dataset built on a damaged annotation file (its other files in place)."""
    from videollm_core.plugins import REGISTRIES

    val = dict(config["data"]["val"])
    arg = ANNOTATION_ARG.get(val["type"], "annotation_file")
    if arg == "mapping":
        file = Path(val["data_root"]) / "mapping.txt"
    else:
        file = Path(val[arg][0] if isinstance(val[arg], list) else val[arg])
    keep = {}
    if val["type"] in ("EK100OADDataset", "EK100AnticipationDataset"):
        keep["actions"] = str(file.parent / "actions.csv")
    if val["type"] == "Ego4DLTADataset":
        keep["taxonomy"] = str(file.parent / "fho_lta_taxonomy.json")
    dim = config["model"]["encoder"]["in_dim"]

    def read(path: Path) -> Any:
        value = [str(path)] if isinstance(val.get(arg), list) else str(path)
        return REGISTRIES.datasets.build({**val, **keep, arg: value, "feature_dim": dim}, where="fuzz")

    return [Reader(f"{val['type']} annotations", file, file, read, examples=8)]


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory) -> Path:
    from videollm_core import build_pipeline, load_config, save_pretrained

    pipeline = build_pipeline(load_config(ROOT / "examples" / "oad.yaml", ["data.train.demo.num_videos=4", "data.val.demo.num_videos=4"]))
    folder = tmp_path_factory.mktemp("model") / "oad"
    save_pretrained(pipeline.eval(), folder, inputs={"oad": {"fps": 4.0, "window": 2.0, "class_names": ["a", "b"]}})
    return folder


def model_readers(folder: Path) -> list[Reader]:
    from videollm_core import VideoLLM
    from videollm_core.engine.pretrained import read_info

    return [Reader("videollm.json", folder, folder / "videollm.json", read_info, examples=20),
            Reader("config.yaml", folder, folder / "config.yaml", VideoLLM.from_pretrained, examples=8),
            Reader("model.safetensors", folder, folder / "model.safetensors", VideoLLM.from_pretrained, examples=6)]


def feature_readers(config: dict, folder: Path) -> list[Reader]:
    from videollm_core.cli.inference import check_manifest, video_features
    from videollm_plugins.features.npz import NpzFeatures
    from videollm_plugins.tasks.common.features import FeatureStore

    source = sorted(Path(config["data"]["val"]["features_dir"]).glob("*.npy"))[0]
    npy, npz = folder / "npy", folder / "npz"
    npy.mkdir()
    npz.mkdir()
    shutil.copy2(source, npy / "v.npy")
    np.savez(npz / "v.npz", features=np.load(source))
    (npy / "manifest.json").write_text(json.dumps({"backbone": "some/vit", "fps": 4.0, "image_size": 224, "videos": {"v": {"file": "v.npy"}}}))
    dim = int(np.load(source).shape[1])
    return [
        Reader(".npy features", npy, npy / "v.npy", lambda p: FeatureStore(p, dim, 4.0)("v")),
        Reader(".npy for predict", npy, npy / "v.npy", lambda p: list(video_features(p, 4.0, dim))),
        Reader(".npz features", npz, npz / "v.npz", lambda p: NpzFeatures(str(p), 4.0).read("v")),
        Reader("features manifest", npy, npy / "manifest.json",
               lambda p: check_manifest(p, {"fps": 4.0}, {"extraction": {"backbone": "some/vit"}}, fps_given=False), examples=20),
    ]


@pytest.fixture
def bounded(monkeypatch, isolated_cli):
    monkeypatch.setenv("VIDEOLLM_MAX_FILE_BYTES", MAX_FILE_BYTES)


# -- the tests ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("task", TASKS)
def test_predictions_ground_truth_and_annotations(task, demos, tmp_path, bounded):
    ground_truth, config = demos[task]
    for reader in [*prediction_readers(task, ground_truth, tmp_path), *truth_readers(task, ground_truth), *annotation_readers(task, config)]:
        fuzz_reader(reader)


def test_features_and_manifests(demos, tmp_path, bounded):
    for reader in feature_readers(demos["oad"][1], tmp_path):
        fuzz_reader(reader)


def test_model_folders(model_folder, bounded):
    for reader in model_readers(model_folder):
        fuzz_reader(reader)


def test_a_planted_reader_bug_fails_the_fuzzer(tmp_path, bounded):
    """A reader that trusts a field's type (a TypeError on ``"x" + 1``) must be caught."""
    from videollm_core.paths import read_json

    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"results": {"v": [{"segment": [1.0, 2.0], "score": 0.5}, {"segment": [3.0, 4.0], "score": 0.25}]}}))

    def planted(path: Path) -> float:
        return sum(entry["score"] + 1 for entry in read_json(path)["results"]["v"])  # no check of the entry's type

    with pytest.raises(BaseException) as caught:
        fuzz_reader(Reader("planted", seed, seed, planted, examples=60))
    found = list(getattr(caught.value, "exceptions", [caught.value]))  # an exception group lists them (no BaseExceptionGroup on 3.10)
    assert any(isinstance(e, TypeError) for e in found), found  # the planted bug, found and reported
    assert not any(isinstance(e, (UserError, HypothesisException)) for e in found), found
