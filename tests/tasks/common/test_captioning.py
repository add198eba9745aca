"""coco-caption scorers through pycocoevalcap (one JVM run per test: a few seconds each)."""
from __future__ import annotations

import math

import pytest

from videollm_plugins.tasks.common import meteor
from videollm_plugins.tasks.common.captioning import meteor_available, score_captions, simple_ptb_tokenize


def test_exact_match_and_hand_checked_values():
    refs = {"a": ["#C C takes the knife"], "b": ["C cuts the onion."]}
    cands = {"a": "#C C takes the knife", "b": "c cuts the onion"}
    s = score_captions(cands, refs, metrics=("BLEU@1", "BLEU@4", "ROUGE_L", "CIDEr"))
    assert s["BLEU@1"] == pytest.approx(1.0, abs=1e-6) and s["BLEU@4"] == pytest.approx(1.0, abs=1e-6)
    assert s["ROUGE_L"] == pytest.approx(1.0)
    # CIDEr-D of a perfect corpus of 2 captions: IDF over 2 references; identical texts give 10 x mean cos = 10 (x sigma penalty 1)
    assert s["CIDEr"] == pytest.approx(10.0, rel=1e-6)


@pytest.mark.skipif(not meteor_available(), reason="METEOR needs Java")
def test_meteor_and_empty_candidate_scores_zero():
    refs = {1: ["a man cuts the onion"], 2: ["c takes the knife"]}
    s = score_captions({1: "", 2: "c takes a knife"}, refs, metrics=("METEOR", "BLEU@4"))
    assert 0.0 < s["METEOR"] < 1.0 and s["BLEU@4"] < 0.01


def test_errors_and_empty_input():
    with pytest.raises(ValueError, match="same ids"):
        score_captions({"a": "x"}, {"b": ["x"]})
    with pytest.raises(ValueError, match="unknown"):
        score_captions({}, {}, metrics=("SPICE",))
    assert score_captions({}, {}, metrics=("BLEU@4", "CIDEr")) == {"BLEU@4": 0.0, "CIDEr": 0.0}


def test_without_java_meteor_is_skipped_not_faked(monkeypatch):
    monkeypatch.setattr(meteor.shutil, "which", lambda name: None)  # no java on PATH
    with pytest.warns(RuntimeWarning, match="METEOR skipped"):
        s = score_captions({"a": "C takes the knife"}, {"a": ["C takes the knife"]}, metrics=("METEOR", "ROUGE_L"))
    assert "METEOR" not in s and s["ROUGE_L"] == pytest.approx(1.0)
    assert simple_ptb_tokenize("C takes the knife, then... it's done!") == "c takes the knife then it 's done"
    assert not math.isnan(s["ROUGE_L"])
