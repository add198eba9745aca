"""Issue "Hostile data files": every text file the project reads fails clearly, and garbage is never scored.

Each reader of :mod:`videollm_core.paths` (``read_json``, ``read_jsonl``, ``read_text``,
``read_text_lines``) is bounded (``VIDEOLLM_MAX_FILE_BYTES``, gzip decompressed in chunks),
refuses text that is not UTF-8 naming the line and the byte offset, and refuses JSON nested
deeper than Python's parser takes naming line and column. A model folder's ``videollm.json``
is typed (:mod:`videollm_core.engine.model_info`). Through the CLI every case exits 2 with
one message naming the file and the place, and no traceback.
"""
from __future__ import annotations

import gzip
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from mutations import ROOT
from videollm_core.cli.commands import main
from videollm_core.errors import DataError

SMALL = ["data.train.demo.num_videos=4", "data.val.demo.num_videos=4"]
#: 200,000 nested brackets: Python's json raises RecursionError long before the end.
DEEP = "[" * 200_000 + "]" * 200_000


def _fails(argv: list[str], capsys, *needles: str) -> str:
    """Run the CLI: exit 2, stderr names every needle, no traceback; returns stderr."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    for needle in needles:
        assert needle in err, (needle, err)
    return err


def _demo(task: str, tmp_path: Path) -> Path:
    """The folder of a task's demo data in its benchmark's layout (``videollm demo-data``)."""
    assert main(["demo-data", task, "--out", str(tmp_path / "demo"), "--quiet"]) == 0
    (folder,) = (tmp_path / "demo" / "data").iterdir()
    return folder


# -- JSON and JSON Lines through `videollm evaluate` ---------------------------------------
@pytest.mark.parametrize("task, ground_truth, suffix", [("qvhighlights", "highlight_val_release.jsonl", ".jsonl"),
                                                        ("moment_query", "annotations.json", ".json")])
def test_deeply_nested_predictions_exit_2_naming_the_line(task, ground_truth, suffix, tmp_path, capsys, isolated_cli):
    gt = _demo(task, tmp_path) / ground_truth
    preds = tmp_path / f"preds{suffix}"
    preds.write_text(('{"qid": 1}\n' if suffix == ".jsonl" else "") + DEEP + "\n")
    line = 2 if suffix == ".jsonl" else 1
    err = _fails(["evaluate", task, "--ground-truth", str(gt), "--predictions", str(preds)], capsys,
                 f"{preds}:{line}: nested too deeply to parse", f"column {sys.getrecursionlimit()}")
    assert "RecursionError" not in err


@pytest.mark.parametrize("side", ["predictions", "ground truth"])
def test_non_utf8_jsonl_exits_2_naming_line_and_offset(side, tmp_path, capsys, isolated_cli):
    gt = _demo("qvhighlights", tmp_path) / "highlight_val_release.jsonl"
    bad = tmp_path / "latin1.jsonl"
    bad.write_bytes(gt.read_bytes().split(b"\n")[0] + b'\n{"qid": 7, "query": "caf\xe9"}\n')
    offset = len(gt.read_bytes().split(b"\n")[0]) + 1 + len(b'{"qid": 7, "query": "caf')
    args = (bad, gt) if side == "predictions" else (gt, bad)
    argv = ["evaluate", "qvhighlights", "--ground-truth", str(args[1]), "--predictions", str(args[0])]
    err = _fails(argv, capsys, f"{bad}:2: not UTF-8 text: byte 0xe9 at offset {offset}")
    assert "UnicodeDecodeError" not in err


def test_a_gzip_bomb_is_refused_once_past_the_cap(tmp_path, capsys, monkeypatch, isolated_cli):
    gt = _demo("moment_query", tmp_path) / "annotations.json"
    bomb = tmp_path / "preds.json.gz"
    with gzip.open(bomb, "wb") as f:  # 32 MiB of blanks in a ~32 KiB file
        f.write(b'{"results": {}' + b" " * (32 << 20) + b"}")
    assert bomb.stat().st_size < 100_000
    monkeypatch.setenv("VIDEOLLM_MAX_FILE_BYTES", str(4 << 20))
    _fails(["evaluate", "moment_query", "--ground-truth", str(gt), "--predictions", str(bomb)], capsys,
           f"{bomb}: predictions file holds more than 4,194,304 bytes once decompressed", "VIDEOLLM_MAX_FILE_BYTES")


def test_the_size_cap_applies_to_plain_files_and_its_variable_is_checked(tmp_path, monkeypatch):
    from videollm_core.errors import ConfigError
    from videollm_core.paths import MAX_FILE_BYTES, max_file_bytes, read_json, read_text_lines

    assert max_file_bytes() == MAX_FILE_BYTES == 4 * 1024**3
    big = tmp_path / "big.json"
    big.write_text("[" + "0," * 1000 + "0]")
    monkeypatch.setenv("VIDEOLLM_MAX_FILE_BYTES", "1000")
    for reader in (read_json, read_text_lines):
        with pytest.raises(DataError, match="holds more than 1,000 bytes") as e:
            reader(big)
        assert e.value.where == str(big)
    for wrong in ("lots", "-5", "0", "1e9"):
        monkeypatch.setenv("VIDEOLLM_MAX_FILE_BYTES", wrong)
        with pytest.raises(ConfigError) as e:
            read_json(big)
        assert e.value.where == "VIDEOLLM_MAX_FILE_BYTES"


def test_damaged_gzip_and_bad_json_name_the_place(tmp_path):
    from videollm_core.paths import read_json, read_jsonl

    cut = tmp_path / "cut.json.gz"
    cut.write_bytes(gzip.compress(b'{"a": [1, 2, 3]}')[:-6])
    with pytest.raises(DataError, match="not a readable gzip file"):
        read_json(cut)
    broken = tmp_path / "broken.json"
    broken.write_text('{"a": 1,\n "b": ,}')
    with pytest.raises(DataError, match="not valid JSON .* at column 7") as e:
        read_json(broken)
    assert e.value.where == f"{broken}:2"
    rows = tmp_path / "rows.jsonl"
    rows.write_bytes(b'\xef\xbb\xbf{"a": 1}\n\n[1]\r\n{"b": 2}\r\n')  # a BOM, a blank line, CRLF, a list
    with pytest.raises(DataError, match="expected a JSON object on each line, got list") as e:
        read_jsonl(rows, expected=dict)
    assert e.value.where == f"{rows}:3"
    seen: list[DataError] = []
    assert read_jsonl(rows, expected=dict, on_error=seen.append) == [{"a": 1}, {"b": 2}]
    assert [x.where for x in seen] == [f"{rows}:3"]


# -- line-based files: txt and csv ------------------------------------------------------
def _bad_third_line(path: Path, good: list[str], compress: bool = False) -> Path:
    """``good[0]``, ``good[1]``, then ``good[2]`` with a Latin-1 byte: line 3 is not UTF-8."""
    data = "\n".join(good[:2]).encode() + b"\n" + good[2].encode().replace(b"e", b"\xe9", 1) + b"\n"
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def _line_readers():
    from videollm_plugins.tasks.action_segmentation import formats as msTCN
    from videollm_plugins.tasks.common import ek100
    from videollm_plugins.tasks.moment_query.formats import read_label_map
    from videollm_plugins.tasks.nlq.formats import load_charades_sta, read_charades_durations
    from videollm_plugins.tasks.online_caption.formats import read_video_list

    return {
        "mapping.txt": (msTCN.read_mapping, ["0 SIL", "1 pour_milk", "2 take_cup"]),
        "test.split1.bundle": (msTCN.read_bundle, ["P03_a.txt", "P04_b.txt", "P05_cereals.txt"]),
        "groundTruth.txt": (msTCN.read_frame_labels, ["SIL", "SIL", "take_cup"]),
        "P03_cereals": (msTCN.read_recognition, [msTCN.RECOGNITION_HEADER, "SIL SIL", "take_cup"]),  # an MS-TCN result file
        "videos.txt": (read_video_list, ["vid_a", "vid_b", "vid_e"]),
        "label_map.txt": (read_label_map, ['0\t"a"', '1\t"b"', '2\t"use_phone"']),
        "charades_sta_test.txt": (load_charades_sta, ["AO8RW 0.0 6.9##a person opens a door.", "Y6R7T 1.0 2.0##a person sits.",
                                                      "3MSZA 2.0 4.0##a person eats."]),
        "Charades_v1_test.csv": (read_charades_durations, ["id,length", "AO8RW,30.1", "Y6R7T,12.0e"]),
        "validation.csv": (ek100.read_segments, ["P01_11_0,P01_11,1,30,0,1,2", "P01_11_1,P01_11,31,60,0,1,2", "P01_12_0,P01_12,1,9,3,4,5e"]),
        "actions.csv": (ek100.read_actions, ["id,verb,noun,action", "0,0,1,take cup", "1,2,3,open the door"]),
        "EPIC_100_validation.csv": (ek100.read_official_segments, [",".join(ek100.OFFICIAL_COLUMNS), "a,P01_11,00:00:01.00,00:00:02.00,0,1",
                                                                  "b,P01_11,00:00:03.00,00:00:04.00,0,1e"]),
    }


@pytest.mark.parametrize("name, compress", [(name, False) for name in _line_readers()]
                         + [("Charades_v1_test.csv", True), ("validation.csv", True)])  # the csv readers take .gz too
def test_line_readers_name_the_line_of_a_bad_byte(name, compress, tmp_path):
    reader, good = _line_readers()[name]
    path = _bad_third_line(tmp_path / (name + (".gz" if compress else "")), good, compress)
    with pytest.raises(DataError, match=r"not UTF-8 text: byte 0xe9 at offset \d+") as e:
        reader(path)
    assert e.value.where == f"{path}:3"
    clean = tmp_path / ("clean_" + name)
    clean.write_text("\r\n".join(good) + "\r\n", encoding="utf-8")  # CRLF line ends read as plain lines
    try:
        reader(clean)
    except DataError as e:  # a row of the fixture the reader dislikes is fine; it is not about the encoding
        assert "UTF-8" not in str(e)


@pytest.mark.parametrize("argv_of", [
    lambda d: ["evaluate", "nlq", "--ground-truth", str(d / "charades_sta_test.txt"), "--predictions", str(d / "p.json")],
    lambda d: ["evaluate", "anticipation", "--ground-truth", str(d / "validation.csv"), "--predictions", str(d / "p.json")],
    lambda d: ["evaluate", "action_segmentation", "--ground-truth", str(d / "groundTruth"), "--predictions", str(d / "p.json")],
], ids=["nlq-charades-txt", "anticipation-ek100-csv", "action-segmentation-txt"])
def test_evaluate_refuses_a_non_utf8_ground_truth(argv_of, tmp_path, capsys, isolated_cli):
    readers = _line_readers()
    (tmp_path / "groundTruth").mkdir()
    (tmp_path / "p.json").write_text("{}")
    files = {"charades_sta_test.txt": tmp_path / "charades_sta_test.txt", "validation.csv": tmp_path / "validation.csv",
             "groundTruth.txt": tmp_path / "groundTruth" / "P03_cereals.txt"}
    for name, path in files.items():
        _bad_third_line(path, readers[name][1])
    argv = argv_of(tmp_path)
    target = next(p for p in files.values() if str(p).startswith(argv[3]))
    _fails(argv, capsys, f"{target}:3: not UTF-8 text: byte 0xe9")


# -- model folders: videollm.json and features manifests --------------------------------
@pytest.fixture(scope="module")
def saved_model(tmp_path_factory, demo_cache):
    """A tiny OAD model folder (random weights), saved once for the module."""
    from videollm_core import build_pipeline, load_config, save_pretrained

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VIDEOLLM_CACHE", str(demo_cache))
        mp.setenv("HF_HUB_OFFLINE", "1")
        pipeline = build_pipeline(load_config(ROOT / "examples" / "oad.yaml", SMALL)).eval()
        folder = tmp_path_factory.mktemp("models") / "oad"
        save_pretrained(pipeline, folder, inputs={pipeline.tasks[0]: {"fps": 4.0, "window": 2.0}})
    return folder, pipeline.encoder.in_dim


def _model_copy(saved_model, tmp_path: Path, change=None, raw: bytes | None = None) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(saved_model[0], folder)
    meta = folder / "videollm.json"
    if raw is not None:
        meta.write_bytes(raw)
    elif change is not None:
        meta.write_text(json.dumps({**json.loads(meta.read_text()), **change}))
    return folder


def _features(tmp_path: Path, dim: int) -> Path:
    folder = tmp_path / "features"
    folder.mkdir()
    np.save(folder / "vid_a.npy", np.random.default_rng(0).standard_normal((9, dim)).astype(np.float32))
    return folder


def _predict(model: Path, features: Path, tmp_path: Path) -> list[str]:
    return ["predict", str(model), "--features", str(features), "--out", str(tmp_path / "preds.json"), "--quiet"]


def test_a_sound_model_folder_predicts(saved_model, tmp_path, isolated_cli):
    model = _model_copy(saved_model, tmp_path)
    assert main(_predict(model, _features(tmp_path, saved_model[1]), tmp_path)) == 0


@pytest.mark.parametrize("change, needles", [
    ({"step": "x", "inputs": 5}, ["step: expected an integer, got 'x'", "inputs: expected a mapping, got 5"]),
    ({"inputs": {"oad": {"fps": "4", "window": -2, "class_names": ["a", 3]}}},
     ["inputs.oad.fps: expected a number, got '4'", "inputs.oad.window: expected a number > 0, got -2",
      "inputs.oad.class_names.1: expected a string, got 3"]),
    ({"inputs": {"oad": {"fps": 4.0, "dataset": {"type": 7}}}}, ["inputs.oad.dataset.type: expected a string, got 7"]),
    ({"extraction": {"backbone": 5, "fps": None}, "metrics": {"oad/mAP": "high"}},
     ["extraction.backbone: expected a mapping, got 5", "metrics.oad/mAP: expected a number, got 'high'"]),
    ({"format": "1", "tasks": "oad", "base_model": {"revision": "main"}},
     ["format: expected an integer, got '1'", "tasks: expected a list, got 'oad'", "base_model.name_or_path: missing"]),
], ids=["step-and-inputs", "task-inputs", "dataset", "extraction-and-metrics", "format-tasks-base-model"])
def test_a_mistyped_videollm_json_exits_2_naming_the_keys(change, needles, saved_model, tmp_path, capsys, isolated_cli):
    model = _model_copy(saved_model, tmp_path, change)
    err = _fails(_predict(model, _features(tmp_path, saved_model[1]), tmp_path), capsys,
                 f"{model / 'videollm.json'}: wrong value types: ", *needles)
    assert "AttributeError" not in err


@pytest.mark.parametrize("raw, needle", [
    (b'{"format": 1, "name": "caf\xe9"}', "videollm.json:1: not UTF-8 text: byte 0xe9 at offset 26"),
    (DEEP.encode(), "videollm.json:1: nested too deeply to parse"),
    (b"[1, 2]", "videollm.json: expected a JSON object"),
    (b'{"format": 99}', "videollm.json: written by a newer videollm-core (format 99"),
], ids=["latin1", "deep", "a-list", "newer-format"])
def test_an_unreadable_videollm_json_exits_2(raw, needle, saved_model, tmp_path, capsys, isolated_cli):
    model = _model_copy(saved_model, tmp_path, raw=raw)
    _fails(_predict(model, _features(tmp_path, saved_model[1]), tmp_path), capsys, needle)


@pytest.mark.parametrize("raw, needle", [(b'{"fps": 4.0, "backbone": "caf\xe9"}', "manifest.json:1: not UTF-8 text"),
                                         (DEEP.encode(), "manifest.json:1: nested too deeply to parse"),
                                         (b'"just a string"', "manifest.json: expected a JSON object")])
def test_a_hostile_features_manifest_exits_2(raw, needle, saved_model, tmp_path, capsys, isolated_cli):
    model = _model_copy(saved_model, tmp_path)
    features = _features(tmp_path, saved_model[1])
    (features / "manifest.json").write_bytes(raw)
    _fails(_predict(model, features, tmp_path), capsys, needle)


# -- metrics.jsonl: a damaged line is left out, never fatal -------------------------------
DAMAGED_LINES = b'{"split": "val", "step": 2, "oad/mAP": \xff}\n' + DEEP.encode() + b'\n[1, 2]\n{"split": "val", "st'


def test_run_scores_and_resume_leave_damaged_metrics_lines_out(tmp_path, caplog):
    from videollm_core.cli.export import run_scores
    from videollm_core.engine.logs import MetricsLog

    log = tmp_path / "metrics.jsonl"
    log.write_bytes(b'{"split": "train", "step": 1, "loss": 2.0}\n{"split": "val", "step": 2, "oad/mAP": 0.25}\n' + DAMAGED_LINES)
    with caplog.at_level("WARNING", logger="videollm"):
        assert run_scores(tmp_path, 2) == {"oad/mAP": 0.25}
    assert f"{log}:3: not UTF-8 text" in caplog.text and f"{log}:4: nested too deeply" in caplog.text
    assert f"{log}:5: expected a JSON object" in caplog.text and f"{log}:6: not valid JSON" in caplog.text
    assert [r["step"] for r in MetricsLog(tmp_path, resume_step=2).history] == [1, 2]
    assert log.read_text(encoding="utf-8").count("\n") == 2  # rewritten without the damaged lines


@pytest.mark.slow
def test_export_survives_a_damaged_metrics_line(tmp_path, capsys, caplog, isolated_cli):
    from videollm_core.config import load_config
    from videollm_core.engine.runner import Runner
    from videollm_core.validation import validate_config

    options = ["train.max_steps=2", "train.eval_every=2", "train.log_every=1", *SMALL, "data.batch_size=4",
               f"work_dir={tmp_path / 'run'}"]
    cfg = load_config(ROOT / "examples" / "oad.yaml", options)
    validate_config(cfg)
    Runner(cfg).train()
    log = tmp_path / "run" / "metrics.jsonl"
    scores = [json.loads(line) for line in log.read_text().splitlines() if '"val"' in line][-1]
    with open(log, "ab") as f:
        f.write(DAMAGED_LINES)
    with caplog.at_level("WARNING", logger="videollm"):
        assert main(["export", str(tmp_path / "run"), "--out", str(tmp_path / "model"), "--quiet"]) == 0
    info = json.loads((tmp_path / "model" / "videollm.json").read_text())
    assert info["metrics"] == {k: v for k, v in scores.items() if "/" in k and isinstance(v, (int, float))} != {}
    assert "Traceback" not in capsys.readouterr().err
    assert f"{log}:" in caplog.text and "not UTF-8 text" in caplog.text and "the line is left out" in caplog.text


def test_an_npz_whose_header_claims_a_huge_array_is_refused_before_allocating(tmp_path, monkeypatch):
    """A forged ``.npy`` header ([1e9, 4096] float32, 16 TB) and an honest one over the cap: both a
    DataError naming the file, never a MemoryError."""
    import io
    import zipfile

    import numpy as np

    from videollm_core.errors import DataError
    from videollm_plugins.features.npz import NpzFeatures

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (10**9, 4096)})
    with zipfile.ZipFile(tmp_path / "forged.npz", "w") as archive:
        archive.writestr("features.npy", header.getvalue() + bytes(64))
    np.savez_compressed(tmp_path / "zeros.npz", features=np.zeros((4096, 64), np.float32))  # 1 MiB deflated to a few KiB
    np.savez(tmp_path / "fine.npz", features=np.ones((3, 2), np.float32))
    source = NpzFeatures(str(tmp_path))
    with pytest.raises(DataError, match=r"forged\.npz.*16,384,000,000,000 bytes"):
        source.read("forged")
    monkeypatch.setenv("VIDEOLLM_MAX_FILE_BYTES", str(512 * 1024))
    with pytest.raises(DataError, match=r"zeros\.npz.*over the limit of 524,288"):
        source.read("zeros")
    assert source.read("fine").shape == (3, 2)
