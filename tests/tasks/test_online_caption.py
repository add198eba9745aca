"""Online captioning: Ego4D narration schema reader (fixtures), the coco-caption metric with
its edge cases, and the head's teacher forcing / generation through a tiny real GPT-2."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from videollm_core.errors import DataError
from videollm_plugins.tasks.online_caption import formats
from videollm_plugins.tasks.online_caption.dataset import Ego4DNarrationDataset
from videollm_plugins.tasks.online_caption.metric import OnlineCaptionMetric
from training import fit

FIXTURE = {
    "vid-a": {"status": "complete",
              "narration_pass_1": {"narrations": [
                  {"timestamp_sec": 1.5, "timestamp_frame": 45, "narration_text": "#C C takes the knife", "annotation_uid": "u1"},
                  {"timestamp_sec": 4.0, "timestamp_frame": 120, "narration_text": "#C C cuts the onion #unsure", "annotation_uid": "u1"},
                  {"timestamp_sec": 6.0, "timestamp_frame": 180, "narration_text": "#O The man X opens the tap", "annotation_uid": "u1"}],
                  "summaries": []},
              "narration_pass_2": {"narrations": [
                  {"timestamp_sec": 2.0, "timestamp_frame": 60, "narration_text": "#C C picks a knife", "annotation_uid": "u2"}]}},
    "vid-b": {"status": "redacted"},  # a video without narrations (real quirk)
}


def write_fixture(tmp_path, data=FIXTURE):
    (tmp_path / "narration.json").write_text(json.dumps(data))
    (tmp_path / "f").mkdir(exist_ok=True)
    np.save(tmp_path / "f" / "vid-a.npy", np.ones((16, 4), np.float32))  # 8 s at 2 steps/s
    return tmp_path / "narration.json"


def test_reader_ids_tags_unsure_and_passes(tmp_path):
    path = write_fixture(tmp_path)
    items = formats.read_narrations(path)
    assert [(n.narration_id, n.text) for n in items] == [("vid-a:narration_pass_1:0", "C takes the knife"),
                                                          ("vid-a:narration_pass_1:2", "The man X opens the tap")]
    both = formats.read_narrations(path, ("narration_pass_1", "narration_pass_2"), skip_unsure=False, strip_tags=False)
    assert len(both) == 4 and both[1].text == "#C C cuts the onion #unsure"
    bad = json.loads(json.dumps(FIXTURE))
    del bad["vid-a"]["narration_pass_1"]["narrations"][0]["narration_text"]
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(DataError, match="narrations\\[0\\]"):
        formats.read_narrations(tmp_path / "bad.json")


def test_dataset_windows_are_online(tmp_path):
    path = write_fixture(tmp_path)
    ds = Ego4DNarrationDataset(annotations=str(path), features_dir=str(tmp_path / "f"), fps=2.0, window_before=1.0, window_after=0.5,
                               feature_dim=4)
    assert len(ds) == 2 and ds.head_args() == {}
    s = ds[0]  # narration at 1.5 s: steps covering [0.5, 2.0] s
    assert s["timestamps"][0, 0] == 0.5 and s["timestamps"][-1, 1] == 2.0 and s["targets"]["caption"] == "C takes the knife"
    batch = ds.collate([ds[0], ds[1]])
    assert batch.targets["caption"] == ["C takes the knife", "The man X opens the tap"]
    with pytest.raises(DataError, match="after the features end"):
        Ego4DNarrationDataset(annotations=str(path), features_dir=str(tmp_path / "f"), fps=4.0)
    assert len(Ego4DNarrationDataset(annotations=str(path), features_dir=str(tmp_path / "f"), fps=4.0, on_error="skip")) == 1


def test_metric_perfect_wrong_missing_and_empty(tmp_path):
    path = write_fixture(tmp_path)
    m = OnlineCaptionMetric()
    gt = m.load_ground_truth(path)
    perfect = {"results": [{"narration_id": k, "caption": v[0]} for k, v in gt.items()]}
    out = m.evaluate(perfect, gt)
    assert list(out) == ["BLEU@4", "METEOR", "ROUGE_L", "CIDEr"]
    assert out["BLEU@4"] == pytest.approx(100.0, abs=1e-4) and out["ROUGE_L"] == pytest.approx(100.0)
    assert out["CIDEr"] == pytest.approx(1000.0, rel=1e-6)  # CIDEr-D x10, x100
    assert math.isnan(out["METEOR"]) or out["METEOR"] == pytest.approx(100.0)
    empty = {"results": [{"narration_id": k, "caption": ""} for k in gt]}
    low = m.evaluate(empty, gt)
    assert low["CIDEr"] == 0.0 and low["ROUGE_L"] == 0.0
    with pytest.raises(DataError, match="no caption"):
        m.evaluate({"results": perfect["results"][:1]}, gt)


@pytest.fixture(scope="module")
def pipeline():
    from videollm_core.pipeline import build_pipeline

    torch.manual_seed(0)
    cfg = {"model": {"encoder": {"type": "TemporalUnitEncoder", "in_dim": 4, "unit_size": 1, "pooling": "mean"},
                     "translator": {"type": "LinearTranslator"},
                     "llm": {"type": "HFCausalLM", "tokenizer": {"words": ["c", "takes", "the", "knife", "opens", "tap"]},
                             "config": {"model_type": "gpt2", "n_layer": 2, "n_embd": 32, "n_head": 2, "n_positions": 128,
                                        "bos_token_id": None, "eos_token_id": None}},
                     "tuner": {"type": "Full"}, "head": {"type": "OnlineCaptionHead", "max_new_tokens": 6}, "prompt": "narrate"}}
    return build_pipeline(cfg)


def test_teacher_forcing_learns_and_generation_stops_at_eos(pipeline):
    from videollm_core.base import pad_collate

    samples = [{"features": np.full((3, 4), 1.0, np.float32), "timestamps": np.array([[0, 1], [1, 2], [2, 3]], np.float32),
                "targets": {"caption": "c takes the knife"}, "meta": {"video_id": "a", "narration_id": "a:p:0"}},
               {"features": np.full((2, 4), -1.0, np.float32), "timestamps": np.array([[0, 1], [1, 2]], np.float32),
                "targets": {"caption": "c opens the tap"}, "meta": {"video_id": "b", "narration_id": "b:p:0"}}]
    batch = pad_collate(samples)
    head = pipeline.heads["online_caption" if "online_caption" in pipeline.heads else pipeline.tasks[0]]
    out = pipeline(batch)
    assert out["logits"].shape[:2] == (2, 5) and out["targets"][0].tolist()[-1] == pipeline.llm.eos_token_id
    # teacher forcing through the cache equals running the LLM over [stream][caption] in one pass (no dropout)
    llm = pipeline.llm
    pipeline.eval()
    with torch.no_grad():
        hidden, stream = pipeline.encode(batch)
        out = head.teacher_forcing(hidden, stream, ["c takes the knife", "c opens the tap"])
        ids, mask = llm.tokenize(["c takes the knife"])
        _, stream = pipeline.encode(batch)
        full = torch.cat([stream.embeds[:1, : int(stream.mask[0].sum())], llm.embed_text(ids)], 1)
        hid, _ = llm(full, torch.ones(full.shape[:2], dtype=torch.bool))
        ref = llm.lm_logits(hid[:, int(stream.mask[0].sum()) - 1 :])
    assert torch.allclose(out["logits"][0], ref[0], atol=1e-4)
    pipeline.train()
    first, last = fit(lambda: pipeline.loss(pipeline(batch), batch)["loss"], [p for p in pipeline.parameters() if p.requires_grad], 40, 1e-2)
    assert last < 0.1 * first
    pipeline.eval()
    entries = pipeline.predict(pipeline(batch), batch)
    assert [e["caption"] for e in entries] == ["c takes the knife", "c opens the tap"]
    assert entries[0]["narration_id"] == "a:p:0"
    pipeline.train()
    assert head.needs_cache
