"""``videollm evaluate anticipation`` on the official ``EPIC_100_validation.csv`` (verb/noun classes,
actions as verb-noun pairs, no RULSTM ``actions.csv``) with a submission holding only verb and
noun scores, against an independent numpy re-statement of the logic of
``epic-kitchens/C3-Action-Anticipation`` ``evaluate_anticipation_json_ek100.py`` (METRICS.md §2.6):
actions derived from the top-100 verb and noun softmaxes, class-mean top-5 recall over the
classes present, overall / unseen / tail subsets."""
from __future__ import annotations

import csv
import json
import subprocess

import numpy as np
import pytest

from videollm_plugins.tasks.anticipation.metric import AnticipationMetric
from shared_paths import SHARED_DATA, needs_shared_data

OFFICIAL = SHARED_DATA / "epic_kitchens_100" / "official"
pytestmark = needs_shared_data("epic_kitchens_100/official", "epic_kitchens_100/rulstm_ek100/validation.csv")


def column(name, key):
    with open(OFFICIAL / name, newline="") as f:
        return [r[key] for r in csv.DictReader(f)]


def softmax(x):
    e = np.exp(x - x.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def mean_top5_recall(ranks, labels):
    hits = (ranks[:, :5] == labels[:, None]).any(1)
    return float(np.mean([hits[labels == c].mean() for c in np.unique(labels)]))


def reference(verb, noun, gt):
    """The official script's steps on score arrays (distinct scores, so its unstable sorts agree)."""
    rows = np.arange(len(verb))[:, None]
    top_v, top_n = np.argsort(verb)[:, ::-1][:, :100], np.argsort(noun)[:, ::-1][:, :100]
    joint = softmax(verb[rows, top_v])[:, :, None] * softmax(noun[rows, top_n])[:, None, :]
    order = joint.reshape(len(verb), -1).argsort(-1)[:, ::-1][:, :100]
    vi, ni = np.unravel_index(order, joint.shape[1:])
    ranks = {"verb": np.argsort(verb)[:, ::-1], "noun": np.argsort(noun)[:, ::-1],
             "action": top_v[rows, vi] * 1000 + top_n[rows, ni]}
    labels = {"verb": gt["verb"], "noun": gt["noun"], "action": gt["verb"] * 1000 + gt["noun"]}
    tail_v = np.isin(gt["verb"], [int(x) for x in column("EPIC_100_tail_verbs.csv", "verb")])
    tail_n = np.isin(gt["noun"], [int(x) for x in column("EPIC_100_tail_nouns.csv", "noun")])
    subsets = {"overall": {h: np.ones(len(verb), bool) for h in ranks},
               "unseen": {h: np.isin(gt["participant"], column("EPIC_100_unseen_participant_ids_validation.csv", "participant_id"))
                          for h in ranks},
               "tail": {"verb": tail_v, "noun": tail_n, "action": tail_v | tail_n}}
    return {f"{h}/{s}": 100 * mean_top5_recall(ranks[h][m[h]], labels[h][m[h]]) for s, m in subsets.items() for h in ranks}


def test_official_csv_with_verb_and_noun_scores_only(tmp_path):
    nids, verbs, nouns, parts = (column("EPIC_100_validation.csv", k) for k in ("narration_id", "verb_class", "noun_class", "participant_id"))
    gt = {"verb": np.array(verbs, dtype=int), "noun": np.array(nouns, dtype=int), "participant": np.array(parts)}
    rng = np.random.default_rng(0)
    n = len(nids)
    verb, noun = rng.random((n, 97)), rng.random((n, 300))
    hit_v, hit_n = rng.random(n) < 0.5, rng.random(n) < 0.3  # a model right about half of the verbs, a third of the nouns
    verb[np.flatnonzero(hit_v), gt["verb"][hit_v]] += 1.0
    noun[np.flatnonzero(hit_n), gt["noun"][hit_n]] += 1.0
    submission = {"version": "0.2", "challenge": "action_anticipation", "sls_pt": 0, "sls_tl": 3, "sls_td": 3,
                  "results": {nid: {"verb": {str(i): float(x) for i, x in enumerate(verb[j])},
                                    "noun": {str(i): float(x) for i, x in enumerate(noun[j])}} for j, nid in enumerate(nids)}}
    path = tmp_path / "submission.json"
    path.write_text(json.dumps(submission))
    out = subprocess.run(["videollm", "evaluate", "anticipation", "--ground-truth", str(OFFICIAL / "EPIC_100_validation.csv"),
                          "--predictions", str(path), "--json"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    expected = reference(verb, noun, gt)
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-9), key
    assert 20 < got["verb/overall"] < 80 and got["action/overall"] > 1  # far from trivial either way


def test_official_and_rulstm_ground_truth_agree():
    metric = AnticipationMetric()
    official = metric.load_ground_truth(OFFICIAL / "EPIC_100_validation.csv")
    rulstm = metric.load_ground_truth(SHARED_DATA / "epic_kitchens_100" / "rulstm_ek100" / "validation.csv")
    key = lambda s: (s.narration_id, s.video_id, s.start_frame, s.end_frame, s.verb, s.noun)  # noqa: E731
    assert len(official.segments) == 9668 and [key(s) for s in official.segments] == [key(s) for s in rulstm.segments]
    assert official.splits.found and official.splits.unseen_participants == {"P18", "P32"}
