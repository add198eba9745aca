"""Predictions go to disk as they are made: the runner hands each batch to the metric's writer;
the OAD writer stores a video as soon as it is complete (a few videos in memory, never the
split); the anticipation submission is written segment by segment; metrics without a writer
get the buffered default, which writes what ``format_predictions`` + ``save_predictions`` did."""
from __future__ import annotations

import json

import numpy as np

from videollm_core.engine.prediction_writer import BufferedWriter, open_writer
from videollm_plugins.tasks.anticipation.metric import AnticipationMetric
from videollm_plugins.tasks.lta.metric import LTAMetric
from videollm_plugins.tasks.oad.metric import OADMetric
from videollm_plugins.tasks.oad.formats import INDEX, ScoreWriter, open_scores
from shared_paths import REPO


def test_runner_streams_oad_scores_to_the_compact_folder(tmp_path, monkeypatch):
    from videollm_core.config import load_config
    from videollm_core.engine.runner import Runner

    open_counts, done_before_close = [], []
    real_write, real_close = ScoreWriter.write, ScoreWriter.close

    def write(self, entries):
        real_write(self, entries)
        open_counts.append(len(self._open))

    def close(self):
        done_before_close.append(len(self._done))
        return real_close(self)

    monkeypatch.setattr(ScoreWriter, "write", write)
    monkeypatch.setattr(ScoreWriter, "close", close)
    runner = Runner(load_config(REPO / "examples" / "oad.yaml", [f"work_dir={tmp_path / 'work'}"]))
    scores = runner.evaluate("val", checkpoint=None)
    folder = tmp_path / "work" / "predictions" / "oad_val"
    ds = runner.dataset(runner.specs[0], "val")
    videos = ds.ground_truth().labels
    assert (folder / INDEX).is_file() and sorted(p.stem for p in folder.glob("*.npz")) == sorted(videos)
    assert max(open_counts) <= 2 and done_before_close[0] >= len(videos) - 2  # stored as they complete
    read = open_scores(folder)
    assert read[next(iter(videos))]["action"].dtype == np.float16
    again = OADMetric().evaluate(read, ds.ground_truth())
    assert again["mAP"] == scores["oad/mAP"] and again["action/mean_top5_recall"] == scores["oad/action/mean_top5_recall"]


def test_anticipation_submission_written_segment_by_segment(tmp_path):
    rng = np.random.default_rng(0)
    entries = [{"narration_id": f"P01_01_{i}", "verb": rng.random(4), "noun": rng.random(6)} for i in range(5)]
    metric = AnticipationMetric()
    writer = open_writer(metric, tmp_path / "sub.json")
    writer.write(entries[:2])
    assert not (tmp_path / "sub.json").exists()  # a partial file never has the final name
    writer.write(entries[2:])
    read = writer.close()
    expected = metric.format_predictions(entries)
    assert read == json.loads(json.dumps(expected))
    assert json.loads((tmp_path / "sub.json").read_text())["challenge"] == "action_anticipation"


def test_metrics_without_a_writer_get_the_buffered_one(tmp_path):
    metric = LTAMetric()
    assert metric.open_writer(tmp_path / "unused.json") is None  # the base default: no streaming writer
    writer = open_writer(metric, tmp_path / "sub" / "lta.json")
    assert isinstance(writer, BufferedWriter)
    entries = [{"key": "clip_3", "verb": [[1] * 20] * 5, "noun": [[2] * 20] * 5}]
    writer.write(entries)
    got = writer.close()
    assert got == metric.format_predictions(entries)
    assert json.loads((tmp_path / "sub" / "lta.json").read_text()) == json.loads(json.dumps(got))
